"""Reduced-precision hazards: constants and epsilons that float16 (or float32) cannot hold.

NAN201 mask and fill constants beyond float16's range, NAN202 epsilons that underflow in
half-precision code, NAN203 epsilons absorbed by the value they are added to. Whether a
module runs in half precision is a module-wide fact (training_facts), so these rules
collect candidates during the traversal and decide in leave_Module.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import libcst as cst

from nanlint.source import ops, sentinels
from nanlint.source import training_ops as table
from nanlint.source.explicit_dtypes import PrecisionScope, at_least_float32, explicit_dtype
from nanlint.source.rule import OpCall, PendingFix, argument
from nanlint.source.training_facts import FactsRule, ModuleFacts
from nanlint.source.traversal import iter_nodes

FP16 = table.FORMATS["float16"]
FP32 = table.FORMATS["float32"]

# Where a fill value sits in a call, by op: (position, keywords) -- receivers of methods are argument 0.
_FILL_METHODS = {"fill_": 1, "new_full": 2, "new_tensor": 1}
_TENSOR_MAKERS = {
    "torch.tensor": 0,
    "tensorflow.constant": 0,
    "tensorflow.convert_to_tensor": 0,
    "numpy.array": 0,
    "jax.numpy.array": 0,
    "jax.numpy.asarray": 0,
}
_MASK_BUILDERS = frozenset({"triu", "tril", "band_part", "logical_not", "ones_like"})


def dtype_limit(ctx, facts, expr: cst.BaseExpression | None) -> float | None:
    """Value of `finfo(<literal dtype>).min/max/eps/tiny` or `<dtype>.min/max`, else None."""
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        value = dtype_limit(ctx, facts, expr.expression)
        return None if value is None else -value
    if not isinstance(expr, cst.Attribute) or expr.attr.value not in ("min", "max", "eps", "tiny", "smallest_normal"):
        return None
    owner = expr.value
    finfo = ctx.call(owner)
    dtype = facts.dtype_of(finfo.arg(0, "type", "dtype")) if finfo and finfo.op == "finfo" else facts.dtype_of(owner)
    if dtype is None:
        return None
    fmt = table.FORMATS[dtype]
    return {"min": -fmt.max, "max": fmt.max, "eps": 2.0**-fmt.mantissa_bits}.get(expr.attr.value, fmt.tiny)


# Additive masks (`(1 - mask) * -1e9`) are reported only where float16 is in sight: on 28 well-kept repositories they
# made 9 findings in dtype-generic code that never runs in float16, and no hit on any bug set (dev, mined M and H),
# whose float16 mask bugs are fills (masked_fill, where, an indexed write).
ADDITIVE = "additive mask constant"


class MaskOverflow(FactsRule):
    """NAN201: mask/fill constants beyond float16's range (-1e9, float32 min) overflow to -inf."""

    code = "NAN201"
    # Every positive spells a large number: a digit with an exponent of 5 or more (1e9, 3.4e38, 1e+09), a long
    # integer, a power, or a dtype's limit.
    triggers = tuple(f"{digit}{e}{exponent}" for digit in "0123456789" for e in "eE" for exponent in "56789123+") + (
        "finfo",
        "float32.m",
        "float64.m",
        "00000",
        "10 **",
        "10**",
        "2 **",
        "2**",
    )

    uses = (ModuleFacts, PrecisionScope)

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.scope = ctx.tracker(PrecisionScope)
        self.pending: dict[int, tuple[cst.BaseExpression, float, str, PendingFix | None]] = {}
        self.float32_terms: set[int] = set()  # products added to a tensor that is float32 by construction

    def _float32(self, expr: cst.BaseExpression | None) -> bool:
        """`expr` is float32 (or wider) by construction: the constant meets no float16 tensor there."""
        return at_least_float32(explicit_dtype(self.ctx, self.facts.dtype_of, expr, self.scope))

    # --- where constants fill tensors --------------------------------------------------------

    def on_call(self, node: cst.Call) -> None:
        qualified = self.facts.qualified(node)
        call = self.facts.call(node)
        if call is not None and qualified not in _TENSOR_MAKERS:  # torch.tensor(v) is an op too: a value made data
            self._op(call)
            return
        if qualified in _TENSOR_MAKERS:
            value = argument(node, _TENSOR_MAKERS[qualified], "value")
            if self._data_dtype(argument(node, None, "dtype")):
                self._check(value, "fill value")
        elif (
            isinstance(node.func, cst.Attribute)
            and node.func.attr.value in _FILL_METHODS
            and not self.ctx.names.is_module_alias(node.func.value)
        ):
            self._check(argument(node, _FILL_METHODS[node.func.attr.value] - 1, "fill_value"), "fill value")
        elif ops.indexed_write(node) is not None:
            self._masked_write(ops.indexed_write(node), argument(node, 0, "values"))
        elif "mask" in _call_name(node).lower():  # `replace_masked_values(x, mask, -1e7)`, `mask_logits(x, m, -1e30)`
            for arg in node.args:
                if self._float_spelled(arg.value):
                    self._check(arg.value, "mask fill value", meets=node.args[0].value)
        elif qualified is not None:
            for keyword in ("fill_value", "padding_value"):
                self._check(argument(node, None, keyword), "fill value")

    # --- writes through a boolean index: `scores[mask] = -1e9`, `x.at[mask].set(-1e9)` --------

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            if isinstance(target.target, cst.Subscript):
                self._masked_write(target.target, node.value)

    def _masked_write(self, subscript: cst.Subscript, value: cst.BaseExpression | None) -> None:
        """A float fill constant written at the positions a mask selects (a dict or list key is not a mask;
        an integer is a token or class id written into an integer tensor)."""
        indices = [element.slice.value for element in subscript.slice if isinstance(element.slice, cst.Index)]
        if value is not None and self._float_spelled(value) and any(self._mask_like(index) for index in indices):
            self._check(value, "mask fill value", meets=subscript.value)

    def _float_spelled(self, expr: cst.BaseExpression) -> bool:
        """A float literal (through a sign and names) or a dtype's limit."""
        value = self.ctx.resolve(expr) if isinstance(expr, cst.Name) else expr
        if isinstance(value, cst.UnaryOperation):
            return self._float_spelled(value.expression)
        return isinstance(value, cst.Float) or dtype_limit(self.ctx, self.facts, value) is not None

    def _op(self, call: OpCall) -> None:
        op = call.op
        if op == "masked_fill":
            target = call.args[0] if call.args else None
            self._check(call.arg(2, "value"), "mask fill value", fix_dtype_of=target, namespace_of=call, meets=target)
        elif op == "where":
            condition_true = call.arg(1, "x", "input", "on_true")
            condition_false = call.arg(2, "y", "other", "on_false")
            self._check(condition_true, "fill value", condition_false, call, meets=condition_false)
            self._check(condition_false, "fill value", condition_true, call, meets=condition_true)
        elif op == "full":
            like = (call.qualified or "").endswith("_like")
            if like or self._data_dtype(call.keywords.get("dtype")):
                self._check(call.arg(1, "fill_value", "value"), "fill value", meets=call.args[0] if like else None)
        elif op == "cast":
            self._conversion(call)
        elif op == "float" and call.args and self.facts.dtype_of(call.node.func) == "float16":
            self._check(call.args[0], "value")  # np.float16(-1e9)

    def _conversion(self, call: OpCall) -> None:
        """`cast(1e10, w.dtype)`, `jnp.full(s, -1e9).astype(dtype)`, `mask.to(x.dtype)` of such a full."""
        source = call.args[0] if call.args else None
        dtype = call.arg(1, "dtype") if call.args[1:] or "dtype" in call.keywords else None
        if source is None or dtype is None or not self._data_dtype(dtype):
            return
        filled = self._full(source)
        self._check(filled.arg(1, "fill_value", "value") if filled else source, "fill value")

    def _full(self, expr: cst.BaseExpression | None, depth: int = 4) -> OpCall | None:
        """The full(...) call behind `expr`, through names and value-keeping steps (triu, reshape, casts)."""
        for _ in range(depth):
            expr = self.ctx.resolve(expr) if isinstance(expr, (cst.Name, cst.Attribute)) else expr
            call = self.ctx.call(expr)
            if call is not None and call.op == "full":
                return call
            if call is not None and call.op in ("layout", "cast") and call.args:
                expr = call.args[0]
            elif isinstance(expr, cst.Call) and _call_name(expr) in _MASK_BUILDERS and expr.args:
                func = expr.func
                if isinstance(func, cst.Attribute) and not self.ctx.names.is_module_alias(func.value):
                    expr = func.value  # a method: what it is called on
                else:
                    expr = expr.args[0].value
            else:
                return None
        return None

    def _data_dtype(self, dtype: cst.BaseExpression | None) -> bool:
        """A dtype that follows the data (`x.dtype`, a variable) or is float16 itself."""
        if dtype is None:
            return False
        literal = self.facts.dtype_of(dtype)
        if literal is not None:
            return literal == "float16"
        if isinstance(dtype, cst.Attribute) and dtype.attr.value == "dtype" and self._float32(dtype.value):
            return False  # `cast(1e10, w.dtype)` with w float32 by construction
        return not isinstance(dtype, cst.SimpleString)

    # --- additive masks ------------------------------------------------------------------------

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, (cst.Add, cst.Subtract)):
            # `scores.float() - 1e30 * mask`: the term joins a float32 tensor (parents are visited first)
            for term, other in ((node.left, node.right), (node.right, node.left)):
                if isinstance(term, cst.BinaryOperation) and self._float32(other):
                    self.float32_terms.add(id(term))
            return
        if not isinstance(node.operator, cst.Multiply) or id(node) in self.float32_terms:
            return
        for constant, other in ((node.left, node.right), (node.right, node.left)):
            value = self._big(constant)
            if value is not None and self.ctx.const(other) is None and self._mask_like(other):
                self._check(constant, ADDITIVE, meets=other)
                return

    def _mask_like(self, expr: cst.BaseExpression, depth: int = 3) -> bool:
        """A 0/1 mask: named *mask*, `1 - m`, `m - 1`, `~m`, a comparison, triu/tril, or a cast of one."""
        if depth <= 0:
            return False
        if isinstance(expr, (cst.Name, cst.Attribute)):
            name = expr.value if isinstance(expr, cst.Name) else expr.attr.value
            if "mask" in name.lower():
                return True
            resolved = self.ctx.resolve(expr)
            return resolved is not expr and resolved is not None and self._mask_like(resolved, depth - 1)
        if isinstance(expr, cst.Comparison):
            return True
        if isinstance(expr, cst.UnaryOperation):
            return isinstance(expr.operator, cst.BitInvert) or self._mask_like(expr.expression, depth)
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Subtract):
            return self.ctx.const(expr.left) == 1 or self.ctx.const(expr.right) == 1
        if isinstance(expr, cst.Call):
            if _call_name(expr) in _MASK_BUILDERS:
                return True
            call = self.ctx.call(expr)
            if call is not None and call.op in ("cast", "float", "layout") and call.args:
                return self._mask_like(call.args[0], depth - 1)
        return False

    # --- deciding ------------------------------------------------------------------------------

    def _big(self, expr: cst.BaseExpression | None) -> float | None:
        if expr is None:
            return None
        value = self.ctx.const(expr)
        if value is None and isinstance(expr, (cst.Attribute, cst.Name, cst.UnaryOperation)):
            value = dtype_limit(self.ctx, self.facts, self.ctx.resolve(expr))
        if value is None or not math.isfinite(value) or abs(value) <= FP16.max:
            return None
        return value

    def _check(
        self,
        value_node: cst.BaseExpression | None,
        what: str,
        fix_dtype_of=None,
        namespace_of=None,
        meets: cst.BaseExpression | None = None,
    ) -> None:
        """Record a fill constant beyond float16's range, unless the tensor it `meets` is float32 by
        construction or a dtype test keeps float16 away from it."""
        value = self._big(value_node)
        if value_node is None or value is None or self._float32(meets) or self._not_half(value_node):
            return
        fix = self._fix(value_node, value, fix_dtype_of, namespace_of) if namespace_of is not None else None
        self.pending.setdefault(id(value_node), (value_node, value, what, fix))

    def _not_half(self, expr: cst.BaseExpression, depth: int = 4) -> bool:
        """The constant (or the literal it is built from) sits where a dtype test excludes float16."""
        if id(expr) in self.scope.not_half:
            return True
        if depth <= 0:
            return False
        if isinstance(expr, (cst.Name, cst.Attribute)):
            resolved = self.ctx.resolve(expr)
            return resolved is not expr and resolved is not None and self._not_half(resolved, depth - 1)
        if isinstance(expr, cst.UnaryOperation):
            return self._not_half(expr.expression, depth - 1)
        if isinstance(expr, cst.BinaryOperation):
            return self._not_half(expr.left, depth - 1) or self._not_half(expr.right, depth - 1)
        return False

    def _fix(
        self, node: cst.BaseExpression, value: float, source: cst.BaseExpression | None, call: OpCall
    ) -> PendingFix | None:
        """`finfo(x.dtype).min` of the tensor the value is written into, when that tensor is a plain name."""
        if source is None or not (
            isinstance(source, cst.Name) or (isinstance(source, cst.Attribute) and _dotted(source))
        ):
            return None
        limit = "min" if value < 0 else "max"
        finfo = self._finfo_spelling(call)
        if finfo is not None:
            text = f"{finfo}({self.ctx.code_of(source)}.dtype).{limit}"
        elif any(ops.canonical(n).split(".")[0] in ops.DTYPE_LIMIT_ATTRIBUTES for n in _namespaces(call)):
            text = f"{self.ctx.code_of(source)}.dtype.{limit}"
        else:
            return None
        return PendingFix("safe", f"use {text}", ((node, text),))

    def _finfo_spelling(self, call: OpCall) -> str | None:
        """The finfo of the framework the op belongs to, as this file can spell it."""
        for namespace in _namespaces(call):
            candidate = f"{namespace}.finfo"
            if ops.function_op(candidate) == "finfo":
                spelled = self.ctx.spelling(candidate)
                if spelled is not None:
                    return spelled
        return None

    def _half_somewhere(self) -> bool:
        """The module or the program that runs it computes in float16 (an additive mask needs this corroboration:
        see the rule page for the numbers)."""
        return self.facts.half or (self.ctx.project is not None and self.ctx.project.half_evidence() is not None)

    def leave_Module(self, node: cst.Module) -> None:
        if self.facts.narrowest_dtype() == "float64":
            return  # float64-only code (NumPy, plain Python): float16 never sees these constants
        parents = sentinels.parent_map(node) if self.pending else {}
        for value_node, value, what, fix in self.pending.values():
            if what == ADDITIVE and not self._half_somewhere():
                continue
            if sentinels.only_ordered(self.ctx, parents, value_node):
                continue  # a sentinel that is only compared orders the same as ±inf
            text = self.ctx.code_of(value_node).strip()
            shown = text if _is_literal(value_node) else f"{text} ({value:g})"
            advice = fix.message if fix else "use finfo(dtype).min of the tensor's own dtype"
            self.report(
                value_node,
                f"{what} {shown} is beyond the float16 range (max 65504): it overflows to "
                f"{'-' if value < 0 else ''}inf in half precision; {advice}",
                fix,
            )


