"""NAN305: a loss fed the wrong kind of prediction (probabilities, log-probabilities or logits).

Each loss in the table expects logits, probabilities or log-probabilities (Keras losses:
probabilities unless from_logits=True). The prediction is traced through names to what
produced it -- a softmax/sigmoid (probabilities), a log_softmax (log-probabilities), or a
linear layer without activation (logits), also as the last layer of a Sequential model --
and a mismatch is reported at the loss. Probability losses that take the log of a sigmoid
output themselves, without a logit shortcut (torch's BCELoss), are reported on sigmoid
outputs too; Keras's binary_crossentropy clips and recovers the logits of its own sigmoid,
so it is not.
"""

from __future__ import annotations

import libcst as cst

from nanlint.source import ops
from nanlint.source import training_ops as table
from nanlint.source.rule import Rule, argument

LOGITS, PROBABILITIES, LOG_PROBABILITIES = "logits", "probabilities", "log_probabilities"
_KIND_OF_OP = {
    "softmax": PROBABILITIES,
    "sigmoid": PROBABILITIES,
    "log_softmax": LOG_PROBABILITIES,
    "log_sigmoid": LOG_PROBABILITIES,
}


class LossOnProbabilities(Rule):
    code = "NAN305"
    quiet_in_tests = True  # a test runs a few fixed steps (often diverging on purpose); it does not train
    triggers = ("loss", "Loss", "entropy", "nll", "kl_div", "compile")

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        # `model.add(layer)`: (enclosing function, receiver code) -> last layer added. Keyed by function because
        # test files and scripts reuse one name (`model`) for a different model in every function.
        self.last_layer: dict[tuple[int, str], cst.Call] = {}
        self.functions: list[cst.FunctionDef] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.functions.pop()

    def _added_key(self, receiver: cst.BaseExpression) -> tuple[int, str]:
        return id(self.functions[-1]) if self.functions else 0, self.ctx.code_of(receiver)

    def _last_added(self, receiver: cst.BaseExpression) -> cst.Call | None:
        """The last layer added to this model in the enclosing function, else at module level."""
        key = self._added_key(receiver)
        return self.last_layer.get(key, self.last_layer.get((0, key[1])))

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        qualified = self.ctx.qualify(node.func)
        loss = table.LOSSES.get(qualified or "")
        if loss is not None:
            self._check(node, loss, node, argument(node, *loss.prediction))
            return
        if qualified is not None or not isinstance(func, (cst.Name, cst.Attribute, cst.Call)):
            return
        if isinstance(func, cst.Attribute) and func.attr.value in ("add", "compile"):
            self._model_method(node, func)
            return
        built = func if isinstance(func, cst.Call) else self.ctx.resolve(func)
        if isinstance(built, cst.Call):
            loss = table.LOSSES.get(self.ctx.qualify(built.func) or "")
            if loss is not None:  # an instance: `criterion = nn.CrossEntropyLoss()` ... `criterion(out, y)`
                self._check(node, loss, built, argument(node, loss.prediction[0], loss.prediction[1]))

    def _model_method(self, node: cst.Call, func: cst.Attribute) -> None:
        if func.attr.value == "add" and node.args and isinstance(node.args[0].value, cst.Call):
            self.last_layer[self._added_key(func.value)] = node.args[0].value
            return
        given = argument(node, 1, "loss")
        if func.attr.value != "compile" or given is None:
            return
        produced = self._model_output(func.value)
        expects = self._expectation(given)
        if produced is not None and expects is not None:
            self._report(given, expects, produced, None, self._loss_name(given), keras_style=True)

    # --- what the loss expects, what it gets -------------------------------------------------

    def _check(self, node: cst.Call, loss: table.Loss, constructed: cst.Call, prediction) -> None:
        if prediction is None:
            return
        expects = loss.expects
        keras_style = expects == "from_logits"
        if keras_style:
            expects = LOGITS if _is_true(argument(constructed, None, "from_logits")) else PROBABILITIES
        produced = self._kind(prediction)
        if produced is not None:
            self._report(node, expects, produced, loss.saturating, self._loss_name(constructed.func), keras_style)

    def _expectation(self, given: cst.BaseExpression) -> str | None:
        """What a `compile(loss=...)` argument expects."""
        if isinstance(given, cst.SimpleString):
            return PROBABILITIES if given.evaluated_value in table.LOSS_STRINGS else None
        built = self.ctx.resolve(given) if isinstance(given, (cst.Name, cst.Attribute)) else given
        if isinstance(built, cst.Call):
            loss = table.LOSSES.get(self.ctx.qualify(built.func) or "")
            if loss is None:
                return None
            if loss.expects != "from_logits":
                return loss.expects
            return LOGITS if _is_true(argument(built, None, "from_logits")) else PROBABILITIES
        loss = table.LOSSES.get(self.ctx.qualify(given) or "")  # a loss function passed by name
        if loss is None:
            return None
        return PROBABILITIES if loss.expects == "from_logits" else loss.expects

    def _kind(self, expr: cst.BaseExpression, depth: int = 4) -> tuple[str, str] | None:
        """(kind, producer) of a prediction: softmax/sigmoid outputs, log-softmax, a linear layer's logits."""
        if depth <= 0:
            return None
        if isinstance(expr, (cst.Name, cst.Attribute)):
            resolved = self.ctx.resolve(expr)
            return None if resolved is expr or resolved is None else self._kind(resolved, depth - 1)
        call = self.ctx.call(expr)
        if call is not None:
            if call.op in _KIND_OF_OP:
                return _KIND_OF_OP[call.op], call.op
            if call.op == "log" and call.args and self._kind(call.args[0], depth - 1) is not None:
                return LOG_PROBABILITIES, "log"
            return None
        if isinstance(expr, cst.Call) and isinstance(expr.func, (cst.Name, cst.Attribute, cst.Call)):
            layer = expr.func if isinstance(expr.func, cst.Call) else self.ctx.resolve(expr.func)
            if isinstance(layer, cst.Call):
                return self._layer_kind(layer, depth - 1)
            added = self._last_added(expr.func)
            if added is not None:
                return self._layer_kind(added, depth - 1)
        return None

    def _layer_kind(self, layer: cst.Call, depth: int) -> tuple[str, str] | None:
        """What a layer (or a whole Sequential/functional model) outputs."""
        if depth <= 0:
            return None
        qualified = self.ctx.qualify(layer.func) or ""
        if qualified in table.LINEAR_LAYERS:
            activation = argument(layer, None, "activation")
            if (
                activation is None
                or (isinstance(activation, cst.Name) and activation.value == "None")
                or (isinstance(activation, cst.SimpleString) and activation.evaluated_value == "linear")
            ):
                return LOGITS, "a linear layer"
            return self._activation_kind(activation)
        if qualified in table.ACTIVATION_LAYERS and layer.args:
            return self._activation_kind(layer.args[0].value)
        op = ops.module_class_op(qualified)
        if op in _KIND_OF_OP:
            return _KIND_OF_OP[op], op
        if qualified in table.SEQUENTIALS:
            layers = [a.value for a in layer.args if a.keyword is None]
            if len(layers) == 1 and isinstance(layers[0], (cst.List, cst.Tuple)):
                layers = [e.value for e in layers[0].elements]
            if layers and isinstance(layers[-1], cst.Call):
                return self._layer_kind(layers[-1], depth - 1)
        if qualified in table.FUNCTIONAL_MODELS:
            outputs = argument(layer, 1, "outputs")
            return self._kind(outputs, depth - 1) if outputs is not None else None
        return None

    def _activation_kind(self, activation: cst.BaseExpression) -> tuple[str, str] | None:
        if isinstance(activation, cst.SimpleString) and activation.evaluated_value in table.PROBABILITY_ACTIVATIONS:
            return PROBABILITIES, activation.evaluated_value
        op = ops.function_op(self.ctx.qualify(activation))
        return (_KIND_OF_OP[op], op) if op in _KIND_OF_OP else None

    def _model_output(self, model: cst.BaseExpression) -> tuple[str, str] | None:
        built = self.ctx.resolve(model)
        # layers added one by one only to a model built empty (a Sequential); a functional model names its outputs
        functional = isinstance(built, cst.Call) and (self.ctx.qualify(built.func) or "") in table.FUNCTIONAL_MODELS
        added = self._last_added(model)
        if added is not None and not functional:
            return self._layer_kind(added, 4)
        return self._layer_kind(built, 4) if isinstance(built, cst.Call) else None

    def _loss_name(self, expr: cst.BaseExpression) -> str:
        if isinstance(expr, cst.SimpleString):
            return str(expr.evaluated_value)
        qualified = self.ctx.qualify(expr.func if isinstance(expr, cst.Call) else expr)
        return qualified.rsplit(".", 1)[-1] if qualified else self.ctx.code_of(expr)

    # --- reporting ------------------------------------------------------------------------

    def _report(
        self,
        node: cst.CSTNode,
        expects: str,
        produced: tuple[str, str],
        saturating: str | None,
        name: str,
        keras_style: bool,
    ) -> None:
        kind, producer = produced
        if kind == expects:
            if saturating and producer == "sigmoid":
                self.report(
                    node,
                    f"{name} on a sigmoid output: log(sigmoid(x)) underflows for large |x|, so the "
                    f"loss saturates and its gradients vanish (and it cannot run in float16); pass "
                    f"the logits to {saturating}",
                )
            return
        if expects == LOGITS and kind == LOG_PROBABILITIES:
            return  # log_softmax is idempotent: cross-entropy of log-probabilities is still right
        if expects == LOGITS:
            message = (
                f"{name} expects logits but gets {producer} probabilities: it applies {producer} again, "
                f"gradients vanish and training stalls; pass the logits"
            )
        elif expects == LOG_PROBABILITIES and kind == PROBABILITIES:
            message = (
                f"{name} expects log-probabilities but gets {producer} probabilities; use log_softmax "
                "(or cross-entropy on the logits)"
            )
        elif expects == LOG_PROBABILITIES:
            message = (
                f"{name} expects log-probabilities but gets raw logits from {producer}: the loss is unbounded "
                "below and diverges; apply log_softmax (or use cross-entropy on the logits)"
            )
        elif kind == LOGITS and keras_style:
            message = (
                f"{name} expects probabilities (from_logits=False) but gets raw logits from {producer}: it "
                "normalises and clips them instead of applying softmax, which can divide by 0 and gives "
                "wrong gradients; pass from_logits=True"
            )
        elif kind == LOGITS:
            message = (
                f"{name} expects probabilities but gets raw logits from {producer}: log of values outside "
                f"[0, 1] is NaN; use {saturating or 'the with-logits loss'}"
            )
        else:
            message = f"{name} expects probabilities but gets {producer} log-probabilities; pass the probabilities"
        self.report(node, message)


def _is_true(expr: cst.BaseExpression | None) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "True"


RULES = [LossOnProbabilities]
