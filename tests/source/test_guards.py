"""The shared reasoning of the guard rules, tested on its own where the rules do not show it directly."""

from __future__ import annotations

import libcst as cst
import pytest

from nanlint.source import engine, guards, squares
from nanlint.source.rule import Context, Rule
from nanlint.source.rules import divisions, logs


def analysed(source: str, question):
    """Run `question(ctx, expr)` on the argument of each `probe(...)` call, at that point of the traversal."""
    answers = []

    class Probe(Rule):
        code = "NAN104"

        def visit_Call(self, node: cst.Call) -> None:
            if isinstance(node.func, cst.Name) and node.func.value == "probe":
                answers.append(question(self.ctx, node.args[0].value))

    engine.run_rules(cst.parse_module(source), [Probe], {})
    return answers


@pytest.mark.parametrize(
    "name,expected",
    [
        ("log_std", True),
        ("actor_log_std", True),
        ("LOG_STD", True),
        ("_log_std", True),
        ("log_std2", True),
        ("log_std_raw", True),
        ("log_stdev", False),
        ("dialog_std", False),
        ("catalog_scale", False),
        ("std", False),
    ],
)
def test_name_stems_match_at_word_boundaries(name, expected):
    assert guards.names_match(name, ("log_std", "log_scale")) is expected


@pytest.mark.parametrize(
    "expression,expected",
    [
        ("1e-8", True),
        ("eps", True),
        ("self.eps", True),
        ("EPSILON", True),
        ("layer_norm_eps", True),
        ("torch.finfo(x.dtype).eps", True),
        ("np.finfo(np.float32).tiny", True),
        ("K.epsilon()", True),
        ("torch.tensor(1e-6)", True),
        ("smooth", True),
        ("1", True),
        ("0", False),
        ("-1e-8", False),
        ("steps", False),
        ("epsilon_greedy_steps", True),
        ("x", False),
    ],
)
def test_positive_constants(expression, expected):
    source = f"import torch\nimport numpy as np\nfrom keras import backend as K\nprobe({expression})\n"
    assert analysed(source, guards.is_eps) == [expected]


def test_a_cycle_in_the_bindings_is_unknown_not_endless():
    ctx = Context(module=cst.parse_module(""))
    p = cst.Name("p")
    ctx.dataflow._store("p", cst.BinaryOperation(left=p, operator=cst.Multiply(), right=p))  # p = p * p, forever
    assert logs.zero_reason(ctx, p) is None
    ctx.dataflow._store("m", cst.BinaryOperation(left=cst.Name("m"), operator=cst.BitAnd(), right=cst.Name("m")))
    assert guards.is_mask(ctx, cst.Name("m")) is False
    assert squares.square_sum_kind(ctx, p) is None and divisions.denominator_reason(ctx, p) is None


def test_variables_are_whole_chains_and_receivers():
    source = "import torch\nprobe(torch.log(x.norm(dim=-1) + self.eps * y.shape[0]))\n"
    assert analysed(source, guards.variables) == [{"x", "self.eps", "y.shape"}]


def test_condition_variables_follow_names_of_tests():
    source = "ok = a > 0 and b.norm() > 0\nprobe(ok)\n"
    assert analysed(source, guards.condition_variables) == [{"ok", "a", "b"}]


@pytest.mark.parametrize(
    "expression,enclose,expected",
    [
        ("p", False, "p + 1e-8"),
        ("p", True, "(p + 1e-8)"),
        ("(p)", True, "p + 1e-8"),
        ("1 - p", True, "(1 - p + 1e-8)"),
        ("a if c else b", False, "(a if c else b) + 1e-8"),
        ("a | b", False, "(a | b) + 1e-8"),
        ("-p", False, "-p + 1e-8"),
    ],
)
def test_plus_eps_parenthesises_only_where_needed(expression, enclose, expected):
    assert analysed(f"probe({expression})\n", lambda ctx, e: guards.plus_eps(ctx, e, 1e-8, enclose)) == [expected]


def test_numbers_are_written_the_short_way():
    assert [guards.number(v) for v in (1e-8, 1e-12, 0.001, 1e-05)] == ["1e-8", "1e-12", "0.001", "1e-5"]


def test_call_is_memoised_per_file_and_checked_by_identity():
    module = cst.parse_module("import torch\ny = torch.log(x)\n")
    ctx = Context(module=module)
    ctx.names.add_import(module.body[0].body[0])
    log_call = module.body[1].body[0].value
    first = guards.call(ctx, log_call)
    assert first.qualified == "torch.log" and guards.call(ctx, log_call) is first
    other = Context(module=module)  # another file's context: its imports are not seen yet, so only a method form
    assert guards.call(other, log_call).qualified is None
