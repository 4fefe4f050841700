"""The text report, byte for byte."""

from __future__ import annotations

import re

from nanlint.findings import Finding, GraphLocation, Severity, SourceLocation
from nanlint.report import ReportOptions, Run, text
from tests.report.samples import AWKWARD, COMPARISON, LOG_SOFTMAX, NOTEBOOK, graph_run, source_run

SOURCE_LINES = (
    "src/train.py:12:8: NAN112 error comparison with NaN is always False; use isnan() to test for NaN\n"
    "src/train.py:20:12: NAN102 warning [*] log of a softmax: -inf when a probability underflows to 0\n"
    "src/train.py:31:5: NAN104 warning log of `p`, which can be 0\n"
    "notebooks/explore.ipynb:cell 2:3:7: NAN113 info [*] log(1 + x) loses precision for small x; use log1p(x)\n"
)
SOURCE_SUMMARY = "Found 4 findings (1 error, 2 warnings, 1 info).\n[*] 2 fixable with the `--fix` option.\n"


def test_source_findings_plain():
    assert text.render(source_run(), ReportOptions()) == SOURCE_LINES + SOURCE_SUMMARY


def test_source_findings_in_colour():
    bold, reset, red, yellow, blue, cyan = "\x1b[1m", "\x1b[0m", "\x1b[31m", "\x1b[33m", "\x1b[34m", "\x1b[36m"
    expected = (
        f"{bold}src/train.py:12:8{reset}: {red}{bold}NAN112{reset} {red}error{reset} "
        "comparison with NaN is always False; use isnan() to test for NaN\n"
        f"{bold}src/train.py:20:12{reset}: {yellow}{bold}NAN102{reset} {yellow}warning{reset} {cyan}[*] {reset}"
        "log of a softmax: -inf when a probability underflows to 0\n"
        f"{bold}src/train.py:31:5{reset}: {yellow}{bold}NAN104{reset} {yellow}warning{reset} log of `p`, which can be 0\n"
        f"{bold}notebooks/explore.ipynb:cell 2:3:7{reset}: {blue}{bold}NAN113{reset} {blue}info{reset} {cyan}[*] {reset}"
        "log(1 + x) loses precision for small x; use log1p(x)\n"
    ) + SOURCE_SUMMARY
    assert text.render(source_run(), ReportOptions(color=True)) == expected


def test_unsafe_fixes_count_as_fixable_only_when_enabled():
    rendered = text.render(source_run(), ReportOptions(unsafe_fixes=True))
    assert "src/train.py:31:5: NAN104 warning [*] log of `p`, which can be 0\n" in rendered
    assert rendered.endswith("[*] 3 fixable with the `--fix` option.\n")


def test_hidden_unsafe_fixes_are_mentioned():
    rendered = text.render(source_run(fixes_hidden=1), ReportOptions())
    assert rendered.endswith("(1 hidden fix can be enabled with the `--unsafe-fixes` option.)\n")
    rendered = text.render(source_run(fixes_hidden=2), ReportOptions())
    assert rendered.endswith("(2 hidden fixes can be enabled with the `--unsafe-fixes` option.)\n")


def test_statistics():
    expected = (
        "    1\tNAN102\t[*] log-of-probability\n"
        "    1\tNAN104\t    unguarded-log\n"
        "    1\tNAN112\t    nan-comparison\n"
        "    1\tNAN113\t[*] log1p-expm1\n"
    ) + SOURCE_SUMMARY
    assert text.render(source_run(), ReportOptions(statistics=True)) == expected


def test_statistics_sorts_by_count_then_code():
    findings = [COMPARISON, LOG_SOFTMAX, COMPARISON, COMPARISON]
    expected = (
        "    3\tNAN112\t    nan-comparison\n"
        "    1\tNAN102\t[*] log-of-probability\n"
        "Found 4 findings (3 errors, 1 warning).\n"
        "[*] 1 fixable with the `--fix` option.\n"
    )
    assert text.render(source_run(findings), ReportOptions(statistics=True)) == expected


