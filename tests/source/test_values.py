"""Value facts (nanlint.source.values): what transfer functions and guards conclude about an expression.

Each case asks the fact of the argument of `probe(...)` in a small module; the rules build on these.
"""

from __future__ import annotations

import libcst as cst
import pytest

from nanlint.source import engine
from nanlint.source.rule import Rule
from nanlint.source.values import BUILT, DEGENERATE, NAMED


def fact_of(source: str):
    """The fact of the (last) probe's argument."""
    facts = []

    class Probe(Rule):
        code = "NAN104"

        def visit_Call(self, node: cst.Call) -> None:
            if isinstance(node.func, cst.Name) and node.func.value == "probe":
                facts.append(self.ctx.values.of(node.args[0].value))

    engine.run_rules(cst.parse_module(source), [Probe], {})
    return facts[-1]


def zero_level(source: str) -> int | None:
    reason = fact_of(source).can_be_zero()
    return None if reason is None else reason.level


@pytest.mark.parametrize(
    "body,level",
    [
        ("probe(mask.float().sum(-1))", BUILT),  # everything masked out
        ("probe(torch.relu(x).sum())", BUILT),  # every input negative
        ("probe((x ** 2).sum(-1))", DEGENERATE),  # a zero vector
        ("probe(((a - b) ** 2).sum(-1))", DEGENERATE),  # equal points
        ("probe(x.std(0))", DEGENERATE),  # constant input
        ("probe(x.max() - x.min())", DEGENERATE),  # constant input
        ("probe(1 - w ** 2)", DEGENERATE),  # |w| = 1
        ("probe(torch.clamp(x, min=0))", BUILT),
        ("probe(torch.exp(x))", DEGENERATE),  # underflow for very negative input
    ],
)
def test_what_can_be_zero_and_how_surely(body, level):
    assert zero_level(f"import torch\n{body}\n") == level


@pytest.mark.parametrize(
    "body",
    [
        "probe((x ** 2).sum(-1) + 1e-8)",  # an eps added
        "probe(torch.clamp(x.std(0), min=1e-6))",  # clamped at an eps
        "probe(torch.softmax(x, -1).sum(-1))",  # a distribution sums to 1
        "probe(1 + w ** 2)",  # >= 1
        "probe(max(n, 1))",  # max(n, 1)
        "probe(mask.sum().maximum(torch.ones_like(mask.sum())))",  # at least a tensor of ones
        "probe(torch.maximum(mask.sum(), torch.ones(())))",
        "probe(torch.max(mask.sum(), torch.tensor([1], dtype=torch.float32)))",  # torch.max's element-wise form
        "probe(torch.max(mask.float().sum(-1), torch.ones_like(n)))",
        "probe(x)",  # unknown: no evidence is not a reason
    ],
)
def test_what_cannot_be_zero(body):
    fact = fact_of(f"import torch\n{body}\n")
    assert fact.can_be_zero(DEGENERATE) is None


def test_a_max_over_a_dim_is_a_reduction_not_a_guard():
    """torch.max(x, 1) reduces over dim 1: the max of a masked count along it can still be 0."""
    assert zero_level("import torch\nprobe(torch.max(mask.float().sum(-1), 1)[0])\n") == BUILT
    assert zero_level("import torch\nprobe(torch.max(mask.float().sum(-1), dim)[0])\n") == BUILT


def test_names_are_followed_to_their_values():
    source = "import torch\nd2 = ((a - b) ** 2).sum(-1)\nprobe(d2)\n"
    assert fact_of(source).why == "a squared distance"
    assert fact_of("import torch\nd = x.max() - x.min()\nprobe(d)\n").why == "max - min of one tensor"


def test_branches_join():
    """After `if c: n = n + 1e-8`, n may still be the unguarded value: the join keeps the zero."""
    source = "import torch\nn = (x ** 2).sum()\nif c:\n    n = n + 1e-8\nprobe(n)\n"
    assert zero_level(source) == DEGENERATE
    both = "import torch\nn = (x ** 2).sum()\nif c:\n    n = n + 1e-8\nelse:\n    n = n + 1e-6\nprobe(n)\n"
    assert zero_level(both) is None


