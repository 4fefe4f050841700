"""NAN303: raw 0-255 images converted to float and fed to a model without scaling.

The rule follows images forward, in source order: a decoder that returns uint8 pixels
makes a raw image; pixel-preserving operations (resize, transpose, crop, re-wrap as a
tensor) keep it raw; a float conversion makes it a raw float image (remembering where);
anything else -- arithmetic, an unknown function -- forgets it. (Forward, because images
are usually rebound in place, `img = cv2.resize(img, ...)`, which a backward lookup of
the latest binding cannot see through.) A raw float image passed to a model (a forward
pass, `predict`, `fit`) is reported at its conversion, unless the module scales images
anywhere (`/ 255`, Normalize, ToTensor, Rescaling, preprocess_input, ...), since the
model itself may rescale its inputs.
"""

from __future__ import annotations

import libcst as cst

from nanlint.source import training_ops as table
from nanlint.source.dataflow import binding_key
from nanlint.source.rule import Rule, argument

RAW = "raw"  # a decoded uint8 image; a raw float image is represented by its conversion call


class MissingInputNormalization(Rule):
    code = "NAN303"
    quiet_in_tests = True  # a test runs a few fixed steps (often diverging on purpose); it does not train
    triggers = ("imread", "Image.open", "read_image", "decode_", "load_img", "imdecode", "pil_to_tensor")

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.scaled = False  # the module scales images somewhere
        self.pending: dict[int, cst.Call] = {}
        self.images: list[dict[str, str | cst.Call]] = [{}]  # per function: binding key -> RAW or conversion

    def visit_Call(self, node: cst.Call) -> None:
        qualified = self.ctx.qualify(node.func)
        if qualified is not None and (
            qualified in table.IMAGE_NORMALIZERS or qualified.endswith(table.NORMALIZER_SUFFIXES)
        ):
            self.scaled = True
            return
        for value in self._model_inputs(node, qualified):
            state = self._state(value)
            if isinstance(state, cst.Call):
                self.pending.setdefault(id(state), state)

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        """`x / 255.`, `x * (1 / 255)`, `x / 127.5 - 1`, `(x - mean) / std`: the module scales its inputs."""
        right = node.right
        if isinstance(node.operator, cst.Divide):
            value = self.ctx.const(right)
            if (value is not None and value >= 100) or (value is None and _names_a_scale(right)):
                self.scaled = True
        elif isinstance(node.operator, cst.Multiply):
            for side in (node.left, node.right):
                value = self.ctx.const(side)
                if value is not None and 0 < value <= 0.011:
                    self.scaled = True

    # --- image states, forward -------------------------------------------------------------

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.images.append({})

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.images.pop()

    def leave_Assign(self, node: cst.Assign) -> None:
        state = self._state(node.value)
        for target in node.targets:
            self._bind(target.target, state)

    def leave_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._bind(node.target, self._state(node.value))

    def leave_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target, None)  # `img /= 255.`

    def _bind(self, target: cst.BaseExpression, state) -> None:
        key = binding_key(target)
        if key is None:
            return
        if state is None:
            self.images[-1].pop(key, None)
        else:
            self.images[-1][key] = state

    def _lookup(self, key: str):
        for scope in (self.images[-1], self.images[0]):
            if key in scope:
                return scope[key]
        return None

    def leave_Module(self, node: cst.Module) -> None:
        if self.scaled:
            return
        for conversion in self.pending.values():
            self.report(
                conversion,
                "raw 0-255 image converted to float and fed to the model without scaling: large "
                "inputs saturate activations and overflow in half precision; divide by 255 or "
                "normalise with the dataset's mean and std",
            )

    def _state(self, expr: cst.BaseExpression, depth: int = 12):
        """RAW, the conversion call of a raw float image, or None."""
        if depth <= 0:
            return None
        if isinstance(expr, (cst.Name, cst.Attribute)):
            key = binding_key(expr)
            return self._lookup(key) if key is not None else None
        if isinstance(expr, cst.Subscript):
            return self._state(expr.value, depth - 1)
        if isinstance(expr, (cst.List, cst.Tuple)) and expr.elements:
            return self._state(expr.elements[0].value, depth - 1)
        if isinstance(expr, (cst.ListComp, cst.GeneratorExp)):  # [imread(p) for p in paths]
            return self._state(expr.elt, depth - 1)
        if not isinstance(expr, cst.Call):
            return None
        qualified = self.ctx.qualify(expr.func)
        if qualified in table.IMAGE_DECODERS:
            return RAW
        source = self._float_source(expr, qualified)
        if source is not None:
            inner = self._state(source, depth - 1)
            return expr if inner == RAW else inner
        source = self._layout_source(expr, qualified)
        return self._state(source, depth - 1) if source is not None else None

    # --- what reaches a model --------------------------------------------------------------

    def _model_inputs(self, node: cst.Call, qualified: str | None) -> list[cst.BaseExpression]:
        func = node.func
        positional = [a.value for a in node.args if a.keyword is None and not a.star]
        if isinstance(func, cst.Attribute) and not self.ctx.names.is_module_alias(func.value):
            method = func.attr.value
            if method in table.MODEL_METHODS:
                return positional[:1]
            if method == "run" and self._is_model(func.value):  # onnxruntime: run(None, {"input": x})
                return [
                    e.value
                    for a in positional
                    if isinstance(a, cst.Dict)
                    for e in a.elements
                    if isinstance(e, cst.DictElement)
                ]
        if qualified is None and isinstance(func, (cst.Name, cst.Attribute)) and self._is_model(func):
            return positional[:1]
        return []

    def _is_model(self, expr: cst.BaseExpression) -> bool:
        name = expr.value if isinstance(expr, cst.Name) else expr.attr.value if isinstance(expr, cst.Attribute) else ""
        if any(part in name.lower() for part in table.MODEL_NAME_PARTS):
            return True
        built = self.ctx.resolve(expr)
        if isinstance(built, cst.Call):
            return (self.ctx.qualify(built.func) or "").startswith(table.MODEL_FACTORIES)
        return False

    def _float_source(self, node: cst.Call, qualified: str | None) -> cst.BaseExpression | None:
        """The converted value if `node` turns it into floats without scaling it."""
        func = node.func
        if qualified is None and isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in table.FLOAT_CONVERSION_METHODS:
                return func.value
            if method in ("astype", "to", "type") and self._float_dtype(argument(node, 0, "dtype")):
                return func.value
            return None
        if qualified in table.FLOAT_CONVERTING_FUNCTIONS or table.DTYPES.get(qualified or "") in _FLOATS:
            return argument(node, 0, "x")
        if qualified in table.PIXEL_LAYOUT_FUNCTIONS and self._float_dtype(argument(node, None, "dtype")):
            return argument(node, 0, "x")
        if self.ctx.op(node) == "cast" and self._float_dtype(argument(node, 1, "dtype")):
            return argument(node, 0, "x")
        return None

    def _layout_source(self, node: cst.Call, qualified: str | None) -> cst.BaseExpression | None:
        func = node.func
        if qualified in table.PIXEL_LAYOUT_FUNCTIONS:
            return argument(node, 0, "input")
        if qualified is None and isinstance(func, cst.Attribute) and func.attr.value in table.PIXEL_LAYOUT_METHODS:
            return func.value
        return None

    def _float_dtype(self, dtype: cst.BaseExpression | None) -> bool:
        if dtype is None:
            return False
        if isinstance(dtype, cst.SimpleString):
            text = dtype.evaluated_value  # bytes for b"...", which names no dtype
            return isinstance(text, str) and table.DTYPE_STRINGS.get(text) in _FLOATS
        return table.DTYPES.get(self.ctx.qualify(dtype) or "") in _FLOATS


_FLOATS = frozenset({"float16", "bfloat16", "float32", "float64"})


def _names_a_scale(expr: cst.BaseExpression) -> bool:
    name = expr.value if isinstance(expr, cst.Name) else expr.attr.value if isinstance(expr, cst.Attribute) else ""
    return "std" in name.lower() or "scale" in name.lower()


RULES = [MissingInputNormalization]
