"""`nanlint server` end to end: a real LSP client (pytest-lsp) drives the server in a subprocess."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from nanlint import cli

pytest.importorskip("pygls")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types  # noqa: E402
from pygls.protocol import default_converter  # noqa: E402
from pygls.uris import from_fs_path  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60.0  # seconds to wait for a publication (the machine may be loaded)

NAIVE_SOFTMAX = "import numpy as np\n\n\ndef softmax(x):\n    return np.exp(x) / np.exp(x).sum()\n"
STABLE_SOFTMAX = (
    "import numpy as np\n\n\ndef softmax(x):\n    return np.exp(x - np.max(x)) / np.exp(x - np.max(x)).sum()\n"
)
ENTROPY = "import torch\n\n\ndef entropy(logits):\n    p = torch.softmax(logits, -1)\n    return -(p * torch.log(p)).sum(-1)\n"
SOFTMAX_MESSAGE = (
    "naive softmax: exp overflows to inf for large inputs and inf / inf is NaN; "
    "subtract the max before exp or use softmax()"
)


def recording_client() -> LanguageClient:
    """pytest-lsp's client, keeping every publishDiagnostics (with its version), not only the last."""
    client = LanguageClient(converter_factory=default_converter)
    client.published = []

    def publish(client: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
        client.diagnostics[params.uri] = params.diagnostics
        client.published.append(params)

    register_lsp_features(client, {**DEFAULT_CLIENT_FEATURES, types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: publish})
    return client


SERVER = ClientServerConfig(
    server_command=[sys.executable, "-m", "nanlint", "server"],
    client_factory=recording_client,
    server_env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])},
)


# One server for the module (starting one costs seconds); each test works on documents of its own.
@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, tmp_path_factory: pytest.TempPathFactory):
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=from_fs_path(str(tmp_path_factory.mktemp("workspace"))),
            initialization_options={"debounce": 0.05},
        )
    )
    yield
    await lsp_client.shutdown_session()


# --- helpers ---------------------------------------------------------------------------------------


def document(tmp_path: Path, name: str = "softmax.py") -> tuple[Path, str]:
    """A path in a project of its own (a nanlint.toml there: the settings and the cache stay in tmp_path)."""
    if not (tmp_path / "nanlint.toml").exists():
        (tmp_path / "nanlint.toml").write_text("# the defaults\n")
    path = tmp_path / name
    return path, from_fs_path(str(path))


def open_document(client: LanguageClient, uri: str, text: str, version: int = 1, language: str = "python") -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, language, version, text)))


def change_document(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version, uri),
            [types.TextDocumentContentChangeWholeDocument(text)],
        )
    )


