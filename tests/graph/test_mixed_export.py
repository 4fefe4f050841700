"""--write-mixed on models exported from torch with symbolic dimensions: the written model accepts every
batch size and length the original does, its outputs are finite and within the error it reports.

The models (fixtures/models/torch/, made by export.py there from modules.py) overflow fp16 inside and
normalise afterwards: finite in fp32, NaN/Inf after a plain fp16 conversion.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from click.testing import CliRunner

from nanlint.cli import main
from nanlint.graph.mixed import BlockList, FeedSet, convert, validate

TORCH = Path(__file__).resolve().parents[2] / "fixtures" / "models" / "torch"
RNG = np.random.default_rng(7)


def token_inputs(batch: int, length: int) -> dict[str, np.ndarray]:
    mask = (RNG.uniform(size=(batch, length)) > 0.25).astype(np.int64)
    mask[:, 0] = 1
    return {"input_ids": RNG.integers(0, 32, (batch, length)).astype(np.int64), "attention_mask": mask}


def image_inputs(batch: int) -> dict[str, np.ndarray]:
    return {"images": RNG.uniform(0, 255, (batch, 3, 8, 8)).astype(np.float32)}


CASES = {
    "tiny_transformer": (
        ["--input-shape", "input_ids=2,8", "--input-shape", "attention_mask=2,8", "--input-range", "input_ids=0,31"],
        [token_inputs(batch, length) for batch in (1, 3, 5) for length in (1, 6, 16)],
    ),
    "tiny_cnn": (["--input-range", "images=0,255"], [image_inputs(batch) for batch in (1, 2, 7)]),
}


def signature(values) -> list:
    return [
        (v.name, v.type.tensor_type.elem_type, [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim])
        for v in values
    ]


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_written_model_takes_every_shape_and_stays_within_its_reported_error(name, tmp_path):
    args, feeds = CASES[name]
    source, written = TORCH / f"{name}.onnx", tmp_path / "mixed.onnx"
    result = CliRunner().invoke(
        main, ["graph", str(source), "--target", "cuda-fp16", "--write-mixed", str(written), "--format", "json", *args]
    )
    assert result.exit_code == 1, result.stderr  # the overflow findings
    report = json.loads(result.stdout)["summary"]["mixed"]
    assert report["nonfinite_outputs"] == [] and report["overflowing"] == []
    assert len(report["checked"]) == 2  # the samples, and another batch size (and length)
    assert 0 < report["max_relative_error"] < 1e-2
    original, mixed = onnx.load(str(source)), onnx.load(str(written))
    onnx.checker.check_model(mixed)
    assert signature(mixed.graph.input) == signature(original.graph.input)  # symbolic dims intact
    assert signature(mixed.graph.output) == signature(original.graph.output)
    fp32, fp16 = (onnxruntime.InferenceSession(m.SerializeToString()) for m in (original, mixed))
    for feed in feeds:
        want, got = fp32.run(None, feed)[0], fp16.run(None, feed)[0]
        assert got.shape == want.shape and np.isfinite(got).all()
        assert np.abs(got - want).max() / np.abs(want).max() <= 2 * report["max_relative_error"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_plain_fp16_conversion_of_the_same_model_breaks(name):
    """What the mixed model is for: stored in fp16 throughout, the overflow reaches the outputs."""
    fp32 = onnx.load(str(TORCH / f"{name}.onnx"))
    feeds = CASES[name][1][-2:]
    check = validate(fp32, convert(fp32, BlockList()), [FeedSet.of("inputs", feeds)], {})
    assert check.nonfinite_outputs and check.overflowing