def test_quiet_prints_findings_only():
    assert text.render(source_run(), ReportOptions(quiet=True)) == SOURCE_LINES
    assert text.render(source_run([]), ReportOptions(quiet=True)) == ""
    assert (
        text.render(source_run([COMPARISON]), ReportOptions(quiet=True, statistics=True))
        == "    1\tNAN112\t    nan-comparison\n"
    )


def test_nothing_found():
    assert text.render(source_run([]), ReportOptions()) == "All checks passed!\n"


def test_severity_is_written_out_without_colour():
    """In a CI log there is no colour: the severity word says which line fails the build."""
    lines = text.render(source_run(), ReportOptions(quiet=True)).splitlines()
    assert [re.search(r": NAN\d{3} (\w+) ", line).group(1) for line in lines] == ["error", "warning", "warning", "info"]


def test_no_files_is_not_a_pass():
    assert text.render(Run(command="check", findings=[], checked=0), ReportOptions()) == "No Python files found.\n"
    assert text.render(Run(command="graph", findings=[], checked=1), ReportOptions()) == "All checks passed!\n"


def test_findings_hidden_by_the_baseline_are_counted():
    assert text.render(source_run([], hidden_by_baseline=3), ReportOptions()) == (
        "All checks passed!\n3 findings hidden by the baseline.\n"
    )
    assert text.render(source_run([COMPARISON], hidden_by_baseline=1), ReportOptions()).endswith(
        "Found 1 finding (1 error).\n1 finding hidden by the baseline.\n"
    )


def test_nothing_found_but_inputs_unreadable_is_not_a_pass():
    assert text.render(source_run([], errors=["nope.py: no such file or directory"]), ReportOptions()) == ""


def test_fixed_count_comes_first():
    rendered = text.render(source_run([], fixed=2), ReportOptions())
    assert rendered == "Fixed 2 findings.\nAll checks passed!\n"


def test_singular_and_info_plural():
    info = Finding("NAN113", "log1p-expm1", "m", Severity.info, SourceLocation("a.py", 1, 1, 1, 2))
    assert text.render(source_run([COMPARISON]), ReportOptions()).endswith("Found 1 finding (1 error).\n")
    assert text.render(source_run([info, info]), ReportOptions()).endswith("Found 2 findings (2 info).\n")


def test_graph_findings():
    expected = (
        "models/net.onnx:Div_3 (Div) NAN502 error denominator can be 0 [static, cuda-fp16]\n"
        "models/net.onnx:MatMul_7 (MatMul) NAN601 error values reach 7.1e+04, above float16's max 65504 "
        "[sampled, cuda-fp16] at src/net.py:41 (encoder.mlp)\n"
        "models/net.onnx:mask_fill NAN701 warning mask constant -1e9 becomes -inf in float16 [static, cuda-fp16]\n"
        "Found 3 findings (2 errors, 1 warning).\n"
    )
    assert text.render(graph_run(), ReportOptions()) == expected


def test_graph_finding_without_node_or_tensor():
    finding = Finding("NAN799", "unsupported-op", "m", Severity.info, GraphLocation("m.onnx", "cpu", None, None, None))
    assert text.line(finding, ReportOptions()) == "m.onnx:<graph> NAN799 info m [static, cpu]"


def test_control_characters_cannot_break_lines():
    assert (
        text.line(AWKWARD, ReportOptions())
        == "data,v1/odd:name.py:2:1: NAN105 warning 100% of x / s: s can be 0,\\r\\nthen inf"
    )
    hostile = Finding(
        "NAN502",
        "division-by-zero",
        "m",
        Severity.error,
        GraphLocation("m.onnx", "cpu", "evil\nm.onnx:1:1: NAN112 forged\x1b[2J", "Div", None),
    )
    assert (
        text.line(hostile, ReportOptions())
        == "m.onnx:evil\\nm.onnx:1:1: NAN112 forged\\x1b[2J (Div) NAN502 error m [static, cpu]"
    )


def test_notebook_location_names_the_cell():
    assert text.where(NOTEBOOK) == "notebooks/explore.ipynb:cell 2:3:7"


def test_every_line_ends_with_a_newline():
    rendered = text.render(Run(command="check", findings=[COMPARISON]), ReportOptions())
    assert rendered.endswith("\n") and not rendered.endswith("\n\n")
