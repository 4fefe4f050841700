"""NAN304: weights initialised at a scale far above 1/sqrt(fan_in).

A layer with fan-in n multiplies the size of its input by about scale * sqrt(n); fan-in
scaling (LeCun, Xavier, Kaiming: scale ~ 1/sqrt(n)) keeps activations of order 1 through
depth. An initialiser whose root-mean-square weight is many times that grows activations
layer by layer until they overflow (in float16 first) and the first gradients are huge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import libcst as cst

from nanlint.source import training_ops as table
from nanlint.source.rule import Rule
from nanlint.source.traversal import iter_nodes


@dataclass
class _LayerClass:
    """A local class: its constructor's parameters and the framework layers its constructor builds."""

    params: list[str] = field(default_factory=list)
    defaults: dict[str, cst.BaseExpression] = field(default_factory=dict)
    layers: list[cst.Call] = field(default_factory=list)


@dataclass
class _GenericInit:
    """An initialiser of `m.weight` in a function applied to every layer (`model.apply(init)`), restricted
    by a test on the layer's class (`classname.find('Conv') != -1`, `isinstance(m, nn.Linear)`)."""

    args: _Args
    sampler: table.Sampler
    kinds: frozenset[str]  # qualified layer classes
    fragments: frozenset[str]  # class-name fragments


