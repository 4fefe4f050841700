"""Witness search: a concrete input inside the declared box that triggers a static hazard.

Random restarts plus gradient-free hill climbing ((1+1) evolution strategy with the
one-fifth success rule) on each hazard's score, evaluated with onnxruntime. A score is
>= 0 exactly when the hazard happens; below 0 it says how far away it is, so climbing
has a slope to follow. All open hazards share each inference.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import onnx

from nanlint.graph.sampling import InputSpec, _session, _with_outputs, draw_feeds

Score = Callable[[np.ndarray], float]
TINY = 1e-30


@dataclass
class Hazard:
    key: str  # identifies the finding this would confirm
    tensor: str
    score: Score


@dataclass
class Witness:
    feed: dict[str, np.ndarray]
    score: float
    evaluations: int


@dataclass
class SearchResult:
    witnesses: dict[str, Witness] = field(default_factory=dict)
    evaluations: int = 0
    seconds: float = 0.0


# --- scores of the usual hazards (>= 0 means it happened) -------------------------------------------


def exceeds(limit: float) -> Score:
    """max|x| beyond a finite limit (overflow), on a log scale; reaching the limit exactly is not beyond it."""

    def score(x: np.ndarray) -> float:
        if not x.size:
            return -np.inf
        peak = float(np.abs(x).max())
        distance = float(np.log2(max(peak, TINY)) - np.log2(limit))
        return distance if peak > limit else min(distance, -(2.0**-40))

    return score


def reaches_zero_or_below(x: np.ndarray) -> float:
    """min(x) <= 0 (log domain)."""
    return float(-x.min()) if x.size else -np.inf


def goes_negative(x: np.ndarray) -> float:
    """min(x) < 0 (sqrt domain); exactly 0 is not a hit."""
    return float(-x.min()) - 1e-45 if x.size else -np.inf


def near_zero(tiny: float) -> Score:
    """min|x| below `tiny` (a reciprocal that overflows the dtype), on a log scale."""
    return lambda x: float(np.log2(tiny) - np.log2(max(float(np.abs(x).min()), TINY))) if x.size else -np.inf


def above(limit: float) -> Score:
    """max(x) above a limit (e.g. ln(max) for Exp inputs, 1 for Acos inputs)."""
    return lambda x: float(x.max() - limit) if x.size else -np.inf


def outside_unit(x: np.ndarray) -> float:
    """|x| > 1 (Acos/Asin domain)."""
    return float(np.abs(x).max() - 1.0) if x.size else -np.inf


# --- the search ---------------------------------------------------------------------------------------


def search(
    model: onnx.ModelProto,
    specs: list[InputSpec],
    hazards: list[Hazard],
    budget: float,
    seed: int = 0,
    provider: str = "CPUExecutionProvider",
    weights=None,
) -> SearchResult:
    """Search for a witness of each hazard within `budget` seconds (`weights`: the arrays of external
    initializers, see Model.runnable)."""
    started = time.perf_counter()
    result = SearchResult()
    if not hazards or budget <= 0:
        return result
    tensors = list(dict.fromkeys(h.tensor for h in hazards))
    session = _session(_with_outputs(model, tensors), provider, weights)
    names = [o.name for o in session.get_outputs()]
    rng = np.random.default_rng(seed)
    best: dict[str, tuple[float, dict]] = {}
    steps = {h.key: 0.25 for h in hazards}

    def evaluate(feed: dict) -> dict[str, float]:
        values = dict(zip(names, session.run(names, feed)))
        result.evaluations += 1
        scores = {}
        for hazard in hazards:
            value = values.get(hazard.tensor)
            scores[hazard.key] = hazard.score(np.asarray(value, dtype=np.float64)) if value is not None else -np.inf
        return scores

    def record(feed: dict, scores: dict[str, float]) -> None:
        for key, score in scores.items():
            if key in result.witnesses:
                continue
            if score >= 0:
                result.witnesses[key] = Witness({k: v.copy() for k, v in feed.items()}, score, result.evaluations)
            if key not in best or score > best[key][0]:
                best[key] = (score, feed)

    for feed in draw_feeds(specs, 2 + 2 * len(specs), seed=seed):  # corners, then random points
        record(feed, evaluate(feed))
    while time.perf_counter() - started < budget and len(result.witnesses) < len(hazards):
        open_keys = [h.key for h in hazards if h.key not in result.witnesses]
        key = open_keys[result.evaluations % len(open_keys)]
        if rng.random() < 0.1 or key not in best or not specs:
            feed = _random_feed(specs, rng)
            record(feed, evaluate(feed))
            continue
        score, parent = best[key]
        child = _mutate(parent, specs, steps[key], rng)
        scores = evaluate(child)
        improved = scores[key] > score
        steps[key] = min(1.0, steps[key] * 1.5) if improved else max(1e-7, steps[key] * 0.92)  # 1/5th rule
        record(child, scores)
    result.seconds = time.perf_counter() - started
    return result


def _dtype(spec: InputSpec):
    from nanlint.graph.sampling import NUMPY_TYPES

    return NUMPY_TYPES.get(spec.elem_type, np.float32)


def _random_feed(specs: list[InputSpec], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A uniform point, with some coordinates pushed to the box's faces (where extremes often are)."""
    feed = {}
    for spec in specs:
        value = spec.draw(rng)
        if np.issubdtype(value.dtype, np.floating):
            faces = rng.random(value.shape) < 0.3
            value = np.where(faces, np.where(rng.random(value.shape) < 0.5, spec.low, spec.high), value)
            value = value.astype(_dtype(spec))
        feed[spec.name] = value
    return feed


def _mutate(parent: dict, specs: list[InputSpec], step: float, rng: np.random.Generator) -> dict:
    """A child near the parent: Gaussian steps on float inputs, a few positions redrawn on integer ones
    (token ids, indices), so that the climb also moves through discrete inputs."""
    child = dict(parent)
    for spec in specs:
        if not np.issubdtype(_dtype(spec), np.floating):
            value = parent[spec.name].copy()
            if value.size:
                positions = rng.random(value.shape) < max(1.0 / value.size, 0.05)
                value[positions] = spec.draw(rng)[positions]
            child[spec.name] = value
            continue
        width = spec.high - spec.low
        value = parent[spec.name].astype(np.float64)
        mask = rng.random(value.shape) < max(0.1, 1.0 / max(value.size, 1) ** 0.5)
        value = value + mask * rng.normal(0.0, step * width, value.shape)
        child[spec.name] = np.clip(value, spec.low, spec.high).astype(_dtype(spec))
    return child


def save_witness(path: str, witness: Witness) -> None:
    """Save as .npz (one array per input, no pickles), replayable with np.load."""
    # numpy's stub types **kwds as if a key could be savez's own `allow_pickle` flag.
    np.savez(path, **witness.feed)  # type: ignore[arg-type]
