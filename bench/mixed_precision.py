"""Side by side: three ways to make an fp16 model, on the real-world graph set (issue 14).

    python bench/mixed_precision.py [--models-json /work/shared/realworld/graph/models.json]
                                    [--extra-models bench/real_models/models.json]
                                    [--model NAME ...] [--tools onnxconverter,autocast,nanlint]
                                    [--samples 8] [--ref-samples 2] [--write] [--json OUT]

Not part of the test suite: it needs the competitors installed, the models downloaded, and
takes tens of minutes on 2 cores (most of it onnx's ReferenceEvaluator running fp16 in numpy).

Tools, per model (each run as a subprocess, wall time = that subprocess, imports included):
- onnxconverter: `onnxconverter_common.float16.convert_float_to_float16(model, keep_io_types=True)`,
  everything in fp16 (this script's hidden `_onnxconverter` subcommand).
- autocast: NVIDIA Model Optimizer AutoCast, `python -m modelopt.onnx.autocast --onnx_path M
  --output_path OUT --providers cpu --keep_io_types --calibration_data DIR`: its default
  thresholds (--data_max 512, --init_max 65504, no reduction-depth limit), the CPU provider,
  io types kept like the other two, and calibration data drawn from the model's own input
  generators (`--autocast-calibration N` batches, seed CALIBRATION_SEED, one .npz per batch).
  `--autocast-calibration 0` leaves AutoCast its default of random inputs in [-1, 1].
- nanlint: `nanlint graph M --target cuda-fp16 --write-mixed OUT <the model's nanlint_args>`
  (exit code 1 = findings, not a failure).
A conversion completes when the tool wrote a model that onnx.load reads (its exit code and any
error line are recorded); onnx.checker's verdict goes into the notes.

Metrics, on held-out inputs from the model's generators (seed HELD_OUT_SEED = 1234, the truth
set's seed; AutoCast's calibration uses CALIBRATION_SEED, nanlint samples its declared ranges):
- fp32 nodes: main-graph nodes other than Cast and Constant with at least one float output
  (float/float16/bfloat16/double), whose float outputs include a float32 one; the type of
  each output from onnx shape inference on the converted model (value_info, graph outputs),
  completed by the dtypes the reference evaluator saw. Shown as kept / nodes with a float output.
- non-finite outputs: the held-out samples on which some float output element is NaN/Inf while
  the fp32 model's is finite; "ort" = onnxruntime CPU on `--samples` inputs, "ref" = onnx's
  ReferenceEvaluator on the first `--ref-samples` of them.
- fp16 >65504 (ref): main-graph node outputs that the ReferenceEvaluator computes in float16
  and that hold an inf on some of the `--ref-samples` inputs (a float16 value beyond 65504
  rounds to inf; tensors that inherit an upstream inf count too). onnxruntime's CPU provider
  computes many fp16 ops in fp32 internally and hides such overflow; the ReferenceEvaluator
  computes float16 ops in float16 numpy (products accumulate in float32, like a GPU's, and the
  result rounds to float16). Four of its kernels are replaced by onnxruntime's, run on that one
  node with the same input dtypes (DELEGATED_OPS), because onnx 1.21's are wrong here: Resize
  fails on an empty roi (IndexError in _interpolate_nd_with_x; also Python-slow per pixel),
  BatchNormalization (opset 9-13) mixes batch statistics into the running ones when a node
  carries a `momentum` attribute (PaddlePaddle's exports do), GlobalMaxPool returns shape
  (1, 1) for a (1, 512, N) input, and LSTM returns no Y_c. Resize and GlobalMaxPool cannot
  overflow; BatchNormalization and LSTM round their outputs to float16 but compute inside in
  float32 (onnxruntime's CPU kernels).
  The "fp32 original" row runs the same evaluator on the original model: its error against
  onnxruntime is the evaluator's own.
- max rel err: over samples and float outputs, max|y - y32| / max|y32| (over the elements
  where the fp32 output y32 is finite; inf when y is non-finite there), against the fp32
  model on onnxruntime CPU; for "ort" and for "ref". Since one flipped pixel of a sigmoid map
  makes that 1.0, also "off >1%": the share of output elements off by more than 1% of their
  output's max|y32| (non-finite ones included).
- onnxruntime: when a session with the default graph optimizations fails on a converted model
  (its fusions have bugs on some fp16 graphs), the model is run again with optimizations
  disabled and the first error is listed under the failures.
Also noted: inputs/outputs whose name, type or shape (symbolic dims) differ from the original.

Install (scratch venv; what this table was made with, Python 3.11, CPU only):

    python3 -m venv /tmp/venv-mixed
    /tmp/venv-mixed/bin/pip install torch==2.13.0
        # first, so that modelopt's `torch>=2.8` is met by the CPU wheel, not a CUDA build of
        # several GB (here pip's find-links, /opt/wheels, holds torch-2.13.0+cpu-cp311 ... .whl)
    /tmp/venv-mixed/bin/pip install 'nvidia-modelopt[onnx]' onnxconverter-common
        # nvidia-modelopt 0.47.0: pins onnx~=1.21.0 (1.21.0), onnxconverter-common~=1.16.0,
        # and on x86-64 Linux onnxruntime-gpu~=1.24.2 (1.24.4), plus cupy-cuda12x, polygraphy,
        # onnx-graphsurgeon, onnxslim; onnxruntime-gpu runs here on its CPUExecutionProvider
    /tmp/venv-mixed/bin/pip install --no-deps -e /work/main     # nanlint (or your checkout)
    /tmp/venv-mixed/bin/pip install libcst click pathspec        # nanlint's other dependencies
        # --no-deps: nanlint's `onnxruntime` dependency would install the CPU wheel over the
        # same `onnxruntime` package directory as onnxruntime-gpu; if that happened:
        # pip uninstall -y onnxruntime onnxruntime-gpu && pip install --no-deps onnxruntime-gpu==1.24.4
    . /tmp/venv-mixed/bin/activate && python bench/mixed_precision.py --write

Models: /work/shared/realworld/graph/models.json (its get_models.sh / make_synthetic.py put
them in /tmp/nanlint-realworld/models; $NANLINT_EVAL_MODELS moves them); the input generators
are that folder's common.py (`--generators` for another one). `--extra-models` adds a second
list of the same format (its models_dir relative to that file when relative).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SET = Path("/work/shared/realworld/graph")
OUT_MD = ROOT / "bench" / "MIXED_PRECISION.md"
WORK = Path(os.environ.get("NANLINT_MIXED_WORK", "/tmp/nanlint-mixedbench"))
TOOLS = ("onnxconverter", "autocast", "nanlint")
HELD_OUT_SEED = 1234
CALIBRATION_SEED = 7
FP16_MAX = 65504.0
DELEGATED_OPS = (
    "Resize",
    "BatchNormalization",
    "GlobalMaxPool",
    "LSTM",
)  # run by onnxruntime inside the ReferenceEvaluator


# ----------------------------------------------------------------------------- models and inputs
def load_generators(folder: Path):
    spec = importlib.util.spec_from_file_location("nanlint_eval_common", folder / "common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_model_list(path: Path, override_dir: str | None = None) -> list[dict]:
    spec = json.loads(path.read_text())
    root = Path(override_dir or spec["models_dir"])
    if not root.is_absolute():
        root = path.parent / root
    models = []
    for m in spec["models"]:
        m = dict(m)
        m["path"] = str(root / m["file"])
        m["list"] = str(path)
        models.append(m)
    return models


def feeds_for(model: dict, generators, seed: int, count: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [generators.make_inputs(model, rng) for _ in range(count)]


def save_feeds(path: Path, feeds: list[dict]) -> None:
    np.savez(path, **{f"{i}/{k}": v for i, feed in enumerate(feeds) for k, v in feed.items()})


def load_feeds(path: Path) -> list[dict]:
    data = np.load(path)
    feeds: dict[int, dict] = {}
    for key in data.files:
        index, name = key.split("/", 1)
        feeds.setdefault(int(index), {})[name] = data[key]
    return [feeds[i] for i in sorted(feeds)]


# ----------------------------------------------------------------------------- conversions
def run_tool(tool: str, model: dict, out: Path, calib: Path | None, timeout: float) -> dict:
    src = model["path"]
    if tool == "onnxconverter":
        cmd = [sys.executable, __file__, "_onnxconverter", src, str(out)]
    elif tool == "autocast":
        cmd = [sys.executable, "-m", "modelopt.onnx.autocast", "--onnx_path", src, "--output_path", str(out)]
        cmd += ["--providers", "cpu", "--keep_io_types"]
        if calib is not None:
            cmd += ["--calibration_data", str(calib)]
    elif tool == "nanlint":
        nanlint = shutil.which("nanlint")
        base = [nanlint] if nanlint else [sys.executable, "-m", "nanlint"]
        cmd = [*base, "graph", src, "--target", "cuda-fp16", "--write-mixed", str(out), *model.get("nanlint_args", [])]
    else:
        raise ValueError(tool)
    out.unlink(missing_ok=True)
    log = out.with_suffix(".log")
    rc, wall, peak, stdout, stderr = run_measured(cmd, timeout, out.with_suffix(".stdout"), out.with_suffix(".stderr"))
    log.write_text(f"$ {' '.join(cmd)}\nexit {rc}\npeak RSS {peak} MB\n--- stdout\n{stdout}\n--- stderr\n{stderr}")
    result = {"cmd": cmd, "rc": rc, "wall_s": round(wall, 2), "peak_mb": peak, "log": str(log), "completes": False}
    result["error"] = None
    if out.exists():
        try:
            import onnx

            onnx.load(str(out), load_external_data=False)
            result["completes"] = True
        except Exception as exc:
            result["error"] = f"output unreadable: {_first_line(exc)}"
    if not result["completes"] and result["error"] is None:
        if isinstance(rc, int) and rc < 0:
            name = signal.Signals(-rc).name
            why = " (the kernel's OOM killer, if memory ran out)" if -rc == signal.SIGKILL else ""
            result["error"] = f"killed by {name}{why} at a peak RSS of {peak} MB; no output written"
        else:
            result["error"] = error_line(stdout + "\n" + stderr) or f"exit {rc}, no output written"
    elif result["completes"]:
        result["message"] = summary_line(tool, stdout + "\n" + stderr)
    return result


def run_measured(cmd: list[str], timeout: float, out_path: Path, err_path: Path):
    """Run `cmd`; (exit code or "timeout", wall s, the process's peak RSS in MB, stdout, stderr)."""
    t0 = time.perf_counter()
    with open(out_path, "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        rc, usage = None, None
        while rc is None:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                rc = os.waitstatus_to_exitcode(status)
                proc.returncode = rc
            elif time.perf_counter() - t0 > timeout:
                proc.kill()
                _, _, usage = os.wait4(proc.pid, 0)
                proc.returncode = rc = "timeout"
            else:
                time.sleep(0.05)
    wall = time.perf_counter() - t0
    peak = round(usage.ru_maxrss / 1024) if usage is not None else None
    stdout, stderr = out_path.read_text(errors="replace"), err_path.read_text(errors="replace")
    out_path.unlink()
    err_path.unlink()
    if rc == "timeout":
        stderr += f"\ntimed out after {timeout:.0f} s"
    return rc, wall, peak, stdout, stderr


def _text(data) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def _first_line(exc: BaseException) -> str:
    text = " ".join(line.strip() for line in str(exc).strip().splitlines()[:3])
    return f"{type(exc).__name__}: {text}"


def error_line(text: str) -> str | None:
    """The line that names the failure: a traceback's exception line (with its innermost frame),
    else the last line mentioning an error."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        head = line.split(":", 1)[0]
        if head.endswith(("Error", "Exception", "Fail")) and " " not in head.strip():
            frames = [x for x in lines[:i] if x.startswith('File "') and not x.endswith(">")]
            where = ""
            if frames:
                match = re.match(r'File "([^"]+)", line (\d+), in (\S+)', frames[-1])
                if match:
                    where = f" (at {Path(match[1]).name}:{match[2]} in {match[3]})"
            logged = [x.split(" - ERROR - ", 1)[1] for x in lines[:i] if " - ERROR - " in x]
            return line[:400] + where + (f"; logged before: {logged[-1][:300]}" if logged else "")
    for line in reversed(lines):
        if "error" in line.lower() or "timed out" in line:
            return line[:400]
    return lines[-1][:400] if lines else None


def summary_line(tool: str, text: str) -> str | None:
    key = {"nanlint": "Wrote ", "autocast": "Converted ", "onnxconverter": None}[tool]
    if key is None:
        return None
    hits = [line.strip() for line in text.splitlines() if key in line and "saved to" not in line]
    return hits[-1][hits[-1].find(key) :][:300] if hits else None


def onnxconverter_main(src: str, out: str) -> None:
    import onnx
    from onnxconverter_common import float16

    model = onnx.load(src)
    onnx.save(float16.convert_float_to_float16(model, keep_io_types=True), out)


# ----------------------------------------------------------------------------- static metrics
FLOATS = None


def _float_types():
    global FLOATS
    if FLOATS is None:
        import onnx

        T = onnx.TensorProto
        FLOATS = {T.FLOAT: "float32", T.FLOAT16: "float16", T.BFLOAT16: "bfloat16", T.DOUBLE: "float64"}
    return FLOATS


def tensor_types(model) -> dict[str, int]:
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:
        inferred = model
    g = inferred.graph
    types = {i.name: i.data_type for i in g.initializer}
    for vi in (*g.input, *g.value_info, *g.output):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
            types[vi.name] = vi.type.tensor_type.elem_type
    for node in g.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    types[node.output[0]] = a.t.data_type
        if node.op_type == "Cast":
            to = next((a.i for a in node.attribute if a.name == "to"), None)
            if to:
                types[node.output[0]] = to
    return types


def fp32_nodes(path: str, observed: dict[str, str] | None = None) -> dict:
    """Main-graph nodes (not Cast/Constant) with a float output, and those keeping a float32 one."""
    import onnx

    model = onnx.load(path)
    types = tensor_types(model)
    names = {k: _float_types().get(v, "other") for k, v in types.items()}
    for name, dtype in (observed or {}).items():
        names.setdefault(name, dtype if dtype in _float_types().values() else "other")
    total = kept = unknown = 0
    kept_ops: dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type in ("Cast", "Constant"):
            continue
        outs = [names.get(o) for o in node.output if o]
        if any(o is None for o in outs):
            unknown += 1
        floats = [o for o in outs if o in _float_types().values()]
        if not floats:
            continue
        total += 1
        if "float32" in floats:
            kept += 1
            kept_ops[node.op_type] = kept_ops.get(node.op_type, 0) + 1
    casts = sum(n.op_type == "Cast" for n in model.graph.node)
    return {"fp32": kept, "float_nodes": total, "untyped": unknown, "casts": casts, "fp32_ops": kept_ops}


def signature_diff(original: str, converted: str) -> list[str]:
    import onnx

    def sig(values):
        out = []
        for vi in values:
            t = vi.type.tensor_type
            dims = [
                d.dim_param if d.dim_param else (d.dim_value if d.HasField("dim_value") else "?") for d in t.shape.dim
            ]
            out.append((vi.name, t.elem_type, dims if t.HasField("shape") else None))
        return out

    a, b = onnx.load(original, load_external_data=False), onnx.load(converted, load_external_data=False)
    notes = []
    for kind, x, y in (("input", a.graph.input, b.graph.input), ("output", a.graph.output, b.graph.output)):
        inits = {i.name for i in a.graph.initializer} | {i.name for i in b.graph.initializer}
        xs = [v for v in sig(x) if v[0] not in inits]
        ys = [v for v in sig(y) if v[0] not in inits]
        if len(xs) != len(ys):
            notes.append(f"{kind}s {len(xs)} -> {len(ys)}")
            continue
        for (n1, t1, d1), (n2, t2, d2) in zip(xs, ys):
            if n1 != n2:
                notes.append(f"{kind} renamed {n1} -> {n2}")
            if t1 != t2:
                notes.append(
                    f"{kind} {n1} type {onnx.TensorProto.DataType.Name(t1)} -> {onnx.TensorProto.DataType.Name(t2)}"
                )
            if d1 != d2:
                fmt = lambda d: "[" + ",".join(map(str, d)) + "]" if d is not None else "unranked"
                notes.append(f"{kind} {n1} shape {fmt(d1)} -> {fmt(d2)}")
    return notes


def checker(path: str) -> str | None:
    import onnx

    try:
        onnx.checker.check_model(path)
        return None
    except Exception as exc:
        return _first_line(exc)[:300]


# ----------------------------------------------------------------------------- runtime metrics
def compare(outputs: list[np.ndarray | None], reference: list[np.ndarray]) -> tuple[bool, float, int, int]:
    """For one sample: (a float output is non-finite where fp32's is finite, max relative error,
    elements off by more than 1% of their output's max|y32| or non-finite, elements compared)."""
    nonfinite, err, off, total = False, 0.0, 0, 0
    for y, y32 in zip(outputs, reference):
        if y is None or not np.issubdtype(y32.dtype, np.floating):
            continue
        y = np.asarray(y, np.float64).reshape(-1)
        y32 = np.asarray(y32, np.float64).reshape(-1)
        total += y32.size
        if y.shape != y32.shape:
            nonfinite, err, off = True, float("inf"), off + y32.size
            continue
        ok = np.isfinite(y32)
        bad = ~np.isfinite(y) & ok
        if bad.any():
            nonfinite, err = True, float("inf")
        if ok.any():
            scale = np.abs(y32[ok]).max()
            diff = np.abs(y[ok] - y32[ok])
            diff[~np.isfinite(diff)] = np.inf
            if not bad.any():
                top = diff.max()
                err = max(err, float(top / scale) if scale > 0 else (0.0 if top == 0 else float("inf")))
            off += int((diff > 0.01 * scale).sum())
    return nonfinite, err, off, total


def order_outputs(results: dict | list, out_names: list[str], ref_names: list[str]) -> list:
    """Outputs in the original model's order: by name, else by position (renamed outputs)."""
    if isinstance(results, dict):
        if all(n in results for n in ref_names):
            return [results[n] for n in ref_names]
        return [results.get(n) for n in out_names]
    return list(results)


def ort_eval(path: str, feeds_path: str, ref_path: str, out_json: str) -> None:
    import onnxruntime as ort

    ort.set_default_logger_severity(3)
    feeds = load_feeds(Path(feeds_path))
    ref = load_feeds(Path(ref_path))
    result = {"samples": len(feeds), "nonfinite": 0, "max_rel_err": 0.0, "error": None}
    try:
        try:
            sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        except Exception as exc:
            # onnxruntime's graph optimizers can fail on a converted model (a fusion's bug, not the
            # model's): record that, and run the model as written, with no graph optimization
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            try:
                sess = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            except Exception:
                raise exc from None
            result["session_error"] = _first_line(exc)[:400]
        inputs = {i.name: i.type for i in sess.get_inputs()}
        out_names = [o.name for o in sess.get_outputs()]
        for feed, r in zip(feeds, ref):
            feed = {k: v.astype(np.float16) if inputs.get(k) == "tensor(float16)" else v for k, v in feed.items()}
            outs = sess.run(None, {k: v for k, v in feed.items() if k in inputs})
            names = sorted(r, key=lambda k: int(k.split(":", 1)[0]))
            ys = order_outputs(dict(zip(out_names, outs)), out_names, [n.split(":", 1)[1] for n in names])
            bad, err, off, total = compare(ys, [r[n] for n in names])
            result["off"] = result.get("off", 0) + off
            result["compared"] = result.get("compared", 0) + total
            result["nonfinite"] += bad
            result["max_rel_err"] = max(result["max_rel_err"], err)
    except Exception as exc:
        result["error"] = _first_line(exc)[:400]
    Path(out_json).write_text(json.dumps(result))


def ort_delegate(op_type: str):
    """An OpRun for the ReferenceEvaluator that runs one node through onnxruntime's kernel."""
    import onnx
    from onnx import helper
    from onnx.reference.op_run import OpRun

    def _run(self, *args, **kwargs):
        import onnxruntime as ort

        node = self.onnx_node
        names = [n if n else "" for n in node.input]
        key = tuple((a.dtype.str, a.shape) if a is not None else None for a in args)
        cache = self.__dict__.setdefault("_sessions", {})
        if key not in cache:
            ins = [
                helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                for n, a in zip(names, args)
                if n and a is not None
            ]
            outs = [helper.make_tensor_value_info(o, 0, None) for o in node.output]
            graph = helper.make_graph([node], "one", ins, outs)
            model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.run_params["opsets"][""])])
            model.ir_version = 8
            model = onnx.shape_inference.infer_shapes(model)
            cache[key] = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        feed = {n: a for n, a in zip(names, args) if n and a is not None}
        res = cache[key].run(None, feed)
        return tuple(res)

    return type(op_type, (OpRun,), {"op_domain": "", "_run": _run})


