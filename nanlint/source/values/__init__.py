"""Value facts: what each expression can be (sign, bounds, can it be exactly 0, why), computed on demand.

`ctx.values.of(expr)` answers for any expression of the file being checked; see fact.py for the
record, transfer.py and arithmetic.py for how ops build it, analysis.py for names, calls and
function summaries, index.py for what the whole file says.
"""

from nanlint.source.values.analysis import Values, clamp_bounds, select_parts, variables_of
from nanlint.source.values.fact import BUILT, DEGENERATE, NAMED, TOP, Fact, Reason

__all__ = [
    "BUILT",
    "DEGENERATE",
    "NAMED",
    "TOP",
    "Fact",
    "Reason",
    "Values",
    "clamp_bounds",
    "select_parts",
    "variables_of",
]
