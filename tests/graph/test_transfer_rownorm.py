"""Row norms (Interval.row_norm): created by normalisations, kept by the ops that provably keep them,
used by MatMul/Gemm with exact weights, dropped by everything else.

Soundness: inputs carry a row norm and their points are drawn inside box and ball (the harness checks
output boxes and, where an output carries one, its row norms); normalisations are fed real rows run
through onnxruntime, including rows aimed at a weight column, where the bound is nearly attained.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from nanlint.graph import transfer
from nanlint.graph.analysis import analyze
from nanlint.graph.interval import Interval, join
from nanlint.graph.model import load_model
from nanlint.graph.transfer import linear, rownorm
from tests.graph._soundness import Box, Case, check, check_model

F = TensorProto.FLOAT
rng = np.random.default_rng(5)
LIN = dict(scale_tol=1e-5)


def f32(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def rows(*shape, fraction=0.3):
    """A varying input whose last-axis rows also lie in a ball (see Box.row_norm)."""
    return Box(shape, row_norm=fraction)


W = f32(8, 5)
i64 = lambda *v: np.array(v, np.int64)

# Ops that use or keep a row norm: (case, output keeps a row norm).
CARRY = [
    # linear maps with exact weights use it (their outputs carry none)
    (Case("MatMul", [rows(2, 4, 8), W], **LIN), False),
    (Case("MatMul", [rows(2, 4, 8, fraction=0.05), W], name="MatMul-small-ball", **LIN), False),
    (Case("MatMul", [rows(2, 4, 8), f32(2, 8, 5)], name="MatMul-stacked-weights", **LIN), False),
    (Case("MatMul", [rows(8), W], name="MatMul-vector", **LIN), False),
    (Case("MatMul", [rows(3, 8), f32(8)], name="MatMul-1d-weight", **LIN), False),
    (
        Case(
            "MatMul",
            [Box((2, 4, 8), dtype=TensorProto.FLOAT16, row_norm=0.3), W.astype(np.float16)],
            name="MatMul-float16",
            regimes=("straddle", "positive", "negative"),
            rtol=1e-3,
            scale_tol=1e-3,
        ),
        False,
    ),
    (
        Case(
            "Gemm",
            [rows(4, 8), W.T.copy(), f32(5)],
            attrs={"transB": 1, "alpha": -0.5, "beta": 2.0},
            name="Gemm-transB",
            **LIN,
        ),
        False,
    ),
    (Case("Gemm", [rows(4, 8), W, Box((5,))], name="Gemm-varying-bias", **LIN), False),
    (Case("Gemm", [rows(4, 8), W], name="Gemm-no-bias", **LIN), False),
    # arithmetic
    (Case("Mul", [rows(2, 3, 8), f32(8)], name="Mul-constant-vector"), True),
    (Case("Mul", [f32(1, 8), rows(2, 3, 8)], name="Mul-constant-left"), True),
    (Case("Mul", [rows(2, 3, 8), Box((3, 1))], name="Mul-varying"), True),
    (Case("Mul", [rows(4, 1), f32(1, 6)], name="Mul-broadcast-last-axis"), True),
    (Case("Div", [rows(2, 3, 8), Box((8,), low=0.5, high=4.0)], name="Div-positive"), True),
    (Case("Div", [rows(2, 3, 8), np.float32(-3.0)], name="Div-constant"), True),
    (Case("Add", [rows(2, 3, 8), f32(8)], name="Add-constant-vector"), True),
    (Case("Add", [rows(2, 3, 8), np.float32(2.0)], name="Add-constant-scalar"), True),
    (Case("Add", [rows(2, 3, 8), rows(3, 8)], name="Add-two-balls"), True),
    (Case("Sub", [f32(8), rows(2, 3, 8)], name="Sub-from-constant"), True),
    (Case("Sum", [rows(3, 8), rows(3, 8), f32(8)], name="Sum"), True),
    (Case("Neg", [rows(3, 8)]), True),
    (Case("Abs", [rows(3, 8)]), True),
    (Case("Relu", [rows(3, 8)]), True),
    (Case("LeakyRelu", [rows(3, 8)], attrs={"alpha": 3.0}), True),
    (Case("Identity", [rows(3, 8)]), True),
    (
        Case(
            "Cast",
            [rows(3, 8)],
            attrs={"to": TensorProto.FLOAT16},
            output_types=[TensorProto.FLOAT16],
            name="Cast-float16",
        ),
        True,
    ),
    (Case("Dropout", [rows(3, 8)], opset=13), True),
    # layout
    (Case("Reshape", [rows(2, 4, 8), i64(2, 4, 2, 4)], name="Reshape-split-heads"), True),
    (Case("Reshape", [rows(2, 4, 8), i64(2, 32)], name="Reshape-merge-rows"), True),
    (Case("Reshape", [rows(2, 4, 8), i64(8, 8)], name="Reshape-same-last"), True),
    (Case("Flatten", [rows(2, 4, 8)], attrs={"axis": 1}), True),
    (Case("Unsqueeze", [rows(4, 8), i64(-1)], opset=13, name="Unsqueeze-last"), True),
    (Case("Squeeze", [rows(4, 8, 1), i64(-1)], opset=13, name="Squeeze-last"), True),
    (Case("Transpose", [rows(2, 4, 8)], attrs={"perm": [1, 0, 2]}, name="Transpose-keeps-last"), True),
    (Case("Slice", [rows(3, 8), i64(1, 2), i64(3, 7), i64(0, 1)], name="Slice"), True),
    (Case("Split", [rows(3, 8), i64(3, 5)], attrs={"axis": -1}, outputs=2, opset=13, name="Split-last"), True),
    (Case("Gather", [rows(4, 8), i64(2, 0, 2)], attrs={"axis": 0}, name="Gather-rows"), True),
    (Case("Expand", [rows(2, 1, 8), i64(2, 3, 8)], name="Expand"), True),
    (Case("Expand", [rows(4, 1), i64(4, 6)], name="Expand-last-axis"), True),
    (Case("Concat", [rows(2, 8), rows(3, 8), f32(1, 8)], attrs={"axis": 0}, name="Concat-rows"), True),
    (Case("Concat", [rows(2, 8), rows(2, 3), f32(2, 2)], attrs={"axis": -1}, name="Concat-last"), True),
]


@pytest.mark.parametrize("case,keeps", CARRY, ids=lambda c: str(c) if isinstance(c, Case) else "")
def test_sound_inside_box_and_ball(case, keeps):
    out = check(case)
    for bound in out["bounds"]:
        assert (bound.row_norm is not None) == keeps, f"{case}: row_norm {bound.row_norm}"


DROP = [
    Case("Transpose", [rows(2, 4, 8)], attrs={"perm": [0, 2, 1]}, name="Transpose-moves-last"),
    Case("Reshape", [rows(4, 6), i64(3, 8)], name="Reshape-mixes-rows"),
    Case("Gather", [rows(4, 8), i64(1, 1, 1)], attrs={"axis": -1}, name="Gather-last-axis-repeats"),
    Case("Tile", [rows(3, 4), i64(1, 2)]),
    Case("Pad", [rows(3, 4), i64(0, 1, 0, 1)], opset=13),
    Case("Exp", [rows(3, 4)]),
    Case("Sigmoid", [rows(3, 4)]),
    Case("Softmax", [rows(3, 4)], opset=13),
    Case("Clip", [rows(3, 4)], opset=13, name="Clip-without-limits-hands-its-input-through"),
    Case("ReduceSum", [rows(3, 4), i64(0)], opset=13),
    Case("CumSum", [rows(3, 4), np.array(1, np.int64)]),
    Case("Add", [rows(3, 4), Box((3, 4))], name="Add-unknown-norm"),
    Case("Div", [rows(3, 4), Box((4,))], name="Div-by-anything-near-0"),
    Case("MatMul", [rows(3, 4), f32(4, 4)], name="MatMul-output"),
    Case("Where", [Box((3, 4), dtype=TensorProto.BOOL), rows(3, 4), rows(3, 4)]),
    Case("Dropout", [rows(3, 4), np.array(0.5, np.float32), np.array(True)], opset=13, name="Dropout-training"),
]


@pytest.mark.parametrize("case", DROP, ids=str)
def test_ops_outside_the_list_drop_the_row_norm(case):
    out = check(case, seeds=(0,))
    assert out["bounds"][0].row_norm is None


def test_a_product_with_a_possibly_infinite_operand_drops_the_row_norm(tmp_path):
    path = str(tmp_path / "m.onnx")
    x = helper.make_tensor_value_info("x", F, [3, 4])
    y = helper.make_tensor_value_info("y", F, [3, 4])
    g = helper.make_graph(
        [helper.make_node("Mul", ["x", "y"], ["z"])], "g", [x, y], [helper.make_tensor_value_info("z", F, None)]
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    bounds = {
        "x": Interval(np.full((3, 4), -1, np.float32), np.ones((3, 4), np.float32), row_norm=1.0),
        "y": Interval(np.zeros((3, 4), np.float32), np.full((3, 4), np.inf, np.float32)),
    }
    a = analyze(load_model(path), {}, input_bounds=bounds, strict=True)
    assert a.bounds["z"].row_norm is None


def test_every_rule_names_a_registered_op():
    assert set(rownorm.RULES) <= set(transfer.REGISTRY)


def test_the_harness_catches_a_row_norm_that_is_too_small(monkeypatch):
    monkeypatch.setitem(rownorm.RULES, ("", "Reshape"), lambda ctx, j, out: ctx.x(0).row_norm / 2)
    with pytest.raises(AssertionError, match=r"row-norm bound|outside"):
        check(Case("Reshape", [rows(2, 4, 8, fraction=1.0), i64(2, 4, 2, 4)]), seeds=(0,))


# -- normalisations create it -----------------------------------------------------------------------

GAMMA = f32(8)
BETA = f32(8)
NORM = dict(rtol=1e-4, scale_tol=1e-4)
MS = "com.microsoft"


@pytest.mark.parametrize(
    "case,count,beta",
    [
        (Case("LayerNormalization", [Box((2, 3, 8)), GAMMA, BETA], outputs=3, **NORM), 8, BETA),
        (
            Case(
                "LayerNormalization",
                [Box((2, 3, 8)), np.ones((3, 8), np.float32)],
                attrs={"axis": 1},
                name="LayerNormalization-two-axes",
                **NORM,
            ),
            24,
            None,
        ),
        (Case("RMSNormalization", [Box((2, 3, 8)), GAMMA], opset=23, **NORM), 8, None),
        (Case("SimplifiedLayerNormalization", [Box((2, 3, 8)), GAMMA], outputs=2, **NORM), 8, None),
        (
            Case(
                "SkipLayerNormalization",
                [Box((2, 3, 8)), Box((2, 3, 8)), GAMMA, BETA],
                outputs=4,
                domain=MS,
                check_outputs=(0, 3),
                **NORM,
            ),
            8,
            BETA,
        ),
        (
            Case(
                "SkipSimplifiedLayerNormalization",
                [Box((2, 3, 8)), Box((2, 3, 8)), GAMMA],
                outputs=4,
                domain=MS,
                check_outputs=(0, 3),
                **NORM,
            ),
            8,
            None,
        ),
    ],
    ids=lambda v: str(v) if isinstance(v, Case) else None,
)
def test_normalisations_bound_their_rows(case, count, beta):
    """sqrt(N) max|gamma| + ||beta|| (plus a little rounding), checked on onnxruntime's own rows."""
    out = check(case)
    y = out["bounds"][0]
    gamma = case.inputs[2] if case.domain == MS else case.inputs[1]
    exact = math.sqrt(count) * float(np.abs(gamma).max()) + (0.0 if beta is None else float(np.linalg.norm(beta)))
    assert exact <= y.row_norm <= exact * 1.002
    assert all(b.row_norm is None for b in out["bounds"][1:])