def _namespaces(call: OpCall) -> list[str]:
    """The namespace of the op's function, or for a method, the namespaces that have it as a function."""
    if call.qualified is not None:
        return [call.qualified.rsplit(".", 1)[0]]
    return [name.rsplit(".", 1)[0] for name in ops.FUNCTIONS.get(call.op, [])]


def _call_name(node: cst.Call) -> str:
    func = node.func
    return func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""


def _dotted(node: cst.BaseExpression) -> bool:
    while isinstance(node, cst.Attribute):
        node = node.value
    return isinstance(node, cst.Name)


def _is_literal(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.UnaryOperation):
        node = node.expression
    return isinstance(node, (cst.Integer, cst.Float))


# --- NAN202 ----------------------------------------------------------------------------------

DIVISION, ZERO = "division", "zero"  # what an eps guards: a denominator, or anything (it must not be 0)
_GUARDED_OPS = frozenset({"sqrt", "rsqrt", "log"})
_BOUND_OPS = frozenset({"clamp", "maximum"})


@dataclass
class _Eps:
    node: cst.CSTNode  # where it is reported (the eps, or the optimizer call relying on its default)
    value: float
    kind: str  # DIVISION or ZERO
    parameters: bool  # applied to parameters (optimizer, norm layer): their dtype decides, not the compute's
    what: str
    pinned: str | None  # the dtype written for the value it guards (`x.float() + eps`), or "float32" where a
    # dtype test keeps float16 away
    in_model: bool = False  # inside a model or layer class: what `model.half()` turns to float16