def test_bounds_of_bounded_ops():
    sig = fact_of("import torch\nprobe(torch.sigmoid(x))\n")
    assert (sig.lo, sig.hi) == (0, 1)
    tanh = fact_of("import torch\nprobe(torch.tanh(x))\n")
    assert (tanh.lo, tanh.hi) == (-1, 1)


def test_python_scalars_are_marked():
    assert fact_of("import math\nprobe(math.exp(t))\n").scalar
    assert not fact_of("import torch\nprobe(torch.exp(t))\n").scalar


def test_evidence_from_a_name_is_weakest():
    reason = fact_of("import torch\nprobe(probs)\n").can_be_zero()
    assert reason is None or reason.level == NAMED


@pytest.mark.parametrize(
    "unpacking,kind",
    [
        ("mean, spread = tf.nn.moments(x, axes=[0])", "var"),  # TensorFlow: (mean, variance)
        ("mean, spread = tf.nn.weighted_moments(x, [0], w)", "var"),
        ("mean, spread = keras.ops.moments(x, axes=[0])", "var"),
        ("spread, mean = torch.var_mean(x, 0)", "var"),  # PyTorch: (variance, mean)
        ("spread, mean = torch.std_mean(x, 0)", "std"),
        ("spread = torch.std_mean(x, 0)[0]", "std"),  # indexed rather than unpacked
    ],
)
def test_each_result_of_a_multi_result_op_has_its_fact(unpacking, kind):
    fact = fact_of(f"import torch\nimport keras\nimport tensorflow as tf\n{unpacking}\nprobe(spread)\n")
    assert (fact.kind, fact.lo) == (kind, 0)
    assert fact.can_be_zero().level == DEGENERATE


@pytest.mark.parametrize(
    "unpacking",
    [
        "spread, mean = tf.nn.moments(x, axes=[0])",  # the mean, whatever the name says
        "mean, spread = torch.var_mean(x, 0)",
        "spread, *rest = tf.nn.moments(x, axes=[0])",
        "values, spread = torch.sort(x)",  # no fact for this op's results
    ],
)
def test_results_without_a_spread_fact(unpacking):
    fact = fact_of(f"import torch\nimport keras\nimport tensorflow as tf\n{unpacking}\nprobe(spread)\n")
    assert fact.kind not in ("var", "std") and fact.can_be_zero() is None


STANDARDISE_WITH_MOMENTS = """\
import tensorflow as tf


def standardise(x):
    mean, variance = tf.nn.moments(x, axes=[0])
    return (x - mean) / {denominator}
"""


def test_a_variance_from_moments_reaches_the_division_rule():
    from tests.helpers import lint

    found = lint(STANDARDISE_WITH_MOMENTS.format(denominator="tf.sqrt(variance)"), ("NAN105", "NAN106"))
    assert found == [  # one finding for the quotient and the sqrt's gradient, the eps inside the sqrt
        (
            "NAN105",
            6,
            12,
            "division by a standard deviation, which is 0 for constant input: inf or NaN there, and the sqrt's "
            "gradient is infinite at 0 (NaN in training); add the eps inside the sqrt (sqrt(v + eps))",
        ),
    ]


@pytest.mark.parametrize("denominator", ["tf.sqrt(variance + 1e-5)", "tf.sqrt(tf.maximum(variance, 1e-6))", "mean"])
def test_guarded_moments_are_quiet(denominator):
    from tests.helpers import codes

    assert codes(STANDARDISE_WITH_MOMENTS.format(denominator=denominator), ("NAN105", "NAN106")) == []