def _save(nodes, inputs, inits, path, opset=17, outputs=("y",)):
    g = helper.make_graph(
        nodes,
        "g",
        inputs,
        [helper.make_tensor_value_info(o, F, None) for o in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    onnx.save(model, path)
    return path


def _t5_norm(x: str, out: str, axes=(-1,)):
    """T5LayerNorm as exported: x * Reciprocal(Sqrt(ReduceMean(Pow(x, 2)) + eps)), then * weight."""
    return (
        [
            helper.make_node("Pow", [x, "two"], [f"{out}_sq"]),
            helper.make_node("ReduceMean", [f"{out}_sq"], [f"{out}_ms"], axes=list(axes), keepdims=1),
            helper.make_node("Add", [f"{out}_ms", "eps"], [f"{out}_mse"]),
            helper.make_node("Sqrt", [f"{out}_mse"], [f"{out}_rms"]),
            helper.make_node("Reciprocal", [f"{out}_rms"], [f"{out}_inv"]),
            helper.make_node("Mul", [x, f"{out}_inv"], [f"{out}_z"]),
            helper.make_node("Mul", ["weight", f"{out}_z"], [out]),
        ],
        {"two": np.float32(2.0), "eps": np.float32(1e-6)},
    )


def test_decomposed_rms_norm_creates_a_row_norm(tmp_path):
    nodes, inits = _t5_norm("x", "y")
    weight = f32(16)
    path = _save(
        nodes,
        [helper.make_tensor_value_info("x", F, [2, 3, 16])],
        {**inits, "weight": weight},
        str(tmp_path / "t5.onnx"),
    )
    a = check_model(path, {"x": (-50.0, 50.0)}, rtol=1e-4, scale_tol=1e-4)
    z, y = a.bounds["y_z"], a.bounds["y"]
    assert 4.0 <= z.row_norm <= 4.0 * 1.002
    assert 4.0 * np.abs(weight).max() <= y.row_norm <= 4.0 * np.abs(weight).max() * 1.003


def test_a_norm_over_another_axis_creates_none(tmp_path):
    nodes, inits = _t5_norm("x", "y", axes=(1,))
    path = _save(
        nodes,
        [helper.make_tensor_value_info("x", F, [2, 3, 16])],
        {**inits, "weight": f32(16)},
        str(tmp_path / "t5-axis1.onnx"),
    )
    a = check_model(path, {"x": (-50.0, 50.0)}, rtol=1e-4, scale_tol=1e-4)
    assert a.bounds["y_z"].row_norm is None and a.bounds["y"].row_norm is None


def test_decomposed_layer_norm_with_affine_keeps_the_row_norm(tmp_path):
    """(x - mean) / sqrt(mean((x - mean)^2) + eps) * gamma + beta, as older exporters spell LayerNorm."""
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["mean"], axes=[-1], keepdims=1),
        helper.make_node("Sub", ["x", "mean"], ["d"]),
        helper.make_node("Mul", ["d", "d"], ["sq"]),
        helper.make_node("ReduceMean", ["sq"], ["var"], axes=[-1], keepdims=1),
        helper.make_node("Add", ["var", "eps"], ["ve"]),
        helper.make_node("Sqrt", ["ve"], ["std"]),
        helper.make_node("Div", ["d", "std"], ["z"]),
        helper.make_node("Mul", ["z", "gamma"], ["zg"]),
        helper.make_node("Add", ["zg", "beta"], ["y"]),
    ]
    gamma, beta = f32(16), f32(16)
    path = _save(
        nodes,
        [helper.make_tensor_value_info("x", F, [2, 3, 16])],
        {"eps": np.float32(1e-5), "gamma": gamma, "beta": beta},
        str(tmp_path / "ln.onnx"),
    )
    a = check_model(path, {"x": (-10.0, 10.0)}, rtol=1e-4, scale_tol=1e-4)
    expected = 4.0 * np.abs(gamma).max() + np.linalg.norm(beta)
    assert expected <= a.bounds["y"].row_norm <= expected * 1.003


