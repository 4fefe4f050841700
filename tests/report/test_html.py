"""The HTML report: self-contained, findings ranked by severity, one plot per target on an axis that shows
the band that matters, every finding marked on its tensor with labels that do not collide -- checked on
the page's geometry and, in headless Chromium, on what it renders."""

from __future__ import annotations

import math
import os
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest

from nanlint.findings import Evidence, Finding, GraphLocation, GraphResult, PythonSource, Severity, TensorProfile
from nanlint.report import ReportOptions, Run
from nanlint.report.html import (
    LIMIT_COLOR,
    OBSERVED_COLOR,
    SEVERITY_COLOR,
    STATIC_COLOR,
    Axis,
    Marker,
    label_box,
    place_labels,
    render,
)

FP16, FP32 = ("float16", 65504.0), ("float32", 3.4028234663852886e38)
SVG = "{http://www.w3.org/2000/svg}"


def finding(code, severity, target, tensor, node=None, margin=None, source=None, message="m") -> Finding:
    loc = GraphLocation("model.onnx", target, node, "MatMul" if node else None, tensor, source)
    return Finding(code, "name", message, severity, loc, evidence=Evidence("sampled", margin=margin))


def sample_run(findings=None) -> Run:
    if findings is None:
        findings = [
            Finding(
                "NAN601",
                "activation-overflow",
                "can exceed fp16 <max> & overflow",
                Severity.error,
                GraphLocation("model.onnx", "cuda-fp16", "/ffn/Mul", "Mul", "t30"),
                evidence=Evidence("sampled", bound=(-1e6, 1e6), observed=(-7e4, 9e4), margin=3.0),
            ),
            Finding(
                "NAN799",
                "unsupported-op",
                "op X is not bounded",
                Severity.info,
                GraphLocation("model.onnx", "cuda-fp16", None, "X", "x_out"),
                evidence=Evidence("static", bound=(-math.inf, math.inf)),
            ),
            finding("NAN602", Severity.warning, "cpu", "t12"),
        ]
    profile = [
        TensorProfile(f"t{i}", f"/layer{i}/MatMul", "MatMul", (-(2.0 ** (i / 2)), 2.0 ** (i / 2)), (-(1.4**i), 1.4**i))
        for i in range(40)
    ]
    profile.append(TensorProfile("x_out", None, "X", (-math.inf, math.inf), None))
    result = GraphResult("model.onnx", ("cuda-fp16", "cpu"), findings, {}, profile, {"cuda-fp16": FP16, "cpu": FP32})
    return Run(command="graph", findings=findings, checked=1, graphs=[result])


def plots(page: str) -> list[ET.Element]:
    return [ET.fromstring(svg) for svg in re.findall(r"<svg .*?</svg>", page, re.S)]


def test_page_is_self_contained_and_escapes_text():
    page = render(sample_run(), ReportOptions())
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"(src|href)=\"(https?:)?//", page) and "<script" not in page
    assert "can exceed fp16 &lt;max&gt; &amp; overflow" in page


def test_findings_are_ranked_by_severity_across_targets():
    findings = [
        finding("NAN602", Severity.info, "cuda-fp16", "t1"),
        finding("NAN504", Severity.warning, "cuda-fp16", "t2", margin=1.0),
        finding("NAN601", Severity.error, "cpu", "t3", margin=0.5),
        finding("NAN601", Severity.warning, "cuda-fp16", "t4", margin=7.0),
        finding("NAN601", Severity.error, "cuda-fp16", "t5", margin=2.0),
    ]
    page = render(sample_run(findings), ReportOptions())
    rows = re.findall(r'<tr id="m0-f\d+"><td class="(\w+)">.*?<code>(t\d)</code>', page)
    assert rows == [("error", "t5"), ("error", "t3"), ("warning", "t4"), ("warning", "t2"), ("info", "t1")]


def test_one_plot_per_target_with_its_own_range():
    page = render(sample_run(), ReportOptions())
    fp16, cpu = plots(page)
    texts = [t.text for t in fp16.iter(f"{SVG}text")]
    assert "float16 max" in texts and "65504" in texts and "float32 max" not in texts
    [limit] = [e for e in fp16.iter(f"{SVG}line") if e.get("class") == "limit"]
    assert limit.get("y1") == limit.get("y2")
    assert [e for e in cpu.iter(f"{SVG}line") if e.get("class") == "limit"]  # an unbounded tensor reaches it
    assert [e for e in cpu.iter(f"{SVG}rect") if e.get("class") == "gap"]  # the axis is cut below 2^128
    bounded = sample_run()
    bounded.graphs[0].profile.pop()  # without the unbounded tensor: the float32 limit is not on the axis
    page = render(bounded, ReportOptions())
    assert not [e for e in plots(page)[1].iter(f"{SVG}line") if e.get("class") == "limit"]
    assert "the float32 limit (2^128) lies far above every tensor here" in page


