"""Execution-provider precision profiles: which dtype each op stores and computes in on a target.

A profile is a data file (JSON, or TOML for user profiles). The built-in ones live next to
this module; `--target path/to/profile.json` loads a user's own. Schema:

    name              required; letters, digits and dashes
    description       required; one line shown by `nanlint graph --list-targets`
    extends           optional; a built-in profile whose settings this one starts from
    float             required (unless extended): the dtype float32 tensors are stored in
                      ("float16", "bfloat16", "float32", or "model" = the model's own dtypes)
    constants         "round" (default: out-of-range constants become inf, tiny ones 0) or
                      "clip" (the converter clips them into the finite range, the way
                      onnxruntime's float16 converter and TensorRT do)
    flush_subnormals  true when the engine flushes subnormal results to zero (default false)
    ops               {"OpType": {"storage": dtype, "compute": dtype, "exp_overflow": bool}}
                      storage = dtype of the op's float outputs (e.g. ops kept in float32);
                      compute = dtype a fused kernel accumulates and applies its epsilon in;
                      exp_overflow = the kernel evaluates exp(input) directly (e.g. a naive
                      Softplus), so it overflows like Exp
    patterns          {"decomposed-normalization" | "naive-softmax" | "eps-guard":
                       {"storage": dtype, "compute": dtype}}: subgraphs the engine keeps in
                      another precision (TensorRT's layer-norm fp32 fallback, OpenVINO's
                      precision-sensitive subgraphs)
    notes             optional list of strings: where the facts come from

A model that already stores float tensors in float16/bfloat16 is judged in its own dtypes:
`float` and `storage` only convert float32 tensors of a float32 model.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


BUILTIN_DIR = Path(__file__).resolve().parent
PATTERNS = ("decomposed-normalization", "naive-softmax", "eps-guard")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class ProfileError(ValueError):
    """A profile that cannot be used; one-line message naming the file and the key."""


# --- dtype facts -------------------------------------------------------------------------


@dataclass(frozen=True)
class DtypeInfo:
    name: str
    max: float  # largest finite value
    overflow: float  # values whose magnitude reaches this round to inf (max + half an ulp)
    tiny: float  # smallest positive subnormal
    normal: float  # smallest positive normal
    eps: float  # spacing of values just above 1
    onnx_type: int

    def underflow(self, flush_subnormals: bool = False) -> float:
        """Positive values at or below this round to 0."""
        return self.normal / 2 if flush_subnormals else self.tiny / 2


def _ieee(name: str, mantissa_bits: int, max_exponent: int, min_exponent: int, onnx_type: int) -> DtypeInfo:
    """Facts of a binary float with `mantissa_bits` stored fraction bits."""
    top = 2.0**max_exponent
    largest = (2.0 - 2.0**-mantissa_bits) * top
    half_ulp = 2.0 ** (max_exponent - mantissa_bits - 1)
    return DtypeInfo(
        name,
        largest,
        min(largest + half_ulp, sys.float_info.max),
        2.0 ** (min_exponent - mantissa_bits),
        2.0**min_exponent,
        2.0**-mantissa_bits,
        onnx_type,
    )


DTYPES: dict[str, DtypeInfo] = {
    "float16": _ieee("float16", 10, 15, -14, 10),
    "bfloat16": _ieee("bfloat16", 7, 127, -126, 16),
    "float32": _ieee("float32", 23, 127, -126, 1),
    "float64": DtypeInfo(
        "float64", sys.float_info.max, sys.float_info.max, 5e-324, sys.float_info.min, sys.float_info.epsilon, 11
    ),
}
BY_ONNX_TYPE = {info.onnx_type: info for info in DTYPES.values()}
REDUCED = ("float16", "bfloat16")


def round_to(value: float, dtype: str) -> float:
    """`value` as stored in `dtype` (IEEE round to nearest, ties to even), back as a Python float.

    Computed in Python floats rather than by a numpy cast: onnxruntime sessions that flush
    subnormals to zero leave that mode on the thread, and a float32 cast would then read 0.
    """
    info = DTYPES[dtype]
    if dtype == "float64" or value == 0 or not math.isfinite(value):
        return value
    _, exponent = math.frexp(abs(value))  # abs(value) = m * 2**exponent with 0.5 <= m < 1
    ulp = max(math.ldexp(info.eps, exponent - 1), info.tiny)
    rounded = round(abs(value) / ulp) * ulp  # round() ties to even
    return math.copysign(math.inf if rounded > info.max else rounded, value)


# --- profiles ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OpPrecision:
    storage: str | None = None
    compute: str | None = None
    exp_overflow: bool = False


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    float: str  # "model" or a dtype name
    constants: str = "round"
    flush_subnormals: bool = False
    ops: Mapping[str, OpPrecision] = field(default_factory=dict)
    patterns: Mapping[str, OpPrecision] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    source: str = ""  # the file it was read from

    @property
    def converts(self) -> bool:
        """Float32 tensors are stored in another dtype on this target."""
        return self.float != "model"


_TOP_KEYS = ("name", "description", "extends", "float", "constants", "flush_subnormals", "ops", "patterns", "notes")
_OP_KEYS = ("storage", "compute", "exp_overflow")


def builtin_paths() -> dict[str, Path]:
    """The built-in profiles by name: `cpu` first, then alphabetical."""
    paths = sorted(BUILTIN_DIR.glob("*.json"), key=lambda p: (p.stem != "cpu", p.stem))
    return {path.stem: path for path in paths}


def list_target_names() -> list[str]:
    return list(builtin_paths())


def load_profile(target: str) -> Profile:
    """A built-in profile by name, or a user's profile file by path (anything with / or a suffix)."""
    builtins = builtin_paths()
    if target in builtins:
        return _load_file(builtins[target])
    if "/" in target or "\\" in target or target.endswith((".json", ".toml")):
        return _load_file(Path(target))
    raise ProfileError(f"unknown target {target!r} (known: {', '.join(builtins)}; or a path to a profile file)")