# -- tightness: LayerNorm -> MatMul, attention scores -------------------------------------------------

HIDDEN, HEADS = 64, 4


def _ln(x: str, out: str):
    return helper.make_node("LayerNormalization", [x, "gamma", "beta"], [out], axis=-1, epsilon=1e-5)


def _box_only(name: str, out: str) -> list:
    """Two transposes that give back the same tensor: the box stays exact, the row norm is lost."""
    return [
        helper.make_node("Transpose", [name], [f"{out}_t"], perm=[0, 2, 1]),
        helper.make_node("Transpose", [f"{out}_t"], [out], perm=[0, 2, 1]),
    ]


def _projection_model(path: str, weight: np.ndarray, gamma, beta, box_only: bool, seq: int = 16) -> str:
    nodes = [_ln("x", "ln")]
    src = "ln"
    if box_only:
        nodes += _box_only("ln", "ln_box")
        src = "ln_box"
    nodes.append(helper.make_node("MatMul", [src, "w"], ["y"]))
    x = helper.make_tensor_value_info("x", F, [1, seq, HIDDEN])
    return _save(nodes, [x], {"w": weight, "gamma": gamma, "beta": beta}, path)


def test_layer_norm_then_matmul_is_bounded_by_column_norms(tmp_path):
    w = f32(HIDDEN, 16, scale=0.02)
    gamma = (1 + 0.1 * rng.standard_normal(HIDDEN)).astype(np.float32)
    beta = f32(HIDDEN, scale=0.1)
    ranges = {"x": (-3.0, 3.0)}
    tight = check_model(_projection_model(str(tmp_path / "ln.onnx"), w, gamma, beta, False), ranges)
    loose = analyze(load_model(_projection_model(str(tmp_path / "box.onnx"), w, gamma, beta, True)), ranges)
    r = tight.bounds["ln"].row_norm
    expected = np.linalg.norm(w.astype(np.float64), axis=0) * r
    hi = np.broadcast_to(tight.bounds["y"].hi, (1, 16, 16))[0, 0]
    np.testing.assert_allclose(hi, expected, rtol=1e-3)
    box = loose.bounds["y"].abs_max()
    assert loose.bounds["ln_box"].row_norm is None
    # For random weights the box bound is about sqrt(2N/pi) (6.4 for N = 64) times wider.
    assert box / tight.bounds["y"].abs_max() > 5


