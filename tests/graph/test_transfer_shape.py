"""Soundness of shape, generator, random and index ops; exactness of shape arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from tests.graph._soundness import Box, Case, check

X = Box((2, 3, 4))
I64 = np.int64
SMALL_INT = Box((2,), dtype=TensorProto.INT64, integer=True, low=1, high=3)

CASES = [
    Case("Shape", [X]),
    Case("Shape", [X], attrs={"start": 1, "end": -1}, opset=15, name="Shape-slice"),
    Case("Size", [X]),
    Case("Constant", [], attrs={"value": helper.make_tensor("v", TensorProto.FLOAT, [2], [1.5, -2.0])}),
    Case(
        "ConstantOfShape",
        [np.array([2, 3], I64)],
        attrs={"value": helper.make_tensor("v", TensorProto.FLOAT, [1], [-4.0])},
        opset=9,
    ),
    Case(
        "ConstantOfShape",
        [SMALL_INT],
        attrs={"value": helper.make_tensor("v", TensorProto.FLOAT, [1], [2.5])},
        opset=9,
        name="ConstantOfShape-bounded-shape",
    ),
    Case("EyeLike", [Box((3, 4))], attrs={"k": 1}),
    Case("Range", [np.float32(-1.0), np.float32(4.0), np.float32(0.75)], opset=11),
    Case("Range", [Box((), low=-3, high=3), Box((), low=-3, high=3), np.float32(0.5)], opset=11, name="Range-bounded"),
    Case("NonZero", [X], opset=13),
    Case(
        "OneHot",
        [
            Box((3,), dtype=TensorProto.INT64, integer=True, low=-4, high=3),
            np.int64(4),
            np.array([-1.0, 3.0], np.float32),
        ],
        attrs={"axis": 0},
    ),
    Case("RandomUniform", [], attrs={"shape": [3, 4], "low": -2.0, "high": 5.0}),
    Case("RandomUniformLike", [X], attrs={"low": 1.0, "high": 2.0}),
    Case("RandomNormal", [], attrs={"shape": [50, 50], "mean": 1.0, "scale": 3.0}),
    Case("RandomNormalLike", [X], attrs={"scale": 0.1}),
    Case("Bernoulli", [Box((3, 4), low=0.0, high=1.0)], opset=15),
    Case("Multinomial", [Box((2, 5), low=-3, high=3)], attrs={"sample_size": 4}),
    Case("Dropout", [X], outputs=2, opset=13),
    Case(
        "Dropout",
        [X, np.float32(0.25), np.array(True)],
        outputs=2,
        opset=13,
        check_outputs=(0,),
        name="Dropout-training",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_sound(case):
    check(case)


def test_shape_and_size_are_exact():
    out = check(Case("Shape", [X]), seeds=(0,), points=2)
    b = out["bounds"][0]
    assert b.is_point and list(b.lo) == [2, 3, 4] and b.lo.dtype == np.int64
    size = check(Case("Size", [X]), seeds=(0,), points=2)["bounds"][0]
    assert size.is_point and int(size.lo) == 24


def test_shape_arithmetic_folds_exactly(tmp_path):
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape stays exact through onnxruntime folding."""
    import onnx
    from onnx import numpy_helper

    from nanlint.graph.analysis import analyze
    from nanlint.graph.model import load_model

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["b"], axis=0),
        helper.make_node("Unsqueeze", ["b", "axes"], ["b1"]),
        helper.make_node("Concat", ["b1", "rest"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["y"]),
    ]
    inits = [
        numpy_helper.from_array(np.array(0, I64), "zero"),
        numpy_helper.from_array(np.array([0], I64), "axes"),
        numpy_helper.from_array(np.array([2, 3], I64), "rest"),
    ]
    path = str(tmp_path / "m.onnx")
    onnx.save(
        helper.make_model(helper.make_graph(nodes, "g", [x], [y], inits), opset_imports=[helper.make_opsetid("", 13)]),
        path,
    )
    a = analyze(load_model(path, {"x": (5, 6)}), {"x": (-2.0, 3.0)}, strict=True)
    assert a.bounds["shape"].is_point and list(a.bounds["shape"].lo) == [5, 2, 3]
    assert a.bounds["y"].shape == (5, 2, 3) and (a.bounds["y"].min(), a.bounds["y"].max()) == (-2.0, 3.0)
    assert not a.unsupported


def test_int64_max_slice_end_survives_folding():
    out = check(
        Case("Slice", [X, np.array([1], I64), np.array([np.iinfo(np.int64).max], I64), np.array([2], I64)]),
        seeds=(0,),
        points=2,
    )
    assert out["bounds"][0].shape == (2, 3, 3)
