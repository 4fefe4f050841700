"""The fact record of one expression: bounds, the special values it can take exactly, and why.

A Fact is small and immutable. Bounds are an interval `lo <= x <= hi` (infinite when unknown).
`zero`, `one` and `minus_one` say why the value can be *exactly* 0, 1 or -1 -- the points where
log, division, sqrt, log1p and acos break -- each with the strength of the evidence:

- BUILT: ordinary input reaches it (a count of a selection, a masked sum, relu, a clamp at 0,
  a probability that underflows, a uniform sample);
- DEGENERATE: only degenerate input does (the norm of a zero vector, the std of a constant,
  exp underflowing for a very negative argument);
- NAMED: only a name says so (`probs`, `std`, `distance`).

An unknown input is TOP: anything, with no reason to be 0 -- a rule needs evidence, not the
absence of proof. `guarded` marks a value the author bounded away from 0 (`+ eps`, a clamp at
eps); `scalar` a Python number rather than a tensor; `bases` the variables a reduction summarises
(`norm(x)` -> {"x"}), so that a rule can tell `x / norm(x)` from a ratio of two norms. `infinite`
says why the value can be exactly infinite (an inf constant, a fill or where() with one): bounds
cannot, since they are also infinite when merely unknown. `overflows` marks a value that reaches inf for
moderate input -- an exp of an unbounded argument, and sums, products and powers of it -- where an unbounded
polynomial (`1 + x**2`) only grows: `1 / (1 + exp(-x))` is 0 for x < -88 (float32), `1 / (1 + x**2)` never is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

NAMED, DEGENERATE, BUILT = 0, 1, 2
INF = math.inf


@dataclass(frozen=True)
class Reason:
    """Why a value can take a special value, and how strong that evidence is."""

    text: str
    level: int = BUILT
    kind: str = ""  # what the value is ("count", "norm", "probability", ...): rules choose their advice by it


@dataclass(frozen=True)
class Fact:
    lo: float = -INF
    hi: float = INF
    zero: Reason | None = None
    one: Reason | None = None
    minus_one: Reason | None = None
    guarded: bool = False  # bounded away from 0 by the author: `+ eps`, a clamp at eps, max(n, 1)
    negative: Reason | None = None  # why it can come out < 0 although it is >= 0 in exact arithmetic
    rounding: Reason | None = None  # why rounding can push it just past +-1 (a cosine of normalised vectors)
    scalar: bool = False  # a Python number (int/float arithmetic, math.*), not a tensor
    integer: bool = False
    why: str = ""  # what it is, for messages: "a norm", "max - min of one tensor"
    kind: str = ""  # what made it: "norm", "std", "count", "sum", "mask", "probability", ... (rules pick advice by it)
    empty: Reason | None = None  # a selection that can be empty (its sum and count are then 0)
    distribution: bool = False  # entries in [0, 1] that sum to 1 (a softmax): their sum is 1, not 0
    bases: frozenset[str] = frozenset()  # variables a reduction summarises: norm(x), std(x), sum(x) -> {"x"}
    infinite: Reason | None = None  # why it can be exactly ±inf: `where(mask, x, -inf)`, `full(n, inf)`
    overflows: bool = False  # reaches ±inf for moderate input: exp of an unbounded argument, and sums/products of it

    # --- questions ---------------------------------------------------------------------------

    @property
    def nonzero(self) -> bool:
        """Bounded away from 0: by construction (lo > 0 or hi < 0) or by a guard."""
        return self.guarded or self.lo > 0 or self.hi < 0

    def can_be_zero(self, level: int = NAMED) -> Reason | None:
        """The reason it can be exactly 0, if its evidence is at least `level` and nothing guards it."""
        if self.nonzero or self.zero is None or self.zero.level < level:
            return None
        return self.zero

    @property
    def unit(self) -> bool:
        """Within [0, 1]."""
        return self.lo >= 0 and self.hi <= 1

    @property
    def nonnegative(self) -> bool:
        return self.lo >= 0

    def with_why(self, why: str) -> Fact:
        return replace(self, why=why)


TOP = Fact()


def constant(value: float, integer: bool = False) -> Fact:
    """A known number (a Python scalar)."""
    if math.isnan(value):
        return Fact(scalar=True, why="NaN")
    why = f"the constant {value:g}"
    # a configured value, not data: a rule asks for more than this
    exact = Reason(why, NAMED, "constant")
    return Fact(
        lo=value,
        hi=value,
        zero=exact if value == 0.0 else None,
        one=exact if value == 1.0 else None,
        minus_one=exact if value == -1.0 else None,
        scalar=True,
        integer=integer,
        why=why,
    )


def interval(
    lo: float,
    hi: float,
    why: str = "",
    *,
    zero: Reason | None = None,
    one: Reason | None = None,
    minus_one: Reason | None = None,
    negative: Reason | None = None,
    rounding: Reason | None = None,
    empty: Reason | None = None,
) -> Fact:
    return Fact(
        lo=lo,
        hi=hi,
        zero=zero,
        one=one,
        minus_one=minus_one,
        negative=negative,
        rounding=rounding,
        why=why,
        empty=empty,
    )


def first(*reasons: Reason | None) -> Reason | None:
    """The strongest of several reasons (the first among equals)."""
    found = [r for r in reasons if r is not None]
    return max(found, key=lambda r: r.level) if found else None


def join(*facts: Fact) -> Fact:
    """What a value can be when it is one of `facts` (branches, where(), call sites): the union."""
    if not facts:
        return TOP
    if len(facts) == 1:
        return facts[0]
    whys = {f.why for f in facts if f.why}
    return Fact(
        lo=min(f.lo for f in facts),
        hi=max(f.hi for f in facts),
        zero=first(*(f.zero for f in facts if not f.nonzero)),
        one=first(*(f.one for f in facts)),
        minus_one=first(*(f.minus_one for f in facts)),
        guarded=all(f.nonzero for f in facts),
        negative=first(*(f.negative for f in facts)),
        rounding=first(*(f.rounding for f in facts)),
        scalar=all(f.scalar for f in facts),
        integer=all(f.integer for f in facts),
        why=whys.pop() if len(whys) == 1 else "",
        kind=facts[0].kind if len({f.kind for f in facts}) == 1 else "",
        empty=first(*(f.empty for f in facts)),
        distribution=all(f.distribution for f in facts),
        bases=frozenset().union(*(f.bases for f in facts)),
        infinite=first(*(f.infinite for f in facts)),
        overflows=any(f.overflows for f in facts),
    )


def weaker(reason: Reason | None, level: int) -> Reason | None:
    """The reason, its level capped (evidence passed through something that only weakens it)."""
    if reason is None or reason.level <= level:
        return reason
    return replace(reason, level=level)


def informative(fact: Fact) -> bool:
    """Does the fact say anything beyond TOP (bounds, special values, a guard)?"""
    return fact != TOP and (
        fact.lo > -INF
        or fact.hi < INF
        or fact.guarded
        or fact.overflows
        or any(
            r is not None
            for r in (fact.zero, fact.one, fact.minus_one, fact.negative, fact.rounding, fact.empty, fact.infinite)
        )
        or fact.scalar
    )
