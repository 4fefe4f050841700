"""Helpers for the real-models fp16 bench: model list, input generators, timing.

The generators (image_like, audio_like, bytes, uniform, normal, padding_mask, onehot, const) and
load_models / make_inputs / time_inference are copied from the project's shared graph-fp16 eval
(realworld/graph/common.py, which is not shipped with nanlint), with these additions:
  image_like(layout="NHWC")          channels-last images (TensorFlow exports)
  audio_like(time_axis=k)            the sample axis is not the last one (e.g. [N, T, 1])
  columns(lo=[..], hi=[..])          tabular rows, one integer/uniform range per column
  reaction_tokens (a joint generator) all four chython-rxnmap inputs of one random reaction
A model may name a joint generator (`"joint": {"gen": ..., kwargs}`) that fills several inputs at
once; those inputs are listed in `inputs` with `"gen": "joint"`.
"""

import hashlib
import json
import os
import statistics
import time

import numpy as np

# The model set: this folder (set 1), or another with its own models.json and truth/ (e.g. ../graph2)
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DIR = "/tmp/nanlint-realworld/extra_models"
MODELS_ENV = "NANLINT_EXTRA_MODELS"
FP16_MAX = 65504.0
HELD_OUT_SEED = 1234


def load_models():
    with open(os.path.join(HERE, "models.json")) as f:
        spec = json.load(f)
    root = models_dir(spec)
    for m in spec["models"]:
        m["path"] = os.path.join(root, m["file"])
    return spec["models"]


def models_dir(spec=None):
    """Where the .onnx files live: $NANLINT_EXTRA_MODELS, else models.json's models_dir."""
    if spec is None:
        with open(os.path.join(HERE, "models.json")) as f:
            spec = json.load(f)
    return os.environ.get(MODELS_ENV) or spec.get("models_dir") or DEFAULT_DIR


def model_bytes(model):
    """The model's size on disk: its .onnx file plus the external-data files it ships beside it."""
    root = models_dir()
    extra = model.get("external_data", [])
    return os.path.getsize(model["path"]) + sum(os.path.getsize(os.path.join(root, e["file"])) for e in extra)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------- generators
def _smooth(rng, h, w, cells):
    """Random field on a cells x cells grid, bilinearly upsampled to h x w."""
    g = rng.standard_normal((cells + 1, cells + 1))
    ys, xs = np.linspace(0, cells, h), np.linspace(0, cells, w)
    rows = np.stack([np.interp(xs, np.arange(cells + 1), r) for r in g])
    return np.stack([np.interp(ys, np.arange(cells + 1), c) for c in rows.T], axis=1)


def image_like(rng, shape, mean=(0.0,), std=(1.0,), style="photo", scale=1.0, layout="NCHW"):
    """Smooth natural-ish (or document-like) images in [0,1], then (x*scale - mean)/std, NCHW
    (or NHWC with layout="NHWC": shape is then [n, h, w, c] and mean/std are per last axis)."""
    if layout == "NHWC":
        n, h, w, c = shape
        x = image_like(rng, (n, c, h, w), mean, std, style, scale)
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    n, c, h, w = shape
    out = np.empty(shape, np.float32)
    for i in range(n):
        if style == "document":  # light paper, dark text strokes, a little shading
            img = 0.85 + 0.1 * rng.random() + 0.03 * _smooth(rng, h, w, 3)
            img = np.repeat(img[None], c, 0)
            ink = rng.uniform(0.0, 0.3, size=(c, 1, 1))
            for y in range(int(rng.integers(2, 6)), h - 6, int(rng.integers(10, 24))):
                x = int(rng.integers(0, 8))
                while x < w - 4:
                    bw, bh = int(rng.integers(2, 12)), int(rng.integers(3, 9))
                    img[:, y : y + bh, x : x + bw] = ink
                    x += bw + int(rng.integers(1, 6))
        else:  # multi-octave smooth field + a few flat objects with hard edges
            img = sum(_smooth(rng, h, w, k) / k for k in (2, 5, 13, 31))
            img = np.stack([img + 0.3 * _smooth(rng, h, w, 3) for _ in range(c)])
            yy, xx = np.mgrid[0:h, 0:w]
            for _ in range(int(rng.integers(1, 5))):
                cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.05, 0.3) * min(h, w)
                img[:, (yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.normal(0, 1.2, size=(c, 1))
            img = (img - img.min()) / (np.ptp(img) + 1e-6)
            img = img * rng.uniform(0.6, 1.0) + rng.uniform(0, 0.2)
        img = img + rng.normal(0, 0.01, img.shape)
        out[i] = np.clip(img, 0, 1)
    m = np.asarray(mean, np.float32).reshape(-1, 1, 1)
    s = np.asarray(std, np.float32).reshape(-1, 1, 1)
    return ((out * scale - m) / s).astype(np.float32)


def audio_like(rng, shape, sr=16000, time_axis=-1):
    """Sum of a few sines with random pitch/amplitude plus noise, in [-1,1] (samples along time_axis)."""
    if time_axis not in (-1, len(shape) - 1):
        moved = list(shape)
        moved.append(moved.pop(time_axis))
        return np.moveaxis(audio_like(rng, tuple(moved), sr), -1, time_axis).copy()
    t = np.arange(shape[-1]) / sr
    x = np.zeros(shape, np.float64)
    for _ in range(int(rng.integers(1, 4))):
        f = rng.uniform(80, 4000, size=shape[:-1] + (1,))
        x += rng.uniform(0.02, 0.5) * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3))
    x += rng.uniform(0.001, 0.05) * rng.standard_normal(shape)
    return np.clip(x, -1, 1).astype(np.float32)


