"""The source pass: files -> documents -> one parse -> one batched visit of all rules -> findings.

Cost control, in order: the result cache; a substring pre-filter (a rule only runs on
files containing one of its triggers, a file no rule wants is never parsed); Python's
own parser as a cheap guard before libcst; positions computed only for files that
report something; files spread over worker processes.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import functools
import gc
import hashlib
import re
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libcst as cst

from nanlint import catalog
from nanlint.config import Configuration, Settings
from nanlint.findings import Edit, Finding, Fix, SourceLocation
from nanlint.source import fixes, suppress
from nanlint.source.cache import Cache, code_fingerprint
from nanlint.source.cache import key as cache_key
from nanlint.source.discovery import SourceFile, discover, matches_glob
from nanlint.source.documents import Document, DocumentError, read_document
from nanlint.source.positions import resolve as node_positions
from nanlint.source.project import Project, View, view_of
from nanlint.source.raw import Comment, RawFinding, RawFindings
from nanlint.source.rule import Context, Report, Rule
from nanlint.source.rules import ALL_RULES
from nanlint.source.syntax import check_syntax
from nanlint.source.traversal import Dispatcher

PARSE_ERROR = "NAN900"
UNUSED_SUPPRESSION = "NAN901"


@dataclass(frozen=True)
class CheckOptions:
    jobs: int = 1
    use_cache: bool = True
    force_exclude: bool = False
    stdin_filename: str | None = None
    stdin_text: str | None = None
    fix: bool = False
    unsafe_fixes: bool = False
    diff: bool = False
    add_noqa: bool = False


@dataclass
class CheckResult:
    findings: list[Finding]
    checked: int
    errors: list[str] = field(default_factory=list)
    fixed: list[Finding] = field(default_factory=list)
    diffs: list[str] = field(default_factory=list)
    suppressions_added: int = 0
    fixed_stdin: str | None = None  # `--fix` on stdin prints the fixed source


# --- one document ------------------------------------------------------------------------


def triggered(rule: type[Rule], text: str) -> bool:
    """Does one of the rule's triggers occur in the text? (Few triggers: substring searches; many: one
    regex scan, which is several times cheaper than a hundred searches.)"""
    if not rule.triggers:
        return True
    if len(rule.triggers) <= 8:
        return any(trigger in text for trigger in rule.triggers)
    return _trigger_pattern(rule.triggers).search(text) is not None


@functools.cache
def _trigger_pattern(triggers: tuple[str, ...]) -> re.Pattern:
    return re.compile("|".join(re.escape(t) for t in triggers))


def make_finding(code: str, message: str, location: SourceLocation, fix: Fix | None = None) -> Finding:
    """A finding at its rule's default severity (the configured one is applied by the selection)."""
    page = catalog.get(code)
    return Finding(code, page.name, message, page.severity, location, fix)


def parse_error(document_path: str, error: DocumentError) -> Finding:
    location = SourceLocation(document_path, error.line, error.column, error.line, error.column, error.cell)
    return make_finding(PARSE_ERROR, error.message, location)


def lint_document(document: Document, settings: Settings) -> list[Finding]:
    """The findings of one document under these settings (per-file ignores are applied by the caller)."""
    return analyze_document(document, settings.rule_options).select(settings)


def analyze_document(
    document: Document, rule_options: Mapping[str, Mapping[str, Any]], project: View | None = None
) -> RawFindings:
    """Every rule's findings in one document, before selection and suppressions (see raw.py); with the
    project's view, facts cross into the run's other files, and what they read is recorded (raw.used)."""
    comments = suppress.scan(document.text)
    raw = RawFindings(document.path, comments=_comments(comments, document), ignore_file=comments.whole_file)
    if comments.whole_file:
        return raw
    rules = [rule for rule in ALL_RULES if triggered(rule, document.text)]
    raw.ran = frozenset(rule.code for rule in rules)
    if not rules:
        # No rule can match, so libcst is skipped; Python's parser still reports syntax errors (and
        # libcst judges the statements of a grammar newer than the interpreter's, see syntax.py).
        try:
            if check_syntax(document) is None:
                parse(document)
        except DocumentError as error:
            raw.findings.append(RawFinding(located_parse_error(document, error), 0))
        return raw
    module, tree, broken = parse_recovering(document)
    raw.findings.extend(RawFinding(finding, 0) for finding in broken)
    if module is not None:
        ctx = run_rules(module, rules, rule_options, project)
        if project is not None:
            raw.used = dict(sorted(project.used.items()))
        raw.findings.extend(located_reports(ctx.reports, rules, module, tree, document, offset=len(raw.findings)))
        ctx.release()
    return raw