async def published(client: LanguageClient, uri: str, version: int | None = None) -> types.PublishDiagnosticsParams:
    """The first publication for `uri` (at `version`, if given), waiting for it."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        for params in client.published:
            if params.uri == uri and (version is None or params.version == version):
                return params
        await asyncio.sleep(0.02)
    raise AssertionError(f"no diagnostics published for {uri} version {version}: {client.published}")


def apply(text: str, edits: list[types.TextEdit]) -> str:
    """Apply LSP text edits (UTF-16 positions, as the client negotiated) to a text."""
    lines = text.splitlines(keepends=True)

    def offset(position: types.Position) -> int:
        before = "".join(lines[: position.line])
        line = lines[position.line] if position.line < len(lines) else ""
        units = line.encode("utf-16-le")[: 2 * position.character].decode("utf-16-le")
        return len(before) + len(units)

    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


async def actions_at(
    client: LanguageClient, uri: str, diagnostic: types.Diagnostic, only: list[str] | None = None
) -> list[types.CodeAction]:
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            types.TextDocumentIdentifier(uri),
            diagnostic.range,
            types.CodeActionContext(diagnostics=[diagnostic], only=only),
        )
    )
    return list(result or [])


def action_titled(actions: list[types.CodeAction], title: str) -> types.CodeAction:
    matching = [a for a in actions if a.title == title]
    assert matching, f"no action {title!r} in {[a.title for a in actions]}"
    return matching[0]


def r(line: int, character: int, end_line: int, end_character: int) -> types.Range:
    return types.Range(types.Position(line, character), types.Position(end_line, end_character))


# --- diagnostics and quick fixes ---------------------------------------------------------------------


@pytest.mark.asyncio(loop_scope="module")
async def test_naive_softmax_is_reported_fixed_by_its_code_action_and_then_clean(client, tmp_path):
    _, uri = document(tmp_path)
    open_document(client, uri, NAIVE_SOFTMAX)
    (found,) = (await published(client, uri, 1)).diagnostics
    assert found.range == r(4, 11, 4, 38)
    assert (found.code, found.source, found.message) == ("NAN101", "nanlint", SOFTMAX_MESSAGE)
    assert found.severity == types.DiagnosticSeverity.Error
    assert found.code_description.href.endswith("/NAN101.md")

    actions = await actions_at(client, uri, found)
    assert [a.title for a in actions] == ["NAN101: subtract the max before exp", "Suppress NAN101 on this line"]
    fix = actions[0]
    assert fix.kind == types.CodeActionKind.QuickFix and fix.is_preferred
    assert list(fix.diagnostics) == [found]
    fixed = apply(NAIVE_SOFTMAX, fix.edit.changes[uri])
    assert fixed == STABLE_SOFTMAX

    change_document(client, uri, fixed, 2)
    assert list((await published(client, uri, 2)).diagnostics) == []


@pytest.mark.asyncio(loop_scope="module")
async def test_actions_follow_the_range_or_the_diagnostics_sent_along(client, tmp_path):
    _, uri = document(tmp_path)
    open_document(client, uri, NAIVE_SOFTMAX)
    (found,) = (await published(client, uri, 1)).diagnostics

    async def titles(where: types.Range, diagnostics: list[types.Diagnostic]) -> list[str]:
        result = await client.text_document_code_action_async(
            types.CodeActionParams(
                types.TextDocumentIdentifier(uri), where, types.CodeActionContext(diagnostics=diagnostics)
            )
        )
        return [a.title for a in result or []]

    both = ["NAN101: subtract the max before exp", "Suppress NAN101 on this line"]
    assert await titles(r(4, 20, 4, 20), []) == both  # the cursor inside the finding
    assert await titles(r(4, 0, 4, 0), [found]) == both  # the light bulb of the diagnostic
    assert await titles(r(4, 0, 4, 0), []) == []
    assert await titles(r(0, 0, 1, 0), []) == []


@pytest.mark.asyncio(loop_scope="module")
async def test_unsafe_fix_is_marked_and_not_preferred(client, tmp_path):
    _, uri = document(tmp_path, "entropy.py")
    open_document(client, uri, ENTROPY)
    (found,) = (await published(client, uri, 1)).diagnostics
    assert (found.code, found.range, found.severity) == ("NAN104", r(5, 17, 5, 29), types.DiagnosticSeverity.Warning)
    fix = action_titled(await actions_at(client, uri, found), "NAN104: add 1e-8 inside the log (unsafe fix: review it)")
    assert not fix.is_preferred
    assert apply(ENTROPY, fix.edit.changes[uri]).splitlines()[5] == "    return -(p * torch.log(p + 1e-8)).sum(-1)"


@pytest.mark.asyncio(loop_scope="module")
async def test_suppress_on_this_line_adds_and_merges_the_comment(client, tmp_path):
    _, uri = document(tmp_path)
    open_document(client, uri, NAIVE_SOFTMAX)
    (found,) = (await published(client, uri, 1)).diagnostics
    suppress = action_titled(await actions_at(client, uri, found), "Suppress NAN101 on this line")
    assert suppress.kind == types.CodeActionKind.QuickFix and not suppress.is_preferred
    suppressed = apply(NAIVE_SOFTMAX, suppress.edit.changes[uri])
    assert suppressed.splitlines()[4] == "    return np.exp(x) / np.exp(x).sum()  # nanlint: ignore[NAN101]"
    change_document(client, uri, suppressed, 2)
    assert list((await published(client, uri, 2)).diagnostics) == []

    # A line that already suppresses another code gets one comment naming both.
    commented = NAIVE_SOFTMAX.replace(".sum()\n", ".sum()  # nanlint: ignore[NAN112]\n")
    change_document(client, uri, commented, 3)
    (found,) = (await published(client, uri, 3)).diagnostics
    suppress = action_titled(await actions_at(client, uri, found), "Suppress NAN101 on this line")
    merged = apply(commented, suppress.edit.changes[uri])
    assert merged.splitlines()[4] == "    return np.exp(x) / np.exp(x).sum()  # nanlint: ignore[NAN101, NAN112]"


@pytest.mark.asyncio(loop_scope="module")
async def test_fix_all_is_offered_when_asked_for_by_kind(client, tmp_path):
    _, uri = document(tmp_path)
    text = (
        NAIVE_SOFTMAX
        + "\n\ndef missing(v):\n    return v == np.nan\n"
        + ENTROPY.replace("import torch\n", "import torch\n", 1)
    )
    open_document(client, uri, text)
    diagnostics = (await published(client, uri, 1)).diagnostics
    assert [d.code for d in diagnostics] == ["NAN101", "NAN112", "NAN104"]
    # A request without `only` (the light bulb) does not pay for fixing the whole file.
    assert all(a.kind == types.CodeActionKind.QuickFix for a in await actions_at(client, uri, diagnostics[0]))
    (fix_all,) = await actions_at(client, uri, diagnostics[0], only=["source.fixAll"])
    assert (fix_all.title, fix_all.kind) == ("nanlint: apply every safe fix", "source.fixAll.nanlint")
    fixed = apply(text, fix_all.edit.changes[uri])
    assert "np.exp(x - np.max(x))" in fixed and "np.isnan(v)" in fixed
    assert "torch.log(p)" in fixed  # the unsafe fix is left to the user
    change_document(client, uri, fixed, 2)
    assert [d.code for d in (await published(client, uri, 2)).diagnostics] == ["NAN104"]


@pytest.mark.asyncio(loop_scope="module")
async def test_positions_are_in_the_clients_utf16_units(client, tmp_path):
    _, uri = document(tmp_path)
    text = 'import numpy as np\n\nlabel = "😀"; p = np.exp(z) / np.exp(z).sum()\n'
    open_document(client, uri, text)
    (found,) = (await published(client, uri, 1)).diagnostics
    # "😀" is one code point but two UTF-16 units: the finding spans code points 17-44, units 18-45.
    assert found.range == r(2, 18, 2, 45)
    (fix, _) = await actions_at(client, uri, found)
    assert apply(text, fix.edit.changes[uri]).splitlines()[2] == (
        'label = "😀"; p = np.exp(z - np.max(z)) / np.exp(z - np.max(z)).sum()'
    )


# --- hover ---------------------------------------------------------------------------------------


@pytest.mark.asyncio(loop_scope="module")
async def test_hover_shows_the_finding_and_its_rule_page(client, tmp_path):
    _, uri = document(tmp_path)
    text = NAIVE_SOFTMAX + "\n\nflag = 1  # nanlint: ignore[NAN112]\n"
    open_document(client, uri, text)
    (found,) = (await published(client, uri, 1)).diagnostics

    hover = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(4, 20))
    )
    assert hover.range == found.range
    assert hover.contents.kind == types.MarkupKind.Markdown
    head, page = hover.contents.value.split("\n\n---\n\n", 1)
    assert head == f"**NAN101** (error) {SOFTMAX_MESSAGE}"
    assert page.startswith("# NAN101 naive-softmax\n")
    assert "## Why it makes NaN" in page and "## Use instead" in page

    # A code written in a suppression comment shows its page too.
    comment = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(7, 30))
    )
    assert comment.contents.value.startswith("# NAN112 nan-comparison\n") and comment.range is None

    nothing = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(0, 3))
    )
    assert nothing is None


# --- configuration, superseded lints, documents it leaves alone ------------------------------------


@pytest.mark.asyncio(loop_scope="module")
async def test_the_configuration_nearest_to_the_document_applies(client, tmp_path):
    (tmp_path / "strict").mkdir()
    (tmp_path / "strict" / "pyproject.toml").write_text('[tool.nanlint]\nseverity = { NAN1 = "info" }\n')
    (tmp_path / "quiet").mkdir()
    (tmp_path / "quiet" / "nanlint.toml").write_text('ignore = ["NAN101"]\n')
    strict, quiet = (from_fs_path(str(tmp_path / d / "m.py")) for d in ("strict", "quiet"))
    open_document(client, strict, NAIVE_SOFTMAX)
    open_document(client, quiet, NAIVE_SOFTMAX)
    (found,) = (await published(client, strict, 1)).diagnostics
    assert (found.code, found.severity) == ("NAN101", types.DiagnosticSeverity.Information)
    assert list((await published(client, quiet, 1)).diagnostics) == []


@pytest.mark.asyncio(loop_scope="module")
async def test_a_broken_configuration_is_shown_once_and_the_defaults_apply(client, tmp_path):
    (tmp_path / "nanlint.toml").write_text("selekt = []\n")
    _, uri = document(tmp_path)
    open_document(client, uri, NAIVE_SOFTMAX)
    assert [d.code for d in (await published(client, uri, 1)).diagnostics] == ["NAN101"]
    change_document(client, uri, NAIVE_SOFTMAX + "\n", 2)
    await published(client, uri, 2)
    errors = [m.message for m in client.messages if m.type == types.MessageType.Error and str(tmp_path) in m.message]
    assert len(errors) == 1 and re.fullmatch(
        r"nanlint: .*nanlint\.toml: unknown key 'selekt' .* \(using the default settings\)", errors[0]
    )


@pytest.mark.asyncio(loop_scope="module")
async def test_a_newer_change_supersedes_pending_and_running_lints(client, tmp_path):
    _, uri = document(tmp_path)
    open_document(client, uri, STABLE_SOFTMAX)
    assert list((await published(client, uri, 1)).diagnostics) == []
    # Pending: two changes in a row, the first cancelled within its debounce.
    change_document(client, uri, NAIVE_SOFTMAX, 2)
    change_document(client, uri, STABLE_SOFTMAX + "\n", 3)
    assert list((await published(client, uri, 3)).diagnostics) == []
    # Running: a long text (seconds to lint) is being linted when the next change arrives: its result is
    # dropped, only the newest text is published.
    long = NAIVE_SOFTMAX + "".join(f"\ndef f{i}(x):\n    return np.exp(x) / np.exp(x).sum()\n" for i in range(600))
    change_document(client, uri, long, 4)
    await asyncio.sleep(0.15)  # past the debounce, far from done
    before = len(client.published)
    change_document(client, uri, STABLE_SOFTMAX, 5)
    assert list((await published(client, uri, 5)).diagnostics) == []
    await asyncio.sleep(0.2)
    assert [p.version for p in client.published[before:] if p.uri == uri] == [5]
    assert [p.version for p in client.published if p.uri == uri] == [1, 3, 5]  # 2 and 4 never shown


@pytest.mark.asyncio(loop_scope="module")
async def test_saved_text_goes_through_the_result_cache(client, tmp_path):
    path, uri = document(tmp_path)
    path.write_text(NAIVE_SOFTMAX)
    open_document(client, uri, NAIVE_SOFTMAX)
    assert [d.code for d in (await published(client, uri, 1)).diagnostics] == ["NAN101"]
    entries = sorted((tmp_path / ".nanlint_cache").rglob("*.json"))
    assert len(entries) == 1
    change_document(client, uri, NAIVE_SOFTMAX + "# unsaved\n", 2)
    await published(client, uri, 2)
    assert sorted((tmp_path / ".nanlint_cache").rglob("*.json")) == entries  # unsaved edits do not fill it
    # `nanlint check` on the saved file hits the entry the server wrote.
    result = CliRunner().invoke(
        cli.main, ["check", str(path), "--format", "json", "--config", str(tmp_path / "nanlint.toml")]
    )
    assert '"NAN101"' in result.stdout
    assert sorted((tmp_path / ".nanlint_cache").rglob("*.json")) == entries


@pytest.mark.asyncio(loop_scope="module")
async def test_only_python_documents_are_linted_and_closing_clears(client, tmp_path):
    _, notes = document(tmp_path, "notes.md")
    _, uri = document(tmp_path)
    open_document(client, notes, NAIVE_SOFTMAX, language="markdown")
    open_document(client, uri, NAIVE_SOFTMAX)
    await published(client, uri, 1)
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
    deadline = time.monotonic() + TIMEOUT
    while len([p for p in client.published if p.uri == uri]) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert list([p for p in client.published if p.uri == uri][-1].diagnostics) == []
    assert all(p.uri != notes for p in client.published)


# --- the command ---------------------------------------------------------------------------------


def test_server_without_pygls_says_how_to_install_it(monkeypatch):
    real = cli.importlib.util.find_spec
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: None if name == "pygls" else real(name))
    result = CliRunner().invoke(cli.main, ["server"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "nanlint: error: nanlint server needs pygls: pip install 'nanlint[server]'\n"
