"""Attention scores through row norms (transfer/attention.py): a linear map's rows cut into heads have
the norm of their column block (largest singular value times the input's row norm, plus the bias),
k^T's columns are k's rows, and |q . k| <= ||q|| ||k||; softmax(s) @ V keeps V's row norm.

Soundness: the graphs, as exporters write them (torch: reshape + transpose; a fused QKV projection cut
by Slice or Split; Gemm with transB; the key path of torch.export's SDPA), run in onnxruntime on points of
random element-wise boxes. Tightness: the scores' bound is the product of the block norms computed here
with numpy's SVD, far below the box product.
"""

from __future__ import annotations

import math
import tempfile

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from nanlint.graph.analysis import analyze
from nanlint.graph.model import load_model
from nanlint.graph.transfer import attention
from tests.graph._soundness import Box, Case, build_model, check

F = TensorProto.FLOAT
rng = np.random.default_rng(11)
SEQ, HIDDEN, HEADS = 4, 16, 2
D = HIDDEN // HEADS
LIN = dict(rtol=1e-4, scale_tol=1e-4)


def f32(*shape, scale=0.3):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


WQ, WK, WV = f32(HIDDEN, HIDDEN), f32(HIDDEN, HIDDEN), f32(HIDDEN, HIDDEN)
BQ, BK = f32(HIDDEN), f32(HIDDEN)
WQKV = f32(HIDDEN, 3 * HIDDEN)
BQKV = f32(3 * HIDDEN)