def located_reports(
    reports: list[Report], rules: list[type[Rule]], module: cst.Module, tree, document: Document, offset: int
) -> list[RawFinding]:
    """Reports as findings, each with the module line suppressions match and the findings that subsume it."""
    unique: dict[tuple[str, int], Report] = {}
    for report in reports:
        unique.setdefault((report.code, id(report.node)), report)
    positions = resolve_positions(module, tree, list(unique.values())) if unique else {}
    candidates = [(r, to_finding(r, positions, document)) for r in unique.values()]
    located = [(r, f) for r, f in candidates if f is not None]
    overrides = {rule.code: set(rule.overrides) for rule in rules}
    return [
        RawFinding(
            finding,
            _module_line(report, positions),
            tuple(
                offset + j
                for j, (other, _) in enumerate(located)
                if other is not report and report.code in overrides.get(other.code, ()) and _covers(other, report.node)
            ),
        )
        for report, finding in located
    ]


def _comments(comments: suppress.Suppressions, document: Document) -> tuple[Comment, ...]:
    found = []
    for line, comment in comments.by_line.items():
        cell, cell_line = document.locate(line)
        found.append(
            Comment(line, cell, cell_line, comment.column, comment.end_column, comment.codes, comment.reportable)
        )
    return tuple(found)


def resolve_positions(module: cst.Module, tree: ast.Module | None, reports: list[Report]):
    """Positions of the reported nodes and their fixes' nodes (libcst's recursion gets room for long
    generated expressions: Python frames only)."""
    nodes = [r.node for r in reports] + [node for r in reports if r.fix for node, _ in r.fix.replacements]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        return node_positions(module, tree, nodes)
    except RecursionError:
        return {}  # nothing can be pointed at: the reports are dropped rather than the run
    finally:
        sys.setrecursionlimit(limit)


def parse_recovering(document: Document) -> tuple[cst.Module | None, ast.Module | None, list[Finding]]:
    """Parse; in a notebook, a broken cell is reported (NAN900) and blanked so the others are still linted."""
    broken: list[Finding] = []
    while True:
        try:
            return *parse(document), broken
        except DocumentError as error:
            broken.append(located_parse_error(document, error))
            cell = broken[-1].source_location.cell
            if cell is None or document.cells is None or len(broken) > 50:
                return None, None, broken
            lines = document.text.split("\n")
            for index, (owner, _) in enumerate(document.cells):
                if owner == cell:
                    lines[index] = ""
            document = dataclasses.replace(document, text="\n".join(lines))


def located_parse_error(document: Document, error: DocumentError) -> Finding:
    cell, line = document.locate(error.line)
    return parse_error(document.path, DocumentError(error.message, line, error.column, cell))


def parse(document: Document) -> tuple[cst.Module, ast.Module | None]:
    """Python's parser first (fast, and it rejects what would crash libcst's), then libcst; both trees
    are kept (Python's knows where statements start, see positions.py; None for a newer grammar)."""
    tree = check_syntax(document)
    try:
        with _trusted_nodes():
            return cst.parse_module(document.text), tree
    except cst.ParserSyntaxError as exc:
        raise DocumentError(f"syntax error: {exc.message}", exc.raw_line, exc.raw_column + 1) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise DocumentError(f"cannot parse: {type(exc).__name__}") from None


def _skip_validation(node: cst.CSTNode) -> None:
    pass


@contextlib.contextmanager
def _trusted_nodes():
    """libcst validates every node as it is built (CSTNode.__post_init__); nodes its parser builds
    from source that Python's parser accepted are valid by construction (libcst's own PERF note
    there), and skipping the check saves ~10% of a parse. Validation stays on for the nodes that
    fixes build. Only the source pass parses, one file at a time per process."""
    cst.CSTNode.__post_init__ = _skip_validation
    try:
        yield
    finally:
        cst.CSTNode.__post_init__ = _VALIDATING_POST_INIT