def test_rows_aimed_at_a_weight_column_nearly_reach_the_bound(tmp_path):
    """LayerNorm of x = +-W[:, j] gives a row parallel to column j: the bound is nearly attained, and a
    bound that were too small by a few percent would fail here."""
    w = f32(HIDDEN, 16, scale=0.02)
    w -= w.mean(axis=0)  # the normalised row keeps the column's direction exactly
    ones, zeros = np.ones(HIDDEN, np.float32), np.zeros(HIDDEN, np.float32)
    path = _projection_model(str(tmp_path / "aim.onnx"), w, ones, zeros, False, seq=32)
    a = analyze(load_model(path), {"x": (-1.0, 1.0)}, strict=True)
    feed = np.concatenate([w.T, -w.T])[None] * 10  # (1, 32, 64): each column and its opposite
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": feed.astype(np.float32)})
    y = y[0]
    lo = np.broadcast_to(a.bounds["y"].lo, (1, 32, 16))[0, 0]
    hi = np.broadcast_to(a.bounds["y"].hi, (1, 32, 16))[0, 0]
    reached_hi = np.diag(y[:16])  # row j is aimed at column j
    reached_lo = np.diag(y[16:])
    assert np.all(reached_hi <= hi) and np.all(reached_lo >= lo)
    assert np.all(reached_hi >= 0.99 * hi) and np.all(reached_lo <= 0.99 * lo)


