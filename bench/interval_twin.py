"""Prototype: an interval twin of ResNet-50 run as one onnxruntime graph, against one inference.

    python bench/interval_twin.py        (needs torch to export the model; about a minute)

DESIGN.md suggests an "interval twin" (one graph carrying lo/hi or mid/rad through the whole model)
to keep the static pass within a few inferences. This measures that idea on the CNN of
bench/graph_speed.py, without nanlint's checks or its outward rounding: Conv/Gemm in centre/radius
form (W and |W| as initializers), ReLU, Add and pools on lo and hi, a min and a max per tensor. It
prints session creation and run time at three optimisation levels, and one inference of the model.

Measured 2026-11-23 (2-core Xeon), over three runs: a twin run takes 0.11-0.13 s = 3.8-4.4x an
inference (0.028-0.029 s), after 0.3-1.4 s of session creation depending on the optimisation level;
nanlint's whole static pass took 0.26 s. Not part of run_all.py: it is the evidence behind issue 5's closing note, not a
figure of nanlint's.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.graph_speed import export

SHAPE = [1, 3, 224, 224]
LINEAR = ("Conv", "Gemm")
MONOTONE = ("Relu", "MaxPool", "GlobalAveragePool", "Flatten", "Identity")


def constants_and_nodes(model: onnx.ModelProto) -> tuple[dict[str, np.ndarray], list[onnx.NodeProto]]:
    """Weights by name (initializers, Constant outputs and Identity aliases of them), and the other nodes."""
    constants = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    nodes = []
    for node in model.graph.node:
        if node.op_type == "Constant":
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        elif node.op_type == "Identity" and node.input[0] in constants:
            constants[node.output[0]] = constants[node.input[0]]
        else:
            nodes.append(node)
    return constants, nodes


class Twin:
    """Builds the interval graph: tensor t becomes t@lo and t@hi (t@mid, t@rad around linear ops)."""

    def __init__(self, constants: dict[str, np.ndarray]):
        self.constants = constants
        self.nodes: list[onnx.NodeProto] = []
        self.weights = {"half": np.array(0.5, np.float32)}
        self.outputs: list[str] = []
        self._centred: set[str] = set()

    def add(self, op: str, inputs: list[str], output: str, **attributes) -> None:
        self.nodes.append(helper.make_node(op, inputs, [output], **attributes))

    def centre(self, x: str) -> tuple[str, str]:
        if x not in self._centred:
            self._centred.add(x)
            self.add("Add", [x + "@lo", x + "@hi"], x + "@sum")
            self.add("Mul", [x + "@sum", "half"], x + "@mid")
            self.add("Sub", [x + "@hi", x + "@lo"], x + "@width")
            self.add("Mul", [x + "@width", "half"], x + "@rad")
        return x + "@mid", x + "@rad"

    def lift(self, node: onnx.NodeProto) -> None:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        y = node.output[0]
        if node.op_type in LINEAR:
            weight, bias = node.input[1], list(node.input[2:3])
            self.weights[weight] = self.constants[weight]
            self.weights[weight + "@abs"] = np.abs(self.constants[weight])
            self.weights.update({b: self.constants[b] for b in bias})
            mid, rad = self.centre(node.input[0])
            self.add(node.op_type, [mid, weight, *bias], y + "@m", **attributes)
            self.add(node.op_type, [rad, weight + "@abs"], y + "@r", **attributes)
            self.add("Sub", [y + "@m", y + "@r"], y + "@lo")
            self.add("Add", [y + "@m", y + "@r"], y + "@hi")
        elif node.op_type in MONOTONE or node.op_type == "Add":
            for end in ("@lo", "@hi"):
                self.add(node.op_type, [name + end for name in node.input], y + end, **attributes)
        else:
            raise SystemExit(f"the prototype does not lift {node.op_type}")
        self.add("ReduceMin", [y + "@lo"], y + "@min", keepdims=0)
        self.add("ReduceMax", [y + "@hi"], y + "@max", keepdims=0)
        self.outputs += [y + "@min", y + "@max"]

    def model(self, x: str) -> onnx.ModelProto:
        inputs = [helper.make_tensor_value_info(x + end, TensorProto.FLOAT, SHAPE) for end in ("@lo", "@hi")]
        graph = helper.make_graph(
            self.nodes,
            "twin",
            inputs,
            [onnx.ValueInfoProto(name=o) for o in self.outputs],
            [numpy_helper.from_array(v, k) for k, v in self.weights.items()],
        )
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def best_run(session: ort.InferenceSession, feeds: dict, repeat: int) -> float:
    session.run(None, feeds)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    path, _ = export("resnet50", Path(tempfile.mkdtemp(prefix="nanlint-twin-")))
    model = onnx.load(str(path))
    constants, nodes = constants_and_nodes(model)
    twin = Twin(constants)
    for node in nodes:
        twin.lift(node)
    x = model.graph.input[0].name
    data = twin.model(x).SerializeToString()
    feeds = {x + "@lo": np.zeros(SHAPE, np.float32), x + "@hi": np.ones(SHAPE, np.float32)}
    for level in ("ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_ALL"):
        options = ort.SessionOptions()
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        options.add_session_config_entry("session.set_denormal_as_zero", "1")
        start = time.perf_counter()
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        created = time.perf_counter() - start
        print(f"twin, {level}: session creation {created:.3f} s, run {best_run(session, feeds, 5):.3f} s")
    inference = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    print(f"one inference of the model: {best_run(inference, {x: np.ones(SHAPE, np.float32)}, 10):.3f} s")


if __name__ == "__main__":
    main()