def point_x(svg: ET.Element, tensor: str) -> float:
    for element in svg.iter():
        title = element.find(f"{SVG}title")
        if element.get("class") in ("point", "clipped") and title is not None and f"tensor {tensor}\n" in title.text:
            if element.tag == f"{SVG}circle":
                return float(element.get("cx"))
            if element.tag == f"{SVG}rect":
                return float(element.get("x")) + 3
            return float(re.search(r"L([\d.]+),[\d.]+ Z", element.get("d")).group(1))
    raise AssertionError(f"no point for {tensor}")


def test_each_finding_is_marked_on_its_tensor():
    run = sample_run()
    run.findings.append(finding("NAN701", Severity.error, "cuda-fp16", "weight"))  # a constant: no point to mark
    page = render(run, ReportOptions())
    fp16, cpu = plots(page)
    marks = [e for e in fp16.iter(f"{SVG}line") if e.get("class") == "finding"]
    assert [float(m.get("x1")) for m in marks] == [
        pytest.approx(point_x(fp16, tensor), abs=0.1) for tensor in ("t30", "x_out")
    ]
    assert [m.get("stroke") for m in marks] == [SEVERITY_COLOR[Severity.error], SEVERITY_COLOR[Severity.info]]
    assert [t.text for t in fp16.iter(f"{SVG}text") if t.get("class") == "label"] == ["NAN601", "NAN799"]
    assert "1 finding on constants or without a plotted tensor" in page
    [cpu_mark] = [e for e in cpu.iter(f"{SVG}line") if e.get("class") == "finding"]
    assert float(cpu_mark.get("x1")) == pytest.approx(point_x(cpu, "t12"), abs=0.1)
    assert '<a href="#m0-f1"><text class="label"' in page  # the label leads to the finding's table row
    assert '<tr id="m0-f1"><td class="error">error</td><td>NAN601<' in page


def test_the_axis_shows_the_band_that_matters():
    """fp16: up to a little beyond 2^16, not the -30..132 of every float32 exponent."""
    axis = Axis.fit([-3.0, 2.0, 10.0, 17.5, 60.0, math.inf], math.log2(65504))
    assert (axis.low, axis.high, axis.gap) == (-3, pytest.approx(20.0, abs=0.01), None) and axis.shows_limit()
    assert axis.fraction(60.0) == 1.0  # beyond the axis: drawn on its edge
    quiet = Axis.fit([-3.0, 2.0, 12.0], 128.0)  # a float32 target, far from its limit
    assert (quiet.low, quiet.high, quiet.shows_limit()) == (-3, 14, False)
    masked = Axis.fit([-3.0, 2.0, 12.0, 127.99], 128.0)  # one mask constant at the float32 max
    assert masked.gap == (14, 125) and masked.shows_limit()
    assert masked.fraction(12.0) < masked.fraction(14.0) < masked.fraction(125.0) < masked.fraction(128.0)
    assert masked.fraction(128.0) - masked.fraction(125.0) > 0.1  # the part above the cut is legible
    ticks = masked.ticks(300)
    assert 0 in ticks and 128 in ticks and not any(14 < t < 125 for t in ticks)


def test_labels_never_overlap():
    """A cluster of findings on neighbouring tensors: labels go to further rows instead of overlapping; past
    the last row a marker keeps its line and hover text but no label."""
    spread = [Marker(100 + 12 * i, f"NAN60{i % 3}", "#000", "", "a") for i in range(12)]
    rows = place_labels(spread)
    assert sorted(rows) == list(range(12)) and max(rows.values()) == 4
    assert_apart(spread, rows)
    crowded = [Marker(100 + 2 * i, "NAN601", "#000", "", "a") for i in range(12)]
    rows = place_labels(crowded)
    assert sorted(rows) == list(range(6)) and sorted(rows.values()) == list(range(6))
    assert_apart(crowded, rows)


def assert_apart(markers, rows):
    for a in rows:
        for b in rows:
            if a < b and rows[a] == rows[b]:
                (start_a, end_a), (start_b, end_b) = label_box(markers[a]), label_box(markers[b])
                assert end_a + 4 <= start_b or end_b + 4 <= start_a


def many_findings_run() -> Run:
    findings = [finding(f"NAN60{i % 3}", Severity(1 + i % 3), "cuda-fp16", f"t{20 + i}") for i in range(10)]
    return sample_run(findings)


