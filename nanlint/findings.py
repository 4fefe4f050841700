"""The result types both passes produce: Finding (one hazard), and a graph model's GraphResult."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace


class Severity(enum.IntEnum):
    """Ordered so that `severity >= fail_on` decides the exit code."""

    info = 1
    warning = 2
    error = 3

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.lower()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r} (expected error, warning or info)") from None

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Edit:
    """Replace [line:column, end_line:end_column) with `content`. 1-based, end exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int
    content: str


@dataclass(frozen=True)
class Fix:
    applicability: str  # "safe" | "unsafe"
    message: str
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class SourceLocation:
    """A span in a source file; `cell` is the 1-based notebook cell, lines counted inside it."""

    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    cell: int | None = None


@dataclass(frozen=True)
class PythonSource:
    """The Python line that produced a graph node, as the exporter recorded it (`path` and `line` are
    None when the exporter recorded only the module path, as torch's TorchScript exporter does)."""

    path: str | None
    line: int | None
    module: str | None = None  # the module path inside the model (`encoder.layer.0.attention`)


@dataclass(frozen=True)
class GraphLocation:
    """A node or tensor of an ONNX model, judged for one target profile."""

    model: str
    target: str
    node: str | None
    op_type: str | None
    tensor: str | None
    source: PythonSource | None = None


@dataclass(frozen=True)
class Evidence:
    """What a graph finding rests on; `margin` ranks findings (how far past the limit)."""

    kind: str  # "static" | "sampled" | "witness"
    bound: tuple[float, float] | None = None
    observed: tuple[float, float] | None = None
    margin: float | None = None
    depth: int | None = None
    witness: str | None = None
    # NAN601/NAN701: tensors downstream beyond the range because of this root (until a normalisation)
    cascade: tuple[str, ...] = ()


Location = SourceLocation | GraphLocation


@dataclass(frozen=True)
class Finding:
    code: str
    name: str
    message: str
    severity: Severity
    location: Location
    fix: Fix | None = None
    evidence: Evidence | None = None

    @property
    def is_graph(self) -> bool:
        return isinstance(self.location, GraphLocation)

    @property
    def source_location(self) -> SourceLocation:
        """`location`, for code that handles source findings only."""
        if not isinstance(self.location, SourceLocation):
            raise TypeError(f"{self.code} at {self.location} is not a source finding")
        return self.location

    @property
    def graph_location(self) -> GraphLocation:
        """`location`, for code that handles graph findings only."""
        if not isinstance(self.location, GraphLocation):
            raise TypeError(f"{self.code} at {self.location} is not a graph finding")
        return self.location

    def with_severity(self, severity: Severity) -> Finding:
        return replace(self, severity=severity)

    def sort_key(self) -> tuple:
        loc = self.location
        if isinstance(loc, SourceLocation):
            return (0, loc.path, loc.cell or 0, loc.line, loc.column, self.code)
        margin = self.evidence.margin if self.evidence and self.evidence.margin is not None else 0.0
        return (1, loc.model, loc.target, -int(self.severity), -margin, loc.node or "", loc.tensor or "", self.code)


@dataclass(frozen=True)
class TensorProfile:
    """One tensor along the topological order: its static bound and what sampling observed."""

    tensor: str
    node: str | None
    op_type: str | None
    bound: tuple[float, float] | None = None
    observed: tuple[float, float] | None = None


@dataclass
class GraphResult:
    """One model's analysis: the findings plus what the JSON summary reports."""

    model: str
    targets: tuple[str, ...]
    findings: list[Finding]
    summary: dict = field(default_factory=dict)
    profile: list[TensorProfile] = field(default_factory=list)  # for the HTML report's plot
    ranges: dict[str, tuple[str, float]] = field(default_factory=dict)  # target -> (float dtype, its max)
