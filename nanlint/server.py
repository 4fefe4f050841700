"""`nanlint server`: a Language Server (LSP on stdin/stdout) for editors, built on pygls (`nanlint[server]`).

It publishes the findings `nanlint check` reports for each open Python document, linted from the
editor's text with the configuration nearest to the file: on open and save at once, on change after a
short pause (a newer change cancels the pending lint, and the result of a lint that was running when the
text changed again is dropped: only the newest text is published). The text as saved goes through the
result cache `nanlint check` fills. Code actions: each finding's fix (unsafe ones marked as such),
"Suppress NANxxx on this line" (merged into an existing `# nanlint: ignore[...]`), and, when asked for
by kind (`source.fixAll.nanlint`, e.g. on save), every safe fix at once. Hover shows the rule's page.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec, ServerTextPosition

from nanlint import __version__, catalog
from nanlint.api import CheckError, encode_source, resolve_config
from nanlint.config import CONFIG_FILES, Settings
from nanlint.findings import Edit, Finding, Severity

DEBOUNCE_SECONDS = 0.3  # wait this long after a change before linting (typing goes on meanwhile)
SOURCE = "nanlint"
FIX_ALL = "source.fixAll.nanlint"
PYTHON_SUFFIXES = (".py", ".pyi")
UNUSED_SUPPRESSION = "NAN901"

SEVERITIES = {
    Severity.error: types.DiagnosticSeverity.Error,
    Severity.warning: types.DiagnosticSeverity.Warning,
    Severity.info: types.DiagnosticSeverity.Information,
}
_CODE = re.compile(r"NAN\d{3}")

logger = logging.getLogger(__name__)


# --- linting one text (runs in the worker thread) ------------------------------------------------


@dataclass(frozen=True)
class Linted:
    """One lint of one version of a document."""

    path: str
    version: int | None
    text: str
    settings: Settings
    findings: list[Finding]
    config_error: str | None = None
    lines: list[str] = field(default_factory=list)  # the text's lines as LSP counts them, with their ends

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", lsp_lines(self.text))


def lint(path: str, text: str, version: int | None, use_cache: bool = True) -> Linted:
    """The findings `nanlint check` would report for `text` saved at `path`."""
    try:
        settings, error = resolve_config(None, path), None
    except CheckError as exc:  # the user is editing the configuration: lint with the defaults meanwhile
        settings, error = Settings(), str(exc)
    data = encode_source(text)
    findings = cached_findings(path, data, settings) if use_cache else uncached_findings(path, data, settings)
    return Linted(path, version, text, settings, sorted(findings, key=Finding.sort_key), error)


def uncached_findings(path: str, data: bytes, settings: Settings) -> list[Finding]:
    from nanlint.source.engine import lint_bytes

    return lint_bytes(path, data, settings)


def cached_findings(path: str, data: bytes, settings: Settings) -> list[Finding]:
    """Through the result cache when the text is the file's saved content (unsaved edits would only fill it)."""
    from nanlint.source.cache import Cache, key
    from nanlint.source.engine import analyze_bytes, options_fingerprint, visible
    from nanlint.source.raw import RawFindings

    file = Path(path)
    try:
        saved = file.is_file() and file.stat().st_size == len(data) and file.read_bytes() == data
    except OSError:
        saved = False
    if not saved:
        return uncached_findings(path, data, settings)
    cache = Cache(settings.root / settings.cache_dir)
    entry = key(data, file.suffix, options_fingerprint(settings.rule_options))
    raw = None
    cached = cache.get(entry)
    if cached is not None:
        try:
            raw = RawFindings.decode(cached, path)
        except (KeyError, TypeError, ValueError):
            raw = None  # an entry of another layout: recompute it
    if raw is None:
        raw = analyze_bytes(path, data, settings.rule_options)
        cache.put(entry, raw.encode())
    return visible(raw.select(settings), settings)


