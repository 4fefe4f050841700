"""Transfer functions of Python's arithmetic operators on facts: bounds, exact 0/1/-1, guards.

Bounds follow interval arithmetic (an infinite bound stays infinite, inf - inf is unknown). The
exact special values follow the operator: a product is 0 where a factor is, `1 - p` is 0 where p
is 1, `x + c` is v where x is v - c, a power keeps 0 and 1. `x + eps` is the author's guard and
is trusted whatever x is; so is a product of guarded values.
"""

from __future__ import annotations

import math

from nanlint.source.values.fact import (
    BUILT,
    DEGENERATE,
    INF,
    NAMED,
    TOP,
    Fact,
    Reason,
    constant,
    first,
)

_SPECIAL = (0.0, 1.0, -1.0)
_FIELD = {0.0: "zero", 1.0: "one", -1.0: "minus_one"}


def exact(fact: Fact, value: float) -> Reason | None:
    """Why the fact can be exactly `value` (0, 1 or -1)."""
    if fact.lo == fact.hi == value:
        return Reason(f"the constant {value:g}", NAMED, "constant")
    if value < fact.lo or value > fact.hi or (value == 0 and fact.nonzero):
        return None
    return getattr(fact, _FIELD[value])


def _safe(value: float, default: float) -> float:
    return default if math.isnan(value) else value


def _specials(compute) -> dict:
    """{"zero": reason, "one": ..., "minus_one": ...} from compute(value) -> reason."""
    return {_FIELD[v]: compute(v) for v in _SPECIAL}


def is_constant(fact: Fact) -> bool:
    return fact.lo == fact.hi and not math.isinf(fact.lo)


def negate(a: Fact) -> Fact:
    return Fact(
        lo=-a.hi,
        hi=-a.lo,
        zero=a.zero,
        one=a.minus_one,
        minus_one=a.one,
        guarded=a.guarded,
        scalar=a.scalar,
        integer=a.integer,
        why=a.why,
        infinite=a.infinite,
        overflows=a.overflows,
    )


def add(a: Fact, b: Fact) -> Fact:
    if is_constant(a) and is_constant(b):
        return constant(a.lo + b.lo, a.integer and b.integer)
    lo = _safe(a.lo + b.lo, -INF)
    hi = _safe(a.hi + b.hi, INF)

    def special(v: float) -> Reason | None:
        for x, y in ((a, b), (b, a)):
            if is_constant(y) and (v - y.lo) in _SPECIAL:
                return exact(x, v - y.lo)
        if v == 0 and _same_sign(a, b):  # two values that can both be 0 (masked sums): their sum can be 0
            zero_a, zero_b = exact(a, 0), exact(b, 0)
            if zero_a is not None and zero_b is not None:
                return min((zero_a, zero_b), key=lambda r: r.level)
        if v == 0 and _opposite_signs(a, b):  # c - p written as -p + c: 0 where the two are equal, as a - b is
            return Reason("a difference, which is 0 where the two are equal", DEGENERATE, "difference")
        return None

    positive_guard = (_eps_like(a) and _guards(a, b)) or (_eps_like(b) and _guards(b, a))
    one = special(1.0)
    if one is None and _rounds_to_one(a, b):
        one = Reason("1 + x, which rounds to 1 when x is tiny", DEGENERATE)
    return Fact(
        lo=lo,
        hi=hi,
        zero=None if positive_guard else special(0.0),
        one=one,
        minus_one=special(-1.0),
        guarded=positive_guard or (a.nonnegative and b.nonnegative and (a.nonzero or b.nonzero)),
        scalar=a.scalar and b.scalar,
        integer=a.integer and b.integer,
        negative=first(a.negative, b.negative),
        infinite=first(a.infinite, b.infinite),  # x + -inf is -inf (inf - inf aside)
        overflows=a.overflows or b.overflows,
    )


def _same_sign(a: Fact, b: Fact) -> bool:
    return not _opposite_signs(a, b)


def _opposite_signs(a: Fact, b: Fact) -> bool:
    """One operand >= 0 and the other <= 0 (and neither the constant 0): their sum is a difference."""
    return any(x.lo >= 0 and y.hi <= 0 and not (x.lo == x.hi == 0 or y.lo == y.hi == 0) for x, y in ((a, b), (b, a)))


