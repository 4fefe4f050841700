"""Control flow: If joins its branches (or takes the one an exact condition picks); Loop and Scan run
their body on the state until the state's bound stops growing, widening what still grows to +-inf
after `WIDEN_AFTER` rounds. Short loops with an exact trip count are unrolled exactly.

Body tensors get bounds that cover every iteration (the analysis joins them across runs).
"""

from __future__ import annotations

from typing import overload

import numpy as np

from nanlint.graph.interval import Interval, join
from nanlint.graph.transfer.context import NodeContext, NotExact
from nanlint.graph.transfer.registry import register

# Loops with an exact trip count up to this many iterations are unrolled.
UNROLL_LIMIT = 8
# Rounds of joining before growing bounds are widened to infinity.
WIDEN_AFTER = 3


def _fixpoint(state, one_step, what: str):
    """Iterate `one_step(state) -> (next state, the step's outputs)` on the joined state until it stops
    growing, widening what still grows after WIDEN_AFTER rounds: (stable state, last step's outputs)."""
    acc = list(state)
    for round_ in range(WIDEN_AFTER + 2):
        next_state, outs = one_step(acc)
        new = [_join_shaped(a, o) for a, o in zip(acc, next_state)]
        if all(n is not None and _contains(a, n) for a, n in zip(acc, new)):
            return acc, outs
        if round_ >= WIDEN_AFTER:
            new = [
                _widen(a, n) if n is not None and a.shape == n.shape else Interval.unbounded(a.shape)
                for a, n in zip(acc, new)
            ]
        acc = new
    raise NotExact(f"{what} state does not stabilise")


@overload
def _join_shaped(a: Interval, b: Interval) -> Interval: ...
@overload
def _join_shaped(a: Interval | None, b: Interval | None) -> Interval | None: ...
def _join_shaped(a: Interval | None, b: Interval | None) -> Interval | None:
    if a is None or b is None:
        return None
    if a.shape == b.shape:
        return join(a, b)
    out = join(a.collapse(), b.collapse())
    return Interval(out.lo, out.hi, out.may_nan, None)


def _contains(outer: Interval, inner: Interval) -> bool:
    if inner.may_nan and not outer.may_nan:
        return False
    with np.errstate(invalid="ignore"):
        return bool(
            np.all(np.asarray(inner.lo) >= np.asarray(outer.lo))
            and np.all(np.asarray(inner.hi) <= np.asarray(outer.hi))
        )


def _widen(old: Interval, new: Interval) -> Interval:
    """Endpoints still moving go to infinity (the classic interval widening)."""
    lo = np.where(np.asarray(new.lo) < np.asarray(old.lo), -np.inf, old.lo)
    hi = np.where(np.asarray(new.hi) > np.asarray(old.hi), np.inf, old.hi)
    return Interval(
        lo.astype(np.result_type(old.lo.dtype, np.float32)),
        hi.astype(np.result_type(old.hi.dtype, np.float32)),
        old.may_nan or new.may_nan,
        old.shape,
    )


@register("control flow", "If", fold=False, note="an exact condition picks its branch, else both are joined")
def if_op(ctx: NodeContext):
    cond = ctx.x(0)
    branches = {"then_branch": ctx.attr("then_branch"), "else_branch": ctx.attr("else_branch")}
    if cond.is_point:
        taken = "then_branch" if bool(np.asarray(cond.lo).reshape(-1)[0]) else "else_branch"
        return ctx.engine.run_subgraph(branches[taken], {}, ctx.scope)
    then_out = ctx.engine.run_subgraph(branches["then_branch"], {}, ctx.scope)
    else_out = ctx.engine.run_subgraph(branches["else_branch"], {}, ctx.scope)
    return [_join_shaped(a, b) for a, b in zip(then_out, else_out)]


def _stack(parts: list[Interval], axis: int = 0) -> Interval:
    """Per-iteration outputs stacked along `axis` (scan outputs)."""
    shape = parts[0].shape
    if shape is None or any(p.shape != shape for p in parts):
        raise NotExact("scan outputs of varying shapes")
    los = [np.broadcast_to(p.lo, shape) for p in parts]
    his = [np.broadcast_to(p.hi, shape) for p in parts]
    return Interval(np.stack(los, axis), np.stack(his, axis), any(p.may_nan for p in parts))


def _repeat(part: Interval, count: int | None, axis: int = 0) -> Interval:
    """One bound for every iteration's output, stacked `count` times (None: unknown length)."""
    if part.shape is None or count is None:
        c = part.collapse()
        return Interval(c.lo, c.hi, c.may_nan, None)
    shape = part.shape[:axis] + (count,) + part.shape[axis:]
    return Interval(
        np.expand_dims(np.asarray(part.lo), axis) if part.lo.ndim else part.lo,
        np.expand_dims(np.asarray(part.hi), axis) if part.hi.ndim else part.hi,
        part.may_nan,
        shape,
    )