_VALIDATING_POST_INIT = cst.CSTNode.__post_init__


def run_rules(
    module: cst.Module,
    rules: list[type[Rule]],
    rule_options: Mapping[str, Mapping[str, Any]],
    project: View | None = None,
) -> Context:
    ctx = Context(module=module, options={code: dict(opts) for code, opts in rule_options.items()}, project=project)
    dispatcher = Dispatcher()
    dispatcher.register(_ImportTracker(ctx))
    dispatcher.register(ctx.dataflow)
    for kind in dict.fromkeys(kind for rule in rules for kind in rule.uses):
        tracker = kind(ctx)
        ctx.shared[kind] = tracker
        dispatcher.register(tracker)
    for rule in rules:
        dispatcher.register(rule(ctx))
    dispatcher.walk(module)
    return ctx


class _ImportTracker:
    def __init__(self, ctx: Context) -> None:
        self.names = ctx.names

    def visit_Import(self, node: cst.Import) -> None:
        self.names.add_import(node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self.names.add_import_from(node)


def _covers(report: Report, node: cst.CSTNode) -> bool:
    if node is report.node or any(node is c for c in report.covers):
        return True
    from nanlint.source.traversal import iter_nodes

    return any(n is node for n in iter_nodes(report.node))


def _module_line(report: Report, positions) -> int:
    position = positions.get(report.node)
    return position.start.line if position else 0


def to_finding(report: Report, positions, document: Document) -> Finding | None:
    position = positions.get(report.node)
    if position is None:  # a node the rule built itself; nothing to point at
        return None
    cell, line = document.locate(position.start.line)
    _, end_line = document.locate(position.end.line)
    location = SourceLocation(document.path, line, position.start.column + 1, end_line, position.end.column + 1, cell)
    fix = None
    if report.fix is not None:
        edits = []
        for node, content in report.fix.replacements:
            where = positions.get(node)
            if where is None:
                break
            _, start = document.locate(where.start.line)
            _, end = document.locate(where.end.line)
            edits.append(Edit(start, where.start.column + 1, end, where.end.column + 1, content))
        else:
            fix = Fix(report.fix.applicability, report.fix.message, tuple(edits))
    return make_finding(report.code, report.message, location, fix)


def lint_text(text: str, path: str = "example.py", settings: Settings | None = None) -> list[Finding]:
    """Lint a string as a file (convenient in tests and for stdin)."""
    settings = settings or Settings()
    try:
        document = read_document(path, text.encode("utf-8"))
    except DocumentError as error:
        return visible([parse_error(path, error)], settings)
    return lint_document(document, settings)


# --- the lint-and-fix loop --------------------------------------------------------------------


def fix_content(
    path: str, data: bytes, settings: Settings, unsafe: bool = False, file: Path | None = None
) -> fixes.FixOutcome:
    """Fix one file's content until no applicable fix remains (or MAX_ROUNDS); `file`, the file on disk in a
    project run, lets its facts cross into the run's other files as in a check."""
    outcome = fixes.FixOutcome(data, remaining=lint_bytes(path, data, settings, file))
    for _ in range(fixes.MAX_ROUNDS):
        chosen = fixes.select_fixes(outcome.remaining, unsafe)
        if not chosen:
            break
        edits = [(f.source_location.cell, edit) for f in chosen if f.fix is not None for edit in f.fix.edits]
        outcome.data = fixes.edit_content(path, outcome.data, edits)
        outcome.fixed.extend(chosen)
        outcome.remaining = lint_bytes(path, outcome.data, settings, file)
    return outcome


def fix_source(text: str, path: str, settings: Settings, unsafe: bool = False) -> fixes.FixOutcome:
    """Fix a Python source string (tests use this; files go through fix_content too)."""
    return fix_content(path, text.encode("utf-8"), settings, unsafe)


# --- many files -----------------------------------------------------------------------------


def options_fingerprint(rule_options: Mapping[str, Mapping[str, Any]]) -> str:
    """What of the configuration changes the rules' findings: their options (the selection does not)."""
    return hashlib.sha256(
        repr(sorted((code, sorted(o.items())) for code, o in rule_options.items())).encode()
    ).hexdigest()


def analyze_bytes(
    path: str, data: bytes, rule_options: Mapping[str, Mapping[str, Any]], project: View | None = None
) -> RawFindings:
    try:
        return analyze_document(read_document(path, data), rule_options, project)
    except DocumentError as error:
        return RawFindings(path, [RawFinding(parse_error(path, error), 0)])
    except RecursionError:
        return RawFindings(path, [RawFinding(parse_error(path, DocumentError("cannot parse: nesting too deep")), 0)])


def lint_bytes(path: str, data: bytes, settings: Settings, file: Path | None = None) -> list[Finding]:
    """Findings of one file's content as the user will see them (selection and per-file ignores applied)."""
    raw = analyze_bytes(path, data, settings.rule_options, view_of(_PROJECT, file))
    return visible(raw.select(settings), settings)


def visible(findings: list[Finding], settings: Settings) -> list[Finding]:
    """Selected, not ignored for the file, at the configured severity."""
    return [
        f.with_severity(settings.severity_of(f.code, f.severity))
        for f in findings
        if settings.is_selected(f.code) and not per_file_ignored(f, settings)
    ]


@dataclass
class FileOutcome:
    findings: list[Finding]
    unreadable: bool
    fixed: list[Finding] = field(default_factory=list)
    diff: str = ""
    suppressions_added: int = 0


def lint_file(source: SourceFile, settings: Settings, options: CheckOptions) -> FileOutcome:
    """One file on disk: lint (through the cache), or fix / diff / add suppressions."""
    try:
        data = source.path.read_bytes()
    except OSError as exc:
        error = DocumentError(f"cannot read file: {exc.strerror or exc}")
        return FileOutcome(visible([parse_error(source.display, error)], settings), True)
    if options.fix or options.diff:
        return _fix_file(source, data, settings, options)
    raw = _cached_analysis(source, data, settings, options)
    unreadable = any(r.finding.code == PARSE_ERROR for r in raw.findings)
    findings = visible(raw.select(settings), settings)
    if options.add_noqa and findings and not unreadable:
        edits = fixes.suppression_edits(source.display, data, findings)
        fixes.write_atomic(source.path, fixes.edit_content(source.display, data, edits))
        return FileOutcome([], unreadable, suppressions_added=len(findings))
    return FileOutcome(findings, unreadable)


def _cached_analysis(source: SourceFile, data: bytes, settings: Settings, options: CheckOptions) -> RawFindings:
    """The file's raw findings, from the cache when neither it nor what it read of the project changed.
    In a project run the key also holds the file's path (imports resolve relative to it), and an entry
    records what of the project it read (raw.used), checked again on a hit."""
    project = view_of(_PROJECT, source.path)
    if not options.use_cache:
        return analyze_bytes(source.display, data, settings.rule_options, project)
    cache = Cache(settings.root / settings.cache_dir)
    fingerprint = options_fingerprint(settings.rule_options)
    if project is not None:
        fingerprint += f"|project:{project.path}"
    entry = cache_key(data, source.path.suffix, fingerprint)
    cached = cache.get(entry)
    if cached is not None:
        try:
            raw = RawFindings.decode(cached, source.display)
            if project is None or not project.project.stale(raw.used, project.path):
                return raw
        except (KeyError, TypeError, ValueError):
            pass  # an entry of another layout: recompute it
    raw = analyze_bytes(source.display, data, settings.rule_options, project)
    cache.put(entry, raw.encode())
    return raw


def _fix_file(source: SourceFile, data: bytes, settings: Settings, options: CheckOptions) -> FileOutcome:
    outcome = fix_content(source.display, data, settings, options.unsafe_fixes, source.path)
    unreadable = any(f.code == PARSE_ERROR for f in outcome.remaining)
    diff = ""
    if outcome.data != data:
        if options.diff:
            diff = fixes.unified_diff(source.display, data, outcome.data)
        else:
            fixes.write_atomic(source.path, outcome.data)
    return FileOutcome(outcome.remaining, unreadable, outcome.fixed, diff)


_PROJECT: Project | None = None  # the run's project index (set before files are linted, inherited by workers)


def _set_project(project: Project | None) -> None:
    global _PROJECT
    _PROJECT = project


def _lint_file_job(args) -> FileOutcome:
    with _cyclic_gc_paused():
        return lint_file(*args)


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextlib.contextmanager
def _cyclic_gc_paused():
    """A parsed file is ~10^5 new objects in acyclic trees, freed by reference counting; the cyclic
    collector would scan them again and again while they are built (~8% of a parse). It is paused for
    one file's lint and resumes after it (counting what was allocated meanwhile). Nested and threaded
    uses are counted, so the collector comes back on only when the last one ends."""
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def per_file_ignored(finding: Finding, settings: Settings) -> bool:
    path = Path(finding.source_location.path)
    for pattern, codes in settings.per_file_ignores.items():
        if catalog.matches(finding.code, codes) and matches_glob(path, settings.root, [pattern]):
            return True
    return False


def check_paths(paths: list[Path], settings: Settings | Configuration, options: CheckOptions) -> CheckResult:
    """Check files and directories, each file with its own settings (see config.Configuration). A file
    that cannot be parsed is a NAN900 finding like any other; errors are paths that do not exist."""
    config = Configuration.of(settings)
    result = CheckResult(findings=[], checked=0)
    if options.stdin_text is not None:
        _check_stdin(result, config.for_path(Path(options.stdin_filename or "-")), options, options.stdin_text)
        paths = [p for p in paths if p != Path("-")]
    files, result.errors = discover(paths, config, options.force_exclude) if paths else ([], [])
    if options.use_cache:
        code_fingerprint()  # once here rather than in every worker
    _set_project(_project_of(files))
    try:
        for outcome in _map(files, options):
            result.findings.extend(outcome.findings)
            result.fixed.extend(outcome.fixed)
            result.suppressions_added += outcome.suppressions_added
            if outcome.diff:
                result.diffs.append(outcome.diff)
    finally:
        _set_project(None)
    result.checked += len(files)
    result.findings.sort(key=Finding.sort_key)
    if options.use_cache:
        for folder in {source.settings.root / source.settings.cache_dir for source in files if source.settings}:
            Cache(folder).prune()
    return result


def _project_of(files: list[SourceFile]) -> Project | None:
    """The project index of a run of several files (one file alone has no other module to read)."""
    if len(files) < 2:
        return None
    return Project((source.path for source in files), (files[0].settings or Settings()).rule_options)


def _check_stdin(result: CheckResult, settings: Settings, options: CheckOptions, text: str) -> None:
    """Lint (or fix) `text`, the source read from stdin; a fixed source is returned in result.fixed_stdin."""
    name = options.stdin_filename or "-"
    data = text.encode("utf-8")
    result.checked += 1
    if options.fix or options.diff:
        outcome = fix_content(name, data, settings, options.unsafe_fixes)
        result.fixed.extend(outcome.fixed)
        result.findings.extend(outcome.remaining)
        if options.diff and outcome.data != data:
            result.diffs.append(fixes.unified_diff(name, data, outcome.data))
        elif options.fix:
            result.fixed_stdin = outcome.data.decode("utf-8")
        return
    result.findings.extend(lint_bytes(name, data, settings))


def _map(files: list[SourceFile], options: CheckOptions):
    jobs = min(options.jobs, len(files))
    work = [(source, source.settings or Settings(), options) for source in files]
    if jobs <= 1 or len(files) < 4:
        return map(_lint_file_job, work)
    import multiprocessing  # only for a pool: a hook's run on a few files never needs it
    from concurrent.futures import ProcessPoolExecutor

    method = "fork" if sys.platform.startswith("linux") else None
    executor = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context(method),
        initializer=_set_project,
        initargs=(_PROJECT,),
    )
    chunk = max(1, min(16, len(files) // (jobs * 4)))
    results = list(executor.map(_lint_file_job, work, chunksize=chunk))
    executor.shutdown()
    return results