def _eps_like(fact: Fact) -> bool:
    """A positive constant or a guarded small value added as the author's guard (`x + eps`)."""
    return (fact.guarded or is_constant(fact)) and fact.lo > 0


def _guards(eps: Fact, other: Fact) -> bool:
    """`x + eps` is a guard for any x; `x + 1` only for an x >= 0 (`1 + x` with x reaching -1 is 0)."""
    return eps.lo < 0.01 or eps.kind == "eps" or other.nonnegative


def _rounds_to_one(a: Fact, b: Fact) -> bool:
    return any(is_constant(x) and x.lo == 1 and y.nonnegative and not is_constant(y) for x, y in ((a, b), (b, a)))


def subtract(a: Fact, b: Fact) -> Fact:
    if is_constant(a) and is_constant(b):
        return constant(a.lo - b.lo, a.integer and b.integer)
    lo = _safe(a.lo - b.hi, -INF)
    hi = _safe(a.hi - b.lo, INF)

    def special(v: float) -> Reason | None:
        if is_constant(b) and (v + b.lo) in _SPECIAL:
            return exact(a, v + b.lo)
        if is_constant(a) and (a.lo - v) in _SPECIAL:
            return exact(b, a.lo - v)
        return None

    fields = _specials(special)
    if fields["zero"] is not None and is_constant(a):
        reason = fields["zero"]
        text = (
            "1 - p, which is 0 when the probability p reaches 1"
            if a.lo == 1 and b.kind == "probability"
            else f"{a.lo:g} - x, which is 0 where x reaches {a.lo:g}"
        )
        fields["zero"] = Reason(text, reason.level, "constant" if reason.kind == "constant" else "complement")
    return Fact(
        lo=lo,
        hi=hi,
        **fields,
        guarded=(is_constant(a) and b.hi < a.lo) or (is_constant(b) and a.lo > b.lo),
        scalar=a.scalar and b.scalar,
        integer=a.integer and b.integer,
        infinite=first(a.infinite, b.infinite),
        overflows=a.overflows or b.overflows,
    )


def multiply(a: Fact, b: Fact) -> Fact:
    if is_constant(a) and is_constant(b):
        return constant(a.lo * b.lo, a.integer and b.integer)
    lo, hi = _product_bounds(a, b)
    masked = next((x for x in (a, b) if x.kind == "mask" or is_masked(x)), None)
    zero = first(exact(a, 0), exact(b, 0))
    if masked is not None and zero is not None:
        zero = Reason("a product with a mask or one-hot, which is 0 where it is masked out", BUILT, "masked")
    return Fact(
        lo=lo,
        hi=hi,
        zero=zero,
        one=exact(a, 1) if is_constant(b) and b.lo == 1 else exact(b, 1) if is_constant(a) and a.lo == 1 else None,
        guarded=a.nonzero and b.nonzero,
        scalar=a.scalar and b.scalar,
        integer=a.integer and b.integer,
        why=a.why if a.why == b.why else "",
        kind="masked" if masked is not None else a.kind if a.kind == b.kind else "",
        bases=a.bases | b.bases,
        overflows=(a.overflows or b.overflows) and (math.isinf(lo) or math.isinf(hi)),
    )


def is_masked(fact: Fact) -> bool:
    """A value that masking makes 0 (`w * (m * a + (1 - m) * b)`): so is any product with it."""
    return fact.kind == "masked" or (fact.zero is not None and fact.zero.level >= BUILT and fact.zero.kind == "masked")


def _product_bounds(a: Fact, b: Fact) -> tuple[float, float]:
    corners = []
    for x in (a.lo, a.hi):
        for y in (b.lo, b.hi):
            corners.append(0.0 if (x == 0 or y == 0) else x * y)
    values = [c for c in corners if not math.isnan(c)]
    return (min(values), max(values)) if len(values) == 4 else (-INF, INF)