def bytes_like(rng, shape, beg=1024, end=1024, pad=256, dtype="int32"):
    """Magika-style features: first `beg` and last `end` bytes of a random text or
    binary file, padded with `pad` when the file is short."""
    out = np.full(shape, pad, dtype)
    for i in range(shape[0]):
        size = int(rng.integers(64, 8192))
        if rng.random() < 0.5:  # text: printable ASCII with newlines
            data = rng.integers(32, 127, size)
            data[rng.random(size) < 0.05] = 10
        else:
            data = rng.integers(0, 256, size)
        head, tail = data[:beg], data[-end:]
        out[i, : len(head)] = head
        out[i, beg + end - len(tail) : beg + end] = tail
    return out


def uniform(rng, shape, lo=0.0, hi=1.0, dtype="float32"):
    if np.issubdtype(np.dtype(dtype), np.integer):
        return rng.integers(lo, hi + 1, size=shape).astype(dtype)
    return rng.uniform(lo, hi, size=shape).astype(dtype)


def normal(rng, shape, mean=0.0, std=1.0, clip=None, dtype="float32"):
    x = rng.normal(mean, std, size=shape)
    if clip is not None:
        x = np.clip(x, -clip, clip)
    return x.astype(dtype)


def padding_mask(rng, shape, max_pad_frac=0.5, dtype="float32", pad_is_true=False):
    """1 for real tokens, 0 for trailing padding (0..max_pad_frac of the sequence); the other way
    round with `pad_is_true` (a key-padding mask: True where the token is padding)."""
    real = np.ones(shape, bool)
    for i in range(shape[0]):
        npad = int(rng.integers(0, int(shape[-1] * max_pad_frac) + 1))
        if npad:
            real[i, -npad:] = False
    return (~real if pad_is_true else real).astype(dtype)


