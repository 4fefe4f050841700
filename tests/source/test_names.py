"""Import aliases resolve to canonical qualified names, and method forms map to semantic ops."""

from __future__ import annotations

import libcst as cst
import pytest

from nanlint.source.engine import _ImportTracker
from nanlint.source.rule import Context
from nanlint.source.traversal import Dispatcher


def resolve_last_call(source: str):
    """The OpCall of the last expression statement's call, after the module's imports are read."""
    module = cst.parse_module(source)
    ctx = Context(module=module)
    dispatcher = Dispatcher()
    dispatcher.register(_ImportTracker(ctx))
    dispatcher.register(ctx.dataflow)
    dispatcher.walk(module)
    expr = module.body[-1].body[0].value
    return ctx, ctx.call(expr)


@pytest.mark.parametrize(
    "source,op,qualified",
    [
        ("import torch as T\nT.log(x)", "log", "torch.log"),
        ("from torch import log as L\nL(x)", "log", "torch.log"),
        ("import torch.nn.functional as F\nF.softmax(x, -1)", "softmax", "torch.nn.functional.softmax"),
        ("import tensorflow.compat.v1 as tf\ntf.log(x)", "log", "tensorflow.log"),
        ("import tensorflow as tf\ntf.math.log(x)", "log", "tensorflow.math.log"),
        ("import tensorflow as tf\ntf.keras.backend.exp(x)", "exp", "keras.backend.exp"),
        ("from tensorflow.keras import backend as K\nK.log(x)", "log", "keras.backend.log"),
        ("import jax.numpy as jnp\njnp.exp(x)", "exp", "jax.numpy.exp"),
        ("import jax\njax.nn.softmax(x)", "softmax", "jax.nn.softmax"),
        ("from scipy.special import expit\nexpit(x)", "sigmoid", "scipy.special.expit"),
        ("import math\nmath.sqrt(x)", "sqrt", "math.sqrt"),
        ("import numpy as np\nnp.linalg.norm(x)", "norm", "numpy.linalg.norm"),
        ("import torch\ntorch.special.expit(x)", "sigmoid", "torch.special.expit"),
        ("max(n, 1)", "maximum", "builtins.max"),
    ],
)
def test_function_forms(source, op, qualified):
    _, call = resolve_last_call(source)
    assert (call.op, call.qualified, call.method) == (op, qualified, False)


def test_method_form_puts_the_receiver_first():
    _, call = resolve_last_call("import torch\nlogits.softmax(dim=-1)")
    assert call.op == "softmax" and call.method
    assert isinstance(call.args[0], cst.Name) and call.args[0].value == "logits"
    assert isinstance(call.arg(1, "dim"), cst.UnaryOperation)


def test_a_module_attribute_is_not_a_method_call():
    # `np.max` is a function of numpy, not the max method of a tensor called np
    _, call = resolve_last_call("import numpy as np\nnp.max(x)")
    assert call.op == "max" and not call.method and len(call.args) == 1


def test_module_instances_compute_their_op():
    source = (
        "import torch.nn as nn\nclass M:\n    def __init__(self):\n        self.act = nn.Softmax(-1)\n"
        "    def forward(self, x):\n        return self.act(x)\n"
    )
    module = cst.parse_module(source)
    ctx = Context(module=module)
    seen = []

    class Probe:
        def visit_Call(self, node):
            seen.append(ctx.op(node))

    dispatcher = Dispatcher()
    dispatcher.register(_ImportTracker(ctx))
    dispatcher.register(ctx.dataflow)
    dispatcher.register(Probe())
    dispatcher.walk(module)
    assert seen == [None, "softmax"]


def test_unknown_names_are_not_ops():
    _, call = resolve_last_call("from mylib import log\nlog(x)")
    assert call is None
    _, call = resolve_last_call("log(x)")
    assert call is None


def test_spelling_uses_the_files_aliases():
    ctx, _ = resolve_last_call("import torch.nn.functional as F\nimport numpy as np\nF.softmax(x)")
    assert ctx.spelling("torch.nn.functional.log_softmax") == "F.log_softmax"
    assert ctx.spelling("numpy.log1p") == "np.log1p"
    assert ctx.spelling("jax.numpy.log1p") is None


@pytest.mark.parametrize(
    "expr,value",
    [
        ("1e-8", 1e-8),
        ("-1e9", -1e9),
        ("2 ** -10", 2**-10),
        ("1 / 255", 1 / 255),
        ("float('-inf')", float("-inf")),
        ("-np.inf", float("-inf")),
        ("EPS", 1e-12),
        ("-EPS * 2", -2e-12),
        ("x", None),
        ("f(1)", None),
    ],
)
def test_constants_fold_through_module_names(expr, value):
    ctx, _ = resolve_last_call(f"import numpy as np\nEPS = 1e-12\nprint({expr})")
    arg = ctx.module.body[-1].body[0].value.args[0].value
    assert ctx.const(arg) == value


def test_a_method_called_on_self_is_the_classs_own_method():
    _, call = resolve_last_call("import torch\nself.exp(x)")
    assert call is None


def test_spelling_through_canonical_prefixes():
    ctx, _ = resolve_last_call(
        "import tensorflow.compat.v1 as tf\nfrom tensorflow.keras import backend as K\ntf.log(x)"
    )
    assert ctx.spelling("tensorflow.nn.log_softmax") == "tf.nn.log_softmax"
    assert ctx.spelling("keras.backend.logsumexp") == "K.logsumexp"


def test_call_results_are_memoised_per_node():
    ctx, call = resolve_last_call("import numpy as np\nnp.exp(x)")
    assert ctx.call(call.node) is call
