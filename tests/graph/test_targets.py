"""Target profiles: the built-ins, the loader's validation, dtype facts, and per-tensor precisions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from nanlint.config import GraphSettings
from nanlint.graph.driver import GraphOptions, list_target_names
from nanlint.graph.patterns import find_patterns
from nanlint.graph.targets import DTYPES, ProfileError, load_profile, round_to
from nanlint.graph.targets.precision import Precision, complete_dtypes
from tests.graph.checks_support import fixture, save_and_load

BUILTINS = [
    "cpu",
    "coreml-fp16",
    "cuda-bf16",
    "cuda-fp16",
    "directml-fp16",
    "openvino-gpu-fp16",
    "tensorrt-fp16",
    "tensorrt-fp16-ln-fp32",
    "webgpu-fp16",
]


def test_builtin_names_cpu_first():
    assert list_target_names() == BUILTINS


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_profiles_load(name):
    profile = load_profile(name)
    assert profile.name == name
    assert profile.description and "\n" not in profile.description
    assert profile.notes


@pytest.mark.parametrize(
    "name,storage,constants",
    [
        ("cpu", "model", "round"),
        ("cuda-fp16", "float16", "clip"),
        ("cuda-bf16", "bfloat16", "clip"),
        ("tensorrt-fp16", "float16", "clip"),
        ("tensorrt-fp16-ln-fp32", "float16", "clip"),
        ("directml-fp16", "float16", "clip"),
        ("coreml-fp16", "float16", "round"),
        ("openvino-gpu-fp16", "float16", "clip"),
        ("webgpu-fp16", "float16", "clip"),
    ],
)
def test_builtin_storage_and_constant_conversion(name, storage, constants):
    profile = load_profile(name)
    assert (profile.float, profile.constants) == (storage, constants)


def test_fused_kernels_accumulate_in_float32_where_documented():
    cuda, coreml, trt = load_profile("cuda-fp16"), load_profile("coreml-fp16"), load_profile("tensorrt-fp16")
    for op in ("LayerNormalization", "Softmax", "ReduceMean", "BatchNormalization"):
        assert cuda.ops[op].compute == "float32"
    assert cuda.ops["Max"].storage == "float32"  # onnxruntime's converter keeps its block list in float32
    assert coreml.ops == {}
    assert trt.ops["LayerNormalization"].compute == "float32" and "ReduceMean" not in trt.ops


def test_extends_inherits_and_adds():
    base, fallback = load_profile("tensorrt-fp16"), load_profile("tensorrt-fp16-ln-fp32")
    assert fallback.ops == base.ops and fallback.float == base.float
    assert fallback.patterns["decomposed-normalization"].storage == "float32"
    assert fallback.notes[: len(base.notes)] == base.notes and len(fallback.notes) == len(base.notes) + 1
    assert load_profile("cuda-bf16").ops == load_profile("cuda-fp16").ops


def test_user_profile_json_and_toml(tmp_path):
    path = tmp_path / "npu.json"
    path.write_text(
        json.dumps(
            {
                "name": "my-npu",
                "description": "An NPU",
                "extends": "coreml-fp16",
                "flush_subnormals": True,
                "ops": {"Softplus": {"exp_overflow": True}},
            }
        )
    )
    profile = load_profile(str(path))
    assert (profile.name, profile.float, profile.flush_subnormals) == ("my-npu", "float16", True)
    assert profile.ops["Softplus"].exp_overflow
    toml = tmp_path / "gpu.toml"
    toml.write_text('name = "gpu"\ndescription = "x"\nfloat = "bfloat16"\n[ops.Softmax]\ncompute = "float32"\n')
    assert load_profile(str(toml)).ops["Softmax"].compute == "float32"


@pytest.mark.parametrize(
    "content,message",
    [
        ("{", "invalid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        ("[]", "must be an object of settings"),
        (
            '{"name": "x", "description": "d", "float": "float16", "colour": 1}',
            "unknown key 'colour' (known: name, description, extends, float, constants, flush_subnormals, ops, patterns, "
            "notes)",
        ),
        (
            '{"name": "X Y", "description": "d", "float": "float16"}',
            "'name' must be lowercase letters, digits and dashes, got 'X Y'",
        ),
        ('{"name": "x", "description": "d"}', "lacks 'float' (the dtype float32 tensors are stored in, or \"model\")"),
        (
            '{"name": "x", "description": "d", "float": "half"}',
            "'float' must be one of float16, bfloat16, float32, float64, model, got 'half'",
        ),
        ('{"name": "x", "float": "float16"}', "'description' must be a non-empty string"),
        (
            '{"name": "x", "description": "d", "float": "float16", "constants": "saturate"}',
            "'constants' must be \"round\" or \"clip\", got 'saturate'",
        ),
        (
            '{"name": "x", "description": "d", "float": "float16", "ops": {"Exp": {"storage": "fp8"}}}',
            "'ops.Exp.storage' must be one of float16, bfloat16, float32, float64, got 'fp8'",
        ),
        (
            '{"name": "x", "description": "d", "float": "float16", "ops": {"Exp": {"precision": "float32"}}}',
            "unknown key 'ops.Exp.precision' (known: storage, compute, exp_overflow)",
        ),
        (
            '{"name": "x", "description": "d", "float": "float16", "patterns": {"attention": {}}}',
            "unknown pattern 'patterns.attention' (known: decomposed-normalization, naive-softmax, eps-guard)",
        ),
        (
            '{"name": "x", "description": "d", "extends": "tpu"}',
            "'extends' must name a built-in target (cpu, coreml-fp16, cuda-bf16, cuda-fp16, directml-fp16, "
            "openvino-gpu-fp16, tensorrt-fp16, tensorrt-fp16-ln-fp32, webgpu-fp16)",
        ),
        ('{"name": "x", "description": "d", "float": "float16", "notes": "one"}', "'notes' must be a list of strings"),
        (
            '{"name": "x", "description": "d", "float": "float16", "flush_subnormals": 1}',
            "'flush_subnormals' must be true or false",
        ),
    ],
)
def test_bad_profile_is_one_line_error(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ProfileError) as info:
        load_profile(str(path))
    assert str(info.value) == f"target profile {path}: {message}"


def test_unknown_target_and_missing_file(tmp_path):
    with pytest.raises(ProfileError, match=r"^unknown target 'cuda' \(known: cpu, coreml-fp16, .*; or a path"):
        load_profile("cuda")
    missing = tmp_path / "missing.json"
    with pytest.raises(ProfileError, match=r"^target profile .*missing.json: cannot read: No such file"):
        load_profile(str(missing))


def test_dtype_facts():
    half, bf16, single = DTYPES["float16"], DTYPES["bfloat16"], DTYPES["float32"]
    assert (half.max, half.overflow, half.tiny, half.normal, half.eps) == (
        65504.0,
        65520.0,
        2.0**-24,
        2.0**-14,
        2.0**-10,
    )
    assert single.max == float.fromhex("0x1.fffffep127") and single.tiny == 2.0**-149
    assert bf16.max == float.fromhex("0x1.fep127") and bf16.eps == 2.0**-7
    with np.errstate(over="ignore"):
        assert float(np.float16(65519.0)) == 65504.0 and np.isinf(np.float16(65520.0))  # the overflow threshold
    assert half.underflow() == 2.0**-25 and half.underflow(flush_subnormals=True) == 2.0**-15


def test_round_to_matches_numpy_float16_casts():
    """numpy converts to float16 in software (unaffected by flush-to-zero modes): the reference."""
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [
            rng.uniform(-1, 1, 2000) * 10.0 ** rng.integers(-9, 6, 2000),
            [65504.0, 65519.99, 65520.0, 2.0**-25, 3 * 2.0**-26, 1 - 2.0**-12, -(2.0**-24)],
        ]
    )
    with np.errstate(over="ignore"):
        expected = values.astype(np.float16).astype(np.float64)
    assert [round_to(float(v), "float16") for v in values] == expected.tolist()


def test_round_to():
    assert round_to(1e-12, "float16") == 0.0
    assert round_to(1e-6, "float16") > 0
    assert round_to(1 - 1e-7, "float16") == 1.0
    assert round_to(1 - 1e-3, "float16") < 1.0
    assert round_to(1 - 1e-3, "bfloat16") == 1.0 and round_to(1 - 1e-2, "bfloat16") < 1.0
    assert round_to(1e5, "float16") == float("inf")
    assert round_to(1e-12, "float32") == pytest.approx(1e-12)


# --- precision of tensors and nodes -----------------------------------------------------------------


def _precision(model, target):
    return Precision(model, load_profile(target), find_patterns(model, 1e-3))


def test_converted_model_tensors_and_block_list(tmp_path):
    """Max is kept in float32 by the converter, but a float16 consumer sees it cast to float16."""
    nodes = [
        helper.make_node("Max", ["x", "eps"], ["m"], name="max"),
        helper.make_node("Log", ["m"], ["y"], name="log"),
        helper.make_node("Max", ["x", "eps"], ["k"], name="kept"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, [4]),
            helper.make_tensor_value_info("k", TensorProto.FLOAT, [4]),
        ],
        [numpy_helper.from_array(np.float32(1e-3), "eps")],
    )
    model = save_and_load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path)
    cuda, cpu = _precision(model, "cuda-fp16"), _precision(model, "cpu")
    assert cuda.node_dtype(model.producer["m"]) == "float32"
    assert cuda.tensor_dtype("m") == "float16"  # its consumer Log is converted
    assert cuda.tensor_dtype("k") == "float32"  # a graph output produced by a kept op
    assert cuda.tensor_dtype("x") == "float32"  # read only by kept ops: no float16 copy of it exists
    assert cuda.limit("m") == 65504.0 and cpu.limit("m") == DTYPES["float32"].max
    assert {cpu.tensor_dtype(t) for t in ("x", "m", "y", "k")} == {"float32"}


def test_compute_dtypes_per_target():
    model = fixture("layernorm_eps12")
    ln = model.producer["y"]
    assert _precision(model, "cuda-fp16").compute_dtype(ln) == "float32"
    assert _precision(model, "coreml-fp16").compute_dtype(ln) == "float16"
    assert _precision(model, "directml-fp16").compute_dtype(ln) == "float16"
    assert _precision(model, "cpu").compute_dtype(ln) == "float32"


def test_patterns_change_precision_on_tensorrt_fallback():
    model = fixture("decomposed_layernorm")
    plain, fallback = _precision(model, "tensorrt-fp16"), _precision(model, "tensorrt-fp16-ln-fp32")
    assert plain.tensor_dtype("squared") == "float16"
    assert fallback.tensor_dtype("squared") == "float32"
    assert fallback.tensor_dtype("a") == "float16"  # produced by a float16 MatMul
    assert fallback.compute_dtype(model.producer["var_eps"]) == "float32"


def test_model_in_float16_is_judged_in_its_own_dtypes():
    model = fixture("fp16_exp")
    for target in ("cpu", "cuda-bf16", "cuda-fp16"):
        precision = _precision(model, target)
        assert precision.own_dtypes
        assert precision.tensor_dtype("y") == "float16"


def test_constant_conversion_clip_or_round():
    model = fixture("log_of_clip_tiny")
    assert _precision(model, "cuda-fp16").converted(1e-12, "clip_min") == 2.0**-24
    assert _precision(model, "cuda-fp16").converted(-1e9, "clip_min") == -65504.0
    assert _precision(model, "coreml-fp16").converted(1e-12, "clip_min") == 0.0
    assert _precision(model, "coreml-fp16").converted(1e9, "clip_min") == float("inf")
    assert _precision(model, "cpu").converted(1e-12, "clip_min") == 1e-12


def test_complete_dtypes_fills_what_shape_inference_left_out(tmp_path):
    """A custom op stops shape inference: its outputs' types are inferred locally."""
    nodes = [
        helper.make_node("Mystery", ["x"], ["m"], domain="com.example"),
        helper.make_node("Relu", ["m"], ["r"]),
        helper.make_node("Greater", ["r", "x"], ["g"]),
        helper.make_node("Cast", ["g"], ["c"], to=TensorProto.FLOAT16),
        helper.make_node("Shape", ["c"], ["s"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("s", TensorProto.INT64, [1])],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    model = save_and_load(proto, tmp_path)
    dtypes = complete_dtypes(model)
    assert dtypes["r"] == TensorProto.FLOAT and dtypes["g"] == TensorProto.BOOL
    assert dtypes["c"] == TensorProto.FLOAT16 and dtypes["s"] == TensorProto.INT64


# --- options ------------------------------------------------------------------------------------------


def test_options_merge_config_and_cli():
    config = GraphSettings(
        targets=("cuda-fp16",), input_ranges={"x": (0.0, 1.0), "*": (-2.0, 2.0)}, input_shapes={"x": (1, 3)}
    )
    options = GraphOptions.from_cli(config, (), ("y=0,255",), ("y=2,2",))
    assert options.targets == ("cuda-fp16",)
    assert options.input_ranges == {"x": (0.0, 1.0), "y": (0.0, 255.0)}
    assert options.default_range == (-2.0, 2.0)
    assert options.input_shapes == {"x": (1, 3), "y": (2, 2)}
    options = GraphOptions.from_cli(config, ("cpu", "coreml-fp16", "cpu"), ("x=-1e3,inf",), ())
    assert options.targets == ("cpu", "coreml-fp16")
    assert [p.name for p in options.profiles] == ["cpu", "coreml-fp16"]
    assert options.input_ranges["x"] == (-1000.0, float("inf"))


@pytest.mark.parametrize(
    "ranges,shapes,targets,message",
    [
        (("x",), (), (), "--input-range 'x': expected NAME=LO,HI (e.g. pixels=0,1)"),
        (("x=1",), (), (), "--input-range 'x=1': expected NAME=LO,HI (e.g. pixels=0,1)"),
        (("x=a,b",), (), (), "--input-range 'x=a,b': expected NAME=LO,HI (e.g. pixels=0,1)"),
        (("=0,1",), (), (), "--input-range '=0,1': expected NAME=LO,HI (e.g. pixels=0,1)"),
        (("x=nan,1",), (), (), "--input-range 'x=nan,1': bounds cannot be NaN"),
        (("x=3,-3",), (), (), "--input-range 'x=3,-3': LO 3 is above HI -3"),
        (
            (),
            ("x=1,a",),
            (),
            "--input-shape 'x=1,a': expected NAME=D0,D1,... with whole numbers >= 0 (e.g. input=1,3,224,224)",
        ),
        (
            (),
            ("x=-1,3",),
            (),
            "--input-shape 'x=-1,3': expected NAME=D0,D1,... with whole numbers >= 0 (e.g. input=1,3,224,224)",
        ),
        (
            (),
            (),
            ("tpu",),
            "unknown target 'tpu' (known: cpu, coreml-fp16, cuda-bf16, cuda-fp16, directml-fp16, "
            "openvino-gpu-fp16, tensorrt-fp16, tensorrt-fp16-ln-fp32, webgpu-fp16; or a path to a "
            "profile file)",
        ),
    ],
)
def test_bad_options_are_one_line_value_errors(ranges, shapes, targets, message):
    with pytest.raises(ValueError) as info:
        GraphOptions.from_cli(GraphSettings(), targets, ranges, shapes)
    assert str(info.value) == message


def test_two_targets_with_one_name(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text('{"name": "cpu", "description": "mine", "float": "float16"}')
    with pytest.raises(ValueError, match=r"^two targets are named 'cpu'"):
        GraphOptions.from_cli(GraphSettings(), ("cpu", str(path)), (), ())