def fixed_text(linted: Linted) -> str | None:
    """The text with every safe fix applied (as `nanlint check --fix`), or None when nothing changes."""
    from nanlint.source.engine import fix_content

    data = encode_source(linted.text)
    outcome = fix_content(linted.path, data, linted.settings)
    return outcome.text if outcome.data != data else None


# --- positions -------------------------------------------------------------------------------------


def lsp_lines(text: str) -> list[str]:
    """Lines as LSP counts them (ended by \\n, \\r\\n or \\r only), each with its end."""
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", text)


def client_range(
    lines: list[str], codec: PositionCodec, line: int, column: int, end_line: int, end_column: int
) -> types.Range:
    """A 1-based, end-exclusive span in code points as an LSP range in the client's units."""

    def position(line: int, column: int) -> types.Position:
        if line - 1 >= len(lines):  # the end of a text without a final newline, or past it
            return types.Position(len(lines), 0)
        return codec.position_to_client_units(lines, ServerTextPosition(line - 1, column - 1))

    return types.Range(position(line, column), position(end_line, end_column))


def server_position(lines: list[str], codec: PositionCodec, position: types.Position) -> tuple[int, int]:
    """A client position as 1-based (line, column in code points)."""
    if position.line >= len(lines):
        return position.line + 1, 1
    converted = codec.position_from_client_units(lines, types.Position(position.line, position.character))
    return converted.line + 1, converted.character + 1


def span_of(finding: Finding) -> tuple[tuple[int, int], tuple[int, int]]:
    loc = finding.location
    return (loc.line, loc.column), (loc.end_line, loc.end_column)  # type: ignore[union-attr]


# --- findings as LSP objects ----------------------------------------------------------------------


def diagnostic(finding: Finding, linted: Linted, codec: PositionCodec) -> types.Diagnostic:
    (line, column), (end_line, end_column) = span_of(finding)
    page = rule_file(finding.code)
    return types.Diagnostic(
        range=client_range(linted.lines, codec, line, column, end_line, end_column),
        message=finding.message,
        severity=SEVERITIES[finding.severity],
        code=finding.code,
        code_description=types.CodeDescription(href=from_fs_path(str(page)) or "") if page else None,
        source=SOURCE,
        tags=[types.DiagnosticTag.Unnecessary] if finding.code == UNUSED_SUPPRESSION else None,
    )


def rule_file(code: str) -> Path | None:
    try:
        page = catalog.rules_dir() / f"{code}.md"
    except catalog.CatalogError:
        return None
    return page if page.is_file() else None


def text_edits(edits: list[Edit], linted: Linted, codec: PositionCodec) -> list[types.TextEdit]:
    return [
        types.TextEdit(client_range(linted.lines, codec, e.line, e.column, e.end_line, e.end_column), e.content)
        for e in edits
    ]


def code_actions(
    uri: str, linted: Linted, params: types.CodeActionParams, codec: PositionCodec
) -> list[types.CodeAction]:
    """Quick fixes and suppressions of the findings in the requested range, or of the diagnostics the
    client sends along (a light bulb on a diagnostic need not overlap the cursor)."""
    from nanlint.source.fixes import suppression_edits

    only = params.context.only
    start = server_position(linted.lines, codec, params.range.start)
    end = server_position(linted.lines, codec, params.range.end)
    sent = {(d.code, range_key(d.range)) for d in params.context.diagnostics if d.source == SOURCE}
    actions = []
    for finding in linted.findings:
        found_start, found_end = span_of(finding)
        diagnostics = [diagnostic(finding, linted, codec)]
        if (found_start > end or start > found_end) and (finding.code, range_key(diagnostics[0].range)) not in sent:
            continue
        if finding.fix is not None and wanted(types.CodeActionKind.QuickFix, only):
            unsafe = finding.fix.applicability == "unsafe"
            actions.append(
                types.CodeAction(
                    title=f"{finding.code}: {finding.fix.message}" + (" (unsafe fix: review it)" if unsafe else ""),
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=diagnostics,
                    is_preferred=not unsafe,
                    edit=workspace_edit(uri, text_edits(list(finding.fix.edits), linted, codec)),
                )
            )
        if wanted(types.CodeActionKind.QuickFix, only):
            edits = [edit for _, edit in suppression_edits(linted.path, encode_source(linted.text), [finding])]
            actions.append(
                types.CodeAction(
                    title=f"Suppress {finding.code} on this line",
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=diagnostics,
                    edit=workspace_edit(uri, text_edits(edits, linted, codec)),
                )
            )
    return actions