@pytest.mark.parametrize(
    "name,mask",
    [
        ("attn_mask", True),
        ("one_hot_labels", True),
        ("y_onehot", True),
        ("soft_onehot_temp", False),  # a temperature: the last word of a name says what it is
        ("mask_ratio", False),
        ("masked_positions", False),
    ],
)
def test_a_name_says_mask_only_by_its_last_word(name, mask):
    fact = fact_of(f"import torch\n\n\ndef f({name}):\n    probe({name})\n")
    assert (fact.kind == "mask") is mask


@pytest.mark.parametrize(
    "body,kind,level",
    [
        ("probe(sample_weight)", "weight", NAMED),  # a per-example weight: 0 for an example left out
        ("probe(batch.example_weights)", "weight", NAMED),
        ('probe(batch["sample_weight"])', "weight", NAMED),  # a string key names its value as a variable would
        ('probe(batch["attention_mask"])', "mask", BUILT),
        ("probe(sample_weight.mean())", "weight-sum", NAMED),  # a batch of them can be all 0
        ("probe(w * ((y > 0).float() * a + (1 - (y > 0).float()) * b))", "masked", BUILT),
        ("m = (y > 0).float() * a + b * (1 - (y > 0).float())\nprobe((w * m).mean())", "masked", BUILT),
        ("probe(torch.sqrt(rms.var))", "std", NAMED),  # sqrt of a variance is a standard deviation
    ],
)
def test_weights_masks_and_spreads(body, kind, level):
    reason = fact_of(f"import torch\n{body}\n").can_be_zero()
    assert reason is not None and (reason.kind, reason.level) == (kind, level)


@pytest.mark.parametrize(
    "body",
    [
        "probe(weights)",  # a weight of any kind (a layer's, a mixing coefficient) says nothing
        'probe(batch["inputs"])',
        "probe(sample_weight.mean().clamp_min(1e-12))",
        "probe((sample_weight + 1.0).mean())",
    ],
)
def test_weights_that_are_not_zero(body):
    assert fact_of(f"import torch\n{body}\n").can_be_zero() is None


@pytest.mark.parametrize(
    "body",
    [
        'probe(x.masked_fill(m, float("-inf")))',
        "probe(torch.where(m, x, -torch.inf))",
        "probe(torch.where(m, x, torch.tensor(-np.inf)))",
        "probe(x + torch.where(m, 0.0, -math.inf))",
        'probe(torch.log_softmax(x.masked_fill(m, float("-inf")), -1))',
        'b = torch.full_like(x, float("-inf"))\nprobe(torch.where(m, x, b))',
    ],
)
def test_infinite_fills_are_remembered(body):
    fact = fact_of(f"import math\nimport numpy as np\nimport torch\n{body}\n")
    assert fact.infinite is not None and fact.infinite.level == BUILT


@pytest.mark.parametrize(
    "body",
    [
        "probe(x.masked_fill(m, torch.finfo(x.dtype).min))",
        "probe(x.masked_fill(m, -1e9))",
        'probe(torch.softmax(x.masked_fill(m, float("-inf")), -1))',  # the probabilities are finite
        'probe(float("1e-8"))',
        "probe(x)",
    ],
)
def test_finite_values_are_not_infinite(body):
    assert fact_of(f"import torch\n{body}\n").infinite is None


def test_sums_of_probabilities_can_be_zero_only_weakly():
    """Every term underflowing at once (a class no position predicts): evidence for a log, not for a division."""
    reason = fact_of("import torch\nprobe(torch.softmax(x, -1).mean(0))\n").can_be_zero()
    assert (reason.level, reason.kind) == (NAMED, "probability-sum")
    assert fact_of("import torch\nprobe(torch.softmax(x, -1).sum(-1))\n").nonzero  # a distribution sums to 1


def test_a_value_kept_under_a_probability_name_is_one():
    kept = "import torch\ndef f(out, cache):\n    cache.softmax = out\n    probe(out)\n"
    assert fact_of(kept).kind == "probability"
    rebound = "import torch\ndef f(out, cache):\n    out = out.view(4, -1)\n    cache.probs = out\n    probe(out)\n"
    assert fact_of(rebound).kind == "probability"
    other = "import torch\ndef f(out, cache):\n    cache.logits = out\n    probe(out)\n"
    assert fact_of(other).kind == ""
    earlier = "import torch\ndef f(out, cache):\n    cache.probs = out\n    out = out * 2\n    probe(out)\n"
    assert fact_of(earlier).kind != "probability"  # a new value, not the one kept


