"""Configuration: `[tool.nanlint]` in a pyproject.toml, or a nanlint.toml, as ruff reads its own.

Each file is checked with its nearest configuration file (a monorepo's packages keep their
own settings, and the order of the paths on the command line does not matter); `--config`
names one file for every path instead. Command-line options apply on top.

Every key is kebab-case and validated here: an unknown key or a value of the wrong type raises
ConfigError naming the key (the CLI turns it into exit code 2); an older snake_case spelling is
read with a deprecation notice. The key tables below are data: the JSON Schema of the
configuration (nanlint/nanlint.schema.json, see `schema.py`) is generated from them.
"""

from __future__ import annotations

import dataclasses
import json
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
from nanlint.options import Option

CONFIG_FILES = ("nanlint.toml", "pyproject.toml")
DEFAULT_SELECT = ("NAN1", "NAN2", "NAN3", "NAN5", "NAN6", "NAN7", "NAN900")
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
        return selected and not matches(code, self.ignore)

    def option(self, code: str, name: str, default: Any) -> Any:
        return self.rule_options.get(code, {}).get(name, default)

    def severity_of(self, code: str, default: Severity) -> Severity:
        """The configured severity: the longest matching code or prefix wins (NAN201 over NAN2)."""
        matching = [selector for selector in self.severity if selector == "ALL" or code.startswith(selector)]
        if not matching:
            return default
        return self.severity[max(matching, key=lambda s: -1 if s == "ALL" else len(s))]


# --- finding the file ------------------------------------------------------------------------


def config_file_in(directory: Path) -> Path | None:
    """The configuration file of this directory itself: nanlint.toml, or a pyproject.toml with [tool.nanlint]."""
    for name in CONFIG_FILES:
        candidate = directory / name
        if candidate.is_file() and (name == "nanlint.toml" or _has_nanlint_table(candidate)):
            return candidate
    return None


def find_config(start: Path) -> Path | None:
    """The nearest configuration file upward from start (a directory, or a file's directory)."""
    start = start.resolve()
    for directory in (start, *start.parents) if start.is_dir() else start.parents:
        found = config_file_in(directory)
        if found is not None:
            return found
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


OptionSchema = Mapping[str, Mapping[str, Any]]  # code -> option name -> Option (or a bare default)


def read_config_file(path: Path, option_schema: OptionSchema, notices: list[str] | None = None) -> Settings:
    data = _read_toml(path)
    # A pyproject.toml holds the settings in [tool.nanlint]; any other file (nanlint.toml, or a
    # file given with --config) holds them at the top level.
    table = data.get("tool", {}).get("nanlint") if path.name == "pyproject.toml" else data
    if table is None:
        raise ConfigError(f"{path}: no [tool.nanlint] table")
    return parse_table(table, path, option_schema, notices)


def load_settings(
    config: Path | None, start: Path, option_schema: OptionSchema, notices: list[str] | None = None
) -> Settings:
    """Settings from an explicit --config file, else the nearest config file, else defaults."""
    path = config or find_config(start)
    if path is None:
        return Settings(root=Path.cwd())
    return read_config_file(path, option_schema, notices)


class Configuration:
    """The settings of each path: its nearest configuration file's, or one file's for every path
    (`--config`, or fixed settings), with command-line overrides applied on top of each.

    Lookups are memoised per directory, so walking a tree costs two stat calls per directory.
    Deprecation notices of the files read collect in `notices` (printed once by the CLI).
    """

    def __init__(
        self,
        option_schema: OptionSchema,
        explicit: Path | None = None,
        overrides: Mapping[str, Any] | None = None,
        fixed: Settings | None = None,
    ) -> None:
        self.option_schema = option_schema
        self.explicit = explicit
        self.overrides = dict(overrides or {})
        self.notices: list[str] = []
        self._fixed = fixed
        self._nearest: dict[Path, Path | None] = {}
        self._by_file: dict[Path | None, Settings] = {}

    @classmethod
    def of(cls, settings: Settings | Configuration) -> Configuration:
        """A configuration as given, or one that gives these settings to every path."""
        return settings if isinstance(settings, Configuration) else cls({}, fixed=settings)

    def for_path(self, path: Path) -> Settings:
        """The settings of a file or directory (which need not exist: `--stdin-filename`)."""
        absolute = path.resolve()
        return self.for_directory(absolute if absolute.is_dir() else absolute.parent)

    def for_directory(self, directory: Path) -> Settings:
        """The settings of the files in an absolute, resolved directory."""
        if self._fixed is not None:
            return self._fixed
        return self._settings(self.explicit or self.config_file_for(directory))

    def config_file_for(self, directory: Path) -> Path | None:
        if directory not in self._nearest:
            own = config_file_in(directory)
            self._nearest[directory] = own or (
                None if directory.parent == directory else self.config_file_for(directory.parent)
            )
        return self._nearest[directory]

    def _settings(self, path: Path | None) -> Settings:
        if path not in self._by_file:
            settings = (
                Settings(root=Path.cwd()) if path is None else read_config_file(path, self.option_schema, self.notices)
            )
            self._by_file[path] = dataclasses.replace(settings, **self.overrides)
        return self._by_file[path]


