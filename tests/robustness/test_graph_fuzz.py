"""Fuzzing the graph pass end to end: hostile model files give a one-line error and exit 2, never a
traceback or a crash, within bounded time and memory.

Mutated models (truncated, bit-flipped, spliced, zeroed) and hand-made hostile ones (wrong opset,
cycles, gigantic declared shapes, external data outside the model's folder) run through the real
CLI in one subprocess per batch: a crash of onnxruntime or protobuf would kill that process, which
the test sees. The process runs under an address-space limit (MEMORY_LIMIT) and a timeout.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "models"
SEEDS = sorted(p for p in FIXTURES.glob("*.onnx") if p.stat().st_size < 200_000)
MEMORY_LIMIT = 6 * 2**30  # bytes of address space for the nanlint process (onnxruntime reserves a lot)
TIME_LIMIT = 300  # seconds for a whole batch


def mutate(data: bytes, rng: random.Random) -> bytes:
    kind = rng.choice(["truncate", "flip", "splice", "zero", "duplicate"])
    if kind == "truncate":
        return data[: rng.randrange(len(data))]
    data = bytearray(data)
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            position = rng.randrange(len(data))
            data[position] ^= 1 << rng.randrange(8)
    elif kind == "splice":
        start = rng.randrange(len(data))
        data[start:start] = data[rng.randrange(len(data)) :][: rng.randint(1, 64)]
    elif kind == "zero":
        start = rng.randrange(len(data))
        data[start : start + rng.randint(1, 32)] = bytes(min(32, len(data) - start))
    else:
        start = rng.randrange(len(data))
        data += data[start : start + rng.randint(1, 128)]
    return bytes(data)


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_cli(paths: list[Path], *extra: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "nanlint",
        "graph",
        *map(str, paths),
        "--format",
        "json",
        "--samples",
        "2",
        "--target",
        "cuda-fp16",
        *extra,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIME_LIMIT, preexec_fn=limit_memory)


def assert_clean_failure_or_success(done: subprocess.CompletedProcess, models: int) -> None:
    assert done.returncode in (0, 1, 2), f"crashed with {done.returncode}:\n{done.stderr[-2000:]}"
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    for line in done.stderr.splitlines():
        assert line.startswith(("nanlint: error: ", "nanlint: warning: ")), line
    data = json.loads(done.stdout)
    results = data if isinstance(data, list) else [data]
    assert len(results) == models


def refusals(done: subprocess.CompletedProcess) -> dict[str, str]:
    """model -> why it was refused: a NAN900 finding (a file that exists but cannot be read, DESIGN.md's
    exit codes) or, for what fails after loading, a one-line error on stderr."""
    data = json.loads(done.stdout)
    refused = {
        result["model"]: finding["message"]
        for result in (data if isinstance(data, list) else [data])
        for finding in result["findings"]
        if finding["code"] == "NAN900"
    }
    for line in done.stderr.splitlines():
        model, _, why = line.removeprefix("nanlint: error: ").partition(": ")
        refused.setdefault(model, why)
    return refused


def test_mutated_models_fail_cleanly(tmp_path, request):
    count = 400 if request.config.getoption("--slow") else 60
    rng = random.Random(20261123)
    paths = []
    for index in range(count):
        seed = rng.choice(SEEDS)
        path = tmp_path / f"m{index:04}-{seed.stem}.onnx"
        path.write_bytes(mutate(seed.read_bytes(), rng))
        paths.append(path)
    done = run_cli(paths)
    assert_clean_failure_or_success(done, count)
    refused = refusals(done)
    assert len(refused) > count // 4  # most mutations do break the file; the rest analyse normally


def _model(nodes, inputs, outputs, initializers=(), opset=17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def hostile_models(directory: Path) -> dict[str, Path]:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    relu = helper.make_node("Relu", ["x"], ["y"])
    made = {
        "wrong_opset": _model([relu], [x], [y], opset=99),
        "ancient_opset": _model([relu], [x], [y], opset=1),
        "cycle": _model(
            [
                helper.make_node("Add", ["x", "b"], ["a"]),
                helper.make_node("Relu", ["a"], ["b"]),
                helper.make_node("Identity", ["a"], ["y"]),
            ],
            [x],
            [y],
        ),
        "gigantic_shape": _model([relu], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2**20, 2**20])], [y]),
        "gigantic_constant": _model(
            [helper.make_node("ConstantOfShape", ["shape"], ["big"]), helper.make_node("Identity", ["x"], ["y"])],
            [x],
            [y],
            [numpy_helper.from_array(np.array([2**20, 2**20, 2**10], np.int64), "shape")],
        ),
        "undefined_input": _model([helper.make_node("Relu", ["nowhere"], ["y"])], [x], [y]),
    }
    paths = {}
    for name, proto in made.items():
        paths[name] = directory / f"{name}.onnx"
        paths[name].write_bytes(proto.SerializeToString())
    outside = directory / "outside"
    outside.mkdir()
    weights = numpy_helper.from_array(np.ones(2, np.float32), "w")
    proto = _model([helper.make_node("Add", ["x", "w"], ["y"])], [x], [y], [weights])
    inner = directory / "inner"
    inner.mkdir()
    onnx.save_model(proto, str(inner / "escape.onnx"), save_as_external_data=True, location="w.bin", size_threshold=0)
    (outside / "w.bin").write_bytes((inner / "w.bin").read_bytes())
    escaped = onnx.load(str(inner / "escape.onnx"), load_external_data=False)
    for entry in escaped.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = "../outside/w.bin"
    (inner / "escape.onnx").write_bytes(escaped.SerializeToString())
    paths["external_data_outside"] = inner / "escape.onnx"
    (directory / "not_protobuf.onnx").write_bytes(b"\x08\x07" + b"\xff" * 100)
    paths["not_protobuf"] = directory / "not_protobuf.onnx"
    return paths


def test_hostile_models_are_refused_with_one_line_each(tmp_path):
    paths = hostile_models(tmp_path)
    done = run_cli(list(paths.values()))
    assert_clean_failure_or_success(done, len(paths))
    assert done.returncode in (1, 2)
    refused = refusals(done)
    for name, path in paths.items():
        if name == "gigantic_constant":
            continue  # loads; its analysis stops at the shape cap and says so
        assert str(path) in refused, (name, refused)
    assert (
        "outside" in refused[str(paths["external_data_outside"])]
        or ".." in refused[str(paths["external_data_outside"])]
    )


@pytest.mark.parametrize("name", ["gigantic_shape", "gigantic_constant"])
def test_gigantic_shapes_stay_within_the_memory_limit(tmp_path, name):
    path = hostile_models(tmp_path)[name]
    done = run_cli([path])
    assert done.returncode in (0, 1, 2) and "Traceback" not in done.stderr and "MemoryError" not in done.stderr