def _subgraph_inputs(node) -> set[str]:
    names = set()
    for attr in node.attribute:
        for g in [attr.g] * attr.HasField("g") + list(attr.graphs):
            for inner in g.node:
                names.update(inner.input)
                names |= _subgraph_inputs(inner)
    return names


def topo_sort(model) -> bool:
    """Put the main graph's nodes in dependency order in place (the ReferenceEvaluator needs it,
    onnxruntime sorts by itself); True when they were not."""
    nodes = list(model.graph.node)
    producer = {o: i for i, n in enumerate(nodes) for o in n.output if o}
    deps = [
        {producer[t] for t in (set(n.input) | _subgraph_inputs(n)) if t in producer and producer[t] != i}
        for i, n in enumerate(nodes)
    ]
    order, done, visiting = [], set(), set()

    def visit(i):
        stack = [(i, iter(sorted(deps[i])))]
        visiting.add(i)
        while stack:
            j, it = stack[-1]
            nxt = next((d for d in it if d not in done), None)
            if nxt is None:
                stack.pop()
                visiting.discard(j)
                done.add(j)
                order.append(j)
            elif nxt in visiting:
                raise ValueError("cycle in the graph")
            else:
                visiting.add(nxt)
                stack.append((nxt, iter(sorted(deps[nxt]))))

    for i in range(len(nodes)):
        if i not in done:
            visit(i)
    if order == list(range(len(nodes))):
        return False
    del model.graph.node[:]
    model.graph.node.extend(nodes[i] for i in order)
    return True


