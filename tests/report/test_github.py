"""GitHub Actions workflow commands, byte for byte, with the Actions escaping rules."""

from __future__ import annotations

from nanlint.report import ReportOptions, github, text
from tests.report.samples import AWKWARD, COMPARISON, NOTEBOOK, SOURCE_FINDINGS, graph_run, source_run


def test_escape_data():
    # What @actions/core's escapeData does: % first, then CR and LF.
    assert github.escape_data("50%\r\nnext") == "50%25%0D%0Anext"
    assert github.escape_data("%0A") == "%250A"  # an already-escaped look-alike stays literal
    assert github.escape_data("a: b, c") == "a: b, c"


def test_escape_property():
    assert github.escape_property("dir,1/a:b%\n.py") == "dir%2C1/a%3Ab%25%0A.py"


def test_source_annotation():
    assert github.annotation(COMPARISON) == (
        "::error file=src/train.py,line=12,col=8,endLine=12,endColumn=25,title=nanlint (NAN112)"
        "::comparison with NaN is always False; use isnan() to test for NaN"
    )


def test_escaping_in_file_and_message():
    assert github.annotation(AWKWARD) == (
        "::warning file=data%2Cv1/odd%3Aname.py,line=2,col=1,endLine=3,endColumn=4,title=nanlint (NAN105)"
        "::100%25 of x / s: s can be 0,%0D%0Athen inf"
    )


def test_notebook_annotation_is_on_the_file_and_names_the_cell():
    # Lines inside a cell match no line of the .ipynb JSON, so no line/col properties.
    assert github.annotation(NOTEBOOK) == (
        "::notice file=notebooks/explore.ipynb,title=nanlint (NAN113)"
        "::cell 2, line 3, column 7: log(1 + x) loses precision for small x; use log1p(x)"
    )


def test_full_report_is_annotations_then_the_text_report():
    expected = (
        "::error file=src/train.py,line=12,col=8,endLine=12,endColumn=25,title=nanlint (NAN112)"
        "::comparison with NaN is always False; use isnan() to test for NaN\n"
        "::warning file=src/train.py,line=20,col=12,endLine=20,endColumn=38,title=nanlint (NAN102)"
        "::log of a softmax: -inf when a probability underflows to 0\n"
        "::warning file=src/train.py,line=31,col=5,endLine=31,endColumn=15,title=nanlint (NAN104)"
        "::log of `p`, which can be 0\n"
        "::notice file=notebooks/explore.ipynb,title=nanlint (NAN113)"
        "::cell 2, line 3, column 7: log(1 + x) loses precision for small x; use log1p(x)\n"
        "src/train.py:12:8: NAN112 error comparison with NaN is always False; use isnan() to test for NaN\n"
        "src/train.py:20:12: NAN102 warning [*] log of a softmax: -inf when a probability underflows to 0\n"
        "src/train.py:31:5: NAN104 warning log of `p`, which can be 0\n"
        "notebooks/explore.ipynb:cell 2:3:7: NAN113 info [*] log(1 + x) loses precision for small x; use log1p(x)\n"
        "Found 4 findings (1 error, 2 warnings, 1 info).\n"
        "[*] 2 fixable with the `--fix` option.\n"
    )
    assert github.render(source_run(), ReportOptions()) == expected


def test_text_part_is_never_coloured_and_honours_statistics_and_quiet():
    run = source_run()
    coloured = github.render(run, ReportOptions(color=True))
    assert "\x1b[" not in coloured
    annotations = "".join(github.annotation(f) + "\n" for f in SOURCE_FINDINGS)
    assert github.render(run, ReportOptions(quiet=True)) == annotations + text.render(run, ReportOptions(quiet=True))
    assert github.render(run, ReportOptions(statistics=True)) == annotations + text.render(
        run, ReportOptions(statistics=True)
    )


def test_graph_annotations_point_at_the_model():
    expected = (
        "::error file=models/net.onnx,title=nanlint (NAN502)"
        "::models/net.onnx:Div_3 (Div): denominator can be 0 [static, cuda-fp16]\n"
        "::error file=models/net.onnx,title=nanlint (NAN601)"
        "::models/net.onnx:MatMul_7 (MatMul): values reach 7.1e+04, above float16's max 65504 [sampled, cuda-fp16]"
        " at src/net.py:41 (encoder.mlp)\n"
        "::warning file=models/net.onnx,title=nanlint (NAN701)"
        "::models/net.onnx:mask_fill: mask constant -1e9 becomes -inf in float16 [static, cuda-fp16]\n"
        "models/net.onnx:Div_3 (Div) NAN502 error denominator can be 0 [static, cuda-fp16]\n"
        "models/net.onnx:MatMul_7 (MatMul) NAN601 error values reach 7.1e+04, above float16's max 65504 "
        "[sampled, cuda-fp16] at src/net.py:41 (encoder.mlp)\n"
        "models/net.onnx:mask_fill NAN701 warning mask constant -1e9 becomes -inf in float16 [static, cuda-fp16]\n"
        "Found 3 findings (2 errors, 1 warning).\n"
    )
    assert github.render(graph_run(), ReportOptions()) == expected


def test_no_findings():
    assert github.render(source_run([]), ReportOptions()) == "All checks passed!\n"
