"""Products run by blocks of output columns (transfer/linear.py, BLOCK_BYTES): the same bounds bit for
bit as one product, sound against onnxruntime, and temporaries bounded by the block size."""

from __future__ import annotations

import os
import tempfile
import tracemalloc

import numpy as np
import onnx
import pytest
from onnx import TensorProto

from nanlint.graph.analysis import analyze
from nanlint.graph.interval import Interval
from nanlint.graph.model import load_model
from nanlint.graph.transfer import linear
from nanlint.graph.transfer.kernels import Kernels
from nanlint.graph.transfer.linear import KernelProduct, bilinear, column_blocks
from tests.graph._soundness import Box, Case, build_model, check

rng = np.random.default_rng(13)
KERNELS = Kernels({"": 17})
MATMUL = onnx.helper.make_node("MatMul", ["a", "b"], ["c"])


def product() -> KernelProduct:
    return KernelProduct(KERNELS, MATMUL, by_columns=True)


def random_interval(shape, dtype, exact=False, stored=None, infinite=False) -> Interval:
    """Random bounds of `shape` (stored as `stored` when given), some endpoints infinite if asked."""
    lo = rng.standard_normal(stored or shape).astype(dtype) * 3
    if exact:
        return Interval.point(lo, shape)
    hi = lo + np.abs(rng.standard_normal(lo.shape)).astype(dtype)
    if infinite:
        lo.flat[:: max(1, lo.size // 3)] = -np.inf
    return Interval(lo, hi, False, shape)


def assert_same(blocked: Interval, whole: Interval) -> None:
    assert blocked.shape == whole.shape
    assert blocked.may_nan == whole.may_nan
    assert blocked.is_point == whole.is_point
    for got, want in ((blocked.lo, whole.lo), (blocked.hi, whole.hi)):
        want_full = np.broadcast_to(want, whole.shape)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(np.broadcast_to(got, whole.shape), want_full, strict=True)


def blocked_and_whole(monkeypatch, a, b, dtype, matmul_shape=None, block_bytes=None):
    itemsize = np.dtype(dtype).itemsize
    whole = bilinear(product(), a, b, dtype, matmul_shape)
    # Blocks of 3 columns of b unless told: 23 and 37 columns are not a multiple of it.
    monkeypatch.setattr(linear, "BLOCK_BYTES", block_bytes or 3 * b.shape[-2] * itemsize)
    blocks = column_blocks(b.shape, itemsize)
    assert blocks is not None and len(blocks) > 1
    return bilinear(product(), a, b, dtype, matmul_shape), whole


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "a_exact, b_exact, infinite",
    [(False, True, False), (True, False, False), (False, False, False), (True, True, False), (False, False, True)],
)
def test_blocked_product_is_the_whole_product_bit_for_bit(monkeypatch, dtype, a_exact, b_exact, infinite):
    a = random_interval((5, 16), dtype, exact=a_exact, infinite=infinite)
    b = random_interval((16, 23), dtype, exact=b_exact, infinite=infinite)
    blocked, whole = blocked_and_whole(monkeypatch, a, b, dtype)
    assert_same(blocked, whole)
    if infinite:
        assert blocked.may_nan and np.isinf(blocked.lo).any()


@pytest.mark.parametrize("b_exact", [False, True])
def test_blocked_matmul_on_stored_bounds_is_the_whole_product(monkeypatch, b_exact):
    # Rows of a's bounds stored once (one row for a stack of 2 x 6 rows), b full: MatMul's compact path.
    a = random_interval((2, 6, 16), np.float32, stored=(1, 1, 16))
    b = random_interval((2, 16, 37), np.float32, exact=b_exact)
    blocked, whole = blocked_and_whole(monkeypatch, a, b, np.float32, matmul_shape=(2, 6, 37))
    assert_same(blocked, whole)
    assert blocked.stored_shape() == whole.stored_shape()


def test_operand_within_the_limit_runs_as_one_product():
    assert column_blocks((1024, 256), 8, limit=4 << 20) is None
    assert column_blocks((16, 1), 8, limit=8) is None
    assert column_blocks((16, 37), 8, limit=3 * 16 * 8) == [slice(s, min(s + 3, 37)) for s in range(0, 37, 3)]


def test_large_product_temporaries_stay_near_the_block_size(monkeypatch):
    # b: 1024 x 4096 float32 weights, bounded in float64 (32 MiB as one array; |b| another 32 MiB).
    b = Interval.point(rng.standard_normal((1024, 4096)).astype(np.float32))
    a = random_interval((4, 1024), np.float32)
    block = 2 << 20
    monkeypatch.setattr(linear, "BLOCK_BYTES", block)
    output = 2 * 4 * 4096 * 8  # the result's lo and hi
    tracemalloc.start()
    try:
        out = bilinear(product(), a, b, np.float64)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.shape == (4, 4096)
    assert peak < 6 * block + 4 * output, f"peak temporary {peak / 2**20:.1f} MiB"
    monkeypatch.setattr(linear, "BLOCK_BYTES", 1 << 40)
    tracemalloc.start()
    try:
        bilinear(product(), a, b, np.float64)
        _, unblocked = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert unblocked > 2 * 32 << 20  # what blocking avoids: the whole float64 centre and |centre|


U8 = Box((3, 8), dtype=TensorProto.UINT8, integer=True, low=0, high=255, regimes=("positive", "straddle"), scale=60)
W_U8 = rng.integers(0, 255, (8, 37)).astype(np.uint8)
W_F = rng.standard_normal((8, 37)).astype(np.float32)
BLOCKED_CASES = [
    Case("MatMul", [Box((2, 3, 8)), W_F], scale_tol=1e-5, name="MatMul-weight"),
    Case("MatMul", [Box((2, 3, 8)), Box((2, 8, 37))], scale_tol=1e-5, name="MatMul-both-vary"),
    Case("Gemm", [Box((3, 8)), Box((8, 37)), np.ones(37, np.float32)], scale_tol=1e-5, name="Gemm-both-vary"),
    Case("MatMulInteger", [U8, W_U8, np.uint8(3), rng.integers(0, 255, 37).astype(np.uint8)], opset=10),
    Case("MatMulInteger", [U8, W_U8, np.uint8(3), np.uint8(120)], opset=10, name="MatMulInteger-one-zero-point"),
]


@pytest.mark.parametrize("case", BLOCKED_CASES, ids=str)
def test_blocked_transfer_is_sound_and_unchanged(monkeypatch, case):
    whole = check(case, seeds=(0,))
    monkeypatch.setattr(linear, "BLOCK_BYTES", 5 * 8 * 8)  # 5 columns of 8 float64 rows: 37 = 7 x 5 + 2
    blocked = check(case, seeds=(0,))
    for got, want in zip(blocked["bounds"], whole["bounds"]):
        assert_same(got, want)


CONV_W = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
W_35 = rng.standard_normal((5, 3)).astype(np.float32)
# Exact weights, input bounds stored smaller than the tensor: centred as stored, expanded in the session.
STORED_CASES = [
    Case("Conv", [Box((1, 3, 6, 6), stored=(1, 3, 1, 1)), CONV_W], attrs={"pads": [1, 1, 1, 1]}, scale_tol=1e-5),
    Case("Conv", [Box((1, 3, 6, 6), stored=(1, 1, 1, 6)), CONV_W, CONV_W[:, 0, 0, 0].copy()], scale_tol=1e-5),
    Case("MatMul", [Box((4, 5), stored=(1, 1)), W_35], scale_tol=1e-5, name="MatMul-rows-stored"),
    Case("Gemm", [Box((5, 4), stored=(5, 1)), W_35.T.copy()], attrs={"transA": 1, "transB": 1}, scale_tol=1e-5),
]


def product_shape(case: Case, given: Interval) -> tuple[int, ...]:
    """The shape the product runs on: the tensor's, or for a MatMul its rows as stored (one kernel row
    per stored row of bounds)."""
    assert given.shape is not None
    return given.shape if case.op != "MatMul" else given.stored_shape((-1,))


def analysed_with_full_bounds(case: Case, given: Interval) -> Interval:
    """The case's output bound when its input bounds are given as full arrays of product_shape."""
    shape = product_shape(case, given)
    full = Interval(*(np.ascontiguousarray(np.broadcast_to(v, shape)) for v in (given.lo, given.hi)))
    full = Interval(full.lo, full.hi, given.may_nan, given.shape)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "case.onnx")
        build_model(case, path)
        model = load_model(path)
    return analyze(model, {}, input_bounds={"in0": full}, strict=True).bounds["out0"]


@pytest.mark.parametrize("case", STORED_CASES, ids=lambda c: f"{c}-{c.inputs[0].stored}")
def test_stored_input_bounds_give_the_bounds_of_full_ones(case):
    stored = check(case, seeds=(0,))
    given = stored["inputs"]["in0"]
    assert given.lo.shape != product_shape(case, given)  # the case runs the stored path
    assert_same(analysed_with_full_bounds(case, given), stored["bounds"][0])
