"""The eps a fix adds, in the precision the module computes in.

A fix writes `x / (d + 1e-8)` or `log(p + 1e-8)` with the configured `fix-eps`. In a module that computes in
float16 (or a project whose program switches float16 on), 1e-8 rounds to 0 and the fixed file would trade the
finding for NAN202's. The module's precision is known only once the walk has seen all of it (`model.half()` is
often at the bottom of a script), so the rules that add an eps retune their fixes when they leave the module.
"""

from __future__ import annotations

from nanlint.source.guards import number
from nanlint.source.rule import Context, PendingFix
from nanlint.source.training_facts import ModuleFacts

# float16's smallest normal is 6.1e-05: 1e-4 is neither 0 nor a subnormal divisor there (NAN202's advice).
HALF_FIX_EPS = 1e-4


def retune_eps_fixes(ctx: Context, code: str, configured: float) -> None:
    """Rewrite the eps of `code`'s fixes to HALF_FIX_EPS where the module or the project computes in float16."""
    if configured >= HALF_FIX_EPS or not _half(ctx):
        return
    old, new = number(configured), number(HALF_FIX_EPS)
    for report in ctx.reports:
        fix = report.fix
        if report.code != code or fix is None or f"add {old}" not in fix.message:
            continue
        replacements = tuple((node, _swap_last(text, f"+ {old}", f"+ {new}")) for node, text in fix.replacements)
        report.fix = PendingFix(fix.applicability, fix.message.replace(f"add {old}", f"add {new}", 1), replacements)


def _half(ctx: Context) -> bool:
    return ctx.tracker(ModuleFacts).half or (ctx.project is not None and ctx.project.half_evidence() is not None)


def _swap_last(text: str, old: str, new: str) -> str:
    """The eps plus_eps appended is the last `+ eps` of the replacement."""
    head, found, tail = text.rpartition(old)
    return head + new + tail if found else text