def ref_eval(path: str, feeds_path: str, ref_path: str, count: int, out_json: str) -> None:
    """ReferenceEvaluator on the first `count` inputs; the JSON is rewritten after each sample."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    feeds = load_feeds(Path(feeds_path))[:count]
    ref = load_feeds(Path(ref_path))[:count]
    model = onnx.load(path)
    result_sorted = topo_sort(model)
    produced = [o for n in model.graph.node for o in n.output if o]
    out_names = [o.name for o in model.graph.output]
    in_types = {i.name: i.type.tensor_type.elem_type for i in model.graph.input}
    result = {"samples": 0, "nonfinite": 0, "max_rel_err": 0.0, "overflow": [], "nan_fp16": [], "dtypes": {}}
    result["error"] = None
    result["sorted"] = result_sorted
    Path(out_json).write_text(json.dumps(result))
    try:
        ev = ReferenceEvaluator(model, new_ops=[ort_delegate(op) for op in DELEGATED_OPS])
        overflow, nan16 = set(), set()
        for feed, r in zip(feeds, ref):
            feed = {
                k: v.astype(np.float16) if in_types.get(k) == onnx.TensorProto.FLOAT16 else v for k, v in feed.items()
            }
            t0 = time.perf_counter()
            values = ev.run(None, {k: v for k, v in feed.items() if k in in_types}, intermediate=True)
            result["seconds"] = round(time.perf_counter() - t0, 1)
            for name in produced:
                v = values.get(name)
                if not isinstance(v, np.ndarray):
                    continue
                result["dtypes"].setdefault(name, str(v.dtype))
                if v.dtype == np.float16:
                    if np.isinf(v).any():
                        overflow.add(name)
                    elif np.isnan(v).any():
                        nan16.add(name)
            names = sorted(r, key=lambda k: int(k.split(":", 1)[0]))
            ys = order_outputs(values, out_names, [n.split(":", 1)[1] for n in names])
            bad, err, off, total = compare(ys, [r[n] for n in names])
            result["off"] = result.get("off", 0) + off
            result["compared"] = result.get("compared", 0) + total
            result["nonfinite"] += bad
            result["max_rel_err"] = max(result["max_rel_err"], err)
            result["samples"] += 1
            result["overflow"], result["nan_fp16"] = sorted(overflow), sorted(nan16)
            Path(out_json).write_text(json.dumps(result))
    except Exception as exc:
        result["error"] = _first_line(exc)[:400]
        Path(out_json).write_text(json.dumps(result))


def subprocess_json(args: list[str], out_json: Path, timeout: float) -> dict:
    out_json.unlink(missing_ok=True)
    try:
        proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, timeout=timeout)
        failed = proc.returncode != 0 and f"exit {proc.returncode}: {error_line(proc.stderr) or ''}"
        timed_out = False
    except subprocess.TimeoutExpired:
        failed, timed_out = False, True
    data = json.loads(out_json.read_text()) if out_json.exists() else {}
    if timed_out:
        data["timeout"] = timeout
    if failed and not data.get("error"):
        data["error"] = failed
    return data


def fp32_reference(model: dict, feeds: list[dict], path: Path) -> dict:
    import onnxruntime as ort

    ort.set_default_logger_severity(3)
    sess = ort.InferenceSession(model["path"], providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    outs, nonfinite = [], 0
    for feed in feeds:
        ys = sess.run(None, feed)
        outs.append({f"{i}:{n}": y for i, (n, y) in enumerate(zip(names, ys))})
        nonfinite += any(np.issubdtype(y.dtype, np.floating) and not np.isfinite(y).all() for y in ys)
    save_feeds(path, outs)
    return {"nonfinite": nonfinite, "outputs": names}


# ----------------------------------------------------------------------------- driver
def bench_model(model: dict, generators, args) -> dict:
    import onnx

    name = model["name"]
    work = WORK / name
    work.mkdir(parents=True, exist_ok=True)
    row = {"model": name, "list": model["list"], "tools": {}}
    if not Path(model["path"]).exists():
        row["error"] = f"model missing: {model['path']}"
        return row
    proto = onnx.load(model["path"])
    row["nodes"] = len(proto.graph.node)
    feeds = feeds_for(model, generators, HELD_OUT_SEED, args.samples)
    save_feeds(work / "heldout.npz", feeds)
    row["fp32"] = fp32_reference(model, feeds, work / "fp32_outputs.npz")
    row["fp32"]["nodes"] = fp32_nodes(model["path"])
    # the ReferenceEvaluator on the original: how far its fp32 kernels are from onnxruntime's
    row["fp32"]["ref"] = subprocess_json(
        [
            "_ref_eval",
            model["path"],
            str(work / "heldout.npz"),
            str(work / "fp32_outputs.npz"),
            str(args.ref_samples),
            str(work / "fp32.ref.json"),
        ],
        work / "fp32.ref.json",
        args.ref_timeout,
    )
    row["fp32"]["ref"].pop("dtypes", None)
    calib = None
    if "autocast" in args.tools and args.autocast_calibration > 0:
        calib = work / "calibration"
        shutil.rmtree(calib, ignore_errors=True)
        calib.mkdir()
        for i, feed in enumerate(feeds_for(model, generators, CALIBRATION_SEED, args.autocast_calibration)):
            np.savez(calib / f"batch{i:03d}.npz", **feed)
    for tool in args.tools:
        out = work / f"{tool}.onnx"
        print(f"[{name}] {tool} ...", file=sys.stderr, flush=True)
        res = run_tool(tool, model, out, calib, args.timeout)
        if res["completes"]:
            res["checker"] = checker(str(out))
            res["signature"] = signature_diff(model["path"], str(out))
            res["ort"] = subprocess_json(
                [
                    "_ort_eval",
                    str(out),
                    str(work / "heldout.npz"),
                    str(work / "fp32_outputs.npz"),
                    str(work / f"{tool}.ort.json"),
                ],
                work / f"{tool}.ort.json",
                args.eval_timeout,
            )
            res["ref"] = subprocess_json(
                [
                    "_ref_eval",
                    str(out),
                    str(work / "heldout.npz"),
                    str(work / "fp32_outputs.npz"),
                    str(args.ref_samples),
                    str(work / f"{tool}.ref.json"),
                ],
                work / f"{tool}.ref.json",
                args.ref_timeout,
            )
            observed = res["ref"].pop("dtypes", None) or {}
            res["nodes"] = fp32_nodes(str(out), observed)
        row["tools"][tool] = res
        print(f"[{name}] {tool}: {short(res)}", file=sys.stderr, flush=True)
    return row


def short(res: dict) -> str:
    if not res["completes"]:
        return f"FAILED {res['error']}"
    return f"{res['wall_s']} s, fp32 nodes {res['nodes']['fp32']}/{res['nodes']['float_nodes']}, ort {res.get('ort')}, ref { {k: v for k, v in res.get('ref', {}).items() if k != 'overflow'} }"


def gb(res: dict) -> str:
    return f"{res['peak_mb'] / 1024:.1f}" if res.get("peak_mb") else "-"


def fmt_err(x) -> str:
    if x is None:
        return "-"
    if x == float("inf"):
        return "inf"
    return f"{x:.2g}" if x >= 1e-3 else f"{x:.1e}"


def cell_runtime(ev: dict | None, key: str, samples: int | None = None) -> str:
    if not ev:
        return "-"
    if ev.get("error") and not ev.get("compared"):  # no output compared: the model did not run
        return "error"
    n = ev.get("samples", samples)
    if key == "nonfinite":
        text = f"{ev['nonfinite']}/{n}"
    elif key == "off":
        text = f"{100 * ev['off'] / ev['compared']:.2g}%" if ev.get("compared") else "-"
    else:
        text = fmt_err(ev["max_rel_err"])
    if ev.get("timeout"):
        text += " (timeout)"
    return text


def render(rows: list[dict], args, env: dict) -> str:
    out = ["# Mixed-precision fp16 conversion: onnxconverter-common vs AutoCast vs nanlint", ""]
    out.append(
        f"Made by `bench/mixed_precision.py` on {env['date']} (nanlint at {env['nanlint_commit']}, the last commit of nanlint/ at each run); "
        f"{env['versions']}. Held-out inputs: seed {HELD_OUT_SEED}, {args.samples} per model on onnxruntime CPU, "
        f"the first {args.ref_samples} also through onnx's ReferenceEvaluator (fp16 computed in fp16). "
        f"AutoCast calibration: {args.autocast_calibration} generator batches, seed {CALIBRATION_SEED}"
        + (" (0 = its own random inputs)." if args.autocast_calibration == 0 else ".")
        + " Wall time: the tool's whole process (imports included), one run"
        + (f", machine load average at the end {env['loadavg_end'][0]}" if env.get("loadavg_end") else "")
        + "."
    )
    out.append("")
    out.append(
        "Columns: *fp32 nodes* = non-Cast/Constant main-graph nodes keeping a float32 output / nodes with a float "
        "output; *non-finite* = samples with a NaN/Inf output where fp32 is finite (ort / ref); *>65504 (ref)* = "
        "fp16 node outputs holding inf under the ReferenceEvaluator; *max rel err* = max|y-y32|/max|y32| "
        "per output (ort / ref); *off >1%* = output elements off by more than 1% of their output's max|y32| "
        "(ort / ref). See the script's docstring for the exact definitions."
    )
    out.append("")
    out.append(
        "| model | tool | completes | wall s | peak GB | fp32 nodes | non-finite ort / ref | fp16 >65504 (ref) | max rel err ort / ref | off >1% ort / ref | notes |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    failures = []
    for row in rows:
        if row.get("error"):
            out.append(f"| {row['model']} | - | no | - | - | - | - | - | - | - | {row['error']} |")
            continue
        fp = row["fp32"]
        fref = fp.get("ref") or {}
        fnotes = [f"{row['nodes']} nodes"]
        if fref.get("error"):
            fnotes.append("ref error")
            failures.append(f"- {row['model']} / fp32 original: ref evaluation: `{fref['error']}`")
        if fref.get("timeout"):
            fnotes.append(f"ref: timeout after {fref.get('samples', 0)} samples")
        out.append(
            f"| {row['model']} | *fp32 original* | - | - | - | {fp['nodes']['fp32']}/{fp['nodes']['float_nodes']} "
            f"| {fp['nonfinite']}/{args.samples} / {cell_runtime(fref, 'nonfinite')} | - "
            f"| - / {cell_runtime(fref, 'err')} | - / {cell_runtime(fref, 'off')} | {'; '.join(fnotes)} |"
        )
        for tool, res in row["tools"].items():
            if not res["completes"]:
                out.append(
                    f"| {row['model']} | {tool} | **no** | {res['wall_s']} | {gb(res)} | - | - | - | - | - "
                    f"| exit {res['rc']}: see failures |"
                )
                failures.append(f"- {row['model']} / {tool} (exit {res['rc']}): `{res['error']}`")
                continue
            n = res["nodes"]
            ref, ort_ = res.get("ref") or {}, res.get("ort") or {}
            notes = []
            if n["untyped"]:
                notes.append(f"{n['untyped']} nodes untyped")
            if res.get("checker"):
                notes.append(f"checker: {res['checker']}")
                failures.append(f"- {row['model']} / {tool}: onnx.checker: `{res['checker']}`")
            notes += res.get("signature", [])
            if ort_.get("session_error"):
                notes.append("ort: session failed with graph optimizations, run without them")
                failures.append(
                    f"- {row['model']} / {tool}: onnxruntime session (default optimizations): `{ort_['session_error']}`"
                )
            for kind, ev in (("ort", ort_), ("ref", ref)):
                if ev.get("error"):
                    notes.append(f"{kind} error")
                    failures.append(f"- {row['model']} / {tool}: {kind} evaluation: `{ev['error']}`")
                if ev.get("timeout"):
                    notes.append(f"{kind}: timeout after {ev.get('samples', 0)} samples")
            if ref.get("sorted"):
                notes.append("ref run on a topologically sorted copy")
            if ref.get("nan_fp16"):
                notes.append(f"{len(ref['nan_fp16'])} fp16 tensors NaN (no inf)")
            over = ref.get("overflow")
            over_cell = "-" if not ref or (ref.get("error") and not ref.get("samples")) else str(len(over or []))
            out.append(
                f"| {row['model']} | {tool} | yes | {res['wall_s']} | {gb(res)} | {n['fp32']}/{n['float_nodes']} "
                f"| {cell_runtime(ort_, 'nonfinite')} / {cell_runtime(ref, 'nonfinite')} | {over_cell} "
                f"| {cell_runtime(ort_, 'err')} / {cell_runtime(ref, 'err')} "
                f"| {cell_runtime(ort_, 'off')} / {cell_runtime(ref, 'off')} | {'; '.join(notes).replace('|', '/')} |"
            )
    if failures:
        out += ["", "## Failures (exact messages)", "", *failures]
    out += ["", "## Overflowing fp16 tensors under the ReferenceEvaluator", ""]
    for row in rows:
        for tool, res in row.get("tools", {}).items():
            over = (res.get("ref") or {}).get("overflow")
            if over:
                shown = ", ".join(f"`{t}`" for t in over[:8]) + (f" ... (+{len(over) - 8})" if len(over) > 8 else "")
                out.append(f"- {row['model']} / {tool}: {shown}")
    out += ["", "## Tool messages", ""]
    for row in rows:
        for tool, res in row.get("tools", {}).items():
            if res.get("message"):
                out.append(f"- {row['model']} / {tool}: {res['message']}")
    return "\n".join(out) + "\n"


def environment() -> dict:
    from importlib import metadata

    def v(pkg):
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "absent"

    pkgs = ["onnx", "onnxruntime-gpu", "onnxruntime", "onnxconverter-common", "nvidia-modelopt", "numpy", "torch"]
    versions = ", ".join(f"{p} {v(p)}" for p in pkgs if v(p) != "absent")
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "log", "-1", "--format=%h", "--", "nanlint"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = "?"
    return {"date": datetime.date.today().isoformat(), "versions": versions, "nanlint_commit": commit}


def merge_rows(runs: list[dict]) -> list[dict]:
    """One row per model: the tools of every run (a later run's result for a tool replaces an earlier one),
    so that one tool can be re-run alone and merged with the others' results."""
    merged: dict[str, dict] = {}
    for run in runs:
        for row in run["rows"]:
            if row["model"] in merged:
                merged[row["model"]]["tools"].update(row.get("tools", {}))
            else:
                merged[row["model"]] = json.loads(json.dumps(row))
    return list(merged.values())


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_onnxconverter":
        onnxconverter_main(*argv[1:3])
        return 0
    if argv and argv[0] == "_ort_eval":
        ort_eval(*argv[1:5])
        return 0
    if argv and argv[0] == "_ref_eval":
        ref_eval(argv[1], argv[2], argv[3], int(argv[4]), argv[5])
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models-json", type=Path, default=DEFAULT_SET / "models.json")
    p.add_argument("--extra-models", type=Path, action="append", default=[], help="another models.json-format list")
    p.add_argument("--generators", type=Path, default=None, help="folder with common.py (default: the first list's)")
    p.add_argument("--model", action="append", default=[], help="only these models, in this order (repeatable)")
    p.add_argument("--tools", default=",".join(TOOLS))
    p.add_argument("--samples", type=int, default=8, help="held-out inputs on onnxruntime")
    p.add_argument("--ref-samples", type=int, default=2, help="of those, through the ReferenceEvaluator")
    p.add_argument(
        "--autocast-calibration", type=int, default=8, help="calibration batches for AutoCast (0: its random inputs)"
    )
    p.add_argument("--timeout", type=float, default=900, help="per conversion, seconds")
    p.add_argument("--eval-timeout", type=float, default=600, help="onnxruntime evaluation, seconds")
    p.add_argument("--ref-timeout", type=float, default=900, help="ReferenceEvaluator evaluation, seconds")
    p.add_argument("--write", action="store_true", help=f"also write {OUT_MD.relative_to(ROOT)}")
    p.add_argument("--json", type=Path, help="raw results")
    p.add_argument(
        "--render-json",
        type=Path,
        action="append",
        default=[],
        help="only re-render the table from --json files of earlier runs (repeatable: rows of a model are merged)",
    )
    args = p.parse_args(argv)
    if args.render_json:
        runs = [json.loads(path.read_text()) for path in args.render_json]
        for key, value in runs[0].get("args", {}).items():
            setattr(args, key, value)
        order = [m["name"] for m in load_model_list(args.models_json, os.environ.get("NANLINT_EVAL_MODELS"))]
        for extra in args.extra_models:
            order += [m["name"] for m in load_model_list(extra)]
        rows = sorted(merge_rows(runs), key=lambda r: (order + [r["model"]]).index(r["model"]))
        env = dict(runs[0]["env"])
        commits = [run["env"].get("nanlint_commit") for run in runs]
        env["nanlint_commit"] = " / ".join(dict.fromkeys(c for c in commits if c))  # runs at several commits
        loads = [run["env"].get("loadavg_end") for run in runs if run["env"].get("loadavg_end")]
        if loads:
            env["loadavg_end"] = max(loads)
        text = render(rows, args, env)
        print(text)
        if args.write:
            OUT_MD.write_text(text)
        return 0
    args.tools = [t for t in args.tools.split(",") if t]
    unknown = set(args.tools) - set(TOOLS)
    if unknown:
        p.error(f"unknown tools {sorted(unknown)}; choose from {TOOLS}")
    generators = load_generators(args.generators or args.models_json.parent)
    models = load_model_list(args.models_json, os.environ.get("NANLINT_EVAL_MODELS"))
    for extra in args.extra_models:
        models += load_model_list(extra)
    if args.model:
        models = sorted((m for m in models if m["name"] in args.model), key=lambda m: args.model.index(m["name"]))
    rows = [bench_model(m, generators, args) for m in models]
    env = environment()
    env["loadavg_end"] = [round(x, 1) for x in os.getloadavg()]
    text = render(rows, args, env)
    print(text)
    if args.json:
        used = {k: getattr(args, k) for k in ("samples", "ref_samples", "autocast_calibration", "tools")}
        args.json.write_text(json.dumps({"env": env, "args": used, "rows": rows}, indent=1, default=str))
    if args.write:
        OUT_MD.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