def _attention_model(path: str, wq, wk, box_only: bool, seq: int = 8) -> str:
    """LayerNorm -> q, k projections -> heads -> q @ k^T / sqrt(d), as exporters write it."""
    d = HIDDEN // HEADS
    nodes = [_ln("x", "ln")]
    src = "ln"
    if box_only:
        nodes += _box_only("ln", "ln_box")
        src = "ln_box"
    nodes += [
        helper.make_node("MatMul", [src, "wq"], ["q"]),
        helper.make_node("MatMul", [src, "wk"], ["k"]),
        helper.make_node("Reshape", ["q", "heads"], ["qh"]),
        helper.make_node("Reshape", ["k", "heads"], ["kh"]),
        helper.make_node("Transpose", ["qh"], ["qt"], perm=[0, 2, 1, 3]),
        helper.make_node("Transpose", ["kh"], ["kt"], perm=[0, 2, 3, 1]),
        helper.make_node("MatMul", ["qt", "kt"], ["s"]),
        helper.make_node("Div", ["s", "scale"], ["y"]),
    ]
    x = helper.make_tensor_value_info("x", F, [1, seq, HIDDEN])
    inits = {
        "wq": wq,
        "wk": wk,
        "gamma": np.ones(HIDDEN, np.float32),
        "beta": np.zeros(HIDDEN, np.float32),
        "heads": i64(1, seq, HEADS, d),
        "scale": np.float32(math.sqrt(d)),
    }
    return _save(nodes, [x], inits, path)


