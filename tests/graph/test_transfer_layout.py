"""Soundness of the layout family (the kernel on lo and on hi), including bounded indices."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto

from tests.graph._soundness import Box, Case, check

X = Box((2, 3, 4))
IMG = Box((1, 4, 4, 4))
I64 = np.int64

CASES = [
    Case("Identity", [X]),
    Case("Reshape", [X, np.array([6, -1], I64)]),
    Case("Reshape", [X, np.array([0, -1], I64)], name="Reshape-keep-dim"),
    Case(
        "Reshape", [Box((2, 0, 3)), np.array([0, 3], I64)], attrs={"allowzero": 1}, opset=14, name="Reshape-allowzero"
    ),
    Case("Squeeze", [Box((2, 1, 4))], attrs={"axes": [1]}, opset=11, name="Squeeze-opset11"),
    Case("Unsqueeze", [X], attrs={"axes": [-1, 0]}, opset=11, name="Unsqueeze-opset11"),
    Case("Flatten", [Box((2, 3))], attrs={"axis": 0}, name="Flatten-axis0"),
    Case("Transpose", [X], attrs={"perm": [2, 0, 1]}),
    Case("Squeeze", [Box((2, 1, 4)), np.array([1], I64)], opset=13),
    Case("Unsqueeze", [X, np.array([0, 3], I64)], opset=13),
    Case("Flatten", [X], attrs={"axis": 2}),
    Case("DepthToSpace", [IMG], attrs={"blocksize": 2}),
    Case("SpaceToDepth", [IMG], attrs={"blocksize": 2}),
    Case("Tile", [X, np.array([1, 2, 1], I64)]),
    Case("Expand", [Box((3, 1)), np.array([2, 3, 4], I64)]),
    Case("Slice", [X, np.array([0, 1], I64), np.array([2, 4], I64), np.array([1, 2], I64), np.array([1, 2], I64)]),
    Case(
        "Slice",
        [X, np.array([-1], I64), np.array([-(10**18)], I64), np.array([2], I64), np.array([-1], I64)],
        name="Slice-reverse",
    ),
    Case("ReverseSequence", [Box((4, 2, 3)), np.array([4, 2], I64)], attrs={"batch_axis": 1, "time_axis": 0}),
    Case("Trilu", [X, np.array(1, I64)], opset=14),
    Case("Trilu", [X], attrs={"upper": 0}, domain="com.microsoft", name="Trilu-contrib"),
    Case("CenterCropPad", [Box((5, 3)), np.array([3, 5], I64)], opset=18),
    Case("Compress", [X, np.array([True, False, True])], attrs={"axis": 1}),
    Case("Upsample", [IMG, np.array([1, 1, 2, 2], np.float32)], attrs={"mode": "nearest"}, opset=9),
    Case("Concat", [X, Box((2, 1, 4)), np.ones((2, 2, 4), np.float32)], attrs={"axis": 1}),
    Case("Split", [X, np.array([1, 3], I64)], attrs={"axis": 2}, outputs=2, opset=13),
    Case("Pad", [X, np.array([0, 1, 2, 0, 0, 1], I64), np.array(-7.0, np.float32)], opset=13),
    Case("Pad", [X, np.array([0, 1, 2, 0, 0, 1], I64)], opset=13, name="Pad-zero"),
    Case("Pad", [X, np.array([0, 1, 2, 0, 0, 1], I64)], attrs={"mode": "reflect"}, opset=13, name="Pad-reflect"),
    Case("Pad", [X], attrs={"pads": [0, 1, 2, 0, 0, 1], "value": 3.0}, opset=10, name="Pad-opset10"),
    Case("Pad", [X, np.array([0, 1, 2, 0, 0, 1], I64), Box(())], opset=13, name="Pad-varying-value"),
    Case("ScatterND", [X, np.array([[0, 1], [1, 2]], I64), Box((2, 4))]),
    Case("ScatterElements", [Box((3, 4)), np.array([[1, 0, 2, 0]], I64), Box((1, 4))], attrs={"axis": 0}),
    Case("Scatter", [Box((3, 4)), np.array([[1, 0, 2, 0]], I64), Box((1, 4))], attrs={"axis": 0}, opset=9),
    Case("TensorScatter", [Box((2, 2, 6, 4)), Box((2, 2, 1, 4)), np.array([1, 3], I64)], opset=24),
    Case(
        "MaxUnpool",
        [Box((1, 1, 2, 2)), np.array([[[[1, 3], [8, 10]]]], I64)],
        attrs={"kernel_shape": [2, 2], "strides": [2, 2]},
    ),
    Case("Col2Im", [Box((1, 4, 4)), np.array([3, 3], I64), np.array([2, 2], I64)], opset=18),
    Case("Gather", [X, np.array([[1, 0], [2, -1]], I64)], attrs={"axis": 1}),
    Case(
        "Gather",
        [Box((6, 3)), Box((2, 2), dtype=TensorProto.INT64, integer=True, low=-6, high=5)],
        name="Gather-bounded-indices",
    ),
    Case(
        "Gather",
        [
            np.arange(18, dtype=np.float32).reshape(6, 3),
            Box((2,), dtype=TensorProto.INT64, integer=True, low=1, high=3),
        ],
        name="Gather-table-bounded-ids",
    ),
    Case("GatherElements", [Box((3, 4)), np.array([[0, 2, 1, 0], [2, 2, 0, 1]], I64)], attrs={"axis": 0}),
    Case(
        "GatherElements",
        [Box((3, 4)), Box((2, 4), dtype=TensorProto.INT64, integer=True, low=0, high=2)],
        attrs={"axis": 0},
        name="GatherElements-bounded",
    ),
    Case("GatherND", [X, np.array([[0, 1], [1, 2]], I64)]),
    Case("GatherND", [X, Box((2, 2), dtype=TensorProto.INT64, integer=True, low=0, high=1)], name="GatherND-bounded"),
    Case(
        "Resize",
        [IMG, np.array([], np.float32), np.array([1, 1, 2, 1.5], np.float32)],
        attrs={"mode": "nearest"},
        opset=13,
    ),
    Case(
        "Resize",
        [IMG, np.array([], np.float32), np.array([1, 1, 1.5, 2], np.float32)],
        attrs={"mode": "linear"},
        opset=13,
        name="Resize-linear",
    ),
    Case(
        "Resize",
        [IMG, np.array([], np.float32), np.array([1, 1, 0.5, 0.5], np.float32)],
        attrs={"mode": "linear", "antialias": 1},
        opset=18,
        name="Resize-antialias",
    ),
    Case(
        "Resize",
        [IMG, np.array([], np.float32), np.array([1, 1, 2, 2], np.float32)],
        attrs={"mode": "cubic"},
        opset=13,
        name="Resize-cubic",
    ),
    Case("GridSample", [IMG, np.random.default_rng(0).uniform(-1.2, 1.2, (1, 3, 3, 2)).astype(np.float32)], opset=16),
    Case(
        "GridSample",
        [IMG, Box((1, 3, 3, 2), low=-1, high=1)],
        attrs={"mode": "nearest"},
        opset=16,
        name="GridSample-bounded-grid",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_sound(case):
    check(case)


def test_layout_bounds_are_the_moved_bounds():
    out = check(Case("Transpose", [X], attrs={"perm": [2, 0, 1]}), seeds=(0,), points=2)
    x, b = out["inputs"]["in0"], out["bounds"][0]
    np.testing.assert_array_equal(b.lo, np.transpose(x.lo, (2, 0, 1)))
    np.testing.assert_array_equal(b.hi, np.transpose(x.hi, (2, 0, 1)))


def test_embedding_lookup_with_bounded_ids_uses_reachable_rows(tmp_path):
    from nanlint.graph.analysis import analyze
    from nanlint.graph.interval import Interval
    from nanlint.graph.model import load_model
    from tests.graph._soundness import build_model

    table = np.arange(18, dtype=np.float32).reshape(6, 3)
    path = str(tmp_path / "g.onnx")
    build_model(Case("Gather", [table, Box((2,), dtype=TensorProto.INT64)]), path)
    ids = Interval(np.array([1.0, 1.0]), np.array([3.0, 3.0]))
    b = analyze(load_model(path), {}, input_bounds={"in1": ids}, strict=True).bounds["out0"]
    np.testing.assert_array_equal(np.broadcast_to(b.lo, (2, 3))[0], table[1])
    np.testing.assert_array_equal(np.broadcast_to(b.hi, (2, 3))[1], table[3])