def tensor(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


def i64(*v):
    return np.array(v, np.int64)


def model_graph(nodes, inits, inputs=(("in0", (1, SEQ, HIDDEN)),)):
    ins = [helper.make_tensor_value_info(name, F, list(shape)) for name, shape in inputs]
    return helper.make_graph(
        nodes, "g", ins, [helper.make_tensor_value_info("y", F, None)], [tensor(k, v) for k, v in inits.items()]
    )


def heads(src: str, out: str, key: bool) -> list:
    """Reshape (1, SEQ, HIDDEN) -> (1, SEQ, HEADS, D), then transpose to (1, HEADS, SEQ, D) or, for keys,
    (1, HEADS, D, SEQ)."""
    perm = [0, 2, 3, 1] if key else [0, 2, 1, 3]
    return [
        helper.make_node("Reshape", [src, "split_heads"], [f"{out}_r"]),
        helper.make_node("Transpose", [f"{out}_r"], [out], perm=perm),
    ]


COMMON = {"split_heads": i64(1, SEQ, HEADS, D), "scale": np.float32(1 / math.sqrt(D))}


def scores_separate():
    """q = x Wq + bq, k = x Wk + bk, heads, q @ k^T * scale (torch's export of a BERT layer)."""
    nodes = [
        helper.make_node("MatMul", ["in0", "wq"], ["qm"]),
        helper.make_node("Add", ["qm", "bq"], ["q"]),
        helper.make_node("MatMul", ["in0", "wk"], ["km"]),
        helper.make_node("Add", ["bk", "km"], ["k"]),
        *heads("q", "qt", False),
        *heads("k", "kt", True),
        helper.make_node("MatMul", ["qt", "kt"], ["s"]),
        helper.make_node("Mul", ["s", "scale"], ["y"]),
    ]
    return model_graph(nodes, {"wq": WQ, "wk": WK, "bq": BQ, "bk": BK, **COMMON})


def scores_fused_slice():
    """One projection to q|k|v, cut along the last axis by Slice (chython's Graphormer)."""
    nodes = [
        helper.make_node("MatMul", ["in0", "wqkv"], ["m"]),
        helper.make_node("Add", ["m", "bqkv"], ["qkv"]),
        helper.make_node("Slice", ["qkv", "q0", "q1", "last"], ["q"]),
        helper.make_node("Slice", ["qkv", "k0", "k1", "last"], ["k"]),
        *heads("q", "qt", False),
        *heads("k", "kt", True),
        helper.make_node("MatMul", ["qt", "kt"], ["y"]),
    ]
    inits = {
        "wqkv": WQKV,
        "bqkv": BQKV,
        "q0": i64(0),
        "q1": i64(HIDDEN),
        "k0": i64(HIDDEN),
        "k1": i64(2 * HIDDEN),
        "last": i64(-1),
        **COMMON,
    }
    return model_graph(nodes, inits)


def scores_fused_split():
    """The same projection cut by Split, the query scaled before the heads are split."""
    nodes = [
        helper.make_node("MatMul", ["in0", "wqkv"], ["m"]),
        helper.make_node("Add", ["m", "bqkv"], ["qkv"]),
        helper.make_node("Split", ["qkv", "sizes"], ["q", "k", "v"], axis=-1),
        helper.make_node("Mul", ["q", "scale"], ["qs"]),
        *heads("qs", "qt", False),
        *heads("k", "kt", True),
        helper.make_node("MatMul", ["qt", "kt"], ["y"]),
    ]
    return model_graph(nodes, {"wqkv": WQKV, "bqkv": BQKV, "sizes": i64(HIDDEN, HIDDEN, HIDDEN), **COMMON})


def scores_gemm():
    """2-D rows: Gemm with transB (torch.nn.Linear on a matrix) and alpha, beta."""
    nodes = [
        helper.make_node("Gemm", ["in0", "wqt", "bq"], ["q"], transB=1, alpha=0.5, beta=2.0),
        helper.make_node("Gemm", ["in0", "wkt", "bk"], ["k"], transB=1),
        helper.make_node("Reshape", ["q", "rows_heads"], ["qr"]),
        helper.make_node("Reshape", ["k", "rows_heads"], ["kr"]),
        helper.make_node("Transpose", ["qr"], ["qt"], perm=[1, 0, 2]),
        helper.make_node("Transpose", ["kr"], ["kt"], perm=[1, 2, 0]),
        helper.make_node("MatMul", ["qt", "kt"], ["y"]),
    ]
    inits = {"wqt": WQ.T.copy(), "wkt": WK.T.copy(), "bq": BQ, "bk": BK, "rows_heads": i64(SEQ, HEADS, D)}
    return model_graph(nodes, inits, inputs=(("in0", (SEQ, HIDDEN)),))


def scores_sdpa_keys():
    """torch.export's SDPA: keys reshaped to (heads, seq, d), transposed, reshaped back, both sides scaled."""
    nodes = [
        helper.make_node("MatMul", ["in0", "wq"], ["q"]),
        helper.make_node("MatMul", ["in0", "wk"], ["k"]),
        *heads("q", "qt", False),
        *heads("k", "kh", False),
        helper.make_node("Reshape", ["kh", "flat_heads"], ["k3"]),
        helper.make_node("Transpose", ["k3"], ["k3t"], perm=[0, 2, 1]),
        helper.make_node("Reshape", ["k3t", "key_shape"], ["kt"]),
        helper.make_node("Mul", ["qt", "root"], ["qs"]),
        helper.make_node("Mul", ["kt", "root"], ["ks"]),
        helper.make_node("MatMul", ["qs", "ks"], ["y"]),
    ]
    inits = {
        "wq": WQ,
        "wk": WK,
        "flat_heads": i64(HEADS, SEQ, D),
        "key_shape": i64(1, HEADS, D, SEQ),
        "root": np.float32(D**-0.25),
        **COMMON,
    }
    return model_graph(nodes, inits)


def context_after_softmax(zero_nan: bool = False):
    """softmax(q k^T) @ v, heads merged back and projected: the context rows keep v's norm. `zero_nan`:
    NaN probabilities replaced by 0 first, as torch.export writes SDPA (rows then sum to at most 1)."""
    probabilities = [helper.make_node("Softmax", ["s"], ["p"], axis=-1)]
    if zero_nan:
        probabilities = [
            helper.make_node("Softmax", ["s"], ["p0"], axis=-1),
            helper.make_node("IsNaN", ["p0"], ["nan"]),
            helper.make_node("Where", ["nan", "zero", "p0"], ["p"]),
        ]
    nodes = [
        helper.make_node("MatMul", ["in0", "wq"], ["q"]),
        helper.make_node("MatMul", ["in0", "wk"], ["k"]),
        helper.make_node("MatMul", ["in0", "wv"], ["v"]),
        *heads("q", "qt", False),
        *heads("k", "kt", True),
        *heads("v", "vt", False),
        helper.make_node("MatMul", ["qt", "kt"], ["s"]),
        *probabilities,
        helper.make_node("MatMul", ["p", "vt"], ["c"]),
        helper.make_node("Transpose", ["c"], ["ct"], perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["ct", "merged"], ["cm"]),
        helper.make_node("MatMul", ["cm", "wq"], ["y"]),
    ]
    inits = {"wq": WQ, "wk": WK, "wv": WV, "merged": i64(1, SEQ, HIDDEN), "zero": np.float32(0), **COMMON}
    return model_graph(nodes, inits)


GRAPHS = {
    "separate": scores_separate,
    "fused-slice": scores_fused_slice,
    "fused-split": scores_fused_split,
    "gemm": scores_gemm,
    "sdpa-keys": scores_sdpa_keys,
    "context": context_after_softmax,
    "context-where": lambda: context_after_softmax(zero_nan=True),
}


@pytest.mark.parametrize("name", list(GRAPHS))
def test_sound(name):
    g = GRAPHS[name]()
    shape = tuple(d.dim_value for d in g.input[0].type.tensor_type.shape.dim)
    out = check(Case(name, [Box(shape)], graph=g, opset=17, name=name, **LIN))
    analysis = out["analysis"]
    if not name.startswith("context"):
        # The mechanism ran: the query heads carry a row norm from their column blocks.
        assert any(iv.row_norm is not None for iv in analysis.bounds.values() if iv.shape and len(iv.shape) >= 3)


def bounds_of(g, low, high):
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/m.onnx"
        build_model(Case("g", [], graph=g, opset=17), path)
        return analyze(load_model(path), {"in0": (low, high)}, strict=True).bounds


def sigma_blocks(w, offset=0):
    return np.array(
        [np.linalg.norm(w[:, offset + h * D : offset + (h + 1) * D].astype(np.float64), 2) for h in range(HEADS)]
    )


def test_scores_are_bounded_by_the_heads_singular_values():
    bounds = bounds_of(scores_separate(), -1.0, 1.0)
    r = math.sqrt(HIDDEN)  # the norm of the box [-1, 1]^HIDDEN
    q = sigma_blocks(WQ) * r + np.linalg.norm(BQ.reshape(HEADS, D), axis=1)
    k = sigma_blocks(WK) * r + np.linalg.norm(BK.reshape(HEADS, D), axis=1)
    expected = q.max() * k.max() / math.sqrt(D)
    bound = bounds["y"].abs_max()
    # sigma_max comes from trace(G^16)^(1/32), at most D^(1/32) too big per factor
    assert expected <= bound <= expected * D ** (1 / 16)
    # the box product (what interval arithmetic alone gives) is several times wider
    qbox = np.abs(WQ).sum(axis=0) + np.abs(BQ)
    kbox = np.abs(WK).sum(axis=0) + np.abs(BK)
    box = np.max((qbox * kbox).reshape(HEADS, D).sum(axis=1)) / math.sqrt(D)
    assert box / bound > 1.5


def test_fused_projection_uses_the_sliced_blocks():
    bounds = bounds_of(scores_fused_slice(), -1.0, 1.0)
    r = math.sqrt(HIDDEN)
    bias = np.linalg.norm(BQKV.reshape(3 * HEADS, D), axis=1)
    q = sigma_blocks(WQKV, 0) * r + bias[:HEADS]
    k = sigma_blocks(WQKV, HIDDEN) * r + bias[HEADS : 2 * HEADS]
    assert bounds["y"].abs_max() <= q.max() * k.max() * D ** (1 / 16)


@pytest.mark.parametrize("zero_nan", [False, True])
def test_context_rows_keep_the_value_norm(zero_nan):
    bounds = bounds_of(context_after_softmax(zero_nan), -1.0, 1.0)
    v = bounds["vt"].row_norm
    assert v is not None
    assert bounds["c"].row_norm == pytest.approx(v, rel=1e-4)
    # and every context value lies in the hull of its column of v (with 0 when rows may sum below 1)
    v_hi = np.max(np.broadcast_to(bounds["vt"].hi, bounds["vt"].shape), axis=-2)
    assert np.all(np.broadcast_to(bounds["c"].hi, bounds["c"].shape) <= np.maximum(v_hi, 0)[..., None, :] + 1e-6)


def test_a_reshape_of_anything_else_has_no_block_norm():
    """Heads cut from a sum of two inputs: no linear map to take singular values from."""
    g = model_graph(
        [
            helper.make_node("Add", ["in0", "in1"], ["q"]),
            *heads("q", "qt", False),
            *heads("q", "kt", True),
            helper.make_node("MatMul", ["qt", "kt"], ["y"]),
        ],
        dict(COMMON),
        inputs=(("in0", (1, SEQ, HIDDEN)), ("in1", (1, SEQ, HIDDEN))),
    )
    bounds = bounds_of(g, -1.0, 1.0)
    assert bounds["qt"].row_norm is None
    assert bounds["y"].abs_max() == pytest.approx(D * 4.0, rel=1e-5)  # the box product: d * 2 * 2


def test_block_singular_values_bound_numpys():
    w = f32(40, 24, scale=1.0)
    sigma, frobenius = attention.block_sigmas(w, 8, 8, 2)
    for b in range(2):
        block = w[:, 8 + 8 * b : 16 + 8 * b].astype(np.float64)
        exact = np.linalg.norm(block, 2)
        assert exact <= sigma[b] <= exact * 8 ** (1 / 32)  # trace(G^16)^(1/32): rank^(1/32) at most
        assert np.linalg.norm(block) <= frobenius[b] <= np.linalg.norm(block) * 1.001