def test_attention_scores_after_a_layer_norm(tmp_path):
    wq, wk = f32(HIDDEN, HIDDEN, scale=0.02), f32(HIDDEN, HIDDEN, scale=0.02)
    ranges = {"x": (-3.0, 3.0)}
    tight = check_model(_attention_model(str(tmp_path / "attn.onnx"), wq, wk, False), ranges)
    loose = analyze(load_model(_attention_model(str(tmp_path / "box.onnx"), wq, wk, True)), ranges)
    d = HIDDEN // HEADS
    r = tight.bounds["ln"].row_norm
    # Per head: the norm of a head's query is at most sigma_max(Wq[:, head]) * r (attention.py).
    sigma = lambda w: max(np.linalg.norm(w[:, h * d : (h + 1) * d].astype(np.float64), 2) for h in range(HEADS))
    expected = sigma(wq) * r * sigma(wk) * r / math.sqrt(d)
    assert expected <= tight.bounds["y"].abs_max() <= expected * d ** (1 / 16)  # attention.block_sigmas
    # The product of the column bounds (interval arithmetic after the column bands) is several times wider.
    q_cols = (np.linalg.norm(wq.astype(np.float64), axis=0) * r).reshape(HEADS, d)
    k_cols = (np.linalg.norm(wk.astype(np.float64), axis=0) * r).reshape(HEADS, d)
    assert float(np.max(np.sum(q_cols * k_cols, axis=1))) / math.sqrt(d) > 4 * expected
    # Without the LayerNorm's row norm the rows' norm comes from their box: sqrt(N) times wider, squared.
    assert loose.bounds["y"].abs_max() / tight.bounds["y"].abs_max() > 25


# -- the mechanism's pieces ---------------------------------------------------------------------------