class LargeInitScale(Rule):
    code = "NAN304"
    quiet_in_tests = True  # a test runs a few fixed steps (often diverging on purpose); it does not train
    triggers = (
        "normal_",
        "normal(",
        "Normal(",
        "uniform_",
        "uniform(",
        "Uniform(",
        "randn",
        "rand(",
        "random_normal",
        "random_uniform",
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.classes: dict[str, _LayerClass] = {}
        self.class_stack: list[str] = []
        self.functions: list[cst.FunctionDef] = []
        self.tests: list[cst.BaseExpression] = []  # tests of the if-blocks the traversal is inside
        self.bodies: dict[int, cst.BaseExpression] = {}  # id(if body) -> its test
        self.layers: list[cst.Call] = []  # framework layers built anywhere
        self.instances: list[cst.Call] = []  # calls of a plain name: maybe a local class
        self.generic: list[_GenericInit] = []

    # --- scopes: classes, constructors, if-blocks -------------------------------------------

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.class_stack.append(node.name.value)
        self.classes[node.name.value] = _LayerClass()

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.class_stack.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.append(node)
        if node.name.value == "__init__" and self.class_stack:
            layer_class = self.classes[self.class_stack[-1]]
            params = [*node.params.posonly_params, *node.params.params, *node.params.kwonly_params][1:]
            layer_class.params = [p.name.value for p in params]
            layer_class.defaults = {p.name.value: p.default for p in params if p.default is not None}

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.pop()

    def visit_If(self, node: cst.If) -> None:
        self.bodies[id(node.body)] = node.test

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        if id(node) in self.bodies:
            self.tests.append(self.bodies[id(node)])

    def leave_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        if id(node) in self.bodies:
            self.tests.pop()

    # --- calls ----------------------------------------------------------------------------

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        qualified = self.ctx.qualify(node.func)
        if qualified in table.LAYERS:
            self.layers.append(node)
            if self.class_stack and self.functions and self.functions[-1].name.value == "__init__":
                self.classes[self.class_stack[-1]].layers.append(node)
        elif qualified is None and isinstance(func, cst.Name):
            self.instances.append(node)
        receiver = None
        if qualified is None and isinstance(func, cst.Attribute) and not self.ctx.names.is_module_alias(func.value):
            receiver = func.value
            sampler = table.INITIALIZER_METHODS.get(func.attr.value)
        else:
            sampler = table.INITIALIZERS.get(qualified or "")
        if sampler is not None:
            args = _Args(node, receiver)
            target = args.positional(sampler.target)
            generic = self._generic(args, sampler, target)
            if generic is not None:
                self.generic.append(generic)
                return
            self._check(args, sampler, self._fan_in_of_weight(target), 1.0)
        elif qualified in table.PARAMETERS and node.args:
            self._parameter(node.args[0].value)
        elif qualified in table.SAMPLERS and _requires_grad(node):
            self._check(_Args(node, None), table.SAMPLERS[qualified], self._fan_in_of_shape(node, qualified), 1.0)

    def _parameter(self, value: cst.BaseExpression | None) -> None:
        """`nn.Parameter(torch.randn(a, b))`, `tf.Variable(tf.random.normal([a, b]) * s)`."""
        factor = 1.0
        for _ in range(4):
            if isinstance(value, cst.Name):
                value = self.ctx.resolve(value)
            elif isinstance(value, cst.BinaryOperation) and isinstance(value.operator, (cst.Multiply, cst.Divide)):
                left, right = self.ctx.const(value.left), self.ctx.const(value.right)
                if right is not None and right != 0:
                    factor *= abs(right) if isinstance(value.operator, cst.Multiply) else 1 / abs(right)
                    value = value.left
                elif left is not None and isinstance(value.operator, cst.Multiply):
                    factor *= abs(left)
                    value = value.right
                else:
                    return  # scaled by something unknown (1 / sqrt(fan_in), a variable)
            else:
                break
        if not isinstance(value, cst.Call):
            return
        qualified = self.ctx.qualify(value.func)
        sampler = table.SAMPLERS.get(qualified or "")
        if sampler is not None and qualified is not None:
            self._check(_Args(value, None), sampler, self._fan_in_of_shape(value, qualified), factor)

    # --- initialisers applied to every layer of a kind ----------------------------------------

    def _generic(self, args: _Args, sampler: table.Sampler, target: cst.BaseExpression | None) -> _GenericInit | None:
        """`normal_(m.weight, 0, s)` in `def init(m)` under a test of m's class: judged against the layers of
        that kind the module builds, once it is complete."""
        layer = _weight_owner(target)
        if not (isinstance(layer, cst.Name) and self.functions and self.tests):
            return None
        params = self.functions[-1].params.params
        if not params or params[0].name.value != layer.value:
            return None
        kinds, fragments = set(), set()
        for test in self.tests:
            for part in iter_nodes(test):
                if isinstance(part, cst.Call) and _call_name(part) == "isinstance" and len(part.args) > 1:
                    kinds.update(self._classes_named(part.args[1].value))
                elif isinstance(part, cst.SimpleString) and isinstance(part.evaluated_value, str):
                    if part.evaluated_value[:1].isupper() and part.evaluated_value.isidentifier():
                        fragments.add(part.evaluated_value)
        if not kinds and not fragments:
            return None
        return _GenericInit(args, sampler, frozenset(kinds), frozenset(fragments))

    def _classes_named(self, expr: cst.BaseExpression) -> set[str]:
        elements = [e.value for e in expr.elements] if isinstance(expr, cst.Tuple) else [expr]
        return {q for q in (self.ctx.qualify(e) for e in elements) if q is not None}

    def leave_Module(self, node: cst.Module) -> None:
        for generic in self.generic:
            fan_ins = [
                fan_in
                for layer, env in self._built_layers()
                if _matches(self.ctx.qualify(layer.func) or "", generic)
                for fan_in in [self._layer_fan_in(layer, env)]
                if fan_in is not None
            ]
            self._check(generic.args, generic.sampler, max(fan_ins) if fan_ins else None, 1.0)

    def _built_layers(self) -> list[tuple[cst.Call, dict[str, float]]]:
        """Every framework layer the module builds with what its arguments are bound to: directly, or in the
        constructor of a local class instantiated with constants (`Block(256, 256, kernel_size=7)`)."""
        built: list[tuple[cst.Call, dict[str, float]]] = [(layer, {}) for layer in self.layers]
        for instance in self.instances:
            func = instance.func  # a plain name (see visit_Call)
            layer_class = self.classes.get(func.value) if isinstance(func, cst.Name) else None
            if layer_class is None or not layer_class.layers:
                continue
            env = {name: self.ctx.const(value) for name, value in layer_class.defaults.items()}
            positional = [a.value for a in instance.args if a.keyword is None and not a.star]
            env.update({name: self.ctx.const(value) for name, value in zip(layer_class.params, positional)})
            env.update({a.keyword.value: self.ctx.const(a.value) for a in instance.args if a.keyword is not None})
            bound = {name: value for name, value in env.items() if value is not None}
            built.extend((layer, bound) for layer in layer_class.layers)
        return built

    # --- scale and fan-in -------------------------------------------------------------------

    def _check(self, args: _Args, sampler: table.Sampler, fan_in: int | None, factor: float) -> None:
        _, loc = self._value(args, sampler.loc)
        scale_node, scale = self._value(args, sampler.scale)
        if loc is None or scale is None:
            return
        if sampler.kind == "normal":
            rms = math.hypot(loc, scale) * factor
        else:  # uniform(a, b): E[w^2] = (a^2 + ab + b^2) / 3
            rms = math.sqrt(max(loc * loc + loc * scale + scale * scale, 0.0) / 3) * factor
        # At the std that must change; at the call for uniform bounds and scaled samplers.
        where = scale_node if scale_node is not None and factor == 1.0 and sampler.kind == "normal" else args.node
        if fan_in and rms > self.option("fan-in-factor") / math.sqrt(fan_in):
            self.report(
                where,
                f"initial weight scale {rms:.3g} is {rms * math.sqrt(fan_in):.0f}x the "
                f"1/sqrt(fan_in) scale for fan-in {fan_in}: activations grow layer by layer until "
                f"they overflow; use std ~ 1/sqrt(fan_in) ({1 / math.sqrt(fan_in):.2g}) or a "
                "kaiming/xavier initialiser",
            )
        elif abs(loc) >= 10 * abs(scale) and sampler.kind == "normal":
            return  # `normal_(w, 1.0, 0.02)`: a gain drawn around 1 (a norm layer's scale), not a weight matrix
        elif rms > self.option("max-std"):
            self.report(
                where,
                f"initial weight scale {rms:.3g} is above {self.option('max-std'):g}: activations "
                "grow layer by layer until they overflow; use std ~ 1/sqrt(fan_in) or a "
                "kaiming/xavier initialiser",
            )

    def _value(self, args: _Args, argument: table.Argument) -> tuple[cst.BaseExpression | None, float | None]:
        node = args.get(argument.position, argument.keyword)
        if node is None:
            return None, argument.default
        return node, self.ctx.const(node)

    def _fan_in_of_weight(self, weight: cst.BaseExpression | None) -> int | None:
        """`layer.weight` (or `.weight.data`) of a layer built in this module: its fan-in."""
        saw_weight = False
        while isinstance(weight, cst.Attribute) and weight.attr.value in table.WEIGHT_ATTRIBUTES:
            saw_weight = saw_weight or weight.attr.value == "weight"
            weight = weight.value
        if not saw_weight or weight is None:
            return None
        layer = self.ctx.resolve(weight)
        return self._layer_fan_in(layer, {}) if isinstance(layer, cst.Call) else None

    def _layer_fan_in(self, layer: cst.Call, env: dict[str, float]) -> int | None:
        """in_features, or in_channels x kernel size, of a layer construction (names bound by `env`)."""
        spec = table.LAYERS.get(self.ctx.qualify(layer.func) or "")
        if spec is None:
            return None
        args = _Args(layer, None)
        inputs = self._integer(args.get(*spec.inputs), env)
        if inputs is None or spec.kernel is None:
            return inputs
        kernel = args.get(*spec.kernel)
        sizes = (
            [self._integer(e.value, env) for e in kernel.elements]
            if isinstance(kernel, cst.Tuple)
            else [self._integer(kernel, env)] * spec.dims
        )
        known = [size for size in sizes if size is not None]
        if len(known) != len(sizes):
            return None
        return inputs * math.prod(known)

    def _fan_in_of_shape(self, node: cst.Call, qualified: str) -> int | None:
        """A 2-D drawn shape (a, b): its fan-in is a or b depending on the layout; take the smaller."""
        sampler = table.SAMPLERS[qualified]
        if sampler.varargs_shape:
            dims = [a.value for a in node.args if a.keyword is None]
            packed = dims[0] if len(dims) == 1 else None
            if isinstance(packed, (cst.Tuple, cst.List)):
                dims = [e.value for e in packed.elements]
        else:  # every sampler without varargs names its shape argument
            shape = _Args(node, None).get(*sampler.shape) if sampler.shape is not None else None
            dims = [e.value for e in shape.elements] if isinstance(shape, (cst.Tuple, cst.List)) else []
        sizes = [size for size in (self._integer(d) for d in dims) if size is not None]
        if len(sizes) != 2 or len(dims) != 2:
            return None
        return min(sizes)

    def _integer(self, expr: cst.BaseExpression | None, env: dict[str, float] | None = None) -> int | None:
        value = env.get(expr.value) if env and isinstance(expr, cst.Name) else None
        value = value if value is not None else self.ctx.const(expr)
        return int(value) if value is not None and value == int(value) and value > 0 else None


class _Args:
    """Positional arguments (the receiver first for methods) and keywords of a call."""

    def __init__(self, node: cst.Call, receiver: cst.BaseExpression | None) -> None:
        self.node = node
        positional = [a.value for a in node.args if a.keyword is None and not a.star]
        self.values = [receiver, *positional] if receiver is not None else positional
        self.keywords = {a.keyword.value: a.value for a in node.args if a.keyword is not None}

    def get(self, position: int | None, keyword: str | None) -> cst.BaseExpression | None:
        if keyword is not None and keyword in self.keywords:
            return self.keywords[keyword]
        return self.positional(position)

    def positional(self, position: int | None) -> cst.BaseExpression | None:
        return self.values[position] if position is not None and position < len(self.values) else None


def _weight_owner(target: cst.BaseExpression | None) -> cst.BaseExpression | None:
    """`m.weight` / `m.weight.data` -> m."""
    saw_weight = False
    while isinstance(target, cst.Attribute) and target.attr.value in table.WEIGHT_ATTRIBUTES:
        saw_weight = saw_weight or target.attr.value == "weight"
        target = target.value
    return target if saw_weight else None


def _matches(qualified: str, generic: _GenericInit) -> bool:
    short = qualified.rsplit(".", 1)[-1]
    return qualified in generic.kinds or any(fragment in short for fragment in generic.fragments)


def _call_name(node: cst.Call) -> str:
    func = node.func
    return func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""


def _requires_grad(node: cst.Call) -> bool:
    return any(
        a.keyword is not None
        and a.keyword.value == "requires_grad"
        and isinstance(a.value, cst.Name)
        and a.value.value == "True"
        for a in node.args
    )


RULES = [LargeInitScale]
