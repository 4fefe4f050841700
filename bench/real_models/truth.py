"""Ground truth for the real-models fp16 bench (same method and format as the project's shared
graph-fp16 eval, realworld/graph/truth.py, from which this is copied).

For each model in models.json: run the fp32 model on onnxruntime's CPU EP with every
main-graph tensor exposed as an output, on 16 held-out inputs (seed 1234), and record per
tensor max |x| over finite values and whether NaN/Inf occurs. Writes truth/<model>.json:
  overflow_fp16   float tensors with max|x| > 65504, plus float initializers / Constant
                  outputs with a finite |value| > 65504
  nonfinite_fp32  runtime tensors (inputs/activations) holding NaN/Inf in fp32
  nonfinite_const initializers / Constant outputs holding NaN/Inf (e.g. a -inf fill value)
  unscored        tensor names a prediction may name but that were not measured
                  (subgraph tensors, main-graph tensors of unknown type)
  tensors         name -> [max_abs, kind (input|act|init|const), op_type, n_over, nonfinite]
                  (largest first; cut to the MAX_TENSORS largest when the file would pass 2 MB,
                  `tensors_trimmed` then gives the full count)
plus package, size_bytes and n_nodes for the record.
Usage: python truth.py [MODEL_NAME ...]
"""

import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from common import FP16_MAX, HELD_OUT_SEED, HERE, load_models, make_inputs, model_bytes, sha256, time_inference
from onnx import TensorProto, numpy_helper

N_SAMPLES = 16
MAX_BYTES, MAX_TENSORS = 2_000_000, 2000
FLOAT_TYPES = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16}


def subgraph_tensors(graph, top=True):
    """All tensor names defined inside subgraphs (If/Loop/Scan bodies) of `graph`."""
    names = set()
    if not top:
        names |= {i.name for i in graph.input} | {i.name for i in graph.initializer}
        names |= {o for n in graph.node for o in n.output if o}
    for n in graph.node:
        for a in n.attribute:
            for g in list(a.graphs) + ([a.g] if a.HasField("g") else []):
                names |= subgraph_tensors(g, top=False)
    return names


def const_value(node):
    """Value of a Constant node as a numpy array, or None if it is not numeric."""
    for a in node.attribute:
        if a.name == "value":
            return numpy_helper.to_array(a.t)
        if a.name in ("value_float", "value_floats"):
            return np.asarray(a.f if a.name == "value_float" else list(a.floats), np.float32)
    return None


def update(acc, a):
    """Fold one array into acc = [max |x| over finite values, n arrays above fp16 max, any NaN/Inf]."""
    a = np.abs(np.asarray(a, np.float32 if a.dtype.itemsize <= 4 else np.float64))
    fin = np.isfinite(a)
    m = float(a[fin].max()) if fin.any() else 0.0
    acc[0], acc[1], acc[2] = max(acc[0], m), acc[1] + (m > FP16_MAX), acc[2] or not fin.all()
    return acc


def ground_truth(model):
    m = onnx.load(model["path"])
    g = onnx.shape_inference.infer_shapes(m).graph
    types = {
        v.name: v.type.tensor_type.elem_type
        for v in list(g.value_info) + list(g.input) + list(g.output)
        if v.type.HasField("tensor_type")
    }
    producer = {o: n for n in m.graph.node for o in n.output if o}
    table, unscored = {}, set(subgraph_tensors(m.graph))

    # static tensors: float initializers and Constant nodes
    for init in m.graph.initializer:
        if init.data_type in FLOAT_TYPES:
            table[init.name] = update([0.0, 0, False], numpy_helper.to_array(init)) + ["init", None]
    for name, n in producer.items():
        if n.op_type == "Constant":
            v = const_value(n)
            if v is not None and v.dtype.kind == "f":
                table[name] = update([0.0, 0, False], v) + ["const", "Constant"]

    # runtime tensors: expose every other float node output of the main graph
    outputs = {o.name for o in m.graph.output}
    for name, _n in producer.items():
        if name in table or name in outputs:
            continue
        if name not in types or types[name] == TensorProto.UNDEFINED:
            unscored.add(name)
        elif types[name] in FLOAT_TYPES:
            m.graph.output.append(onnx.helper.make_tensor_value_info(name, types[name], None))
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    rng = np.random.default_rng(HELD_OUT_SEED)
    feeds = [make_inputs(model, rng) for _ in range(N_SAMPLES)]
    for feed in feeds:
        for k, v in [*feed.items(), *zip(names, sess.run(names, feed))]:
            if v.dtype.kind == "f":
                kind, op = ("act", producer[k].op_type) if k in producer else ("input", None)
                update(table.setdefault(k, [0.0, 0, False, kind, op]), v)

    order = sorted(table, key=lambda k: -table[k][0])  # largest first
    tensors = {k: [float(f"{table[k][0]:.4g}"), *table[k][3:], *table[k][1:3]] for k in order}
    return {
        "model": model["name"],
        "file": model["file"],
        "sha256": sha256(model["path"]),
        "package": model.get("package"),
        "size_bytes": model_bytes(model),
        "n_nodes": len(m.graph.node),
        "seed": HELD_OUT_SEED,
        "n_samples": N_SAMPLES,
        "n_float_tensors": len(tensors),
        "overflow_fp16": sorted(k for k, t in table.items() if t[0] > FP16_MAX),
        "nonfinite_fp32": sorted(k for k, t in table.items() if t[2] and t[3] in ("input", "act")),
        "nonfinite_const": sorted(k for k, t in table.items() if t[2] and t[3] in ("init", "const")),
        "ort_infer_s": float(f"{time_inference(model['path'], feeds[0]):.4g}"),
        "unscored": sorted(unscored),
        "tensors": tensors,
    }


def dump(t):
    """JSON with one top-level key, and one tensor of the table, per line."""
    head = [f" {json.dumps(k)}: {json.dumps(v)}" for k, v in t.items() if k != "tensors"]
    rows = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in t["tensors"].items()]
    return "{\n" + ",\n".join(head) + ',\n "tensors": {\n' + ",\n".join(rows) + "\n }\n}\n"


def main():
    os.makedirs(os.path.join(HERE, "truth"), exist_ok=True)
    for model in load_models():
        if len(sys.argv) > 1 and model["name"] not in sys.argv[1:]:
            continue
        t = ground_truth(model)
        text = dump(t)
        if len(text) > MAX_BYTES:
            t["tensors_trimmed"] = len(t["tensors"])
            t["tensors"] = dict(list(t["tensors"].items())[:MAX_TENSORS])
            text = dump(t)
        with open(os.path.join(HERE, "truth", model["name"] + ".json"), "w") as f:
            f.write(text)
        print(
            f"{t['model']:18s} overflow_fp16={len(t['overflow_fp16']):3d}/{t['n_float_tensors']:4d} "
            f"nonfinite_fp32={len(t['nonfinite_fp32'])} nonfinite_const={len(t['nonfinite_const'])} "
            f"unscored={len(t['unscored'])} ort_infer_s={t['ort_infer_s']:.4g}",
            flush=True,
        )


if __name__ == "__main__":
    main()
