"""Module-wide facts of the precision and training-setup rules, gathered once per file.

Several rules ask the same questions about the whole module: does it compute in float16
(autocast, GradScaler, `.half()`, a float16 dtype, an `fp16` flag)? are its parameters
float16? does it clip gradients? does it hold a recurrent layer? what default does the
`--lr` flag have? The answers are collected during the one traversal by `FactsRule`
handlers -- the first rule to see a node records it, the others skip it -- into one
`ModuleFacts` per file, and read in `leave_Module`, when the whole module has been seen.

`Values` answers "what number is this?" for configuration values: constants, function
parameter defaults, command-line flag defaults, config dicts and learning-rate schedules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import libcst as cst

from nanlint.source import training_ops as table
from nanlint.source.rule import Context, OpCall, Rule, argument


@dataclass(frozen=True)
class FlagRef:
    """A command-line flag (`args.lr`) whose default is looked up when the module is complete."""

    name: str


@dataclass
class ModuleFacts:
    ctx: Context
    compute_dtypes: set[str] = field(default_factory=set)  # reduced-precision dtypes the module computes in
    parameter_dtypes: set[str] = field(default_factory=set)  # reduced-precision dtypes of its parameters
    float32: bool = False  # an explicit float32 dtype is named
    clips_gradients: bool = False
    recurrent: bool = False
    flags: dict[str, cst.BaseExpression] = field(default_factory=dict)  # flag name -> default expression
    parameters: list[dict[str, cst.BaseExpression | None]] = field(default_factory=list)  # per enclosing function
    parameter_values: dict[int, cst.BaseExpression] = field(default_factory=dict)  # `self.eps = eps` -> default
    comparisons: int = 0  # depth of comparisons around the current node: `x.dtype == torch.float16` is a test
    _call_node: cst.Call | None = None
    _call: OpCall | None = None
    _qualified_node: cst.Call | None = None
    _qualified: str | None = None

    # --- as a tracker: fed once per file by the traversal, for every rule that uses it ---------

    def visit_Call(self, node: cst.Call) -> None:
        self.see_call(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.see_attribute(node)

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        self.see_string(node)

    def visit_DictElement(self, node: cst.DictElement) -> None:
        self.see_dict_element(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.enter_function(node)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.leave_function()

    def visit_Comparison(self, node: cst.Comparison) -> None:
        self.comparisons += 1

    def leave_Comparison(self, node: cst.Comparison) -> None:
        self.comparisons -= 1

    def leave_Assign(self, node: cst.Assign) -> None:
        self.see_assign(node)

    # --- questions ------------------------------------------------------------------------

    @property
    def half(self) -> bool:
        """The module computes in float16 somewhere."""
        return "float16" in self.compute_dtypes or "float16" in self.parameter_dtypes or "float16" in self._imported

    @property
    def _imported(self) -> set[str]:
        """Reduced-precision dtypes imported by name (`from torch import float16`)."""
        aliases = self.ctx.names.aliases
        return {
            table.DTYPES[target]
            for local, target in aliases.items()
            if local in _DTYPE_WORDS and target in table.DTYPES
        }

    @property
    def half_parameters(self) -> bool:
        """Its parameters (and so optimizer states and norm layers) are float16 themselves."""
        return "float16" in self.parameter_dtypes

    def narrowest_dtype(self) -> str:
        """The float format with the fewest mantissa bits this module's arithmetic may run in."""
        dtypes = self.compute_dtypes | self.parameter_dtypes | self._imported
        if "bfloat16" in dtypes:
            return "bfloat16"
        if "float16" in dtypes:
            return "float16"
        roots = {target.split(".", 1)[0] for target in self.ctx.names.aliases.values()}
        return "float32" if self.float32 or roots & table.FLOAT32_DEFAULT_ROOTS else "float64"

    @property
    def roots(self) -> set[str]:
        """The top-level packages the module imports (`torch`, `tensorflow`, ...)."""
        return {target.split(".", 1)[0] for target in self.ctx.names.aliases.values()}

    def flag_default(self, name: str) -> float | None:
        default = self.flags.get(name)
        return None if default is None else self.ctx.const(default)

    # --- feeding (first caller per node wins) -----------------------------------------------

    def call(self, node: cst.Call) -> OpCall | None:
        """ctx.call(node), computed once for the call being visited (all rules ask about the same node)."""
        if self._call_node is not node:
            self._call_node, self._call = node, self.ctx.call(node)
        return self._call

    def qualified(self, node: cst.Call) -> str | None:
        """ctx.qualify(node.func), computed once for the call being visited."""
        if self._qualified_node is not node:
            self._qualified_node, self._qualified = node, self.ctx.qualify(node.func)
        return self._qualified

    def see_call(self, node: cst.Call) -> None:
        ctx = self.ctx
        qualified = self.qualified(node)
        func = node.func
        method = func.attr.value if isinstance(func, cst.Attribute) else None
        if isinstance(func, cst.Attribute) and ctx.names.is_module_alias(func.value):
            method = None
        if qualified is not None:
            self._see_function(node, qualified)
        elif method is not None:
            self._see_method(node, method)
        for arg in node.args:
            if arg.keyword is not None:
                self._see_keyword(arg.keyword.value, arg.value)

    def _see_function(self, node: cst.Call, qualified: str) -> None:
        if qualified in table.MIXED_PRECISION:
            if _is_false(argument(node, None, "enabled")):
                return  # `autocast(enabled=False)` switches half precision off
            self.compute_dtypes.add(self._autocast_dtype(node, table.MIXED_PRECISION[qualified]))
        elif qualified in table.PARAMETER_DTYPE_SETTERS and node.args:
            self._add_parameter_dtype(node.args[0].value)
        elif qualified in table.CLIPPING_FUNCTIONS or qualified in table.CLIPPING_TRAINERS:
            self.clips_gradients = True
        elif qualified in table.RECURRENT_LAYERS:
            self.recurrent = True
        elif qualified in table.FLAG_DEFINERS:
            name_at, default_at = table.FLAG_DEFINERS[qualified]
            self._add_flag(argument(node, name_at, "name"), argument(node, default_at, "default"))
        elif node.args and _op(self.call(node)) == "clamp" and _mentions_gradient(self.ctx, node.args[0].value):
            self.clips_gradients = True

    def _see_method(self, node: cst.Call, method: str) -> None:
        if method == "half" and not node.args:
            self.parameter_dtypes.add("float16")
        elif method in table.PARAMETER_DTYPE_METHODS:
            dtype = argument(node, 0, "dtype")
            if dtype is not None:
                self._add_parameter_dtype(dtype)
        elif method in table.CLIPPING_METHODS:
            self.clips_gradients = True
        elif method in table.FLAG_METHODS:
            self._add_argparse_flag(node)
        elif (
            _op(self.call(node)) == "clamp"
            and isinstance(node.func, cst.Attribute)
            and _mentions_gradient(self.ctx, node.func.value)
        ):
            self.clips_gradients = True  # `p.grad.data.clamp_(-1, 1)`

    def _see_keyword(self, keyword: str, value: cst.BaseExpression) -> None:
        if keyword in table.HALF_FLAGS or keyword in table.BFLOAT16_FLAGS:
            if not _is_false(value):  # `Trainer(fp16=True)`, `fp16=args.fp16`
                self.compute_dtypes.add("float16" if keyword in table.HALF_FLAGS else "bfloat16")
        elif keyword in table.PARAMETER_DTYPE_KEYWORDS:
            self._add_parameter_dtype(value)
        elif keyword in table.CLIPPING_KEYWORDS and _switched_on(self.ctx, value):
            self.clips_gradients = True
        elif keyword in ("precision", "mixed_precision"):
            dtype = self.dtype_of(value)
            if dtype in ("float16", "bfloat16"):
                self.compute_dtypes.add(dtype)

    def see_attribute(self, node: cst.Attribute) -> None:
        """Dtype objects (`torch.float16`) and flags (`args.fp16`)."""
        name = node.attr.value
        if name in _DTYPE_WORDS or name in table.HALF_FLAGS or name in table.BFLOAT16_FLAGS:
            self._see_word(node, name)

    def _see_word(self, node: cst.BaseExpression, name: str) -> None:
        if self.comparisons:
            return  # `if x.dtype == torch.float16: x = x.float()` tests for half precision to avoid it
        qualified = self.ctx.qualify(node)
        if qualified is not None:
            self._add_compute_dtype(table.DTYPES.get(qualified))
        elif name in table.HALF_FLAGS:
            self.compute_dtypes.add("float16")
        elif name in table.BFLOAT16_FLAGS:
            self.compute_dtypes.add("bfloat16")

    def see_string(self, node: cst.SimpleString) -> None:
        """`"mixed_float16"`, `"--fp16"`, `{"fp16": {...}}`, `astype("float32")`."""
        raw = node.value
        if len(raw) > 24 or not ("16" in raw or "32" in raw or "half" in raw or "amp" in raw):
            return
        text = node.evaluated_value
        if not isinstance(text, str):
            return
        word = text.lstrip("-").replace("-", "_")
        if word in table.HALF_FLAGS or word in table.BFLOAT16_FLAGS:
            self.compute_dtypes.add("float16" if word in table.HALF_FLAGS else "bfloat16")
        elif text in _DTYPE_STRINGS:
            self._add_compute_dtype(table.DTYPE_STRINGS[text])

    def see_dict_element(self, node: cst.DictElement) -> None:
        """`{"gradient_clipping": 1.0}` in a trainer's config."""
        key = node.key
        if (
            isinstance(key, cst.SimpleString)
            and key.evaluated_value in table.CLIPPING_KEYWORDS
            and _switched_on(self.ctx, node.value)
        ):
            self.clips_gradients = True

    def enter_function(self, node: cst.FunctionDef) -> None:
        params = node.params
        every = [*params.posonly_params, *params.params, *params.kwonly_params]
        self.parameters.append({p.name.value: p.default for p in every})
        for param in every:  # `def train(model, fp16=False)`: the function can run in half precision
            if param.name.value in table.HALF_FLAGS:
                self.compute_dtypes.add("float16")
            elif param.name.value in table.BFLOAT16_FLAGS:
                self.compute_dtypes.add("bfloat16")

    def leave_function(self) -> None:
        if self.parameters:
            self.parameters.pop()

    def see_assign(self, node: cst.Assign) -> None:
        """`self.eps = eps` in a function: remember the parameter's default behind that name node;
        `fp16 = True`: a half-precision switch."""
        value = node.value
        for target in node.targets:
            if isinstance(target.target, cst.Name) and target.target.value in table.HALF_FLAGS and not _is_false(value):
                self.compute_dtypes.add("float16")
        if isinstance(value, cst.Name) and self.parameters:
            found, default = Values(self.ctx, self).parameter(value.value)
            if found and default is not None:
                self.parameter_values[id(value)] = default

    # --- helpers --------------------------------------------------------------------------

    def dtype_of(self, expr: cst.BaseExpression | None) -> str | None:
        """The dtype a literal dtype expression names (`torch.float16`, `"float16"`, `16`), else None."""
        return dtype_literal(self.ctx, expr)

    def _autocast_dtype(self, node: cst.Call, default: str) -> str:
        dtype = self.dtype_of(argument(node, None, "dtype"))
        if dtype is not None:
            return dtype
        device = argument(node, 0, "device_type")
        if isinstance(device, cst.SimpleString) and device.evaluated_value == "cpu":
            return "bfloat16"  # autocast on CPU computes in bfloat16 unless told otherwise
        return default

    def _add_compute_dtype(self, dtype: str | None) -> None:
        if dtype in ("float16", "bfloat16"):
            self.compute_dtypes.add(dtype)
        elif dtype == "float32":
            self.float32 = True

    def _add_parameter_dtype(self, expr: cst.BaseExpression) -> None:
        dtype = self.dtype_of(expr)
        if dtype in ("float16", "bfloat16"):
            self.parameter_dtypes.add(dtype)
        elif dtype == "float32":
            self.float32 = True

    def _add_flag(self, name: cst.BaseExpression | None, default: cst.BaseExpression | None) -> None:
        if isinstance(name, cst.SimpleString) and default is not None:
            text = name.evaluated_value
            if isinstance(text, str):
                self.flags[text.lstrip("-").replace("-", "_")] = default

    def _add_argparse_flag(self, node: cst.Call) -> None:
        default = argument(node, None, "default")
        if default is None:
            return
        dest = argument(node, None, "dest")
        if dest is not None:
            self._add_flag(dest, default)
            return
        names = [a.value for a in node.args if a.keyword is None and isinstance(a.value, cst.SimpleString)]
        longest = [n for n in names if str(n.evaluated_value).startswith("--")] or names
        if longest:
            self._add_flag(longest[0], default)


