"""Configuration: `[tool.nanlint]` in the nearest pyproject.toml, or a nanlint.toml.

Every key is validated here; an unknown key or a value of the wrong type raises
ConfigError naming the key, which the CLI turns into exit code 2.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from nanlint.findings import Severity
from nanlint.options import canonical_name

CONFIG_FILES = ("nanlint.toml", "pyproject.toml")
DEFAULT_SELECT = ("NAN1", "NAN2", "NAN3", "NAN5", "NAN6", "NAN7", "NAN900")
# Advice (info) that the default selection leaves out: shown only when selected by name, a prefix or extend-select.
DEFAULT_ADVICE = ("NAN113",)
DEFAULT_EXCLUDE = (
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".nanlint_cache",
    "__pycache__",
    "node_modules",
    "build",
    "dist",
    "site-packages",
)


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class GraphSettings:
    targets: tuple[str, ...] = ("cpu",)
    input_ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    input_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    samples: int = 16
    headroom: float = 4.0
    search: bool = False
    budget: float = 10.0


@dataclass(frozen=True)
class Settings:
    root: Path = field(default_factory=Path.cwd)
    source: Path | None = None
    select: tuple[str, ...] = DEFAULT_SELECT
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_file_ignores: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    respect_gitignore: bool = True
    fail_on: Severity = Severity.warning
    severity: Mapping[str, Severity] = field(default_factory=dict)
    cache_dir: str = ".nanlint_cache"
    rule_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    graph: GraphSettings = field(default_factory=GraphSettings)

    def is_selected(self, code: str) -> bool:
        from nanlint.catalog import matches

        selected = matches(code, self.select) or matches(code, self.extend_select)
        if self.select == DEFAULT_SELECT and code in DEFAULT_ADVICE and not matches(code, self.extend_select):
            selected = False
        return selected and not matches(code, self.ignore)

    def option(self, code: str, name: str, default: Any) -> Any:
        return self.rule_options.get(code, {}).get(name, default)

    def severity_of(self, code: str, default: Severity) -> Severity:
        """The configured severity: the longest matching code or prefix wins (NAN201 over NAN2)."""
        matching = [selector for selector in self.severity if selector == "ALL" or code.startswith(selector)]
        if not matching:
            return default
        return self.severity[max(matching, key=lambda s: -1 if s == "ALL" else len(s))]


# --- discovery -------------------------------------------------------------------


def find_config(start: Path) -> Path | None:
    """The nearest nanlint.toml, or pyproject.toml with a [tool.nanlint] table, upward from start."""
    start = start.resolve()
    for directory in (start, *start.parents) if start.is_dir() else start.parents:
        for name in CONFIG_FILES:
            candidate = directory / name
            if candidate.is_file() and (name == "nanlint.toml" or _has_nanlint_table(candidate)):
                return candidate
    return None


def _has_nanlint_table(pyproject: Path) -> bool:
    try:
        return "nanlint" in _read_toml(pyproject).get("tool", {})
    except ConfigError:
        return "[tool.nanlint" in pyproject.read_text(encoding="utf-8", errors="replace")


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def load_settings(config: Path | None, start: Path, option_schema: Mapping[str, Mapping[str, Any]]) -> Settings:
    """Settings from an explicit --config file, else the nearest config file, else defaults."""
    path = config or find_config(start)
    if path is None:
        return Settings(root=Path.cwd())
    data = _read_toml(path)
    # A pyproject.toml holds the settings in [tool.nanlint]; any other file (nanlint.toml, or a
    # file given with --config) holds them at the top level.
    table = data.get("tool", {}).get("nanlint") if path.name == "pyproject.toml" else data
    if table is None:
        raise ConfigError(f"{path}: no [tool.nanlint] table")
    return parse_table(table, path, option_schema)


# --- validation --------------------------------------------------------------------


def _str_list(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"'{key}' must be a list of strings")
    return tuple(value)


def _selector(key: str, value: str) -> str:
    from nanlint.catalog import CatalogError, check_selector

    try:
        return check_selector(value)
    except CatalogError as exc:
        raise ConfigError(f"'{key}': {exc}") from None


def _codes(key: str, value: Any) -> tuple[str, ...]:
    return tuple(_selector(key, v) for v in _str_list(key, value))


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"'{key}' must be true or false")
    return value


def _severity(key: str, value: Any) -> Severity:
    if not isinstance(value, str):
        raise ConfigError(f'\'{key}\' must be "error", "warning" or "info"')
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise ConfigError(f"'{key}': {exc}") from None


def _string(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"'{key}' must be a string")
    return value


def _number(key: str, value: Any, kind: type = float, minimum: float | None = None) -> Any:
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
    if not is_number or (kind is int and not isinstance(value, int)):
        raise ConfigError(f"'{key}' must be {'an integer' if kind is int else 'a number'}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"'{key}' must be >= {minimum}")
    return kind(value)


def _per_file_ignores(key: str, value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise ConfigError(f"'{key}' must be a table of glob = [codes]")
    return {glob: _codes(f"{key}.{glob}", codes) for glob, codes in value.items()}


def _severities(key: str, value: Any) -> dict[str, Severity]:
    if not isinstance(value, dict):
        raise ConfigError(f'\'{key}\' must be a table of CODE = "error"|"warning"|"info"')
    return {_selector(f"{key}.{code}", code): _severity(f"{key}.{code}", sev) for code, sev in value.items()}


def _rule_options(key: str, value: Any, schema: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict):
        raise ConfigError(f"'{key}' must be a table of [rules.NANxxx] tables")
    parsed: dict[str, dict[str, Any]] = {}
    for code, options in value.items():
        code_key = f"{key}.{code}"
        known = schema.get(code.upper())
        if known is None:
            raise ConfigError(f"'{code_key}': rule {code} has no options")
        if not isinstance(options, dict):
            raise ConfigError(f"'{code_key}' must be a table")
        parsed[code.upper()] = {
            canonical_name(name): _option(f"{code_key}.{name}", known, canonical_name(name), v)
            for name, v in options.items()
        }
    return parsed


def _option(key: str, known: Mapping[str, Any], name: str, value: Any) -> Any:
    if name not in known:
        raise ConfigError(f"unknown option '{key}' (known: {', '.join(sorted(known)) or 'none'})")
    default = known[name]
    if isinstance(default, bool):
        return _bool(key, value)
    if isinstance(default, (int, float)):
        return _number(key, value, type(default) if isinstance(default, float) else int)
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"'{key}' must be a table")
        return {k: _number(f"{key}.{k}", v) for k, v in value.items()}
    if isinstance(default, (list, tuple)):
        return _str_list(key, value)
    if not isinstance(value, str):
        raise ConfigError(f"'{key}' must be a string")
    return value


def _input_ranges(key: str, value: Any) -> dict[str, tuple[float, float]]:
    if not isinstance(value, dict):
        raise ConfigError(f"'{key}' must be a table of input = [lo, hi]")
    ranges = {}
    for name, pair in value.items():
        if not (isinstance(pair, list) and len(pair) == 2):
            raise ConfigError(f"'{key}.{name}' must be [lo, hi]")
        lo, hi = (_number(f"{key}.{name}", v) for v in pair)
        if lo > hi:
            raise ConfigError(f"'{key}.{name}': lo {lo} is above hi {hi}")
        ranges[name] = (lo, hi)
    return ranges


def _input_shapes(key: str, value: Any) -> dict[str, tuple[int, ...]]:
    if not isinstance(value, dict):
        raise ConfigError(f"'{key}' must be a table of input = [d0, d1, ...]")
    shapes = {}
    for name, dims in value.items():
        if not isinstance(dims, list):
            raise ConfigError(f"'{key}.{name}' must be a list of dimensions, e.g. [1, 3, 224, 224]")
        shapes[name] = tuple(_number(f"{key}.{name}", d, int, minimum=0) for d in dims)
    return shapes


_GRAPH_KEYS: dict[str, Callable[[str, Any], Any]] = {
    "targets": _str_list,
    "input-ranges": _input_ranges,
    "input-shapes": _input_shapes,
    "samples": lambda k, v: _number(k, v, int, minimum=0),
    "headroom": lambda k, v: _number(k, v, float, minimum=1.0),
    "search": _bool,
    "budget": lambda k, v: _number(k, v, float, minimum=0.0),
}


def _graph(key: str, value: Any) -> GraphSettings:
    if not isinstance(value, dict):
        raise ConfigError(f"'{key}' must be a table")
    parsed = {}
    for name, item in value.items():
        if name not in _GRAPH_KEYS:
            raise ConfigError(_unknown(f"{key}.{name}", name, _GRAPH_KEYS))
        parsed[name.replace("-", "_")] = _GRAPH_KEYS[name](f"{key}.{name}", item)
    if "targets" in parsed:
        parsed["targets"] = tuple(parsed["targets"])
    return GraphSettings(**parsed)


_TOP_KEYS: dict[str, Callable[[str, Any], Any]] = {
    "select": _codes,
    "extend-select": _codes,
    "ignore": _codes,
    "per-file-ignores": _per_file_ignores,
    "exclude": _str_list,
    "extend-exclude": _str_list,
    "respect-gitignore": _bool,
    "fail-on": _severity,
    "severity": _severities,
    "cache-dir": _string,
    "graph": _graph,
}


def _unknown(full_key: str, name: str, known) -> str:
    spelled = name.replace("_", "-")
    hint = f"did you mean '{spelled}'? " if spelled != name and spelled in known else ""
    return f"unknown key '{full_key}' ({hint}known: {', '.join(known)})"


def parse_table(table: Mapping[str, Any], path: Path, schema: Mapping[str, Mapping[str, Any]]) -> Settings:
    parsed: dict[str, Any] = {}
    try:
        for key, value in table.items():
            if key == "rules":
                parsed["rule_options"] = _rule_options(key, value, schema)
            elif key in _TOP_KEYS:
                parsed[key.replace("-", "_")] = _TOP_KEYS[key](key, value)
            else:
                raise ConfigError(_unknown(key, key, [*_TOP_KEYS, "rules"]))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return Settings(root=path.parent.resolve(), source=path, **parsed)