class EpsUnderflow(FactsRule):
    """NAN202: epsilons that become 0 (or a subnormal denominator) in the precision the code runs in.

    float16: below its smallest subnormal the eps is 0; below its smallest normal a denominator eps
    divides to inf. float32: below its smallest subnormal the eps is 0; below its smallest normal it
    is flushed to 0 by TensorFlow and XLA. A value that is float32 by construction (`x.float() + eps`),
    code a dtype test keeps away from float16, or a model's constructor (its buffers are computed before
    `.half()` converts them and outside autocast) is judged in float32.
    """

    code = "NAN202"
    triggers = ("e-", "E-", "eps", "EPS", "tiny", "float16", "half", "fp16", "autocast", "GradScaler", "amp")
    uses = (ModuleFacts, PrecisionScope)

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.scope = ctx.tracker(PrecisionScope)
        self.pending: dict[int, _Eps] = {}
        self.model_classes: list[bool] = []  # per enclosing class: is it a model or layer?
        self.scopes: list[str] = []  # enclosing classes and functions: "model", "class", "constructor", "function"

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        bases = (self.ctx.qualify(base.value) for base in node.bases)
        self.model_classes.append(any(base in table.MODEL_BASES for base in bases if base is not None))
        self.scopes.append("model" if self.model_classes[-1] else "class")

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.model_classes.pop()
        self.scopes.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        constructor = node.name.value == "__init__" and self.scopes[-1:] == ["model"]
        self.scopes.append("constructor" if constructor else "function")

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.scopes.append("function")  # a lambda stored by __init__ runs later, in forward

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self.scopes.pop()

    def on_call(self, node: cst.Call) -> None:
        qualified = self.facts.qualified(node)
        optimizer = table.OPTIMIZERS.get(qualified or "")
        if optimizer is not None:
            self._optimizer(node, qualified, optimizer)
            return
        on_parameters = qualified in table.NORM_LAYERS or qualified in table.PARAMETER_EPS_FUNCTIONS
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value in table.EPS_NAMES:
                if qualified in table.NORM_LAYERS and not self.option("norm-layers"):
                    continue
                self._candidate(arg.value, ZERO, on_parameters, "eps")
        call = self.facts.call(node)
        if call is None:
            return
        if call.op in _GUARDED_OPS and call.args:
            self._added_eps(call.args[0], ZERO)
        elif call.op in _BOUND_OPS:
            self._bound(call, ZERO)
        elif call.op == "div":
            self._denominator(call.arg(1, "other", "y"))
        elif call.op == "reciprocal" and call.args:
            self._denominator(call.args[0])

    def _optimizer(self, node: cst.Call, qualified: str, optimizer: table.Optimizer) -> None:
        name = qualified.rsplit(".", 1)[1]
        given = argument(node, None, optimizer.eps_keyword) if optimizer.eps_keyword else None
        if given is not None:
            self._candidate(given, DIVISION, True, f"{name} eps")
        elif optimizer.default_eps is not None:
            self.pending[id(node)] = _Eps(node, optimizer.default_eps, DIVISION, True, f"{name}'s default eps", None)

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Divide):
            self._denominator(node.right)

    def _denominator(self, expr: cst.BaseExpression | None) -> None:
        if expr is None:
            return
        target = self.ctx.resolve(expr) if isinstance(expr, (cst.Name, cst.Attribute)) else expr
        if isinstance(target, cst.BinaryOperation):
            self._added_eps(target, DIVISION)
            return
        call = self.ctx.call(target)
        if call is not None and call.op in _BOUND_OPS:
            self._bound(call, DIVISION)

    def _bound(self, call: OpCall, kind: str) -> None:
        """The lower bound of clamp(x, min=eps) / maximum(x, eps) / max(eps, x)."""
        first = call.args[0] if call.args else None
        bounds = [(call.arg(1, "min", "a_min", "clip_value_min"), first)]
        if call.op == "maximum" and len(call.args) > 1:
            bounds.append((first, call.args[1]))
        for bound, guarded in bounds:
            self._candidate(bound, kind, False, "eps", guarded, computed=True)

    def _added_eps(self, expr: cst.BaseExpression, kind: str) -> None:
        """`x + eps` / `eps + x`: the eps operand."""
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
            for side, other in ((expr.right, expr.left), (expr.left, expr.right)):
                if self._small(side) is not None:
                    self._candidate(side, kind, False, "eps", other, computed=True)
                    return

    def _small(self, expr: cst.BaseExpression | None) -> float | None:
        """A small positive constant, through names, module constants and parameter defaults."""
        if expr is None:
            return None
        value = self.values.number(expr)
        value = value if isinstance(value, float) else None
        if value is None:
            value = dtype_limit(self.ctx, self.facts, self.ctx.resolve(expr))
        return value if value is not None and 0 < value < 1e-3 else None

    def _candidate(
        self,
        expr: cst.BaseExpression | None,
        kind: str,
        parameters: bool,
        what: str,
        guarded: cst.BaseExpression | None = None,
        computed: bool = False,  # computed where it is written (x + eps, clamp(x, eps)), not an eps= setting
    ) -> None:
        value = self._small(expr)
        if value is not None and expr is not None and id(expr) not in self.pending:
            pinned = explicit_dtype(self.ctx, self.facts.dtype_of, guarded, self.scope)
            if pinned is None and (
                id(expr) in self.scope.not_half or (computed and self.scopes[-1:] == ["constructor"])
            ):
                pinned = "float32"
            in_model = bool(self.model_classes) and self.model_classes[-1]
            self.pending[id(expr)] = _Eps(expr, value, kind, parameters, what, pinned, in_model)

    # --- deciding ---------------------------------------------------------------------------

    def leave_Module(self, node: cst.Module) -> None:
        flushes = bool(self.facts.roots & table.FLUSHING_ROOTS)
        float32_code = self.facts.narrowest_dtype() != "float64"
        for eps in self.pending.values():
            if eps.pinned == "float64":
                continue
            half = not at_least_float32(eps.pinned) and (
                self.facts.half_parameters if eps.parameters else self.facts.half
            )
            if half:
                found = _in_float16(eps)
            elif (float32_code or eps.pinned == "float32") and not eps.parameters:
                found = self._in_half_project(eps, float32_code) or _in_float32(eps, flushes)
            else:
                found = None
            if found is not None:
                problem, advice, where = found
                self.report(eps.node, f"{eps.what} {eps.value:g} {problem} {where}; use eps >= {advice}")

    def _in_half_project(self, eps: _Eps, float32_code: bool) -> tuple[str, str, str] | None:
        """Dtype-generic code of a project whose entry point switches float16 on (project.py): only an eps
        that float16 rounds to 0 (it guards nothing there); a subnormal one is left to the module's own evidence."""
        if eps.pinned is not None or not float32_code or eps.value >= FP16.subnormal or self.ctx.project is None:
            return None
        if not eps.in_model:
            return None  # preprocessing, metrics, helpers: the program's float16 is its model's, not theirs
        evidence = self.ctx.project.half_evidence()
        if evidence is None:
            return None
        problem, advice, _ = _in_float16(eps) or ("", "", "")
        return problem, advice, f"in a project that computes in float16 ({evidence})"