# --- validation --------------------------------------------------------------------------------


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


# --- the keys, as data ---------------------------------------------------------------------------

_CODES = {"type": "array", "items": {"type": "string", "pattern": "^([Aa][Ll][Ll]|[Nn][Aa][Nn][0-9]{0,3})$"}}
_SEVERITY = {"type": "string", "enum": ["error", "warning", "info"]}
_STRINGS = {"type": "array", "items": {"type": "string"}}


@dataclass(frozen=True)
class Key:
    """One configuration key: how its value is read, its JSON Schema, and what it means."""

    parse: Callable[[str, Any], Any] | None  # None: a table read by its own function (graph, rules)
    schema: Mapping[str, Any]
    help: str


GRAPH_KEYS: dict[str, Key] = {
    "targets": Key(_str_list, _STRINGS, "target profiles to judge models for (names or profile files)"),
    "input-ranges": Key(
        _input_ranges,
        {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
        },
        "value range [lo, hi] of each model input (inf allowed)",
    ),
    "input-shapes": Key(
        _input_shapes,
        {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "integer", "minimum": 0}}},
        "concrete shapes for inputs with symbolic dimensions",
    ),
    "samples": Key(
        lambda k, v: _number(k, v, int, minimum=0),
        {"type": "integer", "minimum": 0},
        "sampled inputs run through onnxruntime",
    ),
    "headroom": Key(
        lambda k, v: _number(k, v, float, minimum=1.0),
        {"type": "number", "minimum": 1},
        "NAN602 fires when observed values come within this factor of the dtype's max",
    ),
    "search": Key(_bool, {"type": "boolean"}, "search for witness inputs of static hazards"),
    "budget": Key(
        lambda k, v: _number(k, v, float, minimum=0.0),
        {"type": "number", "minimum": 0},
        "seconds the witness search may take per target",
    ),
}

TOP_KEYS: dict[str, Key] = {
    "select": Key(_codes, _CODES, "codes or prefixes to enable (ALL for every rule)"),
    "extend-select": Key(_codes, _CODES, "codes or prefixes enabled on top of select"),
    "ignore": Key(_codes, _CODES, "codes or prefixes to disable; wins over the selection"),
    "per-file-ignores": Key(
        _per_file_ignores,
        {"type": "object", "additionalProperties": _CODES},
        "codes ignored in the files matching each glob",
    ),
    "exclude": Key(_str_list, _STRINGS, "globs never walked into; replaces the default list"),
    "extend-exclude": Key(_str_list, _STRINGS, "globs added to exclude"),
    "respect-gitignore": Key(
        _bool, {"type": "boolean"}, "skip what .gitignore, .git/info/exclude and git's global excludes ignore"
    ),
    "fail-on": Key(_severity, _SEVERITY, "lowest severity that makes the exit code 1"),
    "severity": Key(
        _severities,
        {"type": "object", "propertyNames": _CODES["items"], "additionalProperties": _SEVERITY},
        "a rule's (or a prefix's) severity; the longest matching prefix wins",
    ),
    "cache-dir": Key(_string, {"type": "string"}, "where results are cached, relative to the configuration file"),
    "graph": Key(None, {}, "settings of `nanlint graph`"),
    "rules": Key(None, {}, "rule options, one table per rule code (see `nanlint rule CODE`)"),
}


def kebab(name: str) -> str:
    """The spelling of every key: kebab-case (`max_std` -> `max-std`)."""
    return name.replace("_", "-")


