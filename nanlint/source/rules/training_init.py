"""NAN304: weights initialised at a scale far above 1/sqrt(fan_in), or not initialised at all.

A layer with fan-in n multiplies the size of its input by about scale * sqrt(n); fan-in
scaling (LeCun, Xavier, Kaiming: scale ~ 1/sqrt(n)) keeps activations of order 1 through
depth. An initialiser whose root-mean-square weight is many times that grows activations
layer by layer until they overflow (in float16 first) and the first gradients are huge.
A parameter made of uninitialised memory (`torch.empty`, `torch.Tensor(n, m)`) that the file
never fills has no scale at all: whatever the memory held, 1e38 or NaN included.
"""

from __future__ import annotations

import math

import libcst as cst

from nanlint.source import fills
from nanlint.source import training_ops as table
from nanlint.source.rule import Rule


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
        "empty(",
        "Tensor(",
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.allocated: list[tuple[cst.Call, str]] = []  # (uninitialised memory, the name its parameter is bound to)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        qualified = self.ctx.qualify(node.func)
        receiver = None
        if qualified is None and isinstance(func, cst.Attribute) and not self.ctx.names.is_module_alias(func.value):
            receiver = func.value
            sampler = table.INITIALIZER_METHODS.get(func.attr.value)
        else:
            sampler = table.INITIALIZERS.get(qualified or "")
        if sampler is not None:
            args = _Args(node, receiver)
            self._check(args, sampler, self._fan_in_of_weight(args.positional(sampler.target)), 1.0)
        elif qualified in table.PARAMETERS and node.args:
            self._parameter(node.args[0].value)
            made = node.args[0].value
            target = self.ctx.values.index.assigned_to.get(id(node))
            if target is not None and fills.allocates_garbage(self.ctx, made):
                self.allocated.append((made, target))
        elif qualified in table.SAMPLERS and _requires_grad(node):
            self._check(_Args(node, None), table.SAMPLERS[qualified], self._fan_in_of_shape(node, qualified), 1.0)

    def leave_Module(self, node: cst.Module) -> None:
        if not self.allocated:
            return
        written = fills.written_names(self.ctx, node)
        for made, target in self.allocated:
            if not fills.filled(target, written):
                self.report(
                    made,
                    f"parameter {target} is made of uninitialised memory and nothing in this file fills it: it "
                    "starts from whatever the memory held (1e38 or NaN included); initialise it (nn.init.*_ or "
                    "torch.randn(...) * scale, torch.zeros for a bias)",
                )

    def _parameter(self, value: cst.BaseExpression) -> None:
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
        if sampler is not None:
            self._check(_Args(value, None), sampler, self._fan_in_of_shape(value, qualified), factor)

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
        limit = self.option("fan-in-factor") / math.sqrt(fan_in) if fan_in else None
        if limit is not None and rms > limit:
            self.report(
                where,
                f"initial weight scale {rms:.3g} is {rms * math.sqrt(fan_in):.0f}x the "
                f"1/sqrt(fan_in) scale for fan-in {fan_in}: activations grow layer by layer until "
                f"they overflow; use std ~ 1/sqrt(fan_in) ({1 / math.sqrt(fan_in):.2g}) or a "
                "kaiming/xavier initialiser",
            )
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
        if not isinstance(layer, cst.Call):
            return None
        spec = table.LAYERS.get(self.ctx.qualify(layer.func) or "")
        if spec is None:
            return None
        args = _Args(layer, None)
        inputs = self._integer(args.get(*spec.inputs))
        if inputs is None or spec.kernel is None:
            return inputs
        kernel = args.get(*spec.kernel)
        sizes = (
            [self._integer(e.value) for e in kernel.elements]
            if isinstance(kernel, cst.Tuple)
            else [self._integer(kernel)] * spec.dims
        )
        if any(size is None for size in sizes):
            return None
        return inputs * math.prod(sizes)

    def _fan_in_of_shape(self, node: cst.Call, qualified: str) -> int | None:
        """A 2-D drawn shape (a, b): its fan-in is a or b depending on the layout; take the smaller."""
        sampler = table.SAMPLERS[qualified]
        if sampler.varargs_shape:
            dims = [a.value for a in node.args if a.keyword is None]
            if len(dims) == 1 and isinstance(dims[0], (cst.Tuple, cst.List)):
                dims = [e.value for e in dims[0].elements]
        else:
            shape = _Args(node, None).get(*sampler.shape)
            dims = [e.value for e in shape.elements] if isinstance(shape, (cst.Tuple, cst.List)) else []
        sizes = [self._integer(d) for d in dims]
        if len(sizes) != 2 or None in sizes:
            return None
        return min(sizes)

    def _integer(self, expr: cst.BaseExpression | None) -> int | None:
        value = self.ctx.const(expr)
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


def _requires_grad(node: cst.Call) -> bool:
    return any(
        a.keyword is not None
        and a.keyword.value == "requires_grad"
        and isinstance(a.value, cst.Name)
        and a.value.value == "True"
        for a in node.args
    )


RULES = [LargeInitScale]
