"""README's benchmark table is the one bench/run_all.py last wrote to bench/RESULTS.md."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _table_and_machine(text: str) -> tuple[list[str], list[str]]:
    lines = text.splitlines()
    table = [line for line in lines if line.startswith("|")]
    machine = [line for line in lines if line.startswith(("- **nanlint**", "- **date**", "- **CPU**"))]
    return table, machine


def test_readme_shows_the_latest_benchmark_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    results = (ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Benchmarks") : readme.index("## Development")]
    table, machine = _table_and_machine(results)
    assert len(table) > 10
    assert _table_and_machine(section) == (table, machine), "copy bench/RESULTS.md's table into README"