def _spelling(key: str, name: str, known, notices: list[str] | None) -> str:
    """The canonical name of a key; an old snake_case spelling is read with a notice, anything else is an error."""
    if name in known:
        return name
    if kebab(name) in known:
        if notices is not None:
            notices.append(f"'{key}' is deprecated; use '{key[: len(key) - len(name)]}{kebab(name)}'")
        return kebab(name)
    raise ConfigError(unknown_key(key, name, known))


def unknown_key(full_key: str, name: str, known) -> str:
    import difflib  # only on this error path: `check` starts without it

    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6) or [
        k for k in known if k.lower() == name.lower()
    ]
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown key '{full_key}' ({hint}known: {', '.join(known) or 'none'})"


def _graph(key: str, value: Any, notices: list[str] | None) -> GraphSettings:
    if not isinstance(value, dict):
        raise ConfigError(f"'{key}' must be a table")
    parsed = {}
    for name, item in value.items():
        canonical = _spelling(f"{key}.{name}", name, GRAPH_KEYS, notices)
        parse = GRAPH_KEYS[canonical].parse
        assert parse is not None
        parsed[canonical.replace("-", "_")] = parse(f"{key}.{canonical}", item)
    if "targets" in parsed:
        parsed["targets"] = tuple(parsed["targets"])
    return GraphSettings(**parsed)


def _rule_options(key: str, value: Any, schema: OptionSchema, notices: list[str] | None) -> dict[str, dict[str, Any]]:
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
        rule: dict[str, Any] = {}
        for name, item in options.items():
            canonical = _spelling(f"{code_key}.{name}", name, sorted(known), notices)
            rule[canonical] = _option(f"{code_key}.{canonical}", known[canonical], item)
        parsed[code.upper()] = rule
    return parsed


def _option(key: str, option: Any, value: Any) -> Any:
    default, keys = (option.default, option.keys) if isinstance(option, Option) else (option, ())
    if isinstance(default, bool):
        return _bool(key, value)
    if isinstance(default, (int, float)):
        return _number(key, value, type(default) if isinstance(default, float) else int)
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"'{key}' must be a table")
        for name in value:
            if keys and name not in keys:
                raise ConfigError(unknown_key(f"{key}.{name}", name, keys))
        return {k: _number(f"{key}.{k}", v) for k, v in value.items()}
    if isinstance(default, (list, tuple)):
        return _str_list(key, value)
    if not isinstance(value, str):
        raise ConfigError(f"'{key}' must be a string")
    return value


def parse_table(
    table: Mapping[str, Any], path: Path, schema: OptionSchema, notices: list[str] | None = None
) -> Settings:
    """Settings from one configuration table; notices (old spellings) are appended, prefixed with the file."""
    parsed: dict[str, Any] = {}
    found: list[str] = []
    try:
        for key, value in table.items():
            canonical = _spelling(key, key, TOP_KEYS, found)
            if canonical == "rules":
                parsed["rule_options"] = _rule_options(canonical, value, schema, found)
            elif canonical == "graph":
                parsed["graph"] = _graph(canonical, value, found)
            else:
                parse = TOP_KEYS[canonical].parse
                assert parse is not None
                parsed[canonical.replace("-", "_")] = parse(canonical, value)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if notices is not None:
        notices.extend(f"{path}: {notice}" for notice in found)
    return Settings(root=path.parent.resolve(), source=path, **parsed)


# --- showing settings ----------------------------------------------------------------------------


def settings_toml(settings: Settings, option_schema: OptionSchema) -> str:
    """The effective settings as a nanlint.toml that would give them (`--show-settings`), rule options
    with their defaults filled in."""
    lines = [
        f"{key} = {_toml(getattr(settings, key.replace('-', '_')))}" for key, spec in TOP_KEYS.items() if spec.parse
    ]
    lines += ["", "[graph]"]
    lines += [f"{key} = {_toml(getattr(settings.graph, key.replace('-', '_')))}" for key in GRAPH_KEYS]
    for code, known in option_schema.items():
        lines += ["", f"[rules.{code}]"]
        for name, option in known.items():
            default = option.default if isinstance(option, Option) else option
            lines.append(f"{_toml_key(name)} = {_toml(settings.option(code, name, default))}")
    return "".join(f"{line}\n" for line in lines)


def _toml(value: Any) -> str:
    if isinstance(value, Severity):
        return f'"{value.name}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))


def _toml_key(key: str) -> str:
    return key if key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key) else json.dumps(key)
