"""Training-setup hazards of the optimisation itself: learning rate and gradient clipping.

NAN301 flags a learning rate above its optimizer family's range (raised when the module
clips gradients); NAN302 a recurrent model trained without clipping. Both depend on
module-wide facts (does it clip? does it hold a recurrent layer? what is the `--lr` flag's
default?), so candidates are collected during the traversal and decided in leave_Module.
"""

from __future__ import annotations

import libcst as cst

from nanlint.options import LR_THRESHOLDS
from nanlint.source import training_ops as table
from nanlint.source.rule import argument
from nanlint.source.training_facts import FactsRule, FlagRef, ModuleFacts
from nanlint.source.training_models import FunctionEvidence, ModelRef, TrainedModels


class HighLearningRate(FactsRule):
    """NAN301: a learning rate (or a schedule's peak) above the optimizer family's safe range."""

    code = "NAN301"
    quiet_in_tests = True  # a test runs a few fixed steps (often diverging on purpose); it does not train
    triggers = ("optim", "Optimizer", "optax", "Adam")  # every optimizer is imported or spelled with one

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        # (node, optimizer or schedule name, family, learning rate, from a schedule)
        self.pending: list[tuple[cst.Call, str, str, float | FlagRef, bool]] = []

    def on_call(self, node: cst.Call) -> None:
        qualified = self.facts.qualified(node)
        if qualified is None:
            return
        optimizer = table.OPTIMIZERS.get(qualified)
        if optimizer is not None:
            if optimizer.family in table.BOUNDED_UPDATE_FAMILIES and _raw_tensors(self.ctx, node, optimizer):
                return  # a few tensors optimised directly: each step moves them by about lr, nothing amplifies it
            given = argument(node, optimizer.lr_position, "lr")
            given = given if given is not None else argument(node, None, "learning_rate")
            self._add(node, qualified, optimizer.family, given)
            return
        schedule = table.SCHEDULES.get(qualified)
        if schedule is not None and schedule.optimizer is not None:
            family = self._family(argument(node, schedule.optimizer, "optimizer"))
            if family is not None:
                peak = self.values.schedule_peak(node, schedule)
                if peak is not None:
                    self.pending.append((node, _short(qualified), family, peak, True))

    def _add(self, node: cst.Call, qualified: str, family: str, given: cst.BaseExpression | None) -> None:
        if given is None:
            return  # the optimizer's default learning rate
        target = self.ctx.resolve(given) if isinstance(given, (cst.Name, cst.Attribute)) else given
        scheduled = isinstance(target, cst.Call) and self.ctx.qualify(target.func) in table.SCHEDULES
        value = self.values.peak(given)
        if value is not None:
            self.pending.append((node, _short(qualified), family, value, scheduled))

    def _family(self, optimizer: cst.BaseExpression | None) -> str | None:
        """The family of the optimizer object a scheduler drives."""
        built = self.ctx.resolve(optimizer) if isinstance(optimizer, (cst.Name, cst.Attribute)) else optimizer
        if isinstance(built, cst.Call):
            found = table.OPTIMIZERS.get(self.ctx.qualify(built.func) or "")
            return found.family if found else None
        return None

    def leave_Module(self, node: cst.Module) -> None:
        thresholds = {**LR_THRESHOLDS, **self.option("thresholds")}
        factor = self.option("clipping-factor") if self.facts.clips_gradients else 1.0
        for call, name, family, value, scheduled in self.pending:
            rate = self.values.resolved(value)
            limit = thresholds.get(family)
            if rate is None or limit is None or rate <= limit * factor:
                continue
            what = "peak learning rate" if scheduled else "learning rate"
            clipped = (
                f" even with gradient clipping (limit {limit * factor:g})"
                if factor != 1.0
                else f" (limit {limit:g} for {family}-type optimizers)"
            )
            advice = "lower it" if factor != 1.0 else "lower it or clip gradients"
            self.report(
                call,
                f"{what} {rate:g} of {name} is too high{clipped}: updates overshoot and the loss "
                f"diverges to inf/NaN; {advice}",
            )


def _raw_tensors(ctx, node: cst.Call, optimizer: table.Optimizer) -> bool:
    """The optimizer is given a literal list of plain tensors (`Adam([latent], lr=0.2)`), not a model's
    parameters (`model.parameters()`, `[self.weight]`, `[params]`)."""
    if optimizer.lr_position == 0:
        return False  # Keras and optax optimizers are not given their parameters
    params = argument(node, 0, "params")
    if not isinstance(params, (cst.List, cst.Tuple)) or not params.elements:
        return False
    return all(
        isinstance(e.value, cst.Name) and "param" not in e.value.value and "weight" not in e.value.value
        for e in params.elements
    )