def test_exp_of_a_huge_constant_is_infinite_not_an_error():
    fact = fact_of('import torch\nprobe(torch.exp(float("1000")))\n')
    assert fact.hi == float("inf")


def test_normalising_in_place_makes_a_distribution():
    """`x /= x.sum(-1)` is `<x's value> / x.sum(-1)`: the entries of a normalised distribution, 0 where x is."""
    fact = fact_of("import torch\nx = torch.exp(z)\nx /= x.sum(-1, keepdim=True)\nprobe(x)\n")
    assert (fact.lo, fact.hi, fact.kind) == (0, 1, "probability")


def test_a_sigmoid_underflows_to_0_as_rarely_as_an_exp_but_rounds_to_1_often():
    """0 only for very negative input (like exp's underflow); 1 for any input past 17."""
    sig = fact_of("import torch\nprobe(torch.sigmoid(x))\n")
    assert (sig.zero.level, sig.zero.kind) == (DEGENERATE, "probability")
    assert sig.one.level == BUILT


def test_a_sigmoid_of_a_bounded_value_keeps_its_bounds():
    """torch.tensor(3.0).sigmoid() is about 0.953: never 0, never 1."""
    sig = fact_of("import torch\nprobe(torch.tensor(3.0).sigmoid())\n")
    assert round(sig.lo, 3) == round(sig.hi, 3) == 0.953
    assert sig.can_be_zero() is None and sig.one is None
    shifted = fact_of("import torch\nprobe(torch.sigmoid(torch.clamp(x, -5, 5)))\n")
    assert shifted.nonzero and 0 < shifted.lo < shifted.hi < 1


def test_a_sum_of_opposite_signs_is_a_difference_not_either_term():
    """-p + c is c - p: 0 where the two are equal (degenerate evidence), not 'a sigmoid' or 'a mask'."""
    reason = fact_of("import torch\nprobe(-torch.sigmoid(t) + torch.sigmoid(b))\n").can_be_zero()
    assert (reason.level, reason.kind) == (DEGENERATE, "difference")
    masked = fact_of("import torch\nprobe(mask.float().sum(-1) + other_mask.float().sum(-1))\n").can_be_zero()
    assert (masked.level, masked.kind) == (BUILT, "count")  # two non-negative sums can both be 0


@pytest.mark.parametrize(
    "body,overflows",
    [
        ("probe(torch.exp(x))", True),  # float32's exp is inf past 88
        ("probe(1 + torch.exp(-x) * 2)", True),  # sums and products keep it
        ("probe(torch.exp(x).sum(-1))", True),
        ("probe(torch.sqrt(torch.expm1(x)))", True),
        ("probe(10 ** x)", True),  # an exp in another base
        ("probe(0.5 ** x)", True),  # inf for very negative x
        ("probe(torch.exp(x.clamp(max=10)))", False),  # a bounded argument
        ("probe(math.exp(x))", False),  # raises OverflowError rather than returning inf
        ("probe(1 + x ** 2)", False),  # a polynomial only grows
        ("probe(torch.sqrt(sigma ** 2 + 1))", False),
        ("probe(1 / (1 + torch.exp(-x)))", False),  # a quotient by it is bounded
    ],
)
def test_what_overflows_for_moderate_input(body, overflows):
    assert fact_of(f"import math\nimport torch\n{body}\n").overflows is overflows


