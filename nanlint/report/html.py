"""A self-contained HTML page for `nanlint graph`: summary, ranked findings, and a range plot.

The plot shows log2 of max |x| per tensor along the topological order -- the static bound
and the observed samples side by side -- against the fp16, bf16 and fp32 limits. Hover
texts are SVG <title> elements: no script, no network, no external asset.
"""

from __future__ import annotations

import math
from html import escape

from nanlint.findings import Finding, GraphLocation, GraphResult, Severity, TensorProfile
from nanlint.report.run import ReportOptions, Run, severity_counts

LIMITS = (
    ("fp16 max", 65504.0, "#d62728"),
    ("bf16 max", 3.3895313892515355e38, "#9467bd"),
    ("fp32 max", 3.4028234663852886e38, "#7f7f7f"),
)
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 1100, 420, 60, 110, 20, 40
STATIC_COLOR, OBSERVED_COLOR = "#ff7f0e", "#1f77b4"

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.error { color: #b00020; font-weight: 600; } td.warning { color: #a06000; font-weight: 600; }
td.info { color: #225588; }
svg text { font: 11px system-ui, sans-serif; fill: #444; }
.legend span { display: inline-block; margin-right: 18px; }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: middle; margin-right: 4px; }
"""


def render(run: Run, options: ReportOptions) -> str:
    if run.command != "graph":
        raise ValueError("the html format is for `nanlint graph` reports")
    body = "".join(_model_section(result) for result in run.graphs)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>nanlint graph report</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _model_section(result: GraphResult) -> str:
    return (
        f"<h1>nanlint graph: {escape(result.model)}</h1>"
        f"{_summary(result)}<h2>Findings</h2>{_findings(result.findings)}"
        f"<h2>Ranges along the graph</h2>{_plot(result.profile)}"
    )


def _summary(result: GraphResult) -> str:
    rows = []
    for target in result.targets:
        counts = severity_counts([f for f in result.findings if f.location.target == target])
        cells = "".join(f"<td>{counts[s]}</td>" for s in (Severity.error, Severity.warning, Severity.info))
        rows.append(f"<tr><td>{escape(target)}</td>{cells}</tr>")
    return "<table><tr><th>target</th><th>errors</th><th>warnings</th><th>info</th></tr>" + "".join(rows) + "</table>"


def _number(value: float | None) -> str:
    if value is None:
        return "unbounded"
    return f"{value:.4g}" if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def _pair(values) -> str:
    return "" if values is None else f"[{_number(values[0])}, {_number(values[1])}]"


def _findings(findings: list[Finding]) -> str:
    if not findings:
        return "<p>No findings.</p>"
    head = (
        "<tr><th>severity</th><th>code</th><th>target</th><th>node</th><th>tensor</th><th>evidence</th>"
        "<th>bound</th><th>observed</th><th>message</th></tr>"
    )
    rows = []
    for finding in sorted(findings, key=Finding.sort_key):
        loc = finding.location
        assert isinstance(loc, GraphLocation)
        evidence = finding.evidence
        node = f"{loc.node or ''}" + (f" ({loc.op_type})" if loc.op_type else "")
        rows.append(
            f'<tr><td class="{finding.severity.name}">{finding.severity.name}</td>'
            f"<td>{finding.code} {escape(finding.name)}</td><td>{escape(loc.target)}</td><td>{escape(node)}</td>"
            f"<td>{escape(loc.tensor or '')}</td><td>{evidence.kind if evidence else 'static'}</td>"
            f"<td>{_pair(evidence.bound) if evidence else ''}</td>"
            f"<td>{_pair(evidence.observed) if evidence else ''}</td><td>{escape(finding.message)}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _log2_abs_max(values) -> float | None:
    if values is None:
        return None
    magnitude = max(abs(values[0]), abs(values[1]))
    if math.isnan(magnitude):
        return None
    return math.inf if math.isinf(magnitude) else math.log2(max(magnitude, 2.0**-30))


def _plot(profile: list[TensorProfile]) -> str:
    if not profile:
        return "<p>No tensor ranges (nothing analysed).</p>"
    static = [_log2_abs_max(p.bound) for p in profile]
    observed = [_log2_abs_max(p.observed) for p in profile]
    finite = [v for v in static + observed if v is not None and math.isfinite(v)]
    low = math.floor(min([-10.0, *finite]))
    high = 132.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * i / max(len(profile) - 1, 1))

    def y(v: float) -> float:
        v = min(v, high)
        return TOP + plot_h * (1 - (v - low) / (high - low))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="log2 max |x| per tensor">',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ccc"/>',
    ]
    parts += _axes(low, high, y, plot_w, len(profile))
    for offset, (label, limit, color) in enumerate(LIMITS):
        level = y(math.log2(limit))
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{level:.1f}" y2="{level:.1f}" '
            f'stroke="{color}" stroke-dasharray="6 4"/>'
        )
        parts.append(
            f'<text x="{LEFT + plot_w + 6}" y="{level + 4 + 12 * offset - 12 * (offset > 0):.1f}" '
            f'fill="{color}">{label}</text>'
        )
    parts += _series(profile, static, x, y, STATIC_COLOR, "static bound", square=True)
    parts += _series(profile, observed, x, y, OBSERVED_COLOR, "observed", square=False)
    parts.append("</svg>")
    legend = (
        f'<p class="legend"><span><i class="swatch" style="background:{STATIC_COLOR}"></i>static bound'
        f'</span><span><i class="swatch" style="background:{OBSERVED_COLOR}"></i>observed (samples)</span>'
        "<span>hover a point for the node</span></p>"
    )
    return "".join(parts) + legend


def _axes(low: float, high: float, y, plot_w: float, count: int) -> list[str]:
    parts = []
    step = 16
    for tick in range(int(math.ceil(low / step) * step), int(high) + 1, step):
        parts.append(f'<line x1="{LEFT - 4}" x2="{LEFT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#888"/>')
        parts.append(f'<text x="{LEFT - 8}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick}</text>')
    parts.append(
        f'<text x="14" y="{TOP + 10}" transform="rotate(-90 14 {TOP + 10})" text-anchor="end">log2 max |x|</text>'
    )
    parts.append(
        f'<text x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 8}" text-anchor="middle">'
        f"tensors in topological order ({count})</text>"
    )
    return parts


def _series(profile, values, x, y, color: str, label: str, square: bool) -> list[str]:
    parts = []
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(points) > 1:
        path = " ".join(f"{x(i):.1f},{y(v if math.isfinite(v) else 1e9):.1f}" for i, v in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-opacity="0.5"/>')
    for i, v in points:
        entry = profile[i]
        where = f"{entry.node or '(unnamed)'}" + (f" ({entry.op_type})" if entry.op_type else "")
        bound = entry.bound if label == "static bound" else entry.observed
        title = escape(f"{where}\ntensor {entry.tensor}\n{label}: {_pair(bound)}")
        cx, cy = x(i), y(v if math.isfinite(v) else 1e9)
        shape = (
            f'<rect x="{cx - 3:.1f}" y="{cy - 3:.1f}" width="6" height="6" fill="{color}">'
            if square
            else f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{color}">'
        )
        parts.append(f"{shape}<title>{title}</title>{'</rect>' if square else '</circle>'}")
    return parts