def range_key(where: types.Range) -> tuple[int, int, int, int]:
    return where.start.line, where.start.character, where.end.line, where.end.character


def fix_all_action(uri: str, linted: Linted, codec: PositionCodec) -> types.CodeAction | None:
    fixed = fixed_text(linted)
    if fixed is None:
        return None
    everything = client_range(linted.lines, codec, 1, 1, len(linted.lines) + 1, 1)
    return types.CodeAction(
        title="nanlint: apply every safe fix",
        kind=FIX_ALL,
        edit=workspace_edit(uri, [types.TextEdit(everything, fixed)]),
    )


def wanted(kind: str, only: Sequence[str] | None) -> bool:
    """Is an action of this kind among those requested (`only` lists kinds or their prefixes)?"""
    return only is None or any(kind == o or kind.startswith(f"{o}.") for o in only)


def workspace_edit(uri: str, edits: list[types.TextEdit]) -> types.WorkspaceEdit:
    return types.WorkspaceEdit(changes={uri: edits})


def hover_text(linted: Linted, line: int, column: int) -> tuple[str, Finding | None] | None:
    """Markdown for the findings under (line, column), or the rule page of a code written there."""
    here = [f for f in linted.findings if span_of(f)[0] <= (line, column) <= span_of(f)[1]]
    if here:
        parts = []
        for finding in {f.code: f for f in here}.values():
            page = catalog.get(finding.code)
            parts.append(f"**{finding.code}** ({finding.severity}) {finding.message}\n\n---\n\n{page.text.strip()}")
        return "\n\n---\n\n".join(parts), here[0]
    text = linted.lines[line - 1] if line - 1 < len(linted.lines) else ""
    for match in _CODE.finditer(text):
        if match.start() < column <= match.end() + 1:
            try:
                return catalog.get(match.group()).text.strip(), None
            except catalog.CatalogError:
                return None
    return None


# --- the server ---------------------------------------------------------------------------------------