def zscored(rng, shape, source="signal", dtype="float32"):
    """Rows z-scored over the last axis, as EEG pipelines feed their models:
    `signal` a 1/f-ish trace with an oscillation burst or two (raw EEG), `power` the power of a
    spectrogram bin over time (exponentially distributed, with slow changes of level),
    `magnitude` a wavelet scalogram's |.| (Rayleigh distributed, slow changes of level)."""
    n = shape[-1]
    rows = int(np.prod(shape[:-1]))
    slow = np.repeat(rng.lognormal(0.0, 0.7, size=(rows, n // 50 + 1)), 50, axis=1)[:, :n]
    if source == "signal":
        x = np.cumsum(rng.standard_normal((rows, n)), axis=1)
        x -= x.mean(axis=1, keepdims=True)
        t = np.arange(n)
        for _ in range(int(rng.integers(1, 3))):
            start = int(rng.integers(0, n))
            burst = np.exp(-(((t - start) / rng.uniform(50, 400)) ** 2))
            x += rng.uniform(1, 10) * burst * np.sin(2 * np.pi * rng.uniform(0.02, 0.2) * t)
        x += rng.standard_normal((rows, n))
    elif source == "power":
        x = rng.exponential(1.0, size=(rows, n)) * slow
    else:
        x = np.abs(rng.standard_normal((rows, n)) + 1j * rng.standard_normal((rows, n))) * slow
    x = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
    return x.reshape(shape).astype(dtype)


def additive_mask(rng, shape, max_pad_frac=0.5, neg=-30.0, dtype="float32"):
    """An additive attention bias: 0 on real tokens, `neg` on the trailing padding."""
    return ((1.0 - padding_mask(rng, shape, max_pad_frac)) * neg).astype(dtype)


def byte_image(rng, shape, mean=(0.0,), std=(1.0,)):
    """A file's bytes drawn as a grayscale picture (malware-image classifiers): a random file of
    zero runs, printable text and high-entropy sections, laid out in rows of a power-of-two width,
    resized (nearest) to h x w, /255, repeated over the channels, then (x - mean) / std."""
    n, _, h, w = shape
    out = np.empty(shape, np.float32)
    for i in range(n):
        parts = []
        for _ in range(int(rng.integers(3, 12))):
            size, kind = int(rng.integers(512, 65536)), rng.integers(0, 3)
            if kind == 0:
                parts.append(np.zeros(size, np.uint8))
            elif kind == 1:
                parts.append(rng.integers(32, 127, size).astype(np.uint8))
            else:
                parts.append(rng.integers(0, 256, size).astype(np.uint8))
        data = np.concatenate(parts)
        width = 2 ** (int(np.log2(max(1, int(len(data) ** 0.5)))) + 1)
        img = data[: len(data) // width * width].reshape(-1, width)
        rows = np.arange(h) * img.shape[0] // h
        cols = np.arange(w) * width // w
        out[i] = img[rows][:, cols][None] / 255.0
    m = np.asarray(mean, np.float32).reshape(-1, 1, 1)
    s = np.asarray(std, np.float32).reshape(-1, 1, 1)
    return ((out - m) / s).astype(np.float32)


def onehot(rng, shape, dtype="float32"):
    out = np.zeros(shape, dtype)
    out[np.arange(shape[0]), rng.integers(0, shape[1], shape[0])] = 1
    return out


def const(rng, shape, value=0, dtype="float32"):
    return np.full(shape, value, dtype)


def columns(rng, shape, lo, hi, integer=True, dtype="float32"):
    """Tabular rows [n, k]: column j uniform in [lo[j], hi[j]] (integers when `integer`)."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    if integer:
        x = np.floor(rng.uniform(lo, hi + 1, size=shape))
        return np.minimum(x, hi).astype(dtype)
    return rng.uniform(lo, hi, size=shape).astype(dtype)


# ---------------------------------------------------------------- joint generators
# Organic-chemistry element mix (atomic number, total valence) for random molecules.
_ELEMENTS = [(6, 4), (7, 3), (8, 2), (9, 1), (16, 2), (17, 1), (35, 1), (15, 3)]
_ELEMENT_P = [0.70, 0.10, 0.12, 0.025, 0.02, 0.02, 0.01, 0.005]


def _random_molecule(rng, n_atoms):
    """A random molecule skeleton: a tree plus a ring closure or two; -> (Z, valence, adjacency)."""
    kinds = rng.choice(len(_ELEMENTS), size=n_atoms, p=_ELEMENT_P)
    z = np.array([_ELEMENTS[k][0] for k in kinds])
    val = np.array([_ELEMENTS[k][1] for k in kinds])
    val[0] = 4  # start from a carbon so halogens never sit on a branch point
    z[0] = 6
    adj = np.zeros((n_atoms, n_atoms), bool)
    deg = np.zeros(n_atoms, int)
    for i in range(1, n_atoms):
        free = [j for j in range(i) if deg[j] < val[j]]
        if not free:  # make this atom a carbon and attach it to the last carbon
            free = [max(j for j in range(i) if val[j] >= 2)]
        j = int(rng.choice(free))
        if val[i] == 1 and deg[j] >= val[j]:
            val[i] = 4
            z[i] = 6
        adj[i, j] = adj[j, i] = True
        deg[i] += 1
        deg[j] += 1
    for _ in range(int(rng.integers(0, 3))):  # ring closures between atoms 4-6 bonds apart
        i, j = rng.integers(0, n_atoms, 2)
        if i != j and not adj[i, j] and deg[i] < val[i] and deg[j] < val[j]:
            adj[i, j] = adj[j, i] = True
            deg[i] += 1
            deg[j] += 1
    return z, val, adj


def _shortest_paths(adj):
    n = len(adj)
    d = np.where(adj, 1.0, np.inf)
    np.fill_diagonal(d, 0)
    for k in range(n):  # Floyd-Warshall; molecules are small
        d = np.minimum(d, d[:, k : k + 1] + d[k : k + 1, :])
    return d


def reaction_tokens(rng, inputs, n_tokens=None, n_reactant_atoms=(8, 24), max_distance=10, dtype="int64"):
    """One random reaction coded as chython-rxnmap's ONNX graph reads it (chytorch's
    ReactionEncoderDataset defaults): token 0 is the reaction CLS (atom 0, role 1); each molecule
    starts with a molecule CLS (atom 1, neighbors 0, role 0 = hidden) followed by its atoms:
    atom = Z + 2, neighbors = heavy neighbours + implicit H + 2, distances = shortest path + 2
    capped at max_distance + 2 (2 on the diagonal, 1 between the CLS and its atoms, 0 across
    molecules), roles 2 for reactants and 3 for products. The product holds the reactants' atoms in
    a shuffled order with one new bond between the two reactants (batch 1, no padding).
    With n_tokens the sequence has exactly that length (even: two reactants, odd: one)."""
    if n_tokens:
        n_mols = 2 - n_tokens % 2
        n_r = (n_tokens - 2 - n_mols) // 2
    else:
        n_r = int(rng.integers(*n_reactant_atoms))
        n_mols = int(rng.integers(1, 3))
    sizes = [n_r] if n_mols == 1 else [max(2, n_r // 2), n_r - max(2, n_r // 2)]
    reactants = [_random_molecule(rng, s) for s in sizes]
    # product: union of the reactants, bonded once between them (if there are two), atoms shuffled
    z = np.concatenate([m[0] for m in reactants])
    val = np.concatenate([m[1] for m in reactants])
    adj = np.zeros((len(z), len(z)), bool)
    off = 0
    for m in reactants:
        k = len(m[0])
        adj[off : off + k, off : off + k] = m[2]
        off += k
    if len(reactants) == 2:
        deg = adj.sum(1)
        a = [i for i in range(sizes[0]) if deg[i] < val[i]] or [0]
        b = [i for i in range(sizes[0], len(z)) if deg[i] < val[i]] or [sizes[0]]
        i, j = int(rng.choice(a)), int(rng.choice(b))
        adj[i, j] = adj[j, i] = True
    perm = rng.permutation(len(z))
    product = (z[perm], val[perm], adj[np.ix_(perm, perm)])

    atoms, neighbors, roles, blocks = [0], [0], [1], []
    for (mz, mval, madj), role in [(m, 2) for m in reactants] + [(product, 3)]:
        deg = madj.sum(1)
        h = np.maximum(mval - deg, 0)
        atoms += [1] + list(mz + 2)
        neighbors += [0] + list(np.minimum(deg + h + 2, 16))
        roles += [0] + [role] * len(mz)
        sp = _shortest_paths(madj) + 2
        sp[np.isinf(sp)] = 1
        sp = np.minimum(sp, max_distance + 2)
        blk = np.ones((len(mz) + 1, len(mz) + 1))
        blk[1:, 1:] = sp
        blocks.append(blk)
    n = len(atoms)
    dist = np.zeros((n, n))
    dist[0, 0] = 1
    i = 1
    for blk in blocks:
        dist[i : i + len(blk), i : i + len(blk)] = blk
        i += len(blk)
    out = dict(
        atoms=np.asarray(atoms)[None],
        neighbors=np.asarray(neighbors)[None],
        distances=dist[None],
        roles=np.asarray(roles)[None],
    )
    return {k: v.astype(dtype) for k, v in out.items() if k in inputs}


GENERATORS = dict(
    image_like=image_like,
    byte_image=byte_image,
    additive_mask=additive_mask,
    audio_like=audio_like,
    bytes=bytes_like,
    uniform=uniform,
    normal=normal,
    padding_mask=padding_mask,
    zscored=zscored,
    onehot=onehot,
    const=const,
    columns=columns,
)
JOINT_GENERATORS = dict(reaction_tokens=reaction_tokens)


def make_inputs(model, rng):
    """One feed dict for `model` (an entry of models.json)."""
    feed = {}
    if model.get("joint"):
        kw = {k: v for k, v in model["joint"].items() if k != "gen"}
        feed.update(JOINT_GENERATORS[model["joint"]["gen"]](rng, model["inputs"], **kw))
    for name, spec in sorted(model["inputs"].items()):
        if spec["gen"] == "joint":
            continue
        kw = {k: v for k, v in spec.items() if k not in ("gen", "shape")}
        feed[name] = np.asarray(GENERATORS[spec["gen"]](rng, tuple(spec["shape"]), **kw))
    return feed


def time_inference(path, feed, repeats=5):
    """Median wall time of a plain fp32 CPU inference (after one warm-up run)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    sess.run(None, feed)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sess.run(None, feed)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