@register("control flow", "Loop", fold=False, note="unrolled up to 8 exact iterations, else widened")
def loop(ctx: NodeContext):
    body = ctx.attr("body")
    n_state = len(ctx.node.input) - 2
    trip = int(np.asarray(ctx.const(0)).reshape(-1)[0]) if ctx.has(0) and ctx.is_exact(0) else None
    cond_in = ctx.x(1) if ctx.has(1) else Interval.point(np.asarray(True))
    state = [ctx.x(2 + k) for k in range(n_state)]
    names = [vi.name for vi in body.input]
    n_scan = len(body.output) - 1 - n_state
    run = ctx.engine.run_subgraph

    def step(i_iv: Interval, c_iv: Interval, values: list[Interval]):
        bindings = {names[0]: i_iv, names[1]: c_iv}
        bindings.update({names[2 + k]: v for k, v in enumerate(values)})
        return run(body, bindings, ctx.scope)

    always_true = cond_in.is_point and bool(np.all(cond_in.lo))
    if trip is not None and trip <= UNROLL_LIMIT:
        finals = list(state)
        scans: list[list[Interval]] = [[] for _ in range(n_scan)]
        current = list(state)
        c_iv = cond_in
        for i in range(trip):
            if c_iv.is_point and not bool(np.all(c_iv.lo)):
                break
            outs = step(Interval.point(np.asarray(i, np.int64)), c_iv, current)
            c_iv, current = outs[0], list(outs[1 : 1 + n_state])
            always_true = always_true and c_iv.is_point and bool(np.all(c_iv.lo))
            for k in range(n_scan):
                scans[k].append(outs[1 + n_state + k])
            finals = current if always_true else [_join_shaped(f, c) for f, c in zip(finals, current)]
        scan_out: list[Interval | None]
        if always_true and all(len(s) == trip for s in scans) and trip > 0:
            scan_out = [_stack(s) for s in scans]
        else:
            scan_out = [_repeat(_join_all(s), None) if s else None for s in scans]
        return finals + scan_out
    # Unknown or long trip count: iterate on the joined state, widening what keeps growing.
    top = float(trip - 1) if trip is not None else np.inf
    iteration = Interval.range(0, top, (), np.float64)
    any_cond = Interval.range(0, 1, cond_in.shape, np.float64)

    def one_step(acc):
        outs = step(iteration, any_cond, acc)
        return outs[1 : 1 + n_state], outs

    acc, outs = _fixpoint(state, one_step, "loop")
    scan_out = [
        _repeat(outs[1 + n_state + k], trip) if outs[1 + n_state + k] is not None else None for k in range(n_scan)
    ]
    return acc + scan_out


def _join_all(parts: list[Interval]) -> Interval:
    out = parts[0]
    for p in parts[1:]:
        out = _join_shaped(out, p)
    return out


@register("control flow", "Scan", fold=False, note="opset 9+; long sequences use the hull of the slices")
def scan(ctx: NodeContext):
    if ctx.opset < 9:
        raise NotExact("Scan before opset 9 (batched form)")
    body = ctx.attr("body")
    n_scan_in = int(ctx.attr("num_scan_inputs"))
    n_state = len(ctx.node.input) - n_scan_in
    in_axes = list(ctx.attr("scan_input_axes", [0] * n_scan_in))
    in_dirs = list(ctx.attr("scan_input_directions", [0] * n_scan_in))
    n_scan_out = len(body.output) - n_state
    out_axes = list(ctx.attr("scan_output_axes", [0] * n_scan_out))
    out_dirs = list(ctx.attr("scan_output_directions", [0] * n_scan_out))
    names = [vi.name for vi in body.input]
    state = [ctx.x(k) for k in range(n_state)]
    seqs = [ctx.x(n_state + k) for k in range(n_scan_in)]
    shapes = [s.shape for s in seqs if s.shape is not None]
    if len(shapes) < len(seqs):
        raise NotExact("scan input of unknown shape")
    axes = [a % len(shape) for a, shape in zip(in_axes, shapes)]
    length = shapes[0][axes[0]]

    def run(values, slices):
        bindings = {names[k]: v for k, v in enumerate(values)}
        bindings.update({names[n_state + k]: s for k, s in enumerate(slices)})
        return ctx.engine.run_subgraph(body, bindings, ctx.scope)

    if length <= UNROLL_LIMIT:
        current = list(state)
        per_step: list[list[Interval]] = [[] for _ in range(n_scan_out)]
        for t in range(length):
            slices = []
            for s, axis, direction in zip(seqs, axes, in_dirs):
                index = length - 1 - t if direction else t
                lo, hi = s.broadcast()
                slices.append(Interval(np.take(lo, index, axis), np.take(hi, index, axis), s.may_nan))
            outs = run(current, slices)
            current = list(outs[:n_state])
            for k in range(n_scan_out):
                per_step[k].append(outs[n_state + k])
        scan_out = []
        for k in range(n_scan_out):
            parts = per_step[k][::-1] if out_dirs[k] else per_step[k]
            axis = out_axes[k] % (len(parts[0].shape) + 1) if parts and parts[0].shape is not None else 0
            scan_out.append(_stack(parts, axis) if parts else None)
        return current + scan_out
    # Long sequences: every slice lies within the hull along the scan axis.
    slices = []
    for s, axis in zip(seqs, axes):
        lo, hi = s.broadcast()
        slices.append(Interval(np.min(lo, axis=axis), np.max(hi, axis=axis), s.may_nan))

    def one_step(acc):
        outs = run(acc, slices)
        return outs[:n_state], outs

    acc, outs = _fixpoint(state, one_step, "scan")
    scan_out = []
    for k in range(n_scan_out):
        part = outs[n_state + k]
        axis = out_axes[k] % (len(part.shape) + 1) if part is not None and part.shape is not None else 0
        scan_out.append(_repeat(part, length, axis) if part is not None else None)
    return acc + scan_out
