"""The JSON Schema of `[tool.nanlint]` (and of a nanlint.toml), generated from the code's key tables.

Editors validate and complete the configuration with it (e.g. Even Better TOML / taplo). The
generated file ships in the package as nanlint/nanlint.schema.json; a test keeps it current.
Regenerate it with `python -m nanlint.schema --write`.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from nanlint.config import GRAPH_KEYS, TOP_KEYS, GraphSettings, Key, Settings
from nanlint.findings import Severity
from nanlint.options import OPTIONS, Option

SHIPPED = Path(__file__).with_name("nanlint.schema.json")
DRAFT = "http://json-schema.org/draft-07/schema#"


def generate() -> dict[str, Any]:
    properties = {name: _key_schema(name, key, Settings) for name, key in TOP_KEYS.items()}
    return {
        "$schema": DRAFT,
        "title": "nanlint",
        "description": "nanlint's configuration: [tool.nanlint] in pyproject.toml, or the top level of nanlint.toml.",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }


def _key_schema(name: str, key: Key, settings: type) -> dict[str, Any]:
    if name == "graph":
        return {"description": key.help, **_table({k: _key_schema(k, v, GraphSettings) for k, v in GRAPH_KEYS.items()})}
    if name == "rules":
        rules = _table({code: _rule_schema(options) for code, options in OPTIONS.items()})
        return {"description": key.help, **rules}
    return {"description": key.help, **key.schema, "default": _default(settings, name.replace("-", "_"))}


def _default(settings: type, name: str) -> Any:
    """A settings field's default as JSON: tuples as lists, severities by name."""
    [spec] = [f for f in dataclasses.fields(settings) if f.name == name]
    value = spec.default_factory() if spec.default is dataclasses.MISSING else spec.default  # type: ignore[operator]
    if isinstance(value, Severity):
        return value.name
    return list(value) if isinstance(value, tuple) else dict(value) if isinstance(value, dict) else value


def _table(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _rule_schema(options: dict[str, Option]) -> dict[str, Any]:
    return _table({name: {"description": option.help, **_value_schema(option)} for name, option in options.items()})


def _value_schema(option: Option) -> dict[str, Any]:
    default = option.default
    if isinstance(default, bool):
        return {"type": "boolean", "default": default}
    if isinstance(default, int):
        return {"type": "integer", "default": default}
    if isinstance(default, float):
        return {"type": "number", "default": default}
    if isinstance(default, dict):
        if option.keys:
            return _table({key: {"type": "number", "default": default.get(key)} for key in option.keys})
        return {"type": "object", "additionalProperties": {"type": "number"}}
    if isinstance(default, (list, tuple)):
        return {"type": "array", "items": {"type": "string"}, "default": list(default)}
    return {"type": "string", "default": default}


def render() -> str:
    return json.dumps(generate(), indent=2) + "\n"


def main(argv: list[str]) -> int:
    if argv == ["--write"]:
        SHIPPED.write_text(render(), encoding="utf-8")
        return 0
    if argv:
        print("usage: python -m nanlint.schema [--write]", file=sys.stderr)
        return 2
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