def dtype_literal(ctx: Context, expr: cst.BaseExpression | None) -> str | None:
    """The dtype a literal dtype expression names (`torch.float16`, `"float16"`, `16`), else None."""
    if expr is None:
        return None
    if isinstance(expr, cst.SimpleString):
        text = expr.evaluated_value
        return table.DTYPE_STRINGS.get(text) if isinstance(text, str) else None
    if isinstance(expr, cst.Integer):
        return table.DTYPE_STRINGS.get(expr.value)
    qualified = ctx.qualify(expr)
    return table.DTYPES.get(qualified) if qualified else None


_DTYPE_WORDS = frozenset({"float16", "half", "bfloat16", "float32", "HalfTensor"})
_DTYPE_STRINGS = frozenset(
    {
        "float16",
        "mixed_float16",
        "16-mixed",
        "16-true",
        "bfloat16",
        "mixed_bfloat16",
        "bf16-mixed",
        "bf16-true",
        "float32",
    }
)


def _op(call: OpCall | None) -> str | None:
    return call.op if call is not None else None


def _is_false(expr: cst.BaseExpression | None) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "False"


def _switched_on(ctx: Context, value: cst.BaseExpression) -> bool:
    """A clipping option given a value that enables it (not None, False or 0)."""
    if isinstance(value, cst.Name) and value.value in ("None", "False"):
        return False
    number = ctx.const(value)
    return number is None or number != 0