def test_source_is_linked_when_the_file_is_here(tmp_path, monkeypatch):
    (tmp_path / "net.py").write_text("x = 1\n")
    monkeypatch.chdir(tmp_path)
    here = finding("NAN601", Severity.error, "cuda-fp16", "t3", source=PythonSource("net.py", 1, "encoder"))
    gone = finding("NAN601", Severity.error, "cuda-fp16", "t4", source=PythonSource("/gone/net.py", 7, None))
    only_module = finding("NAN601", Severity.error, "cuda-fp16", "t5", source=PythonSource(None, None, "block.0"))
    page = render(sample_run([here, gone, only_module]), ReportOptions())
    assert f'<a href="{(tmp_path / "net.py").as_uri()}">net.py:1</a>' in page
    assert "<td>/gone/net.py:7</td>" in page and "<td><span class='note'>block.0</span></td>" in page


def test_check_runs_have_no_html_report():
    with pytest.raises(ValueError, match="graph"):
        render(Run(command="check", findings=[]), ReportOptions())


# --- in headless Chromium -------------------------------------------------------------------------------


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Rows of RGB(A) pixels of a non-interlaced 8-bit PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    idat = b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IDAT":
            idat += body
        else:
            chunks[kind] = body
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8 and color in (2, 6)
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for r in range(height):
        kind, line = raw[r * (stride + 1)], bytearray(raw[r * (stride + 1) + 1 : (r + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = previous[i], previous[i - channels] if i >= channels else 0
            p = a + b - c
            predictor = (
                a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else (b if abs(p - b) <= abs(p - c) else c)
            )
            line[i] = (line[i] + (0, a, b, (a + b) // 2, predictor)[kind]) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, channels, rows


def _count_color(rows, channels: int, hex_color: str) -> int:
    target = bytes(int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return sum(row[i : i + 3] == target for row in rows for i in range(0, len(row), channels))


BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
needs_browser = pytest.mark.skipif(
    BROWSER is None and not os.environ.get("NANLINT_REQUIRE_BROWSER"),
    reason="no Chromium on this machine (CI installs it and sets NANLINT_REQUIRE_BROWSER)",
)


def chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess:
    assert BROWSER, "NANLINT_REQUIRE_BROWSER is set but no Chromium was found"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    flags += ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
    return subprocess.run(
        [BROWSER, *flags, f"--user-data-dir={tmp_path / 'profile'}", *args, page.as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )


@needs_browser
def test_plot_renders_in_headless_chromium(tmp_path: Path):
    page = tmp_path / "report.html"
    page.write_text(render(sample_run(), ReportOptions()))
    shot = tmp_path / "shot.png"
    chromium(tmp_path, page, "--window-size=1200,2200", f"--screenshot={shot}")
    width, channels, rows = _png_pixels(shot.read_bytes())
    assert width == 1200
    assert _count_color(rows, channels, STATIC_COLOR) > 200  # the static squares are drawn
    assert _count_color(rows, channels, OBSERVED_COLOR) > 200  # and the observed points
    assert _count_color(rows, channels, LIMIT_COLOR) > 100  # the float16 limit
    assert _count_color(rows, channels, SEVERITY_COLOR[Severity.error]) > 100  # the finding's mark and label


MEASURE = """<script>
const boxes = [...document.querySelectorAll("svg")].map(svg =>
  [...svg.querySelectorAll("text")].map(t => { const b = t.getBoundingClientRect(); return [b.x, b.y, b.width, b.height]; }));
const overlaps = boxes.flatMap(texts => texts.flatMap((a, i) => texts.slice(i + 1).filter(b =>
  a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3]).map(b => [a, b])));
document.body.setAttribute("data-texts", boxes.flat().length);
document.body.setAttribute("data-overlaps", JSON.stringify(overlaps));
</script></body>"""


@needs_browser
def test_no_two_texts_of_a_plot_overlap_as_chromium_lays_them_out(tmp_path: Path):
    """Labels, ticks and the limit's caption, measured in the rendered page (a test copy of the page gets
    the measuring script; the report itself has none)."""
    page = tmp_path / "report.html"
    page.write_text(render(many_findings_run(), ReportOptions()).replace("</body>", MEASURE))
    dom = chromium(tmp_path, page, "--window-size=1200,2200", "--dump-dom").stdout
    texts = int(re.search(r'data-texts="(\d+)"', dom).group(1))
    overlaps = re.search(r'data-overlaps="([^"]*)"', dom).group(1)
    assert texts > 30 and overlaps == "[]"
