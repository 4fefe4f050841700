"""The HTML report: self-contained, every finding and tensor on the page, and a plot that renders in Chromium."""

from __future__ import annotations

import math
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from nanlint.findings import Evidence, Finding, GraphLocation, GraphResult, Severity, TensorProfile
from nanlint.report import ReportOptions, Run
from nanlint.report.html import OBSERVED_COLOR, STATIC_COLOR, render


def sample_run() -> Run:
    loc = GraphLocation("model.onnx", "cuda-fp16", "/ffn/Mul", "Mul", "ffn_out")
    findings = [
        Finding(
            "NAN601",
            "activation-overflow",
            "can exceed fp16 <max> & overflow",
            Severity.error,
            loc,
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
    ]
    profile = [
        TensorProfile(f"t{i}", f"/layer{i}/MatMul", "MatMul", (-(2.0**i), 2.0**i), (-(1.5**i), 1.5**i))
        for i in range(40)
    ]
    profile.append(TensorProfile("x_out", None, "X", (-math.inf, math.inf), None))
    result = GraphResult("model.onnx", ("cuda-fp16",), findings, {}, profile)
    return Run(command="graph", findings=findings, checked=1, graphs=[result])


def test_page_is_self_contained_and_escapes_text():
    page = render(sample_run(), ReportOptions())
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"(src|href)=\"(https?:)?//", page) and "<script" not in page
    assert "can exceed fp16 &lt;max&gt; &amp; overflow" in page
    assert page.count("<tr><td class=") == 2
    assert page.index("NAN601") < page.index("NAN799")  # ranked: errors first


def test_plot_has_a_point_per_tensor_with_hover_text_and_the_limits():
    page = render(sample_run(), ReportOptions())
    assert page.count("<rect x=") - 1 == 41  # static bound squares (+ the plot background)
    assert page.count("<circle") == 40  # observed points (the last tensor was never sampled)
    assert "<title>/layer7/MatMul (MatMul)\ntensor t7\nstatic bound: [-128, 128]</title>" in page
    for label in ("fp16 max", "bf16 max", "fp32 max"):
        assert label in page


def test_check_runs_have_no_html_report():
    with pytest.raises(ValueError, match="graph"):
        render(Run(command="check", findings=[]), ReportOptions())


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


@pytest.mark.skipif(
    BROWSER is None and not os.environ.get("NANLINT_REQUIRE_BROWSER"),
    reason="no Chromium on this machine (CI installs it and sets NANLINT_REQUIRE_BROWSER)",
)
def test_plot_renders_in_headless_chromium(tmp_path: Path):
    assert BROWSER, "NANLINT_REQUIRE_BROWSER is set but no Chromium was found"
    page = tmp_path / "report.html"
    page.write_text(render(sample_run(), ReportOptions()))
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            BROWSER,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--hide-scrollbars",
            "--window-size=1200,1000",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    width, channels, rows = _png_pixels(shot.read_bytes())
    assert width == 1200
    assert _count_color(rows, channels, STATIC_COLOR) > 200  # the static squares are drawn
    assert _count_color(rows, channels, OBSERVED_COLOR) > 200  # and the observed points