def _load_file(path: Path, seen: tuple[str, ...] = ()) -> Profile:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProfileError(f"target profile {path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8")) if path.suffix == ".toml" else json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        message = " ".join(str(exc).split())
        raise ProfileError(
            f"target profile {path}: invalid {'TOML' if path.suffix == '.toml' else 'JSON'}: {message}"
        ) from None
    try:
        return _parse(data, path, seen)
    except ProfileError as exc:
        raise ProfileError(f"target profile {path}: {exc}") from None


def _parse(data: Any, path: Path, seen: tuple[str, ...]) -> Profile:
    if not isinstance(data, dict):
        raise ProfileError("must be an object of settings")
    unknown = [key for key in data if key not in _TOP_KEYS]
    if unknown:
        raise ProfileError(f"unknown key '{unknown[0]}' (known: {', '.join(_TOP_KEYS)})")
    name = _text(data, "name")
    if not _NAME.match(name):
        raise ProfileError(f"'name' must be lowercase letters, digits and dashes, got {name!r}")
    base = _base(data.get("extends"), seen + (name,))
    float_dtype = data.get("float", base.float if base else None)
    if float_dtype is None:
        raise ProfileError("lacks 'float' (the dtype float32 tensors are stored in, or \"model\")")
    _dtype("float", float_dtype, allow_model=True)
    constants = data.get("constants", base.constants if base else "round")
    if constants not in ("round", "clip"):
        raise ProfileError(f'\'constants\' must be "round" or "clip", got {constants!r}')
    flush = data.get("flush_subnormals", base.flush_subnormals if base else False)
    if not isinstance(flush, bool):
        raise ProfileError("'flush_subnormals' must be true or false")
    ops = {**(base.ops if base else {}), **_precisions(data.get("ops", {}), "ops")}
    patterns = {**(base.patterns if base else {}), **_precisions(data.get("patterns", {}), "patterns")}
    bad = [p for p in patterns if p not in PATTERNS]
    if bad:
        raise ProfileError(f"unknown pattern 'patterns.{bad[0]}' (known: {', '.join(PATTERNS)})")
    notes = data.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise ProfileError("'notes' must be a list of strings")
    notes = (*(base.notes if base else ()), *notes)
    return Profile(name, _text(data, "description"), float_dtype, constants, flush, ops, patterns, notes, str(path))


def _base(extends: Any, seen: tuple[str, ...]) -> Profile | None:
    if extends is None:
        return None
    builtins = builtin_paths()
    if not isinstance(extends, str) or extends not in builtins:
        raise ProfileError(f"'extends' must name a built-in target ({', '.join(builtins)})")
    if extends in seen:
        raise ProfileError(f"'extends' loops through {extends!r}")
    return _load_file(builtins[extends], seen)


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(f"'{key}' must be a non-empty string")
    return value


def _dtype(key: str, value: Any, allow_model: bool = False) -> str:
    known = (*DTYPES, "model") if allow_model else tuple(DTYPES)
    if value not in known:
        raise ProfileError(f"'{key}' must be one of {', '.join(known)}, got {value!r}")
    return value


def _precisions(table: Any, key: str) -> dict[str, OpPrecision]:
    if not isinstance(table, dict):
        raise ProfileError(f"'{key}' must be an object of {{name: {{storage, compute}}}}")
    parsed = {}
    for name, entry in table.items():
        where = f"{key}.{name}"
        if not isinstance(entry, dict):
            raise ProfileError(f"'{where}' must be an object with storage/compute")
        unknown = [k for k in entry if k not in _OP_KEYS]
        if unknown:
            raise ProfileError(f"unknown key '{where}.{unknown[0]}' (known: {', '.join(_OP_KEYS)})")
        exp_overflow = entry.get("exp_overflow", False)
        if not isinstance(exp_overflow, bool):
            raise ProfileError(f"'{where}.exp_overflow' must be true or false")
        parsed[name] = OpPrecision(
            _dtype(f"{where}.storage", entry["storage"]) if "storage" in entry else None,
            _dtype(f"{where}.compute", entry["compute"]) if "compute" in entry else None,
            exp_overflow,
        )
    return parsed