def _in_float16(eps: _Eps) -> tuple[str, str, str] | None:
    """(problem, advice, where) when float16 cannot hold the eps."""
    where = "with float16 parameters" if eps.parameters else "in this half-precision code"
    if eps.value < FP16.subnormal:
        advice = "1e-6" if eps.kind == ZERO else "1e-4"
        problem = "underflows to 0 in float16 (smallest subnormal 6e-08), so it guards nothing"
        return problem, f"{advice} or compute this in float32", where
    if eps.kind == DIVISION and eps.value < FP16.tiny:
        problem = "is subnormal in float16 (below 6.1e-05): dividing by it overflows to inf"
        return problem, "1e-4 or compute this in float32", where
    return None


def _in_float32(eps: _Eps, flushes: bool) -> tuple[str, str, str] | None:
    """(problem, advice, where) when float32 cannot hold the eps: below its smallest subnormal it is 0; below its
    smallest normal it is flushed to 0 where denormals are (TensorFlow, XLA)."""
    if eps.value < FP32.subnormal:
        return "rounds to 0 in float32 (smallest subnormal 1.4e-45), so it guards nothing", "1e-30", "in float32 code"
    if flushes and eps.value < FP32.tiny:
        return (
            "is subnormal in float32 (below 1.2e-38) and flushed to 0 by TensorFlow and XLA, so it guards nothing",
            "1e-30",
            "in float32 code",
        )
    return None


