"""Bounds stored once along the axes where they do not vary (Interval.compact): the transfer functions
that run on them as stored (element-wise kernels, layout moves, MatMul rows, Softmax and normalisation
rows) must be as sound as on full bounds, and keep the output stored as compactly.

Soundness: every case draws bounds of the stored shape and points of the full shape that vary along
every axis (tests/graph/_soundness.py, Box.stored), and runs the op in onnxruntime.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from onnx import TensorProto

from nanlint.graph.interval import Interval, _constant_along
from nanlint.graph.transfer.layout import _regrouped
from tests.graph._soundness import Box, Case, check

rng = np.random.default_rng(3)
F = TensorProto.FLOAT
ROWS = Box((2, 6, 8), stored=(1, 1, 8))  # every row of every batch has the same bounds
HEADS = Box((2, 3, 6, 4), stored=(1, 3, 1, 4))  # per head, the same for every position
W = rng.standard_normal((8, 5)).astype(np.float32)
i64 = lambda *v: np.array(v, np.int64)

# (case, the output's stored shape when the op keeps the bounds stored; None: not checked)
CASES = [
    (Case("Exp", [ROWS]), (1, 1, 8)),
    (Case("Erf", [ROWS]), (1, 1, 8)),
    (Case("Gelu", [ROWS], opset=20), (1, 1, 8)),
    (Case("Cast", [ROWS], attrs={"to": TensorProto.FLOAT16}, output_types=[TensorProto.FLOAT16]), (1, 1, 8)),
    (Case("Add", [ROWS, Box((8,))]), None),
    (Case("Mul", [ROWS, HEADS.__class__((2, 6, 8), stored=(2, 1, 1))], name="Mul-two-stored"), (2, 1, 8)),
    (Case("Transpose", [HEADS], attrs={"perm": [0, 2, 1, 3]}), (1, 1, 3, 4)),
    (Case("Reshape", [ROWS, i64(2, 6, 2, 4)], name="Reshape-split-heads"), (1, 1, 2, 4)),
    (Case("Reshape", [HEADS, i64(2, 18, 4)], name="Reshape-merge-mixed"), None),
    (Case("Reshape", [Box((2, 6, 2, 4), stored=(1, 1, 2, 4)), i64(0, 6, -1)], name="Reshape-merge-heads"), (1, 1, 8)),
    (Case("Flatten", [ROWS], attrs={"axis": 2}), (1, 8)),
    (Case("Unsqueeze", [ROWS, i64(1)], opset=13), (1, 1, 1, 8)),
    (Case("Squeeze", [Box((2, 1, 6, 8), stored=(1, 1, 1, 8)), i64(1)], opset=13), (1, 1, 8)),
    (Case("Split", [HEADS, i64(1, 2)], attrs={"axis": 1}, outputs=2, opset=13), None),
    (Case("Split", [ROWS, i64(2, 4)], attrs={"axis": 1}, outputs=2, opset=13, name="Split-stored-axis"), None),
    (Case("Gather", [HEADS, i64(2, 0)], attrs={"axis": 1}), (1, 2, 1, 4)),
    (Case("Gather", [HEADS, i64(5, -1, 0)], attrs={"axis": 2}, name="Gather-stored-axis"), (1, 3, 1, 4)),
    (Case("Slice", [ROWS, i64(1), i64(5), i64(1)]), None),
    (Case("MatMul", [ROWS, W], scale_tol=1e-5), (1, 1, 5)),
    (Case("MatMul", [HEADS, Box((2, 3, 4, 6), stored=(1, 3, 4, 1))], name="MatMul-both-stored", scale_tol=1e-5), None),
    (Case("Softmax", [HEADS], opset=13), (1, 3, 1, 4)),
    (Case("Softmax", [HEADS], attrs={"axis": 2}, opset=13, name="Softmax-stored-axis"), None),
    (Case("LayerNormalization", [ROWS, np.ones(8, np.float32), np.zeros(8, np.float32)], outputs=3, rtol=1e-4), None),
    (Case("ReduceSum", [ROWS, i64(1)], opset=13), None),
    # one box for all elements: not huge (float32 variances of huge values that barely differ cancel, and
    # z = d / sqrt(var) can pass the sqrt(N - 1) cap in the kernel: a gap of the normalisations themselves)
    (Case("GroupNormalization", [Box((2, 4, 3), stored=(1, 1, 1)), np.ones(2, np.float32), np.zeros(2, np.float32)],
          attrs={"num_groups": 2}, opset=18, rtol=1e-4, regimes=("straddle", "positive", "negative", "tiny")), None),
]  # fmt: skip


@pytest.mark.parametrize("case,stored", CASES, ids=lambda c: str(c) if isinstance(c, Case) else "")
def test_sound_on_stored_bounds(case, stored):
    out = check(case)
    bound = out["bounds"][0]
    if stored is not None:
        assert bound.stored_shape() == stored, f"{case}: stored as {bound.stored_shape()}"


def test_compact_keeps_only_what_varies():
    lo = np.broadcast_to(rng.standard_normal((1, 3, 1, 4)).astype(np.float32), (2, 3, 256, 4)).copy()
    hi = lo + 1
    iv = Interval(lo, hi, shape=lo.shape).compact()
    assert iv.lo.shape == (1, 3, 1, 4) and iv.shape == (2, 3, 256, 4)
    np.testing.assert_array_equal(np.broadcast_to(iv.lo, iv.shape), lo)
    lo[1, 2, 255, 0] -= 1  # one element differs: those axes stay full
    assert Interval(lo, hi, shape=lo.shape).compact().lo.shape == (2, 3, 256, 4)


@pytest.mark.parametrize("seed", range(20))
def test_constant_along_agrees_with_a_full_comparison(seed):
    r = np.random.default_rng(seed)
    for _ in range(50):
        shape = tuple(int(d) for d in r.integers(1, 5, r.integers(1, 5)))
        stored = tuple(d if r.random() < 0.5 else 1 for d in shape)
        a = np.broadcast_to(r.integers(0, 3, stored).astype(np.float32), shape).copy()
        if r.random() < 0.5:
            a.flat[r.integers(a.size)] += 1  # one element off: the probes may miss it, the full check not
        for axis in range(a.ndim):
            assert _constant_along(a, axis) == bool(np.all(a == a.take([0], axis=axis))), (a, axis)


@pytest.mark.parametrize("seed", range(40))
def test_reshape_of_stored_bounds_matches_the_full_reshape(seed):
    r = np.random.default_rng(seed)
    shape = tuple(int(d) for d in r.choice([1, 2, 3, 4, 6], r.integers(1, 5)))
    stored = tuple(d if r.random() < 0.5 else 1 for d in shape)
    values = r.standard_normal(stored)
    full = np.broadcast_to(values, shape)
    total = int(np.prod(shape))
    for new_shape in _factorisations(total, r):
        new = _regrouped(shape, stored, new_shape)
        if new is not None:
            np.testing.assert_array_equal(np.broadcast_to(values.reshape(new), new_shape), full.reshape(new_shape))


def _factorisations(total: int, r) -> list[tuple[int, ...]]:
    divisors = [d for d in range(1, total + 1) if total % d == 0]
    shapes = set()
    for _ in range(20):
        dims, rest = [], total
        while rest > 1 and len(dims) < 4:
            d = int(r.choice([d for d in divisors if rest % d == 0]))
            dims.append(d)
            rest //= d
        dims.append(rest)
        for perm in itertools.islice(itertools.permutations(dims), 3):
            shapes.add(perm)
    return sorted(shapes)
