"""Cascades: the tensors downstream of an overflow root that exceed the range because of it.

An overflow is reported once, at its root (NAN601, NAN701, NAN504, NAN505, NAN506); the tensors it
drives past the dtype's range after it are listed in the root's `cascade`, walking from the root
through consumers while the values stay out of range: the first tensor back in range (after a
normalisation, a Softmax, a Sigmoid, ...) ends the walk on that path.

Which tensors are out of range depends on the root's evidence: a root the samples confirmed takes
the tensors the samples saw beyond the range, never on their own (so does a constant, whose value is
exact; a tensor that also passes the range on a sample where its inputs do not is a root itself); any other
root the tensors whose static bound passes the range credibly (not far above what the samples
reached on that tensor, see runtime.loose_bound). A NAN601 finding that lies in the cascade of
another root at least as severe is a consequence of it, and merges into that root.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from nanlint.findings import Evidence, Finding, GraphLocation
from nanlint.graph.patterns import all_nodes
from nanlint.graph.runtime import loose_bound, overflow_origins, sampled_overflows
from nanlint.graph.sampling import SampleRun

ROOT_CODES = frozenset({"NAN504", "NAN505", "NAN506", "NAN601", "NAN701"})


def attach(
    findings: list[Finding], model, precision, static_over: Mapping[str, tuple[float, float]], run: SampleRun | None
) -> list[Finding]:
    """The findings with each root's cascade filled in, and the NAN601 findings inside a cascade merged."""
    # An overflow that starts on its own on some sample is a root of its own, not a consequence.
    sampled = sampled_overflows(run, precision) - overflow_origins(model, run, precision) if run else set()
    static = _credible(static_over, run, precision)
    order = _order(model)
    out = []
    for finding in findings:
        tensor = _location(finding).tensor
        if finding.code not in ROOT_CODES or not tensor:
            out.append(finding)
            continue
        measured = run is not None and (_kind(finding) == "sampled" or tensor in model.constants)
        members = _walk(model, tensor, sampled if measured else static, order)
        evidence = dataclasses.replace(finding.evidence or Evidence("static"), cascade=members)
        out.append(dataclasses.replace(finding, evidence=evidence, message=finding.message + _said(members)))
    return _merge(out)


def _said(members: tuple[str, ...], shown: int = 3) -> str:
    """The cascade in the message, for the formats that do not print the field."""
    if not members:
        return ""
    names = ", ".join(f"'{name}'" for name in members[:shown]) + (", ..." if len(members) > shown else "")
    count = f"{len(members)} tensor{'s' if len(members) > 1 else ''}"
    return f"; {count} downstream exceed{'s' if len(members) == 1 else ''} the range with it ({names})"


def _location(finding: Finding) -> GraphLocation:
    assert isinstance(finding.location, GraphLocation)
    return finding.location


def _kind(finding: Finding) -> str:
    return finding.evidence.kind if finding.evidence else "static"


def _credible(static_over: Mapping[str, tuple[float, float]], run: SampleRun | None, precision) -> set[str]:
    """Tensors whose static bound passes the range and is not refuted as loose by their samples."""
    credible = set()
    for name, (low, high) in static_over.items():
        stats = run.stats.get(name) if run is not None else None
        limit = precision.limit(name)
        if stats is not None and stats.observed and limit and loose_bound(max(-low, high), stats.abs_max, limit):
            continue
        credible.add(name)
    return credible


def _order(model) -> dict[str, int]:
    """Tensor -> position of its producer (every graph, main graph first in topological order)."""
    order: dict[str, int] = {}
    for index, node in enumerate(all_nodes(model)):
        for out in node.output:
            if out:
                order.setdefault(out, index)
    return order


def _walk(model, root: str, over: set[str], order: Mapping[str, int]) -> tuple[str, ...]:
    """Tensors reachable from `root` through consumers whose outputs are all in `over`, in graph order."""
    seen: set[str] = set()
    frontier = [root]
    while frontier:
        for node in model.consumers.get(frontier.pop(), []):
            for out in node.output:
                if out and out in over and out not in seen and out != root:
                    seen.add(out)
                    frontier.append(out)
    return tuple(sorted(seen, key=lambda name: (order.get(name, len(order)), name)))


def _merge(findings: list[Finding]) -> list[Finding]:
    """Drop each NAN601 finding whose tensor is in the cascade of another root of its target that is at
    least as severe: one finding per root."""
    strongest: dict[tuple[str, str], list[tuple[int, int]]] = {}  # (target, tensor) -> (severity, root id)
    for finding in findings:
        for name in finding.evidence.cascade if finding.evidence else ():
            strongest.setdefault((_location(finding).target, name), []).append((int(finding.severity), id(finding)))
    kept = []
    for finding in findings:
        loc = _location(finding)
        roots = strongest.get((loc.target, loc.tensor or ""), [])
        absorbed = finding.code == "NAN601" and any(
            severity >= int(finding.severity) and root != id(finding) for severity, root in roots
        )
        if not absorbed:
            kept.append(finding)
    return kept
