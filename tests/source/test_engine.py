"""The run over many files: discovery, excludes, .gitignore, per-file ignores, cache, workers, errors."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nanlint.config import Settings
from nanlint.findings import Severity
from nanlint.source.cache import MAX_AGE_DAYS, Cache
from nanlint.source.engine import CheckOptions, check_paths

BAD = "import numpy as np\nbad = x == np.nan\n"
GOOD = "import numpy as np\ngood = np.isnan(x)\n"


def tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def run(paths, root: Path, **options):
    settings = options.pop("settings", Settings(root=root))
    opts = CheckOptions(**{"use_cache": False, **options})
    result = check_paths([Path(p) for p in paths], settings, opts)
    return [(f.location.path, f.code, f.location.line) for f in result.findings], result


def test_directories_are_walked_in_order_with_display_paths_joined(tmp_path):
    tree(tmp_path, {"src/b.py": BAD, "src/a.py": BAD, "src/pkg/c.pyi": BAD, "src/d.txt": BAD, "src/ok.py": GOOD})
    findings, result = run([tmp_path / "src"], tmp_path)
    src = str(tmp_path / "src")
    assert findings == [(f"{src}/a.py", "NAN112", 2), (f"{src}/b.py", "NAN112", 2), (f"{src}/pkg/c.pyi", "NAN112", 2)]
    assert result.checked == 4 and result.errors == []


def test_default_and_configured_excludes(tmp_path):
    tree(
        tmp_path, {"a.py": BAD, ".venv/lib/x.py": BAD, "build/gen.py": BAD, "gen/skip.py": BAD, "keep/gen/kept.py": BAD}
    )
    settings = dataclasses.replace(Settings(root=tmp_path), extend_exclude=("gen/*",))
    findings, _ = run([tmp_path], tmp_path, settings=settings)
    assert sorted(Path(p).relative_to(tmp_path).as_posix() for p, *_ in findings) == ["a.py", "keep/gen/kept.py"]


def test_gitignore_is_respected_unless_disabled(tmp_path):
    tree(
        tmp_path,
        {
            ".git/HEAD": "",
            ".gitignore": "ignored/\n*.gen.py\n",
            "ignored/a.py": BAD,
            "x.gen.py": BAD,
            "sub/.gitignore": "local.py\n",
            "sub/local.py": BAD,
            "sub/kept.py": BAD,
        },
    )
    findings, _ = run([tmp_path], tmp_path)
    assert [Path(p).name for p, *_ in findings] == ["kept.py"]
    settings = dataclasses.replace(Settings(root=tmp_path), respect_gitignore=False)
    findings, _ = run([tmp_path], tmp_path, settings=settings)
    assert len(findings) == 4


def test_explicit_files_are_checked_even_if_excluded_unless_force_exclude(tmp_path):
    tree(tmp_path, {"build/gen.py": BAD})
    assert len(run([tmp_path / "build/gen.py"], tmp_path)[0]) == 1
    assert run([tmp_path / "build/gen.py"], tmp_path, force_exclude=True)[0] == []


def test_per_file_ignores(tmp_path):
    tree(tmp_path, {"tests/test_a.py": BAD, "src/a.py": BAD})
    settings = dataclasses.replace(Settings(root=tmp_path), per_file_ignores={"tests/*": ("NAN1",)})
    findings, _ = run([tmp_path], tmp_path, settings=settings)
    assert [Path(p).relative_to(tmp_path).as_posix() for p, *_ in findings] == ["src/a.py"]


def test_missing_paths_are_errors_unreadable_files_are_findings_and_the_rest_is_checked(tmp_path):
    tree(tmp_path, {"a.py": BAD, "broken.py": "def (:\n", "nul.py": b"x\x00"})
    findings, result = run([tmp_path, tmp_path / "missing.py"], tmp_path)
    assert [(Path(p).name, c) for p, c, _ in findings] == [
        ("a.py", "NAN112"),
        ("broken.py", "NAN900"),
        ("nul.py", "NAN900"),
    ]
    # A file that exists but cannot be parsed is a finding (DESIGN.md, exit codes), not an error.
    assert result.errors == [f"{tmp_path / 'missing.py'}: no such file or directory"]


def test_workers_give_the_same_findings_as_one_process(tmp_path):
    tree(tmp_path, {f"m{i:02}.py": BAD if i % 3 else GOOD for i in range(24)})
    one, _ = run([tmp_path], tmp_path, jobs=1)
    two, _ = run([tmp_path], tmp_path, jobs=2)
    assert one == two and len(one) == 16


def test_cache_hits_give_the_same_findings_and_only_option_changes_miss(tmp_path):
    tree(tmp_path, {"a.py": BAD, "b.py": GOOD})
    cold, _ = run([tmp_path], tmp_path, use_cache=True)
    entries = list((tmp_path / ".nanlint_cache").rglob("*.json"))
    assert len(entries) == 2
    warm, _ = run([tmp_path], tmp_path, use_cache=True)
    assert warm == cold
    # The selection and severities are applied after the cache: the same two entries serve them.
    ignoring = dataclasses.replace(Settings(root=tmp_path), ignore=("NAN112",))
    assert run([tmp_path], tmp_path, use_cache=True, settings=ignoring)[0] == []
    demoted = dataclasses.replace(Settings(root=tmp_path), severity={"NAN112": Severity.info})
    [finding] = run([tmp_path], tmp_path, use_cache=True, settings=demoted)[1].findings
    assert finding.severity is Severity.info
    assert sorted((tmp_path / ".nanlint_cache").rglob("*.json")) == sorted(entries)
    # Rule options change what rules find: new entries.
    options = dataclasses.replace(Settings(root=tmp_path), rule_options={"NAN105": {"plain-sums": True}})
    run([tmp_path], tmp_path, use_cache=True, settings=options)
    assert len(list((tmp_path / ".nanlint_cache").rglob("*.json"))) == 4


def test_a_selection_served_from_the_cache_equals_a_fresh_run(tmp_path):
    source = "import torch\n\ndef f(x):\n    return torch.exp(x) / torch.exp(x).sum()  # nanlint: ignore[NAN104]\n"
    tree(tmp_path, {"a.py": source})
    for select in (("NAN101",), ("NAN105",), ("NAN101", "NAN105", "NAN901"), ("NAN901",)):
        settings = dataclasses.replace(Settings(root=tmp_path), select=select)
        fresh = run([tmp_path], tmp_path, settings=settings)[1].findings
        assert run([tmp_path], tmp_path, use_cache=True, settings=settings)[1].findings == fresh
        assert run([tmp_path], tmp_path, use_cache=True, settings=settings)[1].findings == fresh


def test_stale_cache_folders_and_old_entries_are_pruned(tmp_path):
    tree(tmp_path, {"a.py": BAD})
    stale = tmp_path / ".nanlint_cache" / "0.0.1-0123456789abcdef" / "ab"
    stale.mkdir(parents=True)
    (stale / "x.json").write_text("[]")
    run([tmp_path], tmp_path, use_cache=True)
    assert not stale.parent.exists()
    [entry] = (tmp_path / ".nanlint_cache").rglob("*.json")
    cache = Cache(tmp_path / ".nanlint_cache")
    (cache.directory / ".last-prune").unlink()
    old = entry.stat().st_mtime - (MAX_AGE_DAYS + 1) * 86400
    os.utime(entry, (old, old))
    assert cache.prune() == 1 and not entry.exists()


def test_a_cache_entry_stores_no_path_and_corrupt_entries_are_misses(tmp_path):
    tree(tmp_path, {"a.py": BAD})
    cold, _ = run([tmp_path / "a.py"], tmp_path, use_cache=True)
    [entry] = (tmp_path / ".nanlint_cache").rglob("*.json")
    assert "path" not in json.loads(entry.read_text())["findings"][0][0]["location"]
    entry.write_text("{truncated")
    assert run([tmp_path / "a.py"], tmp_path, use_cache=True)[0] == cold
    # the same content under another name is reported under that name
    tree(tmp_path, {"copy.py": BAD})
    assert run([tmp_path / "copy.py"], tmp_path, use_cache=True)[0] == [(str(tmp_path / "copy.py"), "NAN112", 2)]


def test_cache_directory_is_gitignored(tmp_path):
    tree(tmp_path, {"a.py": BAD})
    run([tmp_path], tmp_path, use_cache=True)
    assert (tmp_path / ".nanlint_cache/.gitignore").read_text() == "# Created by nanlint\n*\n"


def test_concurrent_runs_sharing_a_cache_are_correct(tmp_path):
    tree(tmp_path, {f"m{i:02}.py": BAD for i in range(30)})
    command = [sys.executable, "-m", "nanlint", "check", str(tmp_path), "--format", "json", "-j", "1"]
    env = {**os.environ, "NO_COLOR": "1"}
    procs = [subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, env=env) for _ in range(3)]
    outputs = [json.loads(p.communicate()[0]) for p in procs]
    assert all(len(o) == 30 for o in outputs) and outputs[0] == outputs[1] == outputs[2]


def test_stdin_with_a_filename(tmp_path):
    command = [sys.executable, "-m", "nanlint", "check", "-", "--stdin-filename", "pkg/mod.py", "--no-cache"]
    done = subprocess.run(command, input=BAD, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1
    assert (
        done.stdout.splitlines()[0]
        == "pkg/mod.py:2:7: NAN112 error [*] comparison with NaN is always False; use isnan() to test for NaN"
    )


def test_nothing_is_written_without_fix(tmp_path):
    tree(tmp_path, {"a.py": BAD})
    before = (tmp_path / "a.py").stat()
    run([tmp_path], tmp_path)
    after = (tmp_path / "a.py").stat()
    assert (before.st_mtime_ns, before.st_size) == (after.st_mtime_ns, after.st_size)


@pytest.mark.parametrize("source", ["x = " + "(" * 300 + ")" * 300, "x = a" + ".b" * 20000, "x = 1" + " + 1" * 20000])
def test_pathological_sources_do_not_crash(source):
    from nanlint.source.engine import lint_text

    findings = lint_text("import numpy as np\ny = x == np.nan\n" + source + "\n")
    assert [f.code for f in findings] in (["NAN112"], ["NAN900"])


def test_a_star_in_a_path_pattern_stays_inside_one_directory(tmp_path):
    tree(tmp_path, {"gen/a.py": BAD, "gen/keep/b.py": BAD, "deep/x/gen/c.py": BAD, "deep/y/z/gen/d.py": BAD})
    settings = dataclasses.replace(Settings(root=tmp_path), extend_exclude=("gen/*.py", "deep/**/gen"))
    findings, _ = run([tmp_path], tmp_path, settings=settings)
    assert [Path(p).relative_to(tmp_path).as_posix() for p, *_ in findings] == ["gen/keep/b.py"]


def test_long_generated_expressions_are_linted_not_nan900():
    from nanlint.source.engine import lint_text

    source = (
        "import numpy as np\ny = np.log(x + " + " + ".join(["1.0"] * 900) + ")\n"
        "z = x / (" + " + ".join(f"a{i}" for i in range(900)) + ")\n"
        "w = x == np.nan\n"
    )
    assert [f.code for f in lint_text(source)] == ["NAN112"]


def test_parsing_skips_libcst_validation_only_while_it_parses(monkeypatch):
    import libcst as cst

    from nanlint.source.documents import Document
    from nanlint.source.engine import DocumentError, parse

    source = "import torch\ny = torch.log(torch.softmax(x, dim=-1))\n"
    module, _ = parse(Document(path="m.py", text=source))
    assert module.code == source  # the trusted parse builds the same tree (round trip)

    def crash(text):
        cst.Name("not a name")  # not validated inside the parse
        raise RecursionError

    monkeypatch.setattr(cst, "parse_module", crash)
    with pytest.raises(DocumentError, match="cannot parse: RecursionError"):
        parse(Document(path="deep.py", text="x = 1\n"))
    with pytest.raises(cst.CSTValidationError):  # nodes built afterwards (fixes) are validated again
        cst.Name("not a name")


def test_the_cyclic_collector_is_paused_per_file_and_restored(tmp_path):
    import gc

    from nanlint.source.engine import _cyclic_gc_paused

    root = tree(tmp_path, {"a.py": BAD})
    assert gc.isenabled()
    with _cyclic_gc_paused():
        with _cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()
    assert [(Path(p).name, c, line) for p, c, line in run([root], root)[0]] == [("a.py", "NAN112", 2)]
    assert gc.isenabled()
    gc.disable()  # a caller's own choice is kept
    try:
        run([root], root)
        assert not gc.isenabled()
    finally:
        gc.enable()
