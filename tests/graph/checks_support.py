"""Helpers for the checks tests: real models (fixtures or onnx.helper), hand-built bounds."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from nanlint import options
from nanlint.config import Settings
from nanlint.graph import checks
from nanlint.graph.interval import Interval
from nanlint.graph.model import load_model
from nanlint.graph.patterns import find_patterns
from nanlint.graph.targets import load_profile
from nanlint.graph.targets.precision import Precision

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "models"


def fixture(name: str):
    return load_model(str(FIXTURES / f"{name}.onnx"))


def save_and_load(proto: onnx.ModelProto, tmp_path: Path, name: str = "model.onnx"):
    path = tmp_path / name
    path.write_bytes(proto.SerializeToString())
    return load_model(str(path))


@dataclass
class HandAnalysis:
    """The Analysis API, filled by hand: bounds beyond a tensor's limit are clamped like core does."""

    bounds: dict[str, Interval]
    unsupported: list = field(default_factory=list)
    depth: dict[str, int] = field(default_factory=dict)
    clamped: dict[str, tuple[float, float]] = field(default_factory=dict)


def hand_analysis(model, precision: Precision, bounds: dict, unsupported=(), depth=None) -> HandAnalysis:
    analysis = HandAnalysis({}, [n for n in model.nodes if n.name in unsupported], dict(depth or {}))
    for name, value in model.constants.items():
        analysis.bounds[name] = Interval.point(np.asarray(value, np.float64))
    for name, bound in bounds.items():
        interval = (
            bound
            if isinstance(bound, Interval)
            else Interval(
                np.asarray(bound[0], np.float64), np.asarray(bound[1], np.float64), shape=model.shapes.get(name)
            )
        )
        limit = precision.limit(name)
        if limit is not None and (interval.min() < -limit or interval.max() > limit):
            analysis.clamped[name] = (interval.min(), interval.max())
            interval = interval.clamp(limit)
        analysis.bounds[name] = interval
    return analysis


def run(model, bounds: dict, target: str = "cpu", settings: Settings | None = None, **kwargs):
    settings = settings or dataclasses.replace(Settings(), select=("ALL",))
    profile = load_profile(target)
    patterns = find_patterns(model, settings.option("NAN702", "max-epsilon", options.default("NAN702", "max-epsilon")))
    precision = Precision(model, profile, patterns)
    analysis = hand_analysis(model, precision, bounds, **kwargs)
    return checks.check(model, analysis, profile, precision, patterns, settings)


def brief(findings) -> list[tuple]:
    """(code, node, tensor, severity) per finding, in order."""
    return [(f.code, f.location.node, f.location.tensor, f.severity.name) for f in findings]