# --- NAN203 ----------------------------------------------------------------------------------

_ARITHMETIC = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide)
_GUARDING_OPS = {"log": "log's argument", "sqrt": "sqrt's argument", "rsqrt": "rsqrt's argument"}
_PROBABILITY_LOSSES = ("probabilities", "from_logits")  # losses that take log(p) and log(1 - p)
_BOUNDING_OPS = frozenset({"clamp", "maximum", "minimum"})


class AbsorbedEps(FactsRule):
    """NAN203: an eps that rounds away where it guards: `log(1 + 1e-10 - p)`, `x / (1e-10 + 1 - p)`,
    `p = clamp(p, eps, 1 - eps)` ... `log(1 - p)`, in the precision the module computes in.

    An absorbed eps matters only where it was meant to keep a value away from 0, so a constant sum
    `c ± eps` is reported when it sits in the argument of a log or sqrt or in a denominator, or is
    the bound of a clamp whose result's complement (`c - p`) reaches one of those. Integer offsets
    (`warmup_iters + 1`) are exact and not an eps.
    """

    code = "NAN203"
    triggers = ("e-", "E-", "eps", "EPS", "0.00")

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.sums: dict[int, tuple[cst.BinaryOperation, float, float]] = {}
        self.guarded: dict[int, str] = {}  # sum -> what it guards
        self.bounds: dict[int, list[cst.BinaryOperation]] = {}  # clamp call -> its absorbed-candidate bounds
        self.thresholds: list[tuple[cst.BaseExpression, float, cst.BaseExpression]] = []  # (eps, value, difference)

    # --- guard positions -------------------------------------------------------------------

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Divide) and self.ctx.const(node.right) is None:
            # A denominator of constants alone guards no variable, and Python computes it in float64.
            self._guard(node.right, "denominator")

    def on_call(self, node: cst.Call) -> None:
        call = self.facts.call(node)
        if call is None:
            self._loss(node)
            return
        if call.op in _GUARDING_OPS and call.args and not (call.qualified or "").startswith("math."):
            self._guard(call.args[0], _GUARDING_OPS[call.op])
        elif call.op == "div":
            self._guard(call.arg(1, "other", "y"), "denominator")
        elif call.op in _BOUNDING_OPS:
            self._bounds(call)
        elif call.op == "where":
            self._threshold(call)

    def _bounds(self, call: OpCall) -> list[cst.BinaryOperation]:
        """The constant sums among a clamp's bounds (computed once per clamp)."""
        if id(call.node) not in self.bounds:
            found = []
            for bound in (*call.args[1:], *call.keywords.values()):
                target = self.ctx.resolve(bound) if isinstance(bound, (cst.Name, cst.Attribute)) else bound
                if isinstance(target, cst.BinaryOperation) and self._candidate(target):
                    found.append(target)
            self.bounds[id(call.node)] = found
        return self.bounds[id(call.node)]

    def _threshold(self, call: OpCall) -> None:
        """`where(abs(d) > eps, n / d, 0)` with d a difference: its rounding error is about the dtype's
        resolution times the terms, so an eps below the resolution lets rounding noise through to n / d."""
        test = call.arg(0, "condition", "cond")
        if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
            return
        operator, right = test.comparisons[0].operator, test.comparisons[0].comparator
        if isinstance(operator, (cst.GreaterThan, cst.GreaterThanEqual)):
            magnitude, bound = test.left, right
        elif isinstance(operator, (cst.LessThan, cst.LessThanEqual)):
            magnitude, bound = right, test.left
        else:
            return
        absolute = self.ctx.call(magnitude)
        eps = self.values.number(bound)
        if absolute is None or absolute.op != "abs" or not absolute.args or not isinstance(eps, float):
            return
        guarded = absolute.args[0]
        divided = any(_divides_by(self.ctx, branch, guarded) for branch in (call.arg(1, "x"), call.arg(2, "y")))
        if divided and 0 < eps < 1e-3 and _difference(self.ctx, guarded):
            self.thresholds.append((bound, eps, guarded))

    def _loss(self, node: cst.Call) -> None:
        """`binary_cross_entropy(p, y)` takes log(p) and log(1 - p) of its prediction."""
        loss = table.LOSSES.get(self.facts.qualified(node) or "")
        if loss is not None and loss.expects in _PROBABILITY_LOSSES:
            self._clamped(argument(node, *loss.prediction), "log's argument")

    def _guard(self, expr: cst.BaseExpression | None, what: str, depth: int = 6) -> None:
        """Mark the constant sums inside a guarded expression (through +, -, * and names), and the clamp
        bounds behind a complement `c - clamp(p, eps, c - eps)` there."""
        if expr is None or depth <= 0:
            return
        if isinstance(expr, cst.Name):
            resolved = self.ctx.resolve(expr)
            if resolved is not expr and resolved is not None:
                self._guard(resolved, what, depth - 1)
            return
        if not isinstance(expr, cst.BinaryOperation) or not isinstance(expr.operator, _ARITHMETIC):
            return
        if self._candidate(expr):
            self.guarded.setdefault(id(expr), what)
            return
        if isinstance(expr.operator, cst.Subtract) and self.ctx.const(expr.left) is not None:
            self._clamped(expr.right, what)
        self._guard(expr.left, what, depth - 1)
        self._guard(expr.right, what, depth - 1)

    def _clamped(self, expr: cst.BaseExpression | None, what: str) -> None:
        target = self.ctx.resolve(expr) if isinstance(expr, (cst.Name, cst.Attribute)) else expr
        call = self.ctx.call(target)
        if call is not None and call.op in _BOUNDING_OPS:
            for bound in self._bounds(call):
                self.guarded.setdefault(id(bound), what)

    def _candidate(self, node: cst.BinaryOperation) -> bool:
        """Record `c ± eps` (both constant, eps much smaller and not an integer); True when it is one."""
        if id(node) in self.sums:
            return True
        if not isinstance(node.operator, (cst.Add, cst.Subtract)):
            return False
        right = self.ctx.const(node.right)
        left = self.ctx.const(node.left) if right is not None else None
        if left is None or right is None or not (math.isfinite(left) and math.isfinite(right)):
            return False
        subtract = isinstance(node.operator, cst.Subtract)
        if abs(left) >= abs(right):
            big, eps = left, -right if subtract else right
        else:
            big, eps = -right if subtract else right, left
        if eps == 0 or abs(eps) > 1e-2 * abs(big) or eps == int(eps):
            return False
        self.sums[id(node)] = (node, big, eps)
        return True

    def leave_Module(self, node: cst.Module) -> None:
        dtype = self.facts.narrowest_dtype()
        resolution = 2.0 ** -table.FORMATS[dtype].mantissa_bits
        for bound, eps, difference in self.thresholds:
            if eps < resolution:
                self.report(
                    bound,
                    f"threshold {eps:g} is below the resolution of {dtype} ({resolution:.2g}): "
                    f"`{self.ctx.code_of(difference).strip()}` is a difference whose rounding error exceeds it, so "
                    "values that are 0 up to rounding pass the test and the division by them explodes; use a "
                    f"threshold above the rounding error (>= {resolution:.2g} times the size of the terms)",
                )
        for key, what in self.guarded.items():
            expr, big, eps = self.sums[key]
            if round_to(big + eps, dtype) != round_to(big, dtype):
                continue
            spacing = _spacing(big, dtype)
            self.report(
                expr,
                f"eps {abs(eps):g} is absorbed: {self.ctx.code_of(expr).strip()} rounds to {big:g} in "
                f"{dtype} (spacing {spacing:.2g} there), so the {what} it guards can still be 0; apply the "
                f"eps where the value is small (1 - x + eps) or use an eps >= {spacing:.2g}",
            )