class NanlintServer(LanguageServer):
    """Keeps, per open document, the pending lint and the newest published one."""

    def __init__(self) -> None:
        super().__init__("nanlint", __version__)
        self.debounce = DEBOUNCE_SECONDS
        self.use_cache = True
        self.pending: dict[str, asyncio.Task] = {}
        self.linted: dict[str, Linted] = {}
        self.shown_errors: set[str] = set()
        # One lint at a time, off the event loop: requests are answered while a lint runs.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nanlint-lint")

    def configure(self, options: Any) -> None:
        """initializationOptions: {"debounce": seconds, "cache": bool}."""
        if not isinstance(options, dict):
            return
        debounce = options.get("debounce")
        if isinstance(debounce, (int, float)) and not isinstance(debounce, bool) and 0 <= debounce <= 60:
            self.debounce = float(debounce)
        if isinstance(options.get("cache"), bool):
            self.use_cache = options["cache"]

    def document(self, uri: str) -> TextDocument | None:
        """The open document, if it is Python."""
        if uri not in self.workspace.text_documents:
            return None
        document = self.workspace.get_text_document(uri)
        path = document_path(document)
        return document if document.language_id == "python" or path.endswith(PYTHON_SUFFIXES) else None

    def schedule(self, uri: str, delay: float) -> None:
        """Lint after `delay` seconds; a lint pending for the same document is cancelled."""
        previous = self.pending.pop(uri, None)
        if previous is not None:
            previous.cancel()
        if self.document(uri) is None:
            return
        task = asyncio.get_running_loop().create_task(self.lint_and_publish(uri, delay))
        self.pending[uri] = task
        task.add_done_callback(lambda done: self.pending.pop(uri, None) if self.pending.get(uri) is done else None)

    async def lint_and_publish(self, uri: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        document = self.document(uri)
        if document is None:
            return
        linted = await self.run_lint(document)
        current = self.document(uri)
        if linted is None or current is None or current.source != linted.text:
            return  # superseded while it ran: the newer text has its own lint scheduled
        self.linted[uri] = linted
        self.report_config_error(linted.config_error)
        codec = self.workspace.position_codec
        diagnostics = [diagnostic(f, linted, codec) for f in linted.findings]
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=linted.version)
        )

    async def run_lint(self, document: TextDocument) -> Linted | None:
        loop = asyncio.get_running_loop()
        path, text, version = document_path(document), document.source, document.version
        try:
            return await loop.run_in_executor(self.executor, lint, path, text, version, self.use_cache)
        except Exception as exc:  # an internal error: say it in the log, keep serving
            logger.exception("nanlint: linting %s failed", path)
            self.window_log_message(
                types.LogMessageParams(types.MessageType.Error, f"nanlint: linting {path} failed: {exc}")
            )
            return None

    async def current(self, uri: str) -> Linted | None:
        """The lint of the document's current text (linting it now when the published one is stale)."""
        document = self.document(uri)
        if document is None:
            return None
        linted = self.linted.get(uri)
        if linted is not None and linted.text == document.source:
            return linted
        return await self.run_lint(document)

    def forget(self, uri: str) -> None:
        task = self.pending.pop(uri, None)
        if task is not None:
            task.cancel()
        if self.linted.pop(uri, None) is not None:
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    def report_config_error(self, error: str | None) -> None:
        if error and error not in self.shown_errors:
            self.shown_errors.add(error)
            self.window_show_message(
                types.ShowMessageParams(types.MessageType.Error, f"nanlint: {error} (using the default settings)")
            )


def document_path(document: TextDocument) -> str:
    """The document's file path; an unsaved document is linted as if it were in the working directory."""
    path = to_fs_path(document.uri) if document.uri.startswith("file:") else None
    return path or str(Path.cwd() / "untitled.py")


def create_server() -> NanlintServer:
    server = NanlintServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: NanlintServer, params: types.InitializeParams) -> None:
        ls.configure(params.initialization_options)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: NanlintServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: NanlintServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, ls.debounce)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: NanlintServer, params: types.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri
        if Path(to_fs_path(uri) or "").name in CONFIG_FILES:  # the settings changed: every open document
            for open_uri in list(ls.workspace.text_documents):
                ls.schedule(open_uri, 0)
        else:
            ls.schedule(uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: NanlintServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.forget(params.text_document.uri)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL]),
    )
    async def code_action(ls: NanlintServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri, only = params.text_document.uri, params.context.only
        linted = await ls.current(uri)
        if linted is None:
            return []
        codec = ls.workspace.position_codec
        actions = code_actions(uri, linted, params, codec)
        if only and wanted(FIX_ALL, only):  # fixing everything costs lints: only when asked for by kind
            fix_all = await asyncio.get_running_loop().run_in_executor(ls.executor, fix_all_action, uri, linted, codec)
            actions.extend([fix_all] if fix_all else [])
        return actions

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: NanlintServer, params: types.HoverParams) -> types.Hover | None:
        linted = await ls.current(params.text_document.uri)
        if linted is None:
            return None
        codec = ls.workspace.position_codec
        line, column = server_position(linted.lines, codec, params.position)
        found = hover_text(linted, line, column)
        if found is None:
            return None
        text, finding = found
        where = None
        if finding is not None:
            (start, end) = span_of(finding)
            where = client_range(linted.lines, codec, *start, *end)
        return types.Hover(types.MarkupContent(types.MarkupKind.Markdown, text), where)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: NanlintServer, *args) -> None:
        ls.executor.shutdown(wait=False, cancel_futures=True)

    return server


def serve() -> None:
    """Speak LSP on stdin/stdout until the client says exit."""
    create_server().start_io()