def divide(a: Fact, b: Fact) -> Fact:
    """a / b: bounds where b keeps its sign; 0 where a is (unless b is too)."""
    if is_constant(a) and is_constant(b) and b.lo != 0:
        return constant(a.lo / b.lo)
    lo, hi = -INF, INF
    if b.lo > 0 or b.hi < 0:
        corners = [x / y for x in (a.lo, a.hi) for y in (b.lo, b.hi) if not (math.isinf(x) and math.isinf(y))]
        corners = [c for c in corners if not math.isnan(c)]
        if len(corners) == 4:
            lo, hi = min(corners), max(corners)
        elif a.nonnegative and b.lo > 0:
            lo, hi = 0.0, INF
    elif a.nonnegative and b.nonnegative:
        lo = 0.0
    elif a.hi <= 0 and b.nonnegative:  # -(x - m) ** 2 / (2 * var): at most 0 (-inf where var is 0)
        hi = 0.0
    zero = exact(a, 0)
    one = exact(b, 1) if is_constant(a) and a.lo == 1 else None
    if a.lo > 0 and b.lo >= 1 and b.overflows and is_constant(a):  # c / (1 + exp(-x)): 0 once exp overflows
        zero = Reason(f"{a.lo:g} / (1 + e), which is 0 once e overflows", BUILT)
    return Fact(
        lo=lo,
        hi=hi,
        zero=zero,
        one=one,
        guarded=a.nonzero and b.nonzero and zero is None,
        scalar=a.scalar and b.scalar,
        bases=a.bases if zero is not None else frozenset(),  # sum(|x|) / n still summarises x, and is 0 with it
        overflows=a.overflows and (math.isinf(lo) or math.isinf(hi)),
    )


def power(a: Fact, k: float | None, exponent: Fact = TOP) -> Fact:
    """a ** k for a constant k (None: unknown exponent, whose fact is `exponent`)."""
    if k is None and _grows_exponentially(a, exponent):  # 2 ** x, 0.5 ** x: an exp in another base
        return Fact(lo=0, hi=INF, scalar=a.scalar and exponent.scalar, why="an exponential", overflows=True)
    if k is None:
        if a.unit:  # a power of a value in [0, 1] (positive exponents): rounds to 1 for small exponents
            level = BUILT if a.hi == 1 else DEGENERATE
            return Fact(
                lo=0,
                hi=INF,
                zero=exact(a, 0),
                one=first(exact(a, 1), Reason("a power of a value in [0, 1), which rounds to 1", level)),
            )
        if a.nonnegative and a.zero is not None:  # a power spectrum's `sum(x ** 2) ** p`: 0 stays 0 (p > 0)
            return Fact(lo=0, zero=exact(a, 0), why=a.why, kind=a.kind, bases=a.bases)
        return TOP
    if is_constant(a):
        try:
            return constant(float(a.lo**k))
        except (OverflowError, ZeroDivisionError, ValueError, TypeError):
            return TOP
    if k == 0:
        return constant(1.0)
    if k < 0:
        return divide(constant(1.0), power(a, -k))
    if k == 0.5:
        from nanlint.source.values.transfer import root

        return root(a)
    even = float(k).is_integer() and int(k) % 2 == 0
    lo, hi = _power_bounds(a, k, even)
    return Fact(
        lo=lo,
        hi=hi,
        zero=exact(a, 0),
        one=first(exact(a, 1), exact(a, -1) if even else None),
        minus_one=None if even else exact(a, -1),
        guarded=a.nonzero,
        scalar=a.scalar,
        integer=a.integer and float(k).is_integer(),
        why="a square" if k == 2 else "",
        kind="square" if even else "",
        overflows=a.overflows and k > 0,
    )


def _grows_exponentially(base: Fact, exponent: Fact) -> bool:
    """A constant base other than 1 raised to an exponent unbounded in the direction that makes it overflow."""
    if not is_constant(base) or base.lo <= 0 or base.lo == 1:
        return False
    return math.isinf(exponent.hi) if base.lo > 1 else math.isinf(exponent.lo)


def _power_bounds(a: Fact, k: float, even: bool) -> tuple[float, float]:
    def pw(x: float) -> float:
        try:
            return math.copysign(abs(x) ** k, x) if not even else abs(x) ** k
        except OverflowError:
            return INF

    if even:
        if a.lo >= 0:
            return pw(a.lo), pw(a.hi)
        if a.hi <= 0:
            return pw(a.hi), pw(a.lo)
        return 0.0, max(pw(a.lo), pw(a.hi))
    if not float(k).is_integer() and a.lo < 0:  # a fractional power of a negative is NaN
        return 0.0, pw(a.hi) if a.hi > 0 else 0.0
    return pw(a.lo), pw(a.hi)