def test_column_norms_are_computed_once_per_weight(tmp_path, monkeypatch):
    calls = []
    real = linear._column_norms
    monkeypatch.setattr(linear, "_column_norms", lambda w: calls.append(w.shape) or real(w))
    nodes = [
        _ln("x", "ln"),
        helper.make_node("MatMul", ["ln", "w"], ["a"]),
        helper.make_node("MatMul", ["ln", "w"], ["b"]),
        helper.make_node("Add", ["a", "b"], ["y"]),
    ]
    x = helper.make_tensor_value_info("x", F, [1, 4, HIDDEN])
    path = _save(
        nodes,
        [x],
        {"w": f32(HIDDEN, 8), "gamma": np.ones(HIDDEN, np.float32), "beta": np.zeros(HIDDEN, np.float32)},
        str(tmp_path / "twice.onnx"),
    )
    model = load_model(path)
    first = analyze(model, {}, strict=True)
    second = analyze(model, {"x": (-2.0, 2.0)}, strict=True)  # another analysis of the same weights
    assert calls == [(HIDDEN, 8)]
    assert first.bounds["a"].max() == second.bounds["a"].max()  # the band does not depend on the range


def test_the_column_norm_cache_forgets_dead_weights():
    w = f32(6, 3)
    norms = linear.column_norms(w)
    np.testing.assert_allclose(norms, np.linalg.norm(w.astype(np.float64), axis=0), rtol=1e-5)
    key = (id(w), False)
    assert key in linear._COLUMN_NORMS
    del w
    assert key not in linear._COLUMN_NORMS


def test_interval_operations_keep_or_drop_the_row_norm():
    lo, hi = np.full((2, 4), -3.0, np.float32), np.full((2, 4), 3.0, np.float32)
    iv = Interval(lo, hi).with_row_norm(2.0)
    assert iv.row_norm == 2.0 and iv.min() == -2.0 and iv.max() == 2.0  # the box shrinks into the ball
    assert iv.astype(np.float64).row_norm == 2.0
    assert iv.collapse().row_norm == 2.0
    assert iv.clamp(1.0).row_norm == 2.0
    assert iv.with_shape((2, 4)).row_norm == 2.0 and iv.with_shape((1, 2, 4)).row_norm is None
    assert (iv + iv).row_norm is None and (iv * 2).row_norm is None  # arithmetic: rules decide
    other = Interval(lo, hi, row_norm=5.0)
    assert join(iv, other).row_norm == 5.0 and join(iv, Interval(lo, hi)).row_norm is None
    assert join(iv, Interval.point(np.full((2, 4), 3.0, np.float32))).row_norm == 6.0
    assert iv.with_row_norm(None).row_norm is None
    assert Interval(lo, hi, row_norm=math.inf).row_norm is None
    assert Interval(np.float32(0), np.float32(1), shape=(), row_norm=1.0).row_norm is None  # no rows
    assert Interval(np.zeros(3, np.int64), np.ones(3, np.int64), row_norm=1.0).row_norm is None


def test_a_normalisation_whose_variance_can_vanish_claims_no_row_norm(tmp_path):
    """eps = 0 and a row that can be constant: 0/0 or x/0 are possible, so no norm bound holds."""
    nodes = [helper.make_node("LayerNormalization", ["x", "gamma"], ["y"], axis=-1, epsilon=0.0)]
    x = helper.make_tensor_value_info("x", F, [2, 4])
    path = _save(nodes, [x], {"gamma": np.ones(4, np.float32)}, str(tmp_path / "nan.onnx"))
    lo = np.array([[1, 1, 1, 1], [-1, -2, 0, 1]], np.float32)
    hi = np.array([[1, 1, 1, 1.5], [1, 2, 3, 4]], np.float32)
    y = analyze(load_model(path), {}, input_bounds={"x": Interval(lo, hi)}, strict=True).bounds["y"]
    assert y.may_nan and y.row_norm is None
    eps = analyze(
        load_model(
            _save(
                nodes[:0] + [helper.make_node("LayerNormalization", ["x", "gamma"], ["y"], axis=-1, epsilon=1e-5)],
                [x],
                {"gamma": np.ones(4, np.float32)},
                str(tmp_path / "eps.onnx"),
            )
        ),
        {},
        input_bounds={"x": Interval(lo, hi)},
        strict=True,
    ).bounds["y"]
    assert eps.row_norm == pytest.approx(2.0, rel=2e-3)
