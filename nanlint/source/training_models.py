"""Which model an optimisation step trains, and whether that model is recurrent.

Training-setup rules must be tied to the objects involved: an `optimizer.step()` trains the
parameters the optimizer was built on (`Adam(model.parameters())`), `apply_gradients(zip(g,
model.trainable_variables))` the variables it is given, `model.fit` the model itself. A GRU
somewhere else in the file says nothing about them.

`TrainedModels` is a tracker (one per file, fed by the traversal) that records

- the module's model classes (subclasses of a framework's module class, or of another local
  model class), which of them build a recurrent layer, and which local classes they build;
- for every expression a rule asks about, the models behind it, as `ModelRef`s that are
  decided when the module is complete (a class may be defined after the code that uses it);
- per function, the models it calls and whether it calls one with sequence lengths
  (`model(tokens, lengths)`: what packed recurrent models take), weaker evidence of a
  recurrent model when the step cannot be tied to an object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

from nanlint.source import training_ops as table
from nanlint.source.rule import Context


@dataclass(frozen=True)
class ModelRef:
    """A model behind an expression: a recurrent layer itself ("recurrent"), a local class ("class",
    its name), a known model that is not recurrent ("feedforward"), or a model of unknown kind."""

    kind: str  # "recurrent" | "class" | "feedforward" | "unknown"
    name: str = ""


RECURRENT, FEEDFORWARD, UNKNOWN = ModelRef("recurrent"), ModelRef("feedforward"), ModelRef("unknown")

# Where a model's trainable parameters are read: `m.parameters()`, `m.trainable_variables`, `m.apply`.
_PARAMETER_METHODS = frozenset({"parameters", "named_parameters"})
_PARAMETER_ATTRIBUTES = frozenset({"trainable_variables", "trainable_weights", "trainable_params", "apply"})
_LENGTHS = re.compile(r"(?:^|_)(?:lengths?|lens|seq_?lens?|seq_?lengths?)$")
_MODEL_WORDS = (*table.MODEL_NAME_PARTS, "decoder", "tagger", "rnn", "lstm", "gru")


@dataclass
class FunctionEvidence:
    calls: list[ModelRef] = field(default_factory=list)  # models called in the function
    sequence_lengths: bool = False  # a model is called with sequence lengths


@dataclass
class TrainedModels:
    ctx: Context
    classes: dict[str, list[str]] = field(default_factory=dict)  # local class -> its base names
    model_classes: set[str] = field(default_factory=set)  # classes deriving from a framework module class
    recurrent_classes: set[str] = field(default_factory=set)  # classes that build a recurrent layer
    builds: dict[str, set[str]] = field(default_factory=dict)  # class -> local names it calls (classes it builds)
    free_models: list[ModelRef] = field(default_factory=list)  # models built outside any class
    functions: dict[int, FunctionEvidence] = field(default_factory=dict)
    _class_stack: list[str] = field(default_factory=list)
    _function_stack: list[cst.FunctionDef] = field(default_factory=list)

    # --- traversal ----------------------------------------------------------------------------

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        name = node.name.value
        bases = []
        for base in node.bases:
            qualified = self.ctx.qualify(base.value)
            if qualified in table.MODEL_BASES:
                self.model_classes.add(name)
            elif isinstance(base.value, cst.Name):
                bases.append(base.value.value)
        self.classes[name] = bases
        self.builds.setdefault(name, set())
        self._class_stack.append(name)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self._class_stack.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._function_stack.append(node)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._function_stack.pop()

    def visit_Call(self, node: cst.Call) -> None:
        qualified = self.ctx.qualify(node.func)
        if self._class_stack:
            owner = self._class_stack[-1]
            if qualified in table.RECURRENT_LAYERS:
                self.recurrent_classes.add(owner)
            elif qualified is None and isinstance(node.func, cst.Name):
                self.builds[owner].add(node.func.value)
        elif qualified in table.RECURRENT_LAYERS or qualified in table.SEQUENTIALS or qualified in _FUNCTIONAL:
            self.free_models.extend(self.models_of(node))
        if qualified is None and self._function_stack and _model_like(node.func):
            here = self.function()
            here.calls.extend(self.models_of(node.func))
            if any(_is_lengths(arg) for arg in node.args):
                here.sequence_lengths = True

    # --- what an expression trains ------------------------------------------------------------

    def function(self) -> FunctionEvidence:
        """The evidence gathered in the innermost enclosing function (the module's for top-level code)."""
        key = id(self._function_stack[-1]) if self._function_stack else 0
        return self.functions.setdefault(key, FunctionEvidence())

    def parameters_of(self, expr: cst.BaseExpression | None, depth: int = 6) -> list[ModelRef]:
        """The models whose parameters `expr` holds: `m.parameters()`, `list(...)`, `chain(a..., b...)`,
        `[{"params": m.parameters()}]`, `zip(grads, m.trainable_variables)`, `filter(f, m.parameters())`."""
        if expr is None or depth <= 0:
            return []
        if isinstance(expr, cst.Call):
            func = expr.func
            if isinstance(func, cst.Attribute) and func.attr.value in _PARAMETER_METHODS:
                return self.models_of(func.value)
            found = [m for arg in expr.args for m in self.parameters_of(arg.value, depth - 1)]
            if isinstance(func, cst.Attribute) and not self.ctx.names.is_module_alias(func.value):
                found += self.parameters_of(func.value, depth - 1)  # `m.parameters().values()`
            return found
        if isinstance(expr, cst.Attribute):
            if expr.attr.value in _PARAMETER_ATTRIBUTES:
                return self.models_of(expr.value)
            resolved = self.ctx.resolve(expr)
            return self.parameters_of(resolved, depth - 1) if resolved is not expr else []
        if isinstance(expr, cst.Name):
            resolved = self.ctx.resolve(expr)
            return self.parameters_of(resolved, depth - 1) if resolved is not expr else []
        if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
            return [m for e in expr.elements for m in self.parameters_of(e.value, depth - 1)]
        if isinstance(expr, cst.Dict):
            return [m for e in expr.elements if isinstance(e, cst.DictElement) for m in self.parameters_of(e.value)]
        if isinstance(expr, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
            return self.parameters_of(expr.for_in.iter, depth - 1)
        if isinstance(expr, cst.BinaryOperation):
            return self.parameters_of(expr.left, depth - 1) + self.parameters_of(expr.right, depth - 1)
        return []

    def optimizer_models(self, optimizer: cst.BaseExpression | None) -> list[ModelRef]:
        """The models an optimizer object was built on (empty when it cannot be traced)."""
        built = self.ctx.resolve(optimizer) if isinstance(optimizer, (cst.Name, cst.Attribute)) else optimizer
        if not isinstance(built, cst.Call):
            return []
        return [m for arg in built.args for m in self.parameters_of(arg.value)]

    def models_of(self, expr: cst.BaseExpression | None, depth: int = 5) -> list[ModelRef]:
        """What model `expr` is: a recurrent layer, a local class, a container of layers, or unknown."""
        if expr is None or depth <= 0:
            return [UNKNOWN]
        if isinstance(expr, cst.Name) and expr.value == "self" and self._class_stack:
            return [ModelRef("class", self._class_stack[-1])]
        resolved = self.ctx.resolve(expr) if isinstance(expr, (cst.Name, cst.Attribute)) else expr
        if not isinstance(resolved, cst.Call):
            return [UNKNOWN]
        qualified = self.ctx.qualify(resolved.func)
        if qualified in table.RECURRENT_LAYERS:
            return [RECURRENT]
        if qualified in table.SEQUENTIALS or qualified in _FUNCTIONAL:
            layers = self._layers(resolved, depth)
            return [m for m in layers if m != FEEDFORWARD] or [FEEDFORWARD]
        if qualified is None and isinstance(resolved.func, cst.Name):
            return [ModelRef("class", resolved.func.value)]
        if qualified is not None and qualified.startswith(table.MODEL_FACTORIES):
            return [FEEDFORWARD]
        return [UNKNOWN]

    def _layers(self, container: cst.Call, depth: int) -> list[ModelRef]:
        """The layer kinds inside `Sequential([...])` or a functional `Model(inputs, outputs)`."""
        found: list[ModelRef] = []
        pending = [a.value for a in container.args]
        seen = 0
        while pending and seen < 64:
            expr, seen = pending.pop(), seen + 1
            if isinstance(expr, (cst.Name, cst.Attribute)):
                resolved = self.ctx.resolve(expr)
                if resolved is not expr and resolved is not None:
                    pending.append(resolved)
            elif isinstance(expr, (cst.List, cst.Tuple)):
                pending.extend(e.value for e in expr.elements)
            elif isinstance(expr, cst.Dict):
                pending.extend(e.value for e in expr.elements if isinstance(e, cst.DictElement))
            elif isinstance(expr, cst.Call):
                if isinstance(expr.func, cst.Call):  # `layers.LSTM(64)(x)`: the layer, then its input
                    pending.append(expr.func)
                    pending.extend(a.value for a in expr.args)
                    continue
                qualified = self.ctx.qualify(expr.func)
                if qualified in table.RECURRENT_LAYERS:
                    found.append(RECURRENT)
                elif qualified is None and isinstance(expr.func, cst.Name):
                    found.append(ModelRef("class", expr.func.value))
                elif qualified is not None and depth > 1:
                    pending.extend(a.value for a in expr.args)  # wrappers: Bidirectional(LSTM(..)), add([a, b])
        return found or [FEEDFORWARD]

    # --- decisions (once the module is complete) ----------------------------------------------

    def recurrent(self, ref: ModelRef) -> bool | None:
        """Is the model recurrent? None when its kind is unknown."""
        if ref.kind == "recurrent":
            return True
        if ref.kind == "feedforward":
            return False
        if ref.kind == "class" and ref.name in self.classes:
            return ref.name in self._recurrent_closure()
        return None

    def only_recurrent_models(self) -> bool:
        """The module builds models, and every one of them is recurrent."""
        kinds = [ModelRef("class", name) for name in self._model_closure()] + self.free_models
        verdicts = [self.recurrent(ref) for ref in kinds]
        return bool(verdicts) and all(verdicts)

    def _recurrent_closure(self) -> set[str]:
        recurrent = set(self.recurrent_classes)
        changed = True
        while changed:
            changed = False
            for name, bases in self.classes.items():
                if name not in recurrent and (recurrent & self.builds.get(name, set()) or recurrent & set(bases)):
                    recurrent.add(name)
                    changed = True
        return recurrent

    def _model_closure(self) -> set[str]:
        models = set(self.model_classes)
        changed = True
        while changed:
            changed = False
            for name, bases in self.classes.items():
                if name not in models and models & set(bases):
                    models.add(name)
                    changed = True
        return models


_FUNCTIONAL = table.FUNCTIONAL_MODELS


def _model_like(func: cst.BaseExpression) -> bool:
    """`model(...)`, `self.net(...)`, `tagger(...)`: a call of something named like a model."""
    name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
    lowered = name.lower()
    return any(word in lowered for word in _MODEL_WORDS)


def _is_lengths(arg: cst.Arg) -> bool:
    """An argument that holds sequence lengths: `lengths`, `seq_lens=`, `batch.src_lengths`."""
    if arg.keyword is not None and _LENGTHS.search(arg.keyword.value):
        return True
    value = arg.value
    name = value.attr.value if isinstance(value, cst.Attribute) else value.value if isinstance(value, cst.Name) else ""
    return bool(_LENGTHS.search(name))
