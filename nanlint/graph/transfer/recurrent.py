"""Recurrent layers, bounded by their activations rather than by unrolling:
  RNN   h_t = g(...)                          -> within g's range
  GRU   h_t = (1 - z) * g(...) + z * h_{t-1}  -> a convex combination: within g's range joined with h_0
  LSTM  h_t = o * h(c_t), c_t = f * c_{t-1} + i * g(...) -> |h_t| <= |h|'s range, |c_T| <= |c_0| + T·|g|
Unbounded activations (Relu, Affine, ...) leave the op unsupported.
"""

from __future__ import annotations

from nanlint.graph.interval import Interval
from nanlint.graph.transfer.context import NodeContext, NotExact
from nanlint.graph.transfer.registry import register

_GATES = {"sigmoid", "hardsigmoid"}  # gate activations within [0, 1]


def _range(name: str, alpha: float | None) -> tuple[float, float] | None:
    name = name.lower()
    if name in ("tanh", "softsign"):
        return -1.0, 1.0
    if name in ("sigmoid", "hardsigmoid"):
        return 0.0, 1.0
    if name == "scaledtanh":
        a = abs(alpha if alpha is not None else 1.0)
        return -a, a
    return None


def _activations(ctx: NodeContext, per_direction: int) -> list[tuple[str, tuple[float, float] | None]]:
    defaults = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}
    names = [n.decode() if isinstance(n, bytes) else n for n in ctx.attr("activations", [])] or defaults[
        ctx.node.op_type
    ] * 2
    alphas = list(ctx.attr("activation_alpha", []))
    out = []
    for k, name in enumerate(names):
        out.append((name, _range(name, alphas[k] if k < len(alphas) else None)))
    return out


def _bounded(ranges: list[tuple[float, float] | None], message: str) -> list[tuple[float, float]]:
    """The activations' ranges; NotExact(message) when one is unbounded."""
    known = [r for r in ranges if r is not None]
    if len(known) < len(ranges):
        raise NotExact(message)
    return known


def _shapes(ctx: NodeContext):
    x = ctx.x(0)
    if x.shape is None or len(x.shape) != 3:
        raise NotExact("recurrent input of unknown shape")
    layout = int(ctx.attr("layout", 0))
    seq, batch = (x.shape[0], x.shape[1]) if layout == 0 else (x.shape[1], x.shape[0])
    dirs = 2 if ctx.attr("direction", "forward") == "bidirectional" else 1
    hidden = int(ctx.attr("hidden_size"))
    if layout == 0:
        y, yh = (seq, dirs, batch, hidden), (dirs, batch, hidden)
    else:
        y, yh = (batch, seq, dirs, hidden), (batch, dirs, hidden)
    return seq, y, yh


def _mag(iv: Interval | None) -> float:
    return 0.0 if iv is None else iv.abs_max()


@register("recurrent", "RNN", depth="reset", note="bounded activations only (default Tanh)")
def rnn(ctx: NodeContext):
    _, y_shape, yh_shape = _shapes(ctx)
    ranges = _bounded([r for _, r in _activations(ctx, 1)], "unbounded RNN activation")
    lo = min(min(r[0] for r in ranges), 0.0)
    hi = max(max(r[1] for r in ranges), 0.0)
    last_lo, last_hi = lo, hi
    h0 = ctx.x(5) if ctx.has(5) else None
    if h0 is not None and ctx.has(4):
        # A zero sequence length leaves the initial state as the last one.
        last_lo, last_hi = min(lo, h0.min()), max(hi, h0.max())
    return [Interval.range(lo, hi, y_shape), Interval.range(last_lo, last_hi, yh_shape)]


@register("recurrent", "GRU", depth="reset", note="convex combination of the candidate and the state")
def gru(ctx: NodeContext):
    _, y_shape, yh_shape = _shapes(ctx)
    acts = _activations(ctx, 2)
    message = "GRU activations without bounded ranges"
    if any(gate.lower() not in _GATES for gate, _ in acts[0::2]):
        raise NotExact(message)
    candidates = _bounded([r for _, r in acts[1::2]], message)
    lo = min(min(c[0] for c in candidates), 0.0)
    hi = max(max(c[1] for c in candidates), 0.0)
    h0 = ctx.x(5) if ctx.has(5) else None
    if h0 is not None:
        lo, hi = min(lo, h0.min()), max(hi, h0.max())
    return [Interval.range(lo, hi, y_shape), Interval.range(lo, hi, yh_shape)]


@register("recurrent", "LSTM", depth="reset", note="cell state grows at most |g| per step")
def lstm(ctx: NodeContext):
    seq, y_shape, yh_shape = _shapes(ctx)
    acts = _activations(ctx, 3)
    message = "LSTM activations without bounded ranges"
    if any(gate.lower() not in _GATES for gate, _ in acts[0::3]):
        raise NotExact(message)
    g_ranges = _bounded([r for _, r in acts[1::3]], message)
    h_ranges = _bounded([r for _, r in acts[2::3]], message)
    h_mag = max(max(abs(lo), abs(hi)) for lo, hi in h_ranges)
    g_mag = max(max(abs(lo), abs(hi)) for lo, hi in g_ranges)
    h0 = ctx.x(5) if ctx.has(5) else None
    c0 = ctx.x(6) if ctx.has(6) else None
    # Every step's h is o * h(c) with o in [0, 1]; only a zero sequence length returns h_0 itself.
    last = max(h_mag, _mag(h0)) if ctx.has(4) else h_mag
    c_bound = _mag(c0) + seq * g_mag
    return [
        Interval.range(-h_mag, h_mag, y_shape),
        Interval.range(-last, last, yh_shape),
        Interval.range(-c_bound, c_bound, yh_shape),
    ]
