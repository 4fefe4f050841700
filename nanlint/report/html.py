"""A self-contained HTML page for `nanlint graph`: summary, findings ranked by severity, a plot per target.

Each target's plot shows log2 of max |x| per tensor along the topological order -- the static
bound and the observed samples side by side -- against that target's range (the largest finite
value of the dtype it stores float tensors in). The y axis spans the data and the limit, not
every representable exponent, so that the band that matters is visible; values beyond the axis
are drawn on its edge as arrows. Every finding of the target is marked on its tensor and
labelled with its code; labels are set in rows so that none overlaps another. Hover texts are
SVG <title> elements: no script, no network, no external asset.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from html import escape
from pathlib import Path

from nanlint.findings import Finding, GraphLocation, GraphResult, Severity, TensorProfile
from nanlint.report.run import ReportOptions, Run, severity_counts

WIDTH, LEFT, RIGHT, PLOT_HEIGHT, BOTTOM = 1100, 64, 96, 300, 40
LABEL_ROW, LABEL_ROWS, CHAR_WIDTH = 15, 6, 8.6  # label rows above the plot; bold 11px text: <= 8.6px a char
STATIC_COLOR, OBSERVED_COLOR, LIMIT_COLOR = "#ff7f0e", "#1f77b4", "#d62728"
SEVERITY_COLOR = {Severity.error: "#b00020", Severity.warning: "#a06000", Severity.info: "#225588"}
TINY = 2.0**-30  # |x| below this is drawn at log2 = -30

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1160px; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; } h3 { font-size: 15px; margin: 22px 0 4px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.error { color: #b00020; font-weight: 600; } td.warning { color: #a06000; font-weight: 600; }
td.info { color: #225588; }
tr:target { background: #fff4c2; }
code { font-size: 13px; } th.message { min-width: 340px; }
svg text { font: 11px system-ui, sans-serif; fill: #444; }
svg a text { font-weight: 600; }
.legend span { display: inline-block; margin-right: 18px; }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: middle; margin-right: 4px; }
.note { color: #666; }
"""


def render(run: Run, options: ReportOptions) -> str:
    if run.command != "graph":
        raise ValueError("the html format is for `nanlint graph` reports")
    body = "".join(_model_section(result, index) for index, result in enumerate(run.graphs))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>nanlint graph report</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def ranked(findings: list[Finding], targets: tuple[str, ...]) -> list[Finding]:
    """Errors first, then warnings, then info; within a severity the furthest past its limit first."""
    order = {target: i for i, target in enumerate(targets)}

    def key(finding: Finding) -> tuple:
        loc = finding.location
        margin = finding.evidence.margin if finding.evidence and finding.evidence.margin is not None else 0.0
        target = loc.target if isinstance(loc, GraphLocation) else ""
        return (-int(finding.severity), -margin, order.get(target, len(order)), finding.sort_key())

    return sorted(findings, key=key)


def _on(target: str, findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if isinstance(f.location, GraphLocation) and f.location.target == target]


def _model_section(result: GraphResult, model_index: int) -> str:
    findings = ranked(result.findings, result.targets)
    anchors = {id(f): f"m{model_index}-f{i + 1}" for i, f in enumerate(findings)}
    plots = "".join(_target_section(result, target, _on(target, findings), anchors) for target in result.targets)
    return (
        f"<h1>nanlint graph: {escape(result.model)}</h1>"
        f"{_summary(result)}<h2>Findings</h2>{_findings(findings, anchors)}"
        f"<h2>Ranges along the graph</h2>{plots or '<p>No target.</p>'}"
    )


