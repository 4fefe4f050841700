"""Runtime evidence: samples confirm, a witness search finds what samples miss, false alarms stay warnings,
loose bounds drop to info, NaN in the fp32 model is NAN603, and the fixes for reduced precision hold."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from click.testing import CliRunner

from nanlint.cli import main
from nanlint.config import GraphSettings, Settings
from nanlint.graph.driver import GraphOptions, analyze_models

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "models"
SETTINGS = Settings(select=("ALL",))


def analyse(name: str, target: str = "cuda-fp16", ranges=(), **runtime):
    options = GraphOptions.from_cli(GraphSettings(), (target,), ranges, (), **runtime)
    [result], errors = analyze_models([str(FIXTURES / f"{name}.onnx")], SETTINGS, options)
    assert errors == []
    return result


def summary(result) -> list[tuple]:
    return [(f.code, f.location.tensor, f.severity.name, f.evidence.kind) for f in result.findings]


def test_samples_confirm_an_overflow_and_record_what_they_saw():
    result = analyse("exp_overflow")
    [finding] = result.findings
    assert (finding.code, finding.severity.name, finding.evidence.kind) == ("NAN504", "error", "sampled")
    low, high = finding.evidence.observed  # of the Exp's output, the finding's tensor, like the bound
    assert finding.location.tensor == "y" and finding.evidence.bound == pytest.approx((math.exp(-16), math.exp(16)))
    assert math.exp(-16) * 0.999 <= low < 1 < 65504 < high <= math.exp(16) * 1.001
    assert result.summary["samples"] == 16


def test_a_naive_softmax_is_confirmed_at_its_exp_without_a_second_finding():
    [finding] = analyse("naive_softmax").findings  # its tensor is the Exp's output, the one that overflows
    assert (finding.code, finding.location.tensor, finding.severity.name, finding.evidence.kind) == (
        "NAN505",
        "e",
        "error",
        "sampled",
    )
    assert finding.evidence.cascade == ("s",)  # the sum of the exps overflows with them; the quotient does not


def test_only_the_witness_search_finds_the_input(tmp_path):
    ranges = ("x=0,1",)
    assert summary(analyse("reciprocal_near_point", ranges=ranges)) == [("NAN502", "y", "warning", "static")]
    result = analyse("reciprocal_near_point", ranges=ranges, search=True, budget=5.0, witness_dir=str(tmp_path))
    [finding] = result.findings
    assert (finding.code, finding.severity.name, finding.evidence.kind) == ("NAN502", "error", "witness")
    path = Path(finding.evidence.witness)
    assert path.parent == tmp_path and finding.message.endswith(f"; witness input saved to {path}")
    with np.load(path) as data:
        x = data["x"]
        assert 0.0 <= x.min() and x.max() <= 1.0  # inside the declared box
        session = onnxruntime.InferenceSession(str(FIXTURES / "reciprocal_near_point.onnx"))
        assert np.abs(session.run(["y"], {"x": x})[0]).max() > 65504  # replays: beyond float16


def test_a_static_false_alarm_that_samples_and_search_do_not_confirm_stays_a_warning():
    result = analyse("cancelled_square", search=True, budget=1.0)
    [finding] = result.findings
    assert (finding.code, finding.severity.name, finding.evidence.kind) == ("NAN501", "warning", "static")
    assert finding.evidence.observed == (0.0, 0.0)  # what the Log really gave: its input is always 1


def test_a_bound_far_above_its_samples_drops_to_info_with_what_they_saw():
    static = analyse("deep_relu_mlp", samples=0)
    assert [(f.code, f.severity.name) for f in static.findings] == [("NAN601", "warning")]
    [finding] = analyse("deep_relu_mlp").findings
    assert (finding.code, finding.severity.name, finding.evidence.kind) == ("NAN601", "info", "static")
    low, high = finding.evidence.observed  # of h8, the tensor the bound is of
    assert finding.evidence.bound == static.findings[0].evidence.bound and -1 < low < 0 < high < 1
    assert finding.message.startswith("tensor 'h8' can reach -104334, 1.59x float16's max 65504")
    assert finding.message.endswith(f"x above what the samples reached, which stay within [{low:.3g}, {high:.3g}])")


def test_nan_in_the_fp32_model_is_nan603_at_its_origin():
    assert summary(analyse("nan_constant")) == [("NAN603", "y", "error", "sampled")]


def test_a_confirmed_hazard_explains_the_nonfinite_values_it_causes():
    # Log(Relu(x)) gives -inf: NAN501 confirmed by the samples, and no NAN603 besides
    assert summary(analyse("log_of_relu")) == [("NAN501", "y", "error", "sampled")]


def test_an_absorbed_minus_inf_mask_is_not_a_runtime_hazard():
    codes = [f.code for f in analyse("torch_attention").findings]
    assert "NAN603" not in codes


def test_headroom_reports_tensors_close_to_the_limit():
    # exp(x @ W) with logits up to 16 on x in [-0.65, 0.65]: exp(10.4) ~ 32900, within 4x of 65504
    result = analyse("exp_overflow", ranges=("x=-0.65,0.65",))
    near = [f for f in result.findings if f.code == "NAN602"]
    assert [(f.severity.name, f.evidence.kind) for f in near] == [("info", "sampled")]
    assert "headroom" in near[0].message


def test_calibration_data_replaces_random_samples(tmp_path):
    data = tmp_path / "calib.npz"
    np.savez(data, x=np.zeros((3, 2, 8), np.float32))  # exp(0) = 1: far from any limit
    result = analyse("exp_overflow", inputs=str(data))
    assert result.summary["samples"] == 3
    assert summary(result) == [("NAN504", "y", "info", "static")]  # 8.9e6 by its bound, 1 on the data


def test_block_list_and_mixed_model_from_the_cli(tmp_path):
    block = tmp_path / "block.json"
    mixed = tmp_path / "mixed.onnx"
    result = CliRunner().invoke(
        main,
        [
            "graph",
            str(FIXTURES / "activation_overflow.onnx"),
            "--target",
            "cuda-fp16",
            "--emit-block-list",
            str(block),
            "--write-mixed",
            str(mixed),
            "-q",
        ],
    )
    assert result.exit_code == 1
    listed = json.loads(block.read_text())
    assert listed["node_block_list"] and listed["tensor_block_list"] == []
    assert "layer2" in listed["node_block_list"]
    session = onnxruntime.InferenceSession(str(mixed))
    x = np.random.default_rng(0).uniform(-1, 1, (2, 8)).astype(np.float32)
    output = session.run(None, {"x": x})[0]
    assert np.all(np.isfinite(output))


def test_write_mixed_reports_the_recheck(tmp_path):
    mixed = tmp_path / "mixed.onnx"
    result = CliRunner().invoke(
        main,
        ["graph", str(FIXTURES / "activation_overflow.onnx"), "--target", "cuda-fp16", "--write-mixed", str(mixed)],
    )
    assert f"Wrote {mixed} for cuda-fp16:" in result.stderr
    assert "on 16 sampled inputs of shape x[2, 8]: outputs finite, max relative error" in result.stderr


def test_block_list_needs_a_reduced_precision_target(tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "graph",
            str(FIXTURES / "exp_overflow.onnx"),
            "--target",
            "cpu",
            "--emit-block-list",
            str(tmp_path / "b.json"),
        ],
    )
    assert result.exit_code == 2 and "need a reduced-precision --target" in result.stderr


def test_an_unavailable_provider_is_a_usage_error():
    result = CliRunner().invoke(main, ["graph", str(FIXTURES / "exp_overflow.onnx"), "--provider", "NoSuchEP"])
    assert result.exit_code == 2 and result.stderr.startswith("nanlint: error: --provider NoSuchEP: not available")


def test_a_model_onnxruntime_cannot_run_keeps_its_static_findings():
    result = CliRunner().invoke(main, ["graph", str(FIXTURES / "unsupported_op.onnx"), "--format", "json"])
    data = json.loads(result.stdout)
    assert [f["code"] for f in data["findings"]] == ["NAN799"]
    assert data["summary"]["sampling"].startswith("skipped: onnxruntime cannot load the model")
    assert "sampling skipped" in result.stderr and result.exit_code == 0


@pytest.mark.parametrize("fixture", ["stable_softmax", "softmax_op", "exp_of_clip", "fused_layernorm"])
def test_safe_look_alikes_stay_quiet_with_samples(fixture):
    assert [f for f in analyse(fixture).findings if f.severity.name != "info"] == []


def _save(tmp_path, name, nodes, inputs, outputs, initializers=()):
    from onnx import helper

    graph = helper.make_graph(nodes, name, inputs, outputs, list(initializers))
    path = tmp_path / f"{name}.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    return path


def test_an_overflow_that_starts_on_its_own_below_a_rarer_one_is_an_origin_too(tmp_path):
    # a = 1000 x overflows fp16 only where |x| > 65.5; y = a * a overflows wherever |x| > 0.256: on many
    # samples y overflows while a is still finite, so y is an origin of its own
    from onnx import TensorProto, helper, numpy_helper

    x, y = (helper.make_tensor_value_info(n, TensorProto.FLOAT, [4]) for n in ("x", "y"))
    path = _save(
        tmp_path,
        "square",
        [
            helper.make_node("Mul", ["x", "k"], ["a"], name="scale"),
            helper.make_node("Mul", ["a", "a"], ["y"], name="square"),
        ],
        [x],
        [y],
        [numpy_helper.from_array(np.float32(1000.0), "k")],
    )
    options = GraphOptions.from_cli(GraphSettings(), ("cuda-fp16",), ("x=-100,100",), ())
    [result], _ = analyze_models([str(path)], SETTINGS, options)
    sampled = {f.location.tensor for f in result.findings if f.code == "NAN601" and f.evidence.kind == "sampled"}
    assert sampled == {"a", "y"}


def test_a_decomposed_norm_is_confirmed_when_its_squares_overflow():
    [finding] = analyse("torch_rmsnorm").findings
    assert (finding.code, finding.severity.name, finding.evidence.kind) == ("NAN506", "error", "sampled")
    assert finding.evidence.observed[1] > 65504


def test_a_decomposed_norm_whose_centred_values_stay_small_is_not_confirmed():
    # decomposed_layernorm's features are all equal, so x - mean(x) is 0: the static bound of the square
    # (409600) is a false alarm that the samples show, so it drops to info with what was observed
    [finding] = analyse("decomposed_layernorm").findings
    assert (finding.code, finding.severity.name, finding.evidence.kind) == ("NAN506", "info", "static")
    assert finding.evidence.observed == (0.0, 0.0)


def test_low_headroom_is_not_a_second_finding_on_a_reported_tensor():
    result = analyse("activation_overflow", ranges=("x=-0.12,0.12",))
    tensors = [(f.code, f.location.tensor) for f in result.findings]
    assert len({t for _, t in tensors}) == len(tensors), tensors


def test_the_witness_search_moves_integer_inputs(tmp_path):
    # one token of 1000 has an embedding of 300, whose square overflows float16: a random sequence of 4
    # rarely contains it, so only a search that moves the token ids finds it
    from onnx import TensorProto, helper, numpy_helper

    table = np.ones((1000, 8), np.float32)
    table[637] = 300.0
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, [4])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 8])
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["e"], name="embed"),
        helper.make_node("Mul", ["e", "e"], ["y"], name="square"),
    ]
    path = _save(tmp_path, "embedding", nodes, [ids], [out], [numpy_helper.from_array(table, "table")])
    options = GraphOptions.from_cli(
        GraphSettings(), ("cuda-fp16",), ("ids=0,999",), (), samples=0, search=True, budget=10.0
    )
    [result], _ = analyze_models([str(path)], SETTINGS, options)
    assert [(f.code, f.location.tensor, f.evidence.kind) for f in result.findings] == [("NAN601", "y", "witness")]