def _divides_by(ctx, branch: cst.BaseExpression | None, divisor: cst.BaseExpression) -> bool:
    """The branch divides by `divisor` (the same expression, or a name bound to the same value)."""
    if branch is None:
        return False
    spelled = ctx.code_of(divisor).strip()
    for part in iter_nodes(branch):
        if isinstance(part, cst.BinaryOperation) and isinstance(part.operator, cst.Divide):
            if ctx.code_of(part.right).strip() == spelled:
                return True
    return False


def _difference(ctx, expr: cst.BaseExpression, depth: int = 3) -> bool:
    """A difference of two computed values (`a * d - b * c`): it cancels, leaving rounding noise."""
    if depth <= 0:
        return False
    if isinstance(expr, cst.Name):
        resolved = ctx.resolve(expr)
        return resolved is not expr and resolved is not None and _difference(ctx, resolved, depth - 1)
    return (
        isinstance(expr, cst.BinaryOperation)
        and isinstance(expr.operator, cst.Subtract)
        and ctx.const(expr.left) is None
        and ctx.const(expr.right) is None
    )


def round_to(value: float, dtype: str) -> float:
    """`value` rounded to the nearest `dtype` number."""
    if dtype == "float64":
        return value
    if dtype == "float16":
        return _through("<e", value)
    single = _through("<f", value)
    if dtype == "float32":
        return single
    bits = struct.unpack("<I", struct.pack("<f", single))[0]  # bfloat16: round the top 16 bits to nearest even
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def _through(fmt: str, value: float) -> float:
    """`value` stored in a binary format (struct rounds to nearest even; beyond the range is inf)."""
    try:
        return struct.unpack(fmt, struct.pack(fmt, float(value)))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


def _spacing(value: float, dtype: str) -> float:
    fmt = table.FORMATS[dtype]
    return 2.0 ** (math.floor(math.log2(abs(value))) - fmt.mantissa_bits) if value else fmt.subnormal


RULES = [MaskOverflow, EpsUnderflow, AbsorbedEps]
