"""README's benchmark tables are the ones the bench scripts last wrote: bench/run_all.py's
bench/RESULTS.md, and bench/mixed_precision.py's bench/MIXED_PRECISION.md under "### Mixed precision"."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIXED = "### Mixed precision"


def _table_and_machine(text: str) -> tuple[list[str], list[str]]:
    lines = text.splitlines()
    table = [line for line in lines if line.startswith("|")]
    machine = [line for line in lines if line.startswith(("- **nanlint**", "- **date**", "- **CPU**"))]
    return table, machine


def _benchmarks() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme[readme.index("## Benchmarks") : readme.index("## Development")]


def test_readme_shows_the_latest_benchmark_table():
    results = (ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8")
    section = _benchmarks()
    section = section[: section.index(MIXED)] if MIXED in section else section
    table, machine = _table_and_machine(results)
    assert len(table) > 10
    assert _table_and_machine(section) == (table, machine), "copy bench/RESULTS.md's table into README"


def test_readme_shows_the_latest_mixed_precision_table():
    results = (ROOT / "bench" / "MIXED_PRECISION.md").read_text(encoding="utf-8")
    section = _benchmarks()
    assert MIXED in section, f"README's Benchmarks section has a '{MIXED}' subsection"
    table, _ = _table_and_machine(results)
    made_by = next(line for line in results.splitlines() if line.startswith("Made by"))
    assert len(table) > 10
    assert _table_and_machine(section[section.index(MIXED) :])[0] == table, (
        "copy bench/MIXED_PRECISION.md's table into README"
    )
    assert made_by in section, "copy bench/MIXED_PRECISION.md's 'Made by' line (date, versions) into README"