def _summary(result: GraphResult) -> str:
    rows = []
    for target in result.targets:
        counts = severity_counts(_on(target, result.findings))
        cells = "".join(f"<td>{counts[s]}</td>" for s in (Severity.error, Severity.warning, Severity.info))
        dtype = result.ranges.get(target)
        stored = f"{dtype[0]} (max {_number(dtype[1])})" if dtype else ""
        rows.append(f"<tr><td>{escape(target)}</td><td>{stored}</td>{cells}</tr>")
    table = (
        "<table><tr><th>target</th><th>float tensors stored as</th><th>errors</th><th>warnings</th><th>info</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    return table + _mixed(result.summary.get("mixed"))


def _mixed(written: dict | None) -> str:
    if not written:
        return ""
    verdict = (
        "NaN/Inf where the fp32 model is finite: " + escape("; ".join(written["nonfinite_outputs"]))
        if written.get("nonfinite_outputs")
        else f"outputs finite, max relative error {written.get('max_relative_error', 0):.2g}"
    )
    checked = " and ".join(written.get("checked") or []) or "no inputs"
    return (
        f"<p>Mixed-precision model written to <code>{escape(str(written.get('path', '')))}</code> for "
        f"{escape(written['target'])}: {written['nodes_in_fp32']} of {written.get('float_nodes', '?')} nodes kept "
        f"in fp32; run on {escape(checked)}: {verdict}.</p>"
    )


def _number(value: float | None) -> str:
    if value is None:
        return "unbounded"
    if not math.isfinite(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.6g}" if value == 0 or 1e-4 <= abs(value) < 1e6 else f"{value:.4g}"


def _pair(values) -> str:
    return "" if values is None else f"[{_number(values[0])}, {_number(values[1])}]"


def _source_cell(loc: GraphLocation) -> str:
    source = loc.source
    if source is None:
        return ""
    module = f"<br><span class='note'>{escape(source.module)}</span>" if source.module else ""
    if source.path is None:
        return module.removeprefix("<br>")
    where = source.path + (f":{source.line}" if source.line is not None else "")
    local = Path(source.path)
    if local.is_file():
        return f'<a href="{local.resolve().as_uri()}">{escape(where)}</a>{module}'
    return f"{escape(where)}{module}"


def _findings(findings: list[Finding], anchors: dict[int, str]) -> str:
    if not findings:
        return "<p>No findings.</p>"
    head = (
        "<tr><th>severity</th><th>code</th><th>target</th><th>where</th><th>source</th><th>evidence</th>"
        '<th class="message">message</th></tr>'
    )
    rows = []
    for finding in findings:
        loc = finding.location
        assert isinstance(loc, GraphLocation)
        evidence = finding.evidence
        node = escape(f"{loc.node or ''}" + (f" ({loc.op_type})" if loc.op_type else ""))
        tensor = f"{'<br>' if node else ''}tensor <code>{escape(loc.tensor)}</code>" if loc.tensor else ""
        facts = [evidence.kind if evidence else "static"]
        if evidence and evidence.bound is not None:
            facts.append(f"bound {_pair(evidence.bound)}")
        if evidence and evidence.observed is not None:
            facts.append(f"observed {_pair(evidence.observed)}")
        rows.append(
            f'<tr id="{anchors[id(finding)]}"><td class="{finding.severity.name}">{finding.severity.name}</td>'
            f"<td>{finding.code}<br><span class='note'>{escape(finding.name)}</span></td><td>{escape(loc.target)}</td>"
            f"<td>{node}{tensor}</td><td>{_source_cell(loc)}</td><td>{'<br>'.join(facts)}</td>"
            f"<td>{escape(finding.message)}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


# --- one plot per target -------------------------------------------------------------------------------


def log2_abs_max(values) -> float | None:
    if values is None:
        return None
    magnitude = max(abs(values[0]), abs(values[1]))
    if math.isnan(magnitude):
        return None
    return math.inf if math.isinf(magnitude) else math.log2(max(magnitude, TINY))


@dataclass(frozen=True)
class Axis:
    """The y axis: log2 max |x| from `low` to `high`, skipping the empty stretch `gap` (below, above) when
    the data has one wider than GAP -- e.g. a mask constant at 2^128 above activations around 2^4."""

    low: float
    high: float
    limit: float
    gap: tuple[float, float] | None = None

    @classmethod
    def fit(cls, values: list[float | None], limit: float) -> Axis:
        """Span the data; reach up to the limit (and a little beyond) when the data comes within 2^16 of it,
        else stop a little above the data: a limit far above is noted instead of squashing the data."""
        finite = sorted(v for v in values if v is not None and math.isfinite(v))
        if not finite:
            return cls(limit - 24, limit + 4, limit)
        near = finite[-1] >= limit - 16 or math.inf in values
        high = limit + 4 if near else math.ceil(finite[-1]) + 2
        shown = sorted([v for v in finite if v <= high] + ([limit] if near else []))
        width, below, above = max(((b - a, a, b) for a, b in itertools.pairwise(shown)), default=(0.0, 0.0, 0.0))
        gap = (math.ceil(below) + 2, math.floor(above) - 2) if width > GAP else None
        bottom = gap[0] if gap else high
        return cls(max(math.floor(finite[0]), bottom - SPAN), high, limit, gap)

    def fraction(self, value: float) -> float:
        """0 at the bottom of the plot, 1 at the top; the gap takes GAP_SHARE of the height, the part above
        it at least UPPER_SHARE."""
        value = min(max(value, self.low), self.high)
        if self.gap is None:
            return (value - self.low) / (self.high - self.low)
        below, above = self.gap
        upper = max((self.high - above) / (self.high - above + below - self.low), UPPER_SHARE) * (1 - GAP_SHARE)
        lower = 1 - GAP_SHARE - upper
        if value <= below:
            return lower * (value - self.low) / (below - self.low)
        if value >= above:
            return lower + GAP_SHARE + upper * (value - above) / (self.high - above)
        return lower + GAP_SHARE * (value - below) / (above - below)

    def shows_limit(self) -> bool:
        return self.low <= self.limit <= self.high and not (self.gap and self.gap[0] < self.limit < self.gap[1])

    def ticks(self, height: float) -> list[int]:
        """Powers of two to label, at least TICK_SPACING pixels apart on a plot `height` pixels high."""
        spans = [(self.low, self.gap[0]), (self.gap[1], self.high)] if self.gap else [(self.low, self.high)]
        ticks: list[int] = []
        for low, high in spans:
            pixels_per_unit = height * (self.fraction(high) - self.fraction(low)) / max(high - low, 1e-9)
            step = next((s for s in (1, 2, 4, 8, 16, 32, 64) if s * pixels_per_unit >= TICK_SPACING), 128)
            ticks += range(math.ceil(low / step) * step, math.floor(high) + 1, step)
        return ticks


GAP, GAP_SHARE, UPPER_SHARE, SPAN = 32, 0.06, 0.22, 40  # an empty stretch wider than 2^32 is cut out; 2^40 below it
TICK_SPACING = 18


def _target_section(result: GraphResult, target: str, findings: list[Finding], anchors: dict[int, str]) -> str:
    dtype, maximum = result.ranges.get(target, ("float32", 3.4028234663852886e38))
    title = f"<h3>{escape(target)}: float tensors stored as {dtype}, largest finite value {_number(maximum)}</h3>"
    return title + _plot(result.profile, findings, dtype, maximum, anchors)


@dataclass(frozen=True)
class Marker:
    x: float
    text: str
    color: str
    title: str
    anchor: str


def _plot(
    profile: list[TensorProfile], findings: list[Finding], dtype: str, maximum: float, anchors: dict[int, str]
) -> str:
    if not profile:
        return "<p>No tensor ranges (nothing analysed).</p>"
    static = [log2_abs_max(p.bound) for p in profile]
    observed = [log2_abs_max(p.observed) for p in profile]
    axis = Axis.fit(static + observed, math.log2(maximum))
    plot_w = WIDTH - LEFT - RIGHT
    index = {p.tensor: i for i, p in enumerate(profile)}

    def x(i: int) -> float:
        return LEFT + (plot_w * i / max(len(profile) - 1, 1))

    markers, unplotted = _markers(findings, index, x, anchors)
    rows = place_labels(markers)
    top = 8 + LABEL_ROW * (max(rows.values(), default=-1) + 1) + 6

    def y(v: float) -> float:
        return top + PLOT_HEIGHT * (1 - axis.fraction(v))

    height = top + PLOT_HEIGHT + BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-label="log2 max |x| per tensor against the {dtype} range">',
        f'<rect class="frame" x="{LEFT}" y="{top}" width="{plot_w}" height="{PLOT_HEIGHT}" fill="#fafafa" stroke="#ccc"/>',
    ]
    parts += _axes(axis, y, top, height, len(profile))  # grid lines first: the limit is drawn over them
    parts += _limit(axis, y, plot_w, dtype, maximum)
    parts += _finding_marks(markers, rows, top)
    parts += _series(profile, static, x, y, axis, STATIC_COLOR, "static bound", square=True)
    parts += _series(profile, observed, x, y, axis, OBSERVED_COLOR, "observed", square=False)
    parts.append("</svg>")
    return "".join(parts) + _legend(unplotted, axis, dtype)


def _markers(findings: list[Finding], index: dict[str, int], x, anchors) -> tuple[list[Marker], int]:
    """One label per tensor with findings (codes joined), coloured by the most severe; and how many
    findings name no plotted tensor (constants, unsupported ops without an output)."""
    by_tensor: dict[int, list[Finding]] = {}
    unplotted = 0
    for finding in findings:
        loc = finding.location
        position = index.get(loc.tensor or "") if isinstance(loc, GraphLocation) else None
        if position is None:
            unplotted += 1
            continue
        by_tensor.setdefault(position, []).append(finding)
    markers = []
    for position, group in sorted(by_tensor.items()):
        worst = max(group, key=lambda f: f.severity)
        codes = list(dict.fromkeys(f.code for f in group))
        title = "\n".join(f"{f.code} {f.severity.name}: {f.message}" for f in group)
        markers.append(Marker(x(position), " ".join(codes), SEVERITY_COLOR[worst.severity], title, anchors[id(worst)]))
    return markers, unplotted


def place_labels(markers: list[Marker]) -> dict[int, int]:
    """Row of each marker's label (by position in `markers`): the first row where it overlaps no other
    label, centred on its tensor; markers left without a row (more than LABEL_ROWS deep) get no label."""
    ends = [-math.inf] * LABEL_ROWS
    rows = {}
    for number, marker in sorted(enumerate(markers), key=lambda item: item[1].x):
        half = len(marker.text) * CHAR_WIDTH / 2
        start = max(marker.x - half, 0)
        for row in range(LABEL_ROWS):
            if start >= ends[row] + 4:
                rows[number] = row
                ends[row] = start + 2 * half
                break
    return rows


def label_box(marker: Marker) -> tuple[float, float]:
    """Horizontal extent of a marker's label as drawn (see place_labels)."""
    half = len(marker.text) * CHAR_WIDTH / 2
    start = max(marker.x - half, 0)
    return start, start + 2 * half


def _finding_marks(markers: list[Marker], rows: dict[int, int], top: float) -> list[str]:
    parts = []
    for number, marker in enumerate(markers):
        parts.append(
            f'<line class="finding" x1="{marker.x:.1f}" x2="{marker.x:.1f}" y1="{top:.1f}" y2="{top + PLOT_HEIGHT:.1f}" '
            f'stroke="{marker.color}" stroke-width="2" stroke-opacity="0.55"><title>{escape(marker.title)}</title></line>'
        )
        if number in rows:
            start, _ = label_box(marker)
            baseline = 8 + LABEL_ROW * rows[number] + 11
            parts.append(
                f'<a href="#{marker.anchor}"><text class="label" x="{start:.1f}" y="{baseline}" '
                f'fill="{marker.color}" style="fill:{marker.color}">{escape(marker.text)}'
                f"<title>{escape(marker.title)}</title></text></a>"
            )
    return parts


def _limit(axis: Axis, y, plot_w: float, dtype: str, maximum: float) -> list[str]:
    if not axis.shows_limit():
        return []
    level = round(y(axis.limit))  # on a pixel row: a crisp line
    return [
        f'<rect class="beyond" x="{LEFT}" y="{y(axis.high):.1f}" width="{plot_w}" height="{level - y(axis.high):.1f}" '
        f'fill="{LIMIT_COLOR}" fill-opacity="0.08"/>',
        f'<line class="limit" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{level:.1f}" y2="{level:.1f}" '
        f'stroke="{LIMIT_COLOR}" stroke-width="2" stroke-dasharray="6 4"/>',
        f'<text x="{LEFT + plot_w + 6}" y="{level - 2:.1f}" style="fill:{LIMIT_COLOR}">{dtype} max</text>',
        f'<text x="{LEFT + plot_w + 6}" y="{level + 11:.1f}" style="fill:{LIMIT_COLOR}">{_number(maximum)}</text>',
    ]


def _axes(axis: Axis, y, top: float, height: float, count: int) -> list[str]:
    parts = []
    if axis.gap is not None:  # the cut: a white band across the plot, zigzags on both edges
        upper, lower = y(axis.gap[1]), y(axis.gap[0])
        parts.append(
            f'<rect class="gap" x="{LEFT - 6}" y="{upper:.1f}" width="{WIDTH - LEFT - RIGHT + 12}" height="{lower - upper:.1f}" fill="#fff"/>'
        )
        for edge in (LEFT, WIDTH - RIGHT):
            zigzag = f"M{edge - 6},{upper:.1f} L{edge + 6},{upper + 4:.1f} M{edge - 6},{lower - 4:.1f} L{edge + 6},{lower:.1f}"
            parts.append(f'<path d="{zigzag}" stroke="#888" fill="none"/>')
    for tick in axis.ticks(PLOT_HEIGHT):
        level = y(tick)
        parts.append(f'<line x1="{LEFT - 4}" x2="{LEFT}" y1="{level:.1f}" y2="{level:.1f}" stroke="#888"/>')
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{level:.1f}" y2="{level:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{LEFT - 7}" y="{level + 4:.1f}" text-anchor="end">2^{tick}</text>')
    middle = top + PLOT_HEIGHT / 2
    parts.append(
        f'<text x="14" y="{middle:.0f}" transform="rotate(-90 14 {middle:.0f})" text-anchor="middle">max |x|</text>'
    )
    parts.append(
        f'<text x="{LEFT + (WIDTH - LEFT - RIGHT) / 2:.0f}" y="{height - 10:.0f}" text-anchor="middle">'
        f"tensors in topological order ({count})</text>"
    )
    return parts


def _series(profile, values, x, y, axis: Axis, color: str, label: str, square: bool) -> list[str]:
    parts = []
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(points) > 1:
        path = " ".join(f"{x(i):.1f},{y(v if math.isfinite(v) else axis.high):.1f}" for i, v in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-opacity="0.45"/>')
    for i, v in points:
        entry = profile[i]
        where = f"{entry.node or '(unnamed)'}" + (f" ({entry.op_type})" if entry.op_type else "")
        bound = entry.bound if square else entry.observed
        hover = f"{where}\ntensor {entry.tensor}\n{label}: {_pair(bound)}"
        title = f"<title>{escape(hover)}</title>"
        cx, cy = x(i), y(v if math.isfinite(v) else axis.high)
        if v > axis.high or v < axis.low:  # beyond the axis: an arrow on its edge, pointing out
            sign = -1 if v > axis.high else 1
            tip, base = cy + sign * 5, cy - sign * 3
            parts.append(
                f'<path class="clipped" d="M{cx - 4:.1f},{base:.1f} L{cx + 4:.1f},{base:.1f} L{cx:.1f},{tip:.1f} Z" '
                f'fill="{color}">{title}</path>'
            )
        elif square:
            parts.append(
                f'<rect class="point" x="{cx - 3:.1f}" y="{cy - 3:.1f}" width="6" height="6" fill="{color}">{title}</rect>'
            )
        else:
            parts.append(f'<circle class="point" cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{color}">{title}</circle>')
    return parts


def _legend(unplotted: int, axis: Axis, dtype: str) -> str:
    notes = []
    if not axis.shows_limit():
        notes.append(f"the {dtype} limit (2^{axis.limit:.0f}) lies far above every tensor here")
    if unplotted:
        notes.append(f"{unplotted} finding{'s' if unplotted > 1 else ''} on constants or without a plotted tensor")
    note = f"<span class='note'>{'; '.join(notes)}</span>" if notes else ""
    return (
        f'<p class="legend"><span><i class="swatch" style="background:{STATIC_COLOR}"></i>static bound</span>'
        f'<span><i class="swatch" style="background:{OBSERVED_COLOR}"></i>observed (samples)</span>'
        f'<span><i class="swatch" style="background:{SEVERITY_COLOR[Severity.error]}"></i>finding (click its code)</span>'
        f"<span>arrows: beyond the axis; hover a point for its node</span>{note}</p>"
    )
