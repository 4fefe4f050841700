"""nanlint in a test suite: the loss code and the exported model stay free of NaN hazards."""

from pathlib import Path

import nanlint

ROOT = Path(__file__).resolve().parents[1]

LOSS = """
import torch


def nll(logits, target):
    return -torch.log(torch.softmax(logits, -1)).gather(-1, target).mean()
"""


def report(findings):
    return "\n".join(f"{f.code} {f.message}" for f in findings)


def test_nanlint_flags_the_log_of_a_softmax():
    (finding,) = nanlint.check_source(LOSS, path="losses.py")
    assert (finding.code, finding.location.line) == ("NAN102", 6)
    assert finding.fix.edits[0].content == "torch.log_softmax(logits, -1)"


def test_the_fixed_loss_has_no_hazard():
    fixed = LOSS.replace("torch.log(torch.softmax(logits, -1))", "torch.log_softmax(logits, -1)")
    findings = nanlint.check_source(fixed, path="losses.py")
    assert not findings, report(findings)


def test_the_exported_model_is_safe_in_fp16():
    # A path, or the model in memory: onnx.load(...), torch.onnx.export(model, (x,), dynamo=True)
    result = nanlint.check_model(
        ROOT / "fixtures" / "models" / "stable_softmax.onnx", target="cuda-fp16", input_ranges={"*": (-30, 30)}
    )
    assert not result.findings, report(result.findings)
