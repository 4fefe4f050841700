"""Interval tensors: element-wise bounds `lo <= x <= hi` of a tensor's values, plus a may-be-NaN flag.

Bounds are numpy arrays broadcastable to the tensor's shape. They are carried in the precision the
model computes in: float32 for float32/float16/bfloat16 tensors (IEEE rounding is monotone, so
endpoint formulas evaluated in float32 bound what a float32 kernel computes), float64 for float64
tensors and for bounded integer and boolean tensors (booleans within [0, 1]). Exact values ("points",
lo is hi) keep their own array: constants without a copy, integer shapes and indices exactly (an
INT64_MAX slice end stays INT64_MAX).

Collapsing: a tensor with more than `ELEMENTWISE_LIMIT` elements keeps one scalar bound pair for the
whole tensor (`lo`/`hi` 0-d, `shape` still the tensor's shape) instead of element-wise bounds: the
precision lost is the spatial detail, the memory saved is two copies of the tensor. Graph inputs start
collapsed (one range per input) and become element-wise as soon as an op distinguishes elements.

Signed zeros are not tracked: a bound endpoint of 0 stands for +0 at a lower endpoint and -0 at an
upper one when dividing, which covers both. `lo`/`hi` bound the non-NaN values; `may_nan` says that
NaN is possible too.

Row norms: `row_norm`, when set, bounds the Euclidean (L2) norm of every row along the last axis
(every row free of NaN). A normalisation leaves its output in such a ball (LayerNorm: about
sqrt(N)*max|gamma| + ||beta||), which an element-wise box cannot express: a linear map then gets
|x . w| <= ||w||_2 * row_norm instead of sum |w| * max|x|. The transfer functions never carry it by
themselves: transfer/rownorm.py sets it after each op from an explicit list of ops that create,
preserve or transform it, and every other op's result drops it. Operations here that keep the values
(dtype conversion, collapsing, clamping, joins) keep it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# Tensors with more elements than this get one scalar bound pair instead of element-wise bounds
# (analysis.analyze(elementwise_limit=...) overrides it). 16M elements is 128 MB of float32 bounds.
ELEMENTWISE_LIMIT = 1 << 24

_INF = np.inf
# Bounds of fewer elements are not worth the checks of Interval.compact.
COMPACT_MIN = 4096
# Exact values up to this size are scanned for NaN when they become intervals.
NAN_SCAN_LIMIT = 1 << 16


def _arr(a) -> np.ndarray:
    return a if isinstance(a, np.ndarray) else np.asarray(a)


@dataclass(eq=False)
class Interval:
    """Element-wise bounds of one tensor. Treat as immutable: arrays may be shared between intervals."""

    lo: np.ndarray
    hi: np.ndarray
    may_nan: bool = False
    # The tensor's shape; lo/hi broadcast to it. None = unknown (then lo/hi are 0-d).
    shape: tuple[int, ...] | None = None
    _stats: tuple[float, float] | None = field(default=None, repr=False, compare=False)
    # Every last-axis row has L2 norm <= row_norm (see the module docstring). None = no such bound.
    row_norm: float | None = field(default=None, kw_only=True)

    def __post_init__(self):
        self.lo = _arr(self.lo)
        self.hi = _arr(self.hi)
        if self.shape is None and (self.lo.ndim or self.hi.ndim):
            self.shape = tuple(np.broadcast_shapes(self.lo.shape, self.hi.shape))
        elif self.shape is not None:
            self.shape = tuple(int(d) for d in self.shape)
        if self.row_norm is not None and not _row_norm_applies(self.row_norm, self.shape, self.lo):
            self.row_norm = None

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def point(cls, a, shape: tuple[int, ...] | None = None) -> Interval:
        """The exact value `a` (lo and hi are the same array, no copy).

        Arrays above NAN_SCAN_LIMIT elements (weights) are not scanned for NaN here: a NaN weight
        turns the bounds it touches into NaN, which the analysis widens and flags anyway."""
        a = _arr(a)
        may_nan = a.dtype.kind in "fc" and 0 < a.size <= NAN_SCAN_LIMIT and bool(np.isnan(a).any())
        return cls(a, a, may_nan=may_nan, shape=a.shape if shape is None else shape)

    @classmethod
    def range(
        cls, lo: float, hi: float, shape: tuple[int, ...] | None, dtype=np.float32, may_nan: bool = False
    ) -> Interval:
        """Every element within [lo, hi] (one collapsed bound pair)."""
        return cls(np.asarray(lo, dtype), np.asarray(hi, dtype), may_nan=may_nan, shape=shape)

    @classmethod
    def unbounded(cls, shape: tuple[int, ...] | None = None, dtype=np.float32) -> Interval:
        return cls.range(-_INF, _INF, shape, dtype, may_nan=True)

    # -- queries ----------------------------------------------------------------------------------

    @property
    def is_point(self) -> bool:
        """True when the value is known exactly (a constant, or computed from constants)."""
        return self.lo is self.hi

    @property
    def is_collapsed(self) -> bool:
        """True when one scalar bound pair stands for the whole tensor."""
        return self.lo.ndim == 0 and self.hi.ndim == 0 and self.shape != ()

    @property
    def size(self) -> int | None:
        return None if self.shape is None else math.prod(self.shape)

    def sanitized(self) -> Interval:
        """NaN endpoints (indeterminate forms in a bound computation) widened to -inf/+inf, NaN flagged."""
        if self._stats is not None:
            return self
        lo_min = np.min(self.lo) if self.lo.size else np.inf
        hi_max = np.max(self.hi) if self.hi.size else -np.inf
        if np.isnan(lo_min) or np.isnan(hi_max):
            out = finish(self.lo, self.hi, True, self.shape)
            return out
        self._stats = (float(lo_min), float(hi_max))
        return self

    def _minmax(self) -> tuple[float, float]:
        if self._stats is None:
            lo = float(np.min(self.lo)) if self.lo.size else _INF
            hi = float(np.max(self.hi)) if self.hi.size else -_INF
            self._stats = (-_INF if np.isnan(lo) else lo, _INF if np.isnan(hi) else hi)
        return self._stats

    def min(self) -> float:
        """The smallest lower bound over the tensor (a float)."""
        return self._minmax()[0]

    def max(self) -> float:
        """The largest upper bound over the tensor (a float)."""
        return self._minmax()[1]

    def abs_max(self) -> float:
        return max(abs(self.min()), abs(self.max()))

    def contains(self, values, rtol: float = 0.0, atol: float = 0.0) -> bool:
        """True when every value lies within the bounds (widened by rtol*|bound| + atol).

        NaN values are contained only when `may_nan` is set."""
        values = np.asarray(values, dtype=np.float64)
        nan = np.isnan(values)
        if nan.any() and not self.may_nan:
            return False
        lo = np.asarray(self.lo, np.float64)
        hi = np.asarray(self.hi, np.float64)
        with np.errstate(invalid="ignore"):
            ok = (values >= lo - (rtol * np.abs(lo) + atol)) & (values <= hi + (rtol * np.abs(hi) + atol))
        return bool(np.all(ok | nan))

    def broadcast(self) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) as contiguous arrays of the full tensor shape."""
        if self.shape is None:
            raise ValueError("interval of unknown shape")
        lo = contiguous(np.broadcast_to(self.lo, self.shape))
        hi = lo if self.is_point else contiguous(np.broadcast_to(self.hi, self.shape))
        return lo, hi

    def mid_rad(self) -> tuple[np.ndarray, np.ndarray]:
        """Centre and radius with mid - rad <= lo and hi <= mid + rad (radius rounded outwards)."""
        if self.is_point:
            return self.lo, np.zeros((), self.lo.dtype)
        if self.lo.dtype.kind == "f" and max(-self.min(), self.max()) < 1e37:
            # Finite and far from overflow: two in-place passes each (rounding: within 1 ulp).
            mid = np.add(self.lo, self.hi)
            mid *= 0.5
            rad = np.subtract(self.hi, self.lo)
            rad *= 0.5
            return mid, rad
        with np.errstate(invalid="ignore", over="ignore"):
            mid = self.lo * 0.5 + self.hi * 0.5
            rad = self.hi * 0.5 - self.lo * 0.5
            rad = np.maximum(rad, np.maximum(self.hi - mid, mid - self.lo))
        mid = np.where(np.isfinite(mid), mid, 0).astype(mid.dtype, copy=False)
        rad = np.where(np.isnan(rad), _INF, rad).astype(rad.dtype, copy=False)
        return mid, rad

    # -- transformations --------------------------------------------------------------------------

    def with_shape(self, shape) -> Interval:
        shape = tuple(shape)
        # Rows stay the same rows only when the shape does not change.
        keep = self.row_norm if shape == self.shape else None
        return Interval(self.lo, self.hi, self.may_nan, shape, row_norm=keep)

    def with_row_norm(self, row_norm: float | None) -> Interval:
        """The same bounds with `row_norm` as the row-norm bound (None drops it); the box shrinks into
        [-row_norm, row_norm], since no element exceeds its row's norm."""
        if row_norm is None or self.is_point or not _row_norm_applies(row_norm, self.shape, self.lo):
            if self.row_norm is None:
                return self
            out = Interval(self.lo, self.hi, self.may_nan, self.shape)
            out._stats = self._stats
            return out
        lo, hi, stats = self.lo, self.hi, self._stats
        if self.min() < -row_norm or self.max() > row_norm:
            cap = _round_up(row_norm, lo.dtype)
            lo = np.clip(lo, -cap, cap).astype(lo.dtype, copy=False)
            hi = np.clip(hi, -cap, cap).astype(hi.dtype, copy=False)
            stats = None
        out = Interval(lo, hi, self.may_nan, self.shape, row_norm=float(row_norm))
        out._stats = stats
        return out

    def stored_shape(self, full_axes=()) -> tuple[int, ...]:
        """The shape the bounds are stored in, with the tensor's rank (size 1 along axes where they do
        not vary), made full along `full_axes`."""
        if self.shape is None:
            raise ValueError("interval of unknown shape")
        rank = len(self.shape)
        stored = np.broadcast_shapes(self.lo.shape, self.hi.shape)
        stored = (1,) * (rank - len(stored)) + tuple(stored)
        full = {a % rank for a in full_axes}
        return tuple(self.shape[a] if a in full else stored[a] for a in range(rank))

    def stored(self, full_axes=()) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) as (read-only) arrays of stored_shape(full_axes)."""
        shape = self.stored_shape(full_axes)
        return np.broadcast_to(self.lo, shape), np.broadcast_to(self.hi, shape)

    def compact(self, minimum: int = COMPACT_MIN) -> Interval:
        """The same bounds stored once along every axis along which they do not vary (size 1 there):
        rows of a transformer share their bounds once the input's range is the same for every token,
        and the ops after compute one row. Full-shaped bounds of at least `minimum` elements only."""
        shape = self.shape
        if self.is_point or shape is None or self.lo.shape != shape or self.hi.shape != shape:
            return self
        if self.size is None or self.size < minimum or self.lo.dtype.kind != "f":
            return self
        lo, hi = self.lo, self.hi
        for axis in sorted(range(len(shape)), key=lambda a: -shape[a]):
            if lo.shape[axis] > 1 and _constant_along(lo, axis) and _constant_along(hi, axis):
                lo, hi = lo[_first(axis, lo.ndim)], hi[_first(axis, hi.ndim)]
        if lo is self.lo:
            return self
        out = Interval(np.ascontiguousarray(lo), np.ascontiguousarray(hi), self.may_nan, shape, row_norm=self.row_norm)
        out._stats = self._stats
        return out

    def collapse(self) -> Interval:
        """One scalar bound pair for the whole tensor."""
        if self.is_collapsed or self.shape is None:
            return self
        dtype = self.lo.dtype if self.lo.dtype.kind == "f" else np.float64
        out = Interval(
            np.asarray(self.min(), dtype),
            np.asarray(self.max(), dtype),
            self.may_nan,
            self.shape,
            row_norm=self.row_norm,
        )
        out._stats = self._stats
        return out

    def astype(self, dtype) -> Interval:
        """Bounds converted to `dtype`, rounded outwards when precision is lost."""
        dtype = np.dtype(dtype)
        if self.lo.dtype == dtype and self.hi.dtype == dtype:
            return self
        lo, hi = round_outward(self.lo, self.hi, dtype)
        if self.is_point and self.lo.dtype.kind == "f" and dtype.itemsize >= self.lo.dtype.itemsize:
            hi = lo
        # Converting bounds does not change the values they bound.
        return Interval(lo, hi, self.may_nan, self.shape, row_norm=self.row_norm)

    def clamp(self, limit: float) -> Interval:
        """Bounds intersected with [-limit, limit]."""
        if -limit <= self.min() and self.max() <= limit:
            return self
        lo = np.clip(self.lo, -limit, limit).astype(self.lo.dtype, copy=False)
        hi = np.clip(self.hi, -limit, limit).astype(self.hi.dtype, copy=False)
        return Interval(lo, hi, self.may_nan, self.shape, row_norm=self.row_norm)

    # Operators, so transfer functions read like the formulas they implement.
    def __add__(self, other):
        return add(self, as_interval(other))

    def __radd__(self, other):
        return add(as_interval(other), self)

    def __sub__(self, other):
        return sub(self, as_interval(other))

    def __rsub__(self, other):
        return sub(as_interval(other), self)

    def __mul__(self, other):
        return mul(self, as_interval(other))

    def __rmul__(self, other):
        return mul(as_interval(other), self)

    def __truediv__(self, other):
        return div(self, as_interval(other))

    def __rtruediv__(self, other):
        return div(as_interval(other), self)

    def __neg__(self):
        return neg(self)

    def __abs__(self):
        return abs_(self)


def _first(axis: int, ndim: int) -> tuple:
    """Index of the first slice along `axis`, kept as an axis of size 1."""
    return (slice(None),) * axis + (slice(0, 1),) + (slice(None),) * (ndim - axis - 1)


def _constant_along(a: np.ndarray, axis: int) -> bool:
    """Every slice of `a` along `axis` equals the first. Probes first, cheapest first, since most axes
    fail: the lines along `axis` through the first and the middle element (n values each: a convolution's
    border or a channel's own weights differ at once), then the last and middle slices."""
    n = a.shape[axis]
    for at in (0, None):
        line = a[tuple(slice(None) if k == axis else (0 if at == 0 else d // 2) for k, d in enumerate(a.shape))]
        if not np.all(line == line[0]):
            return False
    first = a[_first(axis, a.ndim)]
    for probe in (n - 1, n // 2):
        index = (slice(None),) * axis + (slice(probe, probe + 1),)
        if not np.array_equal(a[index], first):
            return False
    return bool(np.all(a == first))


def _row_norm_applies(row_norm: float, shape, lo: np.ndarray) -> bool:
    """A row-norm bound needs rows (a known shape of rank >= 1), float values and a finite bound."""
    return shape is not None and len(shape) >= 1 and lo.dtype.kind == "f" and math.isfinite(row_norm) and row_norm >= 0


def _round_up(value: float, dtype) -> np.ndarray:
    """`value` in `dtype`, rounded up (a bound must not shrink when converted)."""
    out = np.asarray(value, dtype)
    if float(out) < value:
        out = np.nextafter(out, np.asarray(np.inf, dtype))
    return out


def contiguous(a, dtype=None) -> np.ndarray:
    """A C-contiguous array of `a` (0-d stays 0-d, unlike np.ascontiguousarray)."""
    return np.require(a, dtype=dtype, requirements="C")


def as_interval(x) -> Interval:
    if isinstance(x, Interval):
        return x
    a = np.asarray(x)
    if a.dtype.kind not in "f":
        a = a.astype(np.float64)
    return Interval.point(a)


def round_outward(lo: np.ndarray, hi: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray]:
    """`lo`, `hi` converted to `dtype` so that the converted interval contains the original.

    Narrowing float conversions first move each bound outwards by one unit of the target precision
    (relative 2**-(mantissa bits)); rounding to nearest then moves it back by at most half of that.
    (In the subnormal range of the target the guarantee is absolute: below its smallest subnormal.)"""
    dtype = np.dtype(dtype)
    lo, hi = np.asarray(lo), np.asarray(hi)
    narrowing = dtype.kind == "f" and (lo.dtype.kind != "f" or lo.dtype.itemsize > dtype.itemsize)
    with np.errstate(over="ignore", invalid="ignore"):
        if narrowing:
            unit = float(np.finfo(dtype).eps)
            lo = np.asarray(lo, np.float64)
            hi = np.asarray(hi, np.float64)
            return (lo - np.abs(lo) * unit).astype(dtype), (hi + np.abs(hi) * unit).astype(dtype)
        return lo.astype(dtype), hi.astype(dtype)


def _result_dtype(*intervals: Interval) -> np.dtype:
    """The bound precision of a result: the widest float among the operands (float32 at least)."""
    dt: np.dtype = np.dtype(np.float32)
    for iv in intervals:
        for a in (iv.lo, iv.hi):
            if a.dtype.kind == "f" and a.dtype.itemsize > dt.itemsize:
                dt = a.dtype
            elif a.dtype.kind in "iub" and dt.itemsize < 8:
                dt = np.dtype(np.float64)
    return dt


def _f(iv: Interval, dtype) -> tuple[np.ndarray, np.ndarray]:
    lo = iv.lo if iv.lo.dtype == dtype else iv.lo.astype(dtype)
    hi = lo if iv.is_point else (iv.hi if iv.hi.dtype == dtype else iv.hi.astype(dtype))
    return lo, hi


def _shape(*intervals: Interval) -> tuple[int, ...] | None:
    shapes = [iv.shape for iv in intervals if iv.shape is not None]
    if len(shapes) < len(intervals):
        return None
    return tuple(np.broadcast_shapes(*shapes))


def finish(lo, hi, may_nan: bool, shape, dtype=None) -> Interval:
    """An interval from computed bounds; NaN endpoints (indeterminate forms) widen to +-inf and flag NaN."""
    lo = np.asarray(lo)
    hi = np.asarray(hi)
    if dtype is not None:
        lo = lo.astype(dtype, copy=False)
        hi = hi.astype(dtype, copy=False)
    lo_min = np.min(lo) if lo.size else _INF
    hi_max = np.max(hi) if hi.size else -_INF
    if np.isnan(lo_min) or np.isnan(hi_max):
        may_nan = True
        lo = np.where(np.isnan(lo), -_INF, lo).astype(lo.dtype, copy=False)
        hi = np.where(np.isnan(hi), _INF, hi).astype(hi.dtype, copy=False)
        lo_min = np.min(lo) if lo.size else _INF
        hi_max = np.max(hi) if hi.size else -_INF
    out = Interval(lo, hi, may_nan, shape)
    out._stats = (float(lo_min), float(hi_max))
    return out


def _point_result(a: Interval, b: Interval, fn, dtype) -> Interval:
    alo, _ = _f(a, dtype)
    blo, _ = _f(b, dtype)
    with np.errstate(all="ignore"):
        out = np.asarray(fn(alo, blo), dtype)
    return Interval.point(out)


# -- arithmetic ------------------------------------------------------------------------------------


def add(a: Interval, b: Interval) -> Interval:
    dt = _result_dtype(a, b)
    if a.is_point and b.is_point:
        return _point_result(a, b, np.add, dt)
    alo, ahi = _f(a, dt)
    blo, bhi = _f(b, dt)
    with np.errstate(all="ignore"):
        # inf + -inf is NaN: possible when one operand can be +inf and the other -inf.
        nan = (a.max() == _INF and b.min() == -_INF) or (a.min() == -_INF and b.max() == _INF)
        return finish(alo + blo, ahi + bhi, a.may_nan or b.may_nan or nan, _shape(a, b))


def neg(a: Interval) -> Interval:
    if a.is_point:
        return Interval.point(-a.lo)
    return Interval(-a.hi, -a.lo, a.may_nan, a.shape)


def sub(a: Interval, b: Interval) -> Interval:
    dt = _result_dtype(a, b)
    if a.is_point and b.is_point:
        return _point_result(a, b, np.subtract, dt)
    alo, ahi = _f(a, dt)
    blo, bhi = _f(b, dt)
    with np.errstate(all="ignore"):
        nan = (a.max() == _INF and b.max() == _INF) or (a.min() == -_INF and b.min() == -_INF)
        return finish(alo - bhi, ahi - blo, a.may_nan or b.may_nan or nan, _shape(a, b))


def _can_be_zero(a: Interval) -> bool:
    return a.min() <= 0 <= a.max()


def _can_be_inf(a: Interval) -> bool:
    return a.min() == -_INF or a.max() == _INF


def mul(a: Interval, b: Interval) -> Interval:
    dt = _result_dtype(a, b)
    if a.is_point and b.is_point:
        return _point_result(a, b, np.multiply, dt)
    nan = a.may_nan or b.may_nan or (_can_be_zero(a) and _can_be_inf(b)) or (_can_be_zero(b) and _can_be_inf(a))
    if b.is_point:
        a, b = b, a
    alo, ahi = _f(a, dt)
    blo, bhi = _f(b, dt)
    with np.errstate(all="ignore"):
        if a.is_point:
            # Multiplying by a known value: the sign of that value picks the endpoint.
            p, q = alo * blo, alo * bhi
            return finish(np.fmin(p, q), np.fmax(p, q), nan, _shape(a, b))
        p1, p2, p3, p4 = alo * blo, alo * bhi, ahi * blo, ahi * bhi
        # fmin/fmax skip the NaN of 0 * inf corners; the other corners still bound the product.
        lo = np.fmin(np.fmin(p1, p2), np.fmin(p3, p4))
        hi = np.fmax(np.fmax(p1, p2), np.fmax(p3, p4))
    return finish(lo, hi, nan, _shape(a, b))


def square(a: Interval) -> Interval:
    """x * x with the same x (tighter than mul(a, a)): [mig^2, mag^2]."""
    mig, mag = magnitude(a)
    with np.errstate(over="ignore"):
        return Interval(mig * mig, mag * mag, a.may_nan, a.shape) if not a.is_point else Interval.point(a.lo * a.lo)


def magnitude(a: Interval) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of |x|: (mignitude, magnitude)."""
    lo, hi = a.lo, a.hi
    if a.is_point:
        m = np.abs(lo)
        return m, m
    zero = np.zeros((), lo.dtype if lo.dtype.kind == "f" else np.float64)
    mig = np.maximum(np.maximum(lo, zero), np.maximum(-hi, zero))
    mag = np.maximum(np.abs(lo), np.abs(hi))
    return mig, mag


def abs_(a: Interval) -> Interval:
    mig, mag = magnitude(a)
    if a.is_point:
        return Interval.point(mag)
    return Interval(mig, mag, a.may_nan, a.shape)


def _nonzero_endpoints(blo: np.ndarray, bhi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # A lower endpoint 0 is approached from above (+0), an upper endpoint 0 from below (-0), so that
    # x / [0, h] reaches +inf and x / [l, 0] reaches -inf at the corners.
    zero = blo.dtype.type(0)
    blo = np.where(blo == 0, zero, blo)
    bhi = np.where(bhi == 0, -zero, bhi)
    return blo, bhi


def div(a: Interval, b: Interval) -> Interval:
    """a / b, with denominators that touch or straddle zero giving infinite bounds."""
    dt = _result_dtype(a, b)
    if a.is_point and b.is_point:
        return _point_result(a, b, np.divide, dt)
    alo, ahi = _f(a, dt)
    blo, bhi = _f(b, dt)
    if b.is_point and blo.size == 1 and not a.is_point:
        scalar = float(blo.reshape(()))
        if scalar != 0 and math.isfinite(scalar):
            # A known divisor of one sign: the ends map to the ends (swapped when negative).
            with np.errstate(all="ignore"):
                p, q = alo / blo, ahi / blo
            lo, hi = (p, q) if scalar > 0 else (q, p)
            return finish(lo, hi, a.may_nan or b.may_nan, _shape(a, b))
    blo_c, bhi_c = _nonzero_endpoints(blo, bhi)
    with np.errstate(all="ignore"):
        p1, p2, p3, p4 = alo / blo_c, alo / bhi_c, ahi / blo_c, ahi / bhi_c
        lo = np.fmin(np.fmin(p1, p2), np.fmin(p3, p4))
        hi = np.fmax(np.fmax(p1, p2), np.fmax(p3, p4))
        if b.min() < 0 < b.max():
            straddle = (blo < 0) & (bhi > 0)
            lo = np.where(straddle, -_INF, lo)
            hi = np.where(straddle, _INF, hi)
    nan = a.may_nan or b.may_nan or _div_may_nan(a, b, alo, ahi, blo, bhi)
    return finish(lo, hi, nan, _shape(a, b))


def _div_may_nan(a, b, alo, ahi, blo, bhi) -> bool:
    """0/0 or inf/inf is possible somewhere."""
    if _can_be_inf(a) and _can_be_inf(b):
        return True
    if not (_can_be_zero(a) and _can_be_zero(b)):
        return False
    return bool(np.any((alo <= 0) & (ahi >= 0) & (blo <= 0) & (bhi >= 0)))


def reciprocal(a: Interval) -> Interval:
    one = Interval.point(np.ones((), _result_dtype(a)))
    return div(one, a)


def minimum(a: Interval, b: Interval) -> Interval:
    dt = _result_dtype(a, b)
    if a.is_point and b.is_point:
        return _point_result(a, b, np.minimum, dt)
    alo, ahi = _f(a, dt)
    blo, bhi = _f(b, dt)
    return Interval(np.minimum(alo, blo), np.minimum(ahi, bhi), a.may_nan or b.may_nan, _shape(a, b))


def maximum(a: Interval, b: Interval) -> Interval:
    dt = _result_dtype(a, b)
    if a.is_point and b.is_point:
        return _point_result(a, b, np.maximum, dt)
    alo, ahi = _f(a, dt)
    blo, bhi = _f(b, dt)
    return Interval(np.maximum(alo, blo), np.maximum(ahi, bhi), a.may_nan or b.may_nan, _shape(a, b))


def join(a: Interval, b: Interval) -> Interval:
    """The smallest interval containing both (the hull)."""
    dt = _result_dtype(a, b)
    alo, ahi = _f(a, dt)
    blo, bhi = _f(b, dt)
    if a.is_point and b.is_point and a.lo is b.lo:
        return a
    shape = a.shape if a.shape == b.shape else _shape(a, b)
    # Either value: the larger row-norm bound holds (rows of a point have their exact norm).
    row_norm = None
    if a.shape == b.shape and (a.row_norm is not None or b.row_norm is not None):
        norm_a, norm_b = _row_norm_of(a), _row_norm_of(b)
        row_norm = max(norm_a, norm_b) if norm_a is not None and norm_b is not None else None
    return Interval(np.minimum(alo, blo), np.maximum(ahi, bhi), a.may_nan or b.may_nan, shape, row_norm=row_norm)


def intersect(a: Interval, b: Interval) -> Interval:
    """Two sound bounds of the same tensor, intersected (in a's precision and shape). Rounding may make
    them miss each other by an ulp: the result then keeps a's upper bound."""
    if a.is_point:
        return a
    dt = a.lo.dtype
    lo = np.maximum(a.lo, np.asarray(b.lo).astype(dt, copy=False))
    hi = np.minimum(a.hi, np.asarray(b.hi).astype(dt, copy=False))
    lo = np.minimum(lo, hi)
    return Interval(lo, hi, a.may_nan and b.may_nan, a.shape, row_norm=a.row_norm)


def _row_norm_of(iv: Interval) -> float | None:
    """The interval's row-norm bound, or the largest row norm of an exact value (full-shaped arrays)."""
    if (
        iv.row_norm is not None
        or not iv.is_point
        or iv.lo.dtype.kind != "f"
        or iv.lo.shape != iv.shape
        or not iv.lo.ndim
    ):
        return iv.row_norm
    norm = float(np.max(np.sqrt(np.sum(np.square(iv.lo, dtype=np.float64), axis=-1)), initial=0.0))
    return norm if math.isfinite(norm) else None


def clip(a: Interval, lo: Interval | None, hi: Interval | None) -> Interval:
    """min(max(x, lo), hi): increasing in x, lo and hi alike."""
    out = a
    if lo is not None:
        out = maximum(out, lo)
    if hi is not None:
        out = minimum(out, hi)
    if out.may_nan and not a.may_nan:
        out = Interval(out.lo, out.hi, False, out.shape)
    return out


def pow_(a: Interval, b: Interval) -> Interval:
    """a ** b. An integer exponent works for any sign of the base; otherwise negative bases give NaN."""
    dt = _result_dtype(a, b)
    if a.is_point and b.is_point:
        return _point_result(a, b, np.power, dt)
    if b.is_point and b.lo.size == 1:
        return _pow_scalar(a, float(b.lo.reshape(())), dt, b.may_nan)
    alo, ahi = _f(a, dt)
    blo, bhi = _f(b, dt)
    shape = _shape(a, b)
    with np.errstate(all="ignore"):
        # For a base >= 0, x**y is monotone in x for fixed y and in y for fixed x, so its extremes over
        # a box sit at the box's corners.
        plo, phi = np.maximum(alo, 0), np.maximum(ahi, 0)
        corners = [plo**blo, plo**bhi, phi**blo, phi**bhi]
        lo = np.fmin(np.fmin(corners[0], corners[1]), np.fmin(corners[2], corners[3]))
        hi = np.fmax(np.fmax(corners[0], corners[1]), np.fmax(corners[2], corners[3]))
        negative_base = a.min() < 0
        if negative_base:
            # Integer exponents of negative bases give +-|x|**y; other exponents give NaN.
            mig, mag = magnitude(a)
            m = [mig**blo, mig**bhi, mag**blo, mag**bhi]
            big = np.fmax(np.fmax(m[0], m[1]), np.fmax(m[2], m[3]))
            neg_part = alo < 0
            lo = np.where(neg_part, np.fmin(lo, -big), lo)
            hi = np.where(neg_part, np.fmax(hi, big), hi)
    may_nan = a.may_nan or b.may_nan or negative_base
    return finish(lo, hi, may_nan, shape)


def _pow_scalar(a: Interval, y: float, dt, y_nan: bool) -> Interval:
    alo, ahi = _f(a, dt)
    may_nan = a.may_nan or y_nan
    with np.errstate(all="ignore"):
        if y == 0:
            return Interval(np.ones((), dt), np.ones((), dt), may_nan, a.shape)
        if float(y).is_integer():
            k = int(y)
            if k % 2 == 0:
                mig, mag = magnitude(Interval(alo, ahi, shape=a.shape))
                lo, hi = (mig**y, mag**y) if k > 0 else (mag**y, mig**y)
            elif k > 0:
                lo, hi = alo**y, ahi**y
            else:
                # Odd negative power: decreasing on each side of the pole at 0.
                return finish_pow_reciprocal(alo, ahi, y, may_nan, a.shape)
            return finish(lo, hi, may_nan, a.shape)
        # Fractional exponent: defined for x >= 0 only.
        if a.min() < 0:
            may_nan = True
        plo, phi = np.maximum(alo, 0), np.maximum(ahi, 0)
        lo, hi = (plo**y, phi**y) if y > 0 else (phi**y, plo**y)
        return finish(lo, hi, may_nan, a.shape)


def finish_pow_reciprocal(alo, ahi, y, may_nan, shape) -> Interval:
    blo, bhi = _nonzero_endpoints(alo, ahi)
    with np.errstate(all="ignore"):
        p, q = blo**y, bhi**y
        lo, hi = np.fmin(p, q), np.fmax(p, q)
        straddle = (alo < 0) & (ahi > 0)
        lo = np.where(straddle, -_INF, lo)
        hi = np.where(straddle, _INF, hi)
    return finish(lo, hi, may_nan, shape)
