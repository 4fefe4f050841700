"""Row lookups: a MatMul of one-hot rows by exact weights selects a row of the weights (jax/tf
`one_hot(ids) @ table`, ONNX OneHot), and a Gather of an exact table selects rows by index.

Soundness: the graphs run in onnxruntime on integer ids drawn from random boxes. Tightness: the bound is
the hull of the rows that can be selected (and 0 when no row matches), not the sum over rows.
"""

from __future__ import annotations

import tempfile

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from nanlint.graph.analysis import analyze
from nanlint.graph.model import load_model
from tests.graph._soundness import Box, Case, build_model, check

rng = np.random.default_rng(7)
TABLE = rng.standard_normal((6, 4)).astype(np.float32)
IDS = (2, 5)


def one_hot_equal(values=None):
    """Cast(Equal(ids[..., None], values)) @ TABLE, as jax2tf writes one_hot(ids) @ table."""
    values = np.arange(6, dtype=np.int64) if values is None else values
    return helper.make_graph(
        [
            helper.make_node("Unsqueeze", ["in0", "axis"], ["u"]),
            helper.make_node("Equal", ["u", "values"], ["hot"]),
            helper.make_node("Cast", ["hot"], ["hotf"], to=TensorProto.FLOAT),
            helper.make_node("MatMul", ["hotf", "table"], ["y"]),
        ],
        "g",
        [helper.make_tensor_value_info("in0", TensorProto.INT64, list(IDS))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [
            numpy_helper.from_array(np.array([-1], np.int64), "axis"),
            numpy_helper.from_array(values.reshape(1, 1, -1), "values"),
            numpy_helper.from_array(TABLE, "table"),
        ],
    )


def one_hot_op():
    return helper.make_graph(
        [
            helper.make_node("OneHot", ["in0", "depth", "onoff"], ["hot"], axis=-1),
            helper.make_node("MatMul", ["hot", "table"], ["y"]),
        ],
        "g",
        [helper.make_tensor_value_info("in0", TensorProto.INT64, list(IDS))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [
            numpy_helper.from_array(np.array(6, np.int64), "depth"),
            numpy_helper.from_array(np.array([0.0, 1.5], np.float32), "onoff"),
            numpy_helper.from_array(TABLE, "table"),
        ],
    )


def ids(low=-2, high=8):
    return Box(IDS, dtype=TensorProto.INT64, integer=True, low=low, high=high, scale=4.0)


@pytest.mark.parametrize("build", [one_hot_equal, one_hot_op], ids=["equal", "onehot"])
def test_sound(build):
    check(Case("lookup", [ids()], graph=build(), opset=17))


def bound_of(g, ranges):
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/m.onnx"
        build_model(Case("g", [], graph=g, opset=17), path)
        model = load_model(path)
        return analyze(model, ranges, strict=True).bounds["y"]


def test_one_hot_rows_give_the_hull_of_the_table_rows():
    bound = bound_of(one_hot_equal(), {"in0": (0, 5)})
    low = np.minimum(TABLE.min(axis=0), 0)
    high = np.maximum(TABLE.max(axis=0), 0)
    np.testing.assert_allclose(np.broadcast_to(bound.lo, bound.shape)[0, 0], low, rtol=1e-6)
    np.testing.assert_allclose(np.broadcast_to(bound.hi, bound.shape)[0, 0], high, rtol=1e-6)


def test_one_hot_op_scales_the_rows_by_the_on_value():
    bound = bound_of(one_hot_op(), {"in0": (0, 5)})
    assert bound.max() == pytest.approx(1.5 * TABLE.max(), rel=1e-6)
    assert bound.min() == pytest.approx(1.5 * TABLE.min(), rel=1e-6)


def test_repeated_values_are_not_one_hot():
    """Equal against a row with a repeated value can match twice: the rows add up, as interval arithmetic says."""
    values = np.array([0, 1, 2, 2, 4, 5], np.int64)
    g = one_hot_equal(values)
    bound = bound_of(g, {"in0": (0, 5)})
    assert bound.max() == pytest.approx(np.maximum(TABLE, 0).sum(axis=0).max(), rel=1e-5)
    check(Case("repeated", [ids()], graph=g, opset=17))
