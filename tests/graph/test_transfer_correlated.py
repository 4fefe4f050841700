"""Binary ops of two element-wise functions of one tensor (transfer/correlated.py): gated activations
written out op by op are bounded piecewise in their input, not as products of independent factors.

Soundness: each sub-graph runs in onnxruntime on points of random element-wise boxes (tests/graph/
_soundness.py). Tightness: on a wide input range the written-out activation's minimum is its real
minimum (hard-swish -0.375, SiLU -0.2785, GELU -0.17), within the pieces' resolution.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from nanlint.graph.analysis import analyze
from nanlint.graph.interval import Interval
from nanlint.graph.model import load_model
from tests.graph._soundness import Box, Case, build_model, check

F = TensorProto.FLOAT
SHAPE = (2, 3, 5)


def scalar(name: str, value: float, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(value, dtype), name)


def graph(nodes, inits=(), inputs=("in0",), shape=SHAPE, dtype=F):
    """A graph over inputs in0, in1, ... with output `y` (the last node's output)."""
    ins = [helper.make_tensor_value_info(name, dtype, list(shape)) for name in inputs]
    return helper.make_graph(nodes, "g", ins, [helper.make_tensor_value_info("y", dtype, None)], list(inits))


def hard_swish_clip():
    """x * clip(x + 3, 0, 6) / 6, as paddle2onnx writes it."""
    return graph(
        [
            helper.make_node("Add", ["in0", "three"], ["t"]),
            helper.make_node("Clip", ["t", "zero", "six"], ["g"]),
            helper.make_node("Mul", ["in0", "g"], ["p"]),
            helper.make_node("Div", ["p", "six"], ["y"]),
        ],
        [scalar("three", 3.0), scalar("zero", 0.0), scalar("six", 6.0)],
    )


def hard_swish_gate():
    """x * hard_sigmoid(x) with hard-swish's parameters."""
    return graph(
        [
            helper.make_node("HardSigmoid", ["in0"], ["g"], alpha=1 / 6, beta=0.5),
            helper.make_node("Mul", ["g", "in0"], ["y"]),
        ]
    )


def silu():
    return graph([helper.make_node("Sigmoid", ["in0"], ["g"]), helper.make_node("Mul", ["in0", "g"], ["y"])])


def gelu_erf():
    """(x * 0.5) * (1 + erf(x / sqrt 2)), as torch exports GELU before opset 20."""
    return graph(
        [
            helper.make_node("Div", ["in0", "sqrt2"], ["s"]),
            helper.make_node("Erf", ["s"], ["e"]),
            helper.make_node("Add", ["e", "one"], ["g"]),
            helper.make_node("Mul", ["in0", "half"], ["h"]),
            helper.make_node("Mul", ["h", "g"], ["y"]),
        ],
        [scalar("sqrt2", math.sqrt(2.0)), scalar("one", 1.0), scalar("half", 0.5)],
    )


def gelu_tanh():
    """x * 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))), as jax2tf writes it (x^3 as two products)."""
    return graph(
        [
            helper.make_node("Mul", ["c3", "in0"], ["a"]),
            helper.make_node("Mul", ["a", "in0"], ["b"]),
            helper.make_node("Mul", ["b", "in0"], ["cube"]),
            helper.make_node("Add", ["in0", "cube"], ["inner"]),
            helper.make_node("Mul", ["k", "inner"], ["scaled"]),
            helper.make_node("Tanh", ["scaled"], ["t"]),
            helper.make_node("Add", ["one", "t"], ["u"]),
            helper.make_node("Mul", ["half", "u"], ["g"]),
            helper.make_node("Mul", ["in0", "g"], ["y"]),
        ],
        [scalar("c3", 0.044715), scalar("k", math.sqrt(2 / math.pi)), scalar("one", 1.0), scalar("half", 0.5)],
    )


def silu_of_residual():
    """silu(a + b): x is a sum of two inputs, the sub-graph starts at the sum."""
    return graph(
        [
            helper.make_node("Add", ["in0", "in1"], ["x"]),
            helper.make_node("Sigmoid", ["x"], ["g"]),
            helper.make_node("Mul", ["x", "g"], ["y"]),
        ],
        inputs=("in0", "in1"),
    )


def silu_after_bias():
    """silu(x + bias) with a bias per channel: the sub-graph starts after the bias."""
    bias = numpy_helper.from_array(np.linspace(-2, 2, 5).astype(np.float32), "bias")
    return graph(
        [
            helper.make_node("Add", ["in0", "bias"], ["x"]),
            helper.make_node("Sigmoid", ["x"], ["g"]),
            helper.make_node("Mul", ["x", "g"], ["y"]),
        ],
        [bias],
    )


GRAPHS = {
    "hard-swish-clip": (hard_swish_clip, 1),
    "hard-swish-gate": (hard_swish_gate, 1),
    "silu": (silu, 1),
    "gelu-erf": (gelu_erf, 1),
    "gelu-tanh": (gelu_tanh, 1),
    "silu-of-residual": (silu_of_residual, 2),
    "silu-after-bias": (silu_after_bias, 1),
}


@pytest.mark.parametrize("name", list(GRAPHS))
def test_sound(name):
    build, count = GRAPHS[name]
    check(Case(name, [Box(SHAPE) for _ in range(count)], graph=build(), opset=17, name=name))


def bound_of(g, low: float, high: float, **kwargs) -> Interval:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/m.onnx"
        build_model(Case("g", [], graph=g, opset=17, **kwargs), path)
        model = load_model(path)
        analysis = analyze(model, {name: (low, high) for name in model.inputs}, strict=True)
    return analysis.bounds["y"]


def _hard_swish(v):
    return v * min(max(v + 3, 0), 6) / 6


def _silu(v):
    return v / (1 + math.exp(-v))


def _gelu(v):
    return v * 0.5 * (1 + math.erf(v / math.sqrt(2)))


# (graph, the function, its true minimum, how far below it the bound may sit)
MINIMA = {
    "hard-swish-clip": (hard_swish_clip, _hard_swish, -0.375, 0.08),
    "hard-swish-gate": (hard_swish_gate, _hard_swish, -0.375, 0.08),
    "silu": (silu, _silu, -0.27846, 0.06),
    "gelu-erf": (gelu_erf, _gelu, -0.16997, 0.04),
    "gelu-tanh": (gelu_tanh, _gelu, -0.17004, 0.04),
}


@pytest.mark.parametrize("name", list(MINIMA))
@pytest.mark.parametrize("width", [4.0, 100.0, 1e4])
def test_minimum_is_the_activations(name, width):
    build, function, minimum, slack = MINIMA[name]
    bound = bound_of(build(), -width, width)
    assert minimum - slack <= bound.min() <= minimum
    # the maximum is the activation's value at the top end (interval arithmetic gets it right)
    assert bound.max() == pytest.approx(function(width), rel=2e-3)


def test_positive_range_keeps_the_exact_box():
    bound = bound_of(silu(), 2.0, 3.0)
    sig = lambda v: 1 / (1 + math.exp(-v))
    assert bound.min() == pytest.approx(2 * sig(2), rel=1e-5)
    assert bound.max() == pytest.approx(3 * sig(3), rel=1e-5)


def test_independent_gate_is_a_plain_product():
    """x * sigmoid(z) with another input z: the operands are independent, the corners are reachable."""
    g = graph(
        [helper.make_node("Sigmoid", ["in1"], ["g"]), helper.make_node("Mul", ["in0", "g"], ["y"])],
        inputs=("in0", "in1"),
    )
    bound = bound_of(g, -10.0, 10.0)
    assert bound.min() < -9.9 and bound.max() > 9.9
    check(Case("independent", [Box(SHAPE), Box(SHAPE)], graph=g, opset=17))


def test_per_channel_gate_parameter_is_not_one_function():
    """x * sigmoid(x * s) with a scale per channel: h differs per channel, left to interval arithmetic."""
    scale = numpy_helper.from_array(np.linspace(0.5, 3, 5).astype(np.float32), "s")
    g = graph(
        [
            helper.make_node("Mul", ["in0", "s"], ["z"]),
            helper.make_node("Sigmoid", ["z"], ["g"]),
            helper.make_node("Mul", ["in0", "g"], ["y"]),
        ],
        [scale],
    )
    bound = bound_of(g, -10.0, 10.0)
    assert bound.min() < -9.9
    check(Case("per-channel", [Box(SHAPE)], graph=g, opset=17))