def _mentions_gradient(ctx: Context, expr: cst.BaseExpression) -> bool:
    """`p.grad`, `grads[i]`, `g` (the usual loop name over gradients)."""
    if isinstance(expr, cst.Name):
        return expr.value == "g" or "grad" in expr.value
    return isinstance(expr, (cst.Attribute, cst.Subscript)) and "grad" in ctx.code_of(expr)


class FactsRule(Rule):
    """A rule that reads module-wide facts (the ModuleFacts tracker, fed once per file).

    Subclasses define `on_call` (not `visit_Call`) and `leave_Module` where they decide.
    """

    uses: ClassVar[tuple[type, ...]] = (ModuleFacts,)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.facts = ctx.tracker(ModuleFacts)
        self.values = Values(ctx, self.facts)

    def visit_Call(self, node: cst.Call) -> None:
        self.on_call(node)

    def on_call(self, node: cst.Call) -> None:
        pass


class Values:
    """Numbers behind configuration expressions, for learning rates and the like."""

    def __init__(self, ctx: Context, facts: ModuleFacts) -> None:
        self.ctx = ctx
        self.facts = facts

    def number(self, expr: cst.BaseExpression | None, depth: int = 6) -> float | FlagRef | None:
        """A number, a flag to look up at the end, or None when unknown."""
        if expr is None or depth <= 0:
            return None
        if isinstance(expr, cst.Name):
            found, default = self.parameter(expr.value)
            if found:
                return self.number(default, depth - 1)
            if id(expr) in self.facts.parameter_values:
                return self.number(self.facts.parameter_values[id(expr)], depth - 1)
        value = self.ctx.const(expr)
        if value is not None:
            return value
        target = self.ctx.resolve(expr)
        if target is not expr and target is not None:
            return self.number(target, depth - 1)
        if isinstance(expr, cst.Subscript):
            return self.number(self._item(expr), depth - 1)
        if isinstance(expr, cst.Attribute):
            held = self._field(expr)
            if held is not None:
                return self.number(held, depth - 1)
            if (
                isinstance(expr.value, (cst.Name, cst.Attribute)) and expr.attr.value in self.facts.flags
            ) or _looks_like_flags(expr):
                return FlagRef(expr.attr.value)
        if isinstance(expr, cst.Call):
            return self._call(expr, depth)
        return None

    def peak(self, expr: cst.BaseExpression | None) -> float | FlagRef | None:
        """The largest value a learning rate takes: a number, or a schedule's extreme values."""
        target = self.ctx.resolve(expr) if isinstance(expr, (cst.Name, cst.Attribute)) else expr
        if isinstance(target, cst.Call):
            schedule = table.SCHEDULES.get(self.ctx.qualify(target.func) or "")
            if schedule is not None:
                return self.schedule_peak(target, schedule)
        return self.number(expr)

    def schedule_peak(self, node: cst.Call, schedule: table.Schedule) -> float | None:
        values: list[float] = []
        for position, keyword in schedule.peaks:
            given = argument(node, position, keyword)
            if schedule.lists:
                given = self.ctx.resolve(given) if isinstance(given, cst.Name) else given
                items = [e.value for e in given.elements] if isinstance(given, (cst.List, cst.Tuple)) else []
            else:
                items = [] if given is None else [given]
            values.extend(v for v in (self.number(i) for i in items) if isinstance(v, float))
        return max(values) if values else None

    def resolved(self, value: float | FlagRef | None) -> float | None:
        """A number, with flags looked up (call when the module is complete)."""
        if isinstance(value, FlagRef):
            return self.facts.flag_default(value.name)
        return value

    # --- internals ---------------------------------------------------------------------------

    def parameter(self, name: str) -> tuple[bool, cst.BaseExpression | None]:
        """(is a parameter of the enclosing function not rebound since, its default)."""
        if not self.facts.parameters or name not in self.facts.parameters[-1]:
            return False, None
        scopes = self.ctx.dataflow.scopes
        if scopes and scopes[-1].kind == "function" and name in scopes[-1].names:
            return False, None
        return True, self.facts.parameters[-1][name]

    def _item(self, expr: cst.Subscript) -> cst.BaseExpression | None:
        """`cfg["lr"]` where cfg is a dict literal or dict(...) call."""
        if len(expr.slice) != 1 or not isinstance(expr.slice[0].slice, cst.Index):
            return None
        key = expr.slice[0].slice.value
        if not isinstance(key, cst.SimpleString):
            return None
        return self._entry(expr.value, str(key.evaluated_value))

    def _field(self, expr: cst.Attribute) -> cst.BaseExpression | None:
        """`cfg.lr` where cfg = SimpleNamespace(lr=...) / dict(lr=...)."""
        if not isinstance(expr.value, (cst.Name, cst.Attribute)) or self.ctx.names.is_module_alias(expr.value):
            return None
        container = self.ctx.resolve(expr.value)
        if isinstance(container, cst.Call):
            return argument(container, None, expr.attr.value)
        return None

    def _entry(self, expr: cst.BaseExpression, key: str) -> cst.BaseExpression | None:
        container = self._item(expr) if isinstance(expr, cst.Subscript) else self.ctx.resolve(expr)
        if isinstance(container, cst.Dict):
            for element in container.elements:
                if (
                    isinstance(element, cst.DictElement)
                    and isinstance(element.key, cst.SimpleString)
                    and element.key.evaluated_value == key
                ):
                    return element.value
        if isinstance(container, cst.Call):  # dict(lr=...), SimpleNamespace(lr=...), EasyDict(...)
            return argument(container, None, key)
        return None

    def _call(self, expr: cst.Call, depth: int) -> float | FlagRef | None:
        func = expr.func
        if isinstance(func, cst.Attribute) and func.attr.value == "get" and expr.args:
            key = expr.args[0].value
            if isinstance(key, cst.SimpleString):
                found = self._entry(func.value, str(key.evaluated_value))
                if found is None and len(expr.args) > 1:
                    found = expr.args[1].value
                return self.number(found, depth - 1)
        return None


def _looks_like_flags(expr: cst.Attribute) -> bool:
    """`args.lr`, `opt.lr`, `FLAGS.lr`, `self.args.lr`: a parsed command line."""
    owner = expr.value
    name = owner.attr.value if isinstance(owner, cst.Attribute) else owner.value if isinstance(owner, cst.Name) else ""
    return name in ("args", "opt", "opts", "FLAGS", "flags", "hparams", "hps")