def _short(qualified: str) -> str:
    return qualified.rsplit(".", 1)[-1]


class MissingGradientClipping(FactsRule):
    """NAN302: a recurrent model trained without gradient clipping; reported at the optimizer step.

    Each step is tied to the model it trains (see training_models): the optimizer's parameters, the
    variables given to apply_gradients, the model that fits. A step that cannot be tied to a model is
    judged by the models its function calls, and by the module when every model it builds is recurrent.
    """

    code = "NAN302"
    quiet_in_tests = True  # a test runs a few fixed steps (often diverging on purpose); it does not train
    triggers = ("LSTM", "GRU", "RNN", "rnn", "Cell", "length", "lens")
    uses = (ModuleFacts, TrainedModels)

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.models = ctx.tracker(TrainedModels)
        self.steps: list[tuple[cst.Call, list[ModelRef], FunctionEvidence]] = []

    def on_call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and not self.ctx.names.is_module_alias(func.value):
            method = func.attr.value
            if method in table.STEP_METHODS:
                self._optimizer_step(node, method)
            elif method in table.FIT_METHODS and self._is_model(func.value):
                self.steps.append((node, self.models.models_of(func.value), self.models.function()))
        elif self.facts.qualified(node) in table.STEP_FUNCTIONS:
            self.steps.append((node, [], self.models.function()))

    def _optimizer_step(self, node: cst.Call, method: str) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute):
            return
        receiver = func.value
        scaled = node.args and self._is_optimizer(node.args[0].value)  # `scaler.step(optimizer)`
        if not (method == "apply_gradients" or self._is_optimizer(receiver) or scaled):
            return
        optimizer = node.args[0].value if scaled else receiver
        trained = [m for arg in node.args for m in self.models.parameters_of(arg.value)]
        trained = trained or self.models.optimizer_models(optimizer)
        self.steps.append((node, trained, self.models.function()))

    def _is_optimizer(self, expr: cst.BaseExpression) -> bool:
        built = self.ctx.resolve(expr) if isinstance(expr, (cst.Name, cst.Attribute)) else expr
        if isinstance(built, cst.Call) and self.ctx.qualify(built.func) in table.OPTIMIZERS:
            return True
        name = _last_name(expr).lower()
        return "opt" in name and "sched" not in name

    def _is_model(self, expr: cst.BaseExpression) -> bool:
        built = self.ctx.resolve(expr) if isinstance(expr, (cst.Name, cst.Attribute)) else expr
        if isinstance(built, cst.Call):
            qualified = self.ctx.qualify(built.func) or ""
            if qualified.startswith(table.MODEL_FACTORIES):
                return True
        return "model" in _last_name(expr).lower()

    def leave_Module(self, node: cst.Module) -> None:
        if self.facts.clips_gradients:
            return
        for step, trained, function in self.steps:
            why = self._recurrent(trained, function)
            if why is not None:
                self.report(
                    step,
                    f"{why} trained without gradient clipping: gradients that explode through time turn the "
                    "weights inf/NaN; clip the gradients' global norm before this step (clip_grad_norm_, "
                    "clipnorm=, optax.clip_by_global_norm)",
                )

    def _recurrent(self, trained: list[ModelRef], function: FunctionEvidence) -> str | None:
        """What makes the trained model recurrent ("recurrent model", ...), or None when it is not."""
        verdicts = [self.models.recurrent(ref) for ref in trained]
        if any(verdicts):
            return "recurrent model"
        if verdicts and all(v is False for v in verdicts):
            return None  # the step trains known models, none of them recurrent
        called = [self.models.recurrent(ref) for ref in function.calls]
        if any(called):
            return "recurrent model"
        if function.sequence_lengths:
            return "sequence model (called with sequence lengths, as recurrent models are)"
        if self.models.only_recurrent_models():
            return "recurrent model"
        return None


def _last_name(expr: cst.BaseExpression) -> str:
    if isinstance(expr, cst.Attribute):
        return expr.attr.value
    return expr.value if isinstance(expr, cst.Name) else ""


RULES = [HighLearningRate, MissingGradientClipping]