@pytest.mark.parametrize(
    "body",
    [
        "probe(a * (x <= t).float() + b * (x > t).float())",
        "probe(w * a * (x < t).float() + (t <= x).float() * b)",  # mirrored operands, the indicator anywhere
        "probe(a * torch.ones_like(x) * (x == 0) + b * (x != 0))",
    ],
)
def test_a_select_written_as_a_sum_of_complementary_indicators_is_no_masked_value(body):
    """At every element exactly one indicator is 1: the sum is a's or b's value, as where(c, a, b) is."""
    assert fact_of(f"import torch\n{body}\n").can_be_zero(NAMED) is None


@pytest.mark.parametrize(
    "body",
    [
        "probe(a * (x <= t).float() + b * (x >= t).float())",  # both 0 nowhere, both 1 at x == t: not a select
        "probe(a * (x <= t).float() + b * (y > t).float())",  # different operands: both can be 0
        "probe(a * mask + b * (x > t).float())",
    ],
)
def test_indicators_that_are_not_complementary_leave_the_masked_zero(body):
    reason = fact_of(f"import torch\n{body}\n").can_be_zero()
    assert reason is not None and reason.kind == "masked"


def _asked(source: str, question: str):
    """What Values.<question> answers for the (last) probe's argument."""
    answers = []

    class Probe(Rule):
        code = "NAN104"

        def visit_Call(self, node: cst.Call) -> None:
            if isinstance(node.func, cst.Name) and node.func.value == "probe":
                answers.append(getattr(self.ctx.values, question)(node.args[0].value))

    engine.run_rules(cst.parse_module(source), [Probe], {})
    return answers[-1]


@pytest.mark.parametrize(
    "body,tensor",
    [
        ("probe(p[..., 2:])", "p"),
        ("probe(p[..., 2])", "p"),
        ("probe(v[:, 1])", "v"),
        ("probe(self.points[:, :, -1])", "self.points"),
        ("d = v[:, 1].float()\nprobe(d)", "v"),  # through a name and a cast
        ("probe(size[1])", None),  # no leading axes: a Python pair as often as a tensor
        ("probe(x[1:])", None),
        ("probe(x[:, i])", None),  # not a literal position
        ("probe(x[..., 1:3:2])", None),
        ("probe(x[0, 1])", None),  # an earlier index that is not a full slice
    ],
)
def test_an_entry_of_the_last_axis_names_its_tensor(body, tensor):
    assert _asked(f"import torch\n{body}\n", "component_of") == tensor


@pytest.mark.parametrize(
    "body,bound",
    [
        ("probe(jnp.clip(t - t0, 0, steps))", "steps"),
        ("c = torch.clamp(step, min=0, max=self.warmup)\nprobe(c)", "self.warmup"),
        ("probe(torch.clamp(x, -s, s))", None),  # a lower bound other than 0
        ("probe(torch.clamp(x, min=0))", None),  # no upper bound
        ("probe(min(step, warmup))", None),  # Python's min: numbers, not a clip op
    ],
)
def test_a_value_clipped_into_zero_and_a_bound_names_the_bound(body, bound):
    assert _asked(f"import torch\nimport jax.numpy as jnp\n{body}\n", "clipped_under") == bound


@pytest.mark.parametrize(
    "body,guarded",
    [
        ("probe(torch.max(mask.sum(), torch.tensor([1]).float()))", True),  # element-wise maximum with 1
        ("probe(torch.max(mask.sum(), torch.ones_like(n)))", True),
        ("probe(torch.max(mask.sum(1), 1))", False),  # a reduction over dim 1
        ("probe(torch.min(mask.sum(), torch.tensor(1.0)))", False),
    ],
)
def test_torch_max_of_two_tensors_is_an_elementwise_maximum(body, guarded):
    assert fact_of(f"import torch\n{body}\n").nonzero is guarded


@pytest.mark.parametrize(
    "equation, trace",
    [("...ii", True), ("ii", True), ("bii->b", True), ("...ii->...", True), ("...ii->...i", False), ("ij", False)]
    + [("...ij,...jk", False), ("iij", False)],
)
def test_einsum_equations_that_take_a_trace(equation, trace):
    from nanlint.source.values.rotations import trace_equation

    assert trace_equation(equation) is trace
