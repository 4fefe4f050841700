"""The JSON Schema of [tool.nanlint]: generated from the code, shipped current, and agreeing with the loader."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import pytest

from nanlint import schema
from nanlint.config import ConfigError, parse_table
from nanlint.options import OPTIONS
from tests.test_config import FULL

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def shipped() -> dict:
    return json.loads(schema.SHIPPED.read_text(encoding="utf-8"))


def test_the_shipped_schema_is_current():
    assert shipped() == schema.generate(), "regenerate it: python -m nanlint.schema --write"
    assert schema.SHIPPED.read_text(encoding="utf-8") == schema.render()


def test_the_schema_ships_inside_the_package():
    """The wheel packages the nanlint/ directory (pyproject.toml: packages = ["nanlint"])."""
    assert schema.SHIPPED.parent == ROOT / "nanlint"
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["hatch"]["build"]
    assert wheel["targets"]["wheel"]["packages"] == ["nanlint"]
    assert not any("schema" in entry for entry in wheel.get("exclude", []))


def test_the_schema_is_a_valid_draft_7_schema():
    jsonschema.Draft7Validator.check_schema(shipped())


def test_every_rule_option_is_in_the_schema_with_its_default():
    rules = shipped()["properties"]["rules"]["properties"]
    assert sorted(rules) == sorted(OPTIONS)
    for code, options in OPTIONS.items():
        assert sorted(rules[code]["properties"]) == sorted(options), code
        for name, option in options.items():
            entry = rules[code]["properties"][name]
            assert entry["description"] == option.help
            if option.keys:  # a table with fixed keys: each key's default
                assert {k: v["default"] for k, v in entry["properties"].items()} == option.default
                assert entry["additionalProperties"] is False
            else:
                assert entry["default"] == option.default


def real_options_table() -> dict:
    table = tomllib.loads(FULL)["tool"]["nanlint"]
    table["rules"] = {"NAN301": {"thresholds": {"SGD": 0.5}, "clipping-factor": 10.0}, "NAN104": {"fix-eps": 1e-6}}
    return table


def test_a_full_configuration_is_valid_for_both_the_schema_and_the_loader():
    table = real_options_table()
    jsonschema.validate(table, shipped())
    parse_table(table, Path("pyproject.toml"), OPTIONS)


@pytest.mark.parametrize(
    "change",
    [
        {"colour": True},
        {"fail-on": "fatal"},
        {"select": ["E501"]},
        {"graph": {"target": ["cpu"]}},
        {"graph": {"samples": -1}},
        {"rules": {"NAN301": {"thresholds": {"Sgd": 0.1}}}},
        {"rules": {"NAN304": {"max-sdt": 1.0}}},
        {"rules": {"NAN112": {"x": 1}}},
    ],
)
def test_what_the_loader_rejects_the_schema_rejects(change):
    table = {**real_options_table(), **change}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(table, shipped())
    with pytest.raises(ConfigError):
        parse_table(table, Path("pyproject.toml"), OPTIONS)


def test_the_generator_prints_and_writes(tmp_path, monkeypatch, capsys):
    assert schema.main([]) == 0
    assert capsys.readouterr().out == schema.render()
    target = tmp_path / "schema.json"
    monkeypatch.setattr(schema, "SHIPPED", target)
    assert schema.main(["--write"]) == 0
    assert target.read_text(encoding="utf-8") == schema.render()
    assert schema.main(["--bogus"]) == 2
