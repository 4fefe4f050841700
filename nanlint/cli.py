"""Command line: `nanlint check`, `nanlint graph`, `nanlint rule`.

Exit codes (contract): 0 nothing at or above --fail-on, 1 findings at or above it,
2 usage error, a path that does not exist, or internal error. A file that cannot be parsed
is a finding (NAN900), governed like any other by --ignore, --fail-on and --exit-zero.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import os
import signal
import sys
import threading
from pathlib import Path

import click

from nanlint import __version__, catalog, options
from nanlint.config import ConfigError, Configuration, Settings
from nanlint.findings import Finding, Severity
from nanlint.report import CHECK_FORMATS, GRAPH_FORMATS, ReportOptions, Run, renderer

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class UsageFailure(click.ClickException):
    """A one-line error that exits 2."""

    exit_code = EXIT_ERROR

    def show(self, file=None) -> None:
        click.echo(f"nanlint: error: {self.format_message()}", err=True)


def _codes(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    try:
        return tuple(catalog.check_selector(c) for c in value.split(",") if c.strip())
    except catalog.CatalogError as exc:
        raise UsageFailure(str(exc)) from None


def shared_options(format_names: tuple[str, ...]):
    """Options that check and graph share, ruff-style (each command offers its own formats)."""
    return functools.partial(_shared_options, format_names=format_names)


def _shared_options(func, format_names: tuple[str, ...]):
    options = [
        click.option("--select", help="Codes or prefixes to enable (comma-separated), e.g. NAN1,NAN201."),
        click.option("--extend-select", help="Codes or prefixes to enable on top of the selection."),
        click.option("--ignore", help="Codes or prefixes to disable."),
        click.option(
            "--format",
            "output_format",
            type=click.Choice(format_names),
            default="text",
            show_default=True,
            help="Output format.",
        ),
        click.option("--output-format", "output_format", type=click.Choice(format_names), hidden=True),
        click.option(
            "--output-file",
            "-o",
            type=click.Path(dir_okay=False, writable=True),
            help="Write the report to this file instead of stdout.",
        ),
        click.option(
            "--fail-on",
            type=click.Choice(["error", "warning", "info"]),
            help="Lowest severity that makes the exit code 1 [default: warning].",
        ),
        click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings."),
        click.option("--statistics", is_flag=True, help="Count findings per code instead of listing them."),
        click.option("--quiet", "-q", is_flag=True, help="Print findings only, no summary."),
        click.option("--no-color", is_flag=True, help="Never colour the output."),
        click.option(
            "--config",
            "config_path",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Use this pyproject.toml or nanlint.toml instead of the nearest one.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def configuration(config_path: Path | None, select, extend_select, ignore, fail_on) -> Configuration:
    """Each file's settings: its nearest configuration file's (or --config's), command-line options on top."""
    overrides: dict = {}
    for key, value in (("select", select), ("extend_select", extend_select), ("ignore", ignore)):
        if value is not None:
            overrides[key] = _codes(value)
    if fail_on:
        overrides["fail_on"] = Severity.parse(fail_on)
    return Configuration(options.OPTIONS, explicit=config_path, overrides=overrides)


def settings_for(config: Configuration, path: Path) -> Settings:
    try:
        return config.for_path(path)
    except ConfigError as exc:
        raise UsageFailure(str(exc)) from None


def print_notices(config: Configuration) -> None:
    for notice in dict.fromkeys(config.notices):
        click.echo(f"nanlint: warning: {notice}", err=True)
    config.notices.clear()


def emit(run: Run, output_format: str, output_file: str | None, report_options: ReportOptions) -> None:
    rendered = renderer(output_format)(run, report_options)
    if output_file:
        try:
            Path(output_file).write_text(rendered, encoding="utf-8")
        except OSError as exc:
            raise UsageFailure(f"cannot write {output_file}: {exc.strerror or exc}") from None
        return
    try:
        click.echo(rendered, nl=False, color=report_options.color)
    except BrokenPipeError:
        # `nanlint check | head`: the reader left, which is not an error. Point stdout at devnull so
        # the interpreter's final flush does not fail again, and let the exit code stand.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def use_color(no_color: bool, output_format: str, output_file: str | None) -> bool:
    if no_color or output_file or output_format not in ("text", "full") or os.environ.get("NO_COLOR"):
        return False
    return bool(os.environ.get("FORCE_COLOR")) or sys.stdout.isatty()


def exit_code(findings: list[Finding], fail_on, exit_zero: bool, had_errors: bool) -> int:
    """`fail_on` maps a finding to the lowest severity that fails its file (each file has its settings)."""
    if had_errors:
        return EXIT_ERROR
    if exit_zero:
        return EXIT_OK
    return EXIT_FINDINGS if any(f.severity >= fail_on(f) for f in findings) else EXIT_OK


def guarded(func):
    """Turn any unexpected exception into a one-line error and exit 2: never a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except BrokenPipeError:  # output other than the report (e.g. a listing) to a reader that left
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_OK)
        except KeyboardInterrupt:
            raise UsageFailure("interrupted") from None
        except Exception as exc:
            if os.environ.get("NANLINT_DEBUG"):
                raise
            raise UsageFailure(
                f"internal error: {type(exc).__name__}: {exc} (set NANLINT_DEBUG=1 for details)"
            ) from None

    return wrapper


class OneLineErrors(click.Group):
    """Click's usage errors (bad option, missing file, ...) as one line on stderr and exit 2.

    Click would print the usage, a hint and the error on three lines; the contract is one line.
    """

    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            raise _one_line(exc) from None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _one_line(exc) from None


def _one_line(exc: click.UsageError) -> click.ClickException:
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        return exc  # bare `nanlint`: click prints the help, which is what a user wants there
    command = exc.ctx.command_path if exc.ctx is not None else "nanlint"
    message = " ".join(exc.format_message().split())
    return UsageFailure(f"{message} (see '{command} --help')")


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="nanlint")
def main() -> None:
    """nanlint: find where a neural network will produce NaN or Inf, before it runs."""
    exit_on_sigterm()


def exit_on_sigterm() -> None:
    """SIGTERM raises SystemExit, so a write in progress removes its temporary file on the way out."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@shared_options(CHECK_FORMATS)
@click.option("--fix", is_flag=True, help="Apply safe fixes, writing the files.")
@click.option("--unsafe-fixes", is_flag=True, help="Also apply (or offer) fixes that may change behaviour.")
@click.option("--diff", is_flag=True, help="Show the fixes as a diff instead of writing them.")
@click.option("--show-fixes", is_flag=True, help="List the fixes that were applied.")
@click.option("--add-noqa", is_flag=True, help="Add `# nanlint: ignore[...]` to every line with findings.")
@click.option(
    "--baseline",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Report only findings not recorded in this baseline file.",
)
@click.option(
    "--write-baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Record the current findings in this baseline file.",
)
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Worker processes [default: all cores].")
@click.option("--no-cache", is_flag=True, help="Do not read or write the result cache.")
@click.option("--force-exclude", is_flag=True, help="Apply exclude patterns to paths given explicitly too.")
@click.option("--stdin-filename", help="The name to report for source read from stdin ('-').")
@click.option("--show-settings", is_flag=True, help="Print the settings the first path is checked with, and exit.")
@click.option("--show-files", is_flag=True, help="List the files that would be checked, and exit.")
@guarded
def check(
    paths,
    select,
    extend_select,
    ignore,
    output_format,
    output_file,
    fail_on,
    exit_zero,
    statistics,
    quiet,
    no_color,
    config_path,
    fix,
    unsafe_fixes,
    diff,
    show_fixes,
    add_noqa,
    baseline,
    write_baseline,
    jobs,
    no_cache,
    force_exclude,
    stdin_filename,
    show_settings,
    show_files,
) -> None:
    """Lint Python sources and notebooks for NaN/Inf hazards."""
    from nanlint.source.discovery import display_path
    from nanlint.source.engine import CheckOptions, check_paths

    if sum((fix or diff, add_noqa, write_baseline is not None)) > 1:
        raise UsageFailure("--fix/--diff, --add-noqa and --write-baseline cannot be combined")
    paths = paths or (Path("."),)
    stdin_name = display_path(Path(stdin_filename)) if stdin_filename else None
    config = configuration(config_path, select, extend_select, ignore, fail_on)
    if show_settings:
        first = Path(stdin_name or "-") if paths[0] == Path("-") else paths[0]
        sys.exit(print_settings(config, first))
    if show_files:
        sys.exit(print_files(config, [p for p in paths if p != Path("-")], force_exclude))
    stdin_text = sys.stdin.read() if Path("-") in paths else None
    options = CheckOptions(
        jobs=jobs or os.cpu_count() or 1,
        use_cache=not no_cache,
        force_exclude=force_exclude,
        stdin_filename=stdin_name,
        stdin_text=stdin_text,
        fix=fix,
        diff=diff,
        unsafe_fixes=unsafe_fixes,
        add_noqa=add_noqa,
    )
    try:
        result = check_paths(list(paths), config, options)
    except ConfigError as exc:
        raise UsageFailure(str(exc)) from None
    print_notices(config)
    for message in result.errors:
        click.echo(f"nanlint: error: {message}", err=True)
    findings, hidden = apply_baseline(result.findings, baseline, write_baseline)
    report_options = ReportOptions(
        color=use_color(no_color, output_format, output_file),
        statistics=statistics,
        quiet=quiet,
        show_fixes=show_fixes,
        unsafe_fixes=unsafe_fixes,
        root=str(Path.cwd()),
    )
    run = Run(
        command="check",
        findings=findings,
        checked=result.checked,
        fixed=len(result.fixed),
        fixes_hidden=0
        if unsafe_fixes
        else sum(f.fix is not None and f.fix.applicability == "unsafe" for f in findings),
        errors=list(result.errors),
        hidden_by_baseline=hidden,
        sources={stdin_name or "-": stdin_text} if stdin_text is not None else {},
    )
    if diff:
        sys.exit(report_diff(run, result, exit_zero))
    if write_baseline is not None:
        sys.exit(EXIT_ERROR if result.errors else EXIT_OK)
    report_check(run, result, output_format, output_file, report_options)
    sys.exit(
        exit_code(
            run.findings, lambda f: settings_for(config, Path(f.location.path)).fail_on, exit_zero, bool(result.errors)
        )
    )


def print_settings(config: Configuration, path: Path) -> int:
    """`--show-settings`: the settings a path is checked with, as a nanlint.toml that would give them."""
    from nanlint.config import settings_toml

    settings = settings_for(config, path)
    print_notices(config)
    source = f"from {settings.source}" if settings.source else "no configuration file: the defaults"
    click.echo(f"# Settings for {path} ({source})\n{settings_toml(settings, options.OPTIONS)}", nl=False)
    return EXIT_OK


def print_files(config: Configuration, paths: list[Path], force_exclude: bool) -> int:
    """`--show-files`: the files a check would read, one per line, as they are reported."""
    from nanlint.source.discovery import discover

    try:
        files, errors = discover(paths, config, force_exclude)
    except ConfigError as exc:
        raise UsageFailure(str(exc)) from None
    print_notices(config)
    click.echo("".join(f"{name}\n" for name in sorted(f.display for f in files)), nl=False)
    for message in errors:
        click.echo(f"nanlint: error: {message}", err=True)
    return EXIT_ERROR if errors else EXIT_OK


def apply_baseline(
    findings: list[Finding], baseline: Path | None, write_baseline: Path | None
) -> tuple[list[Finding], int]:
    """The findings to report and how many the baseline hides. Paths in a baseline are relative to its directory."""
    from nanlint.source import baseline as baselines

    try:
        if write_baseline is not None:
            count = baselines.write(write_baseline, findings, write_baseline.resolve().parent)
            click.echo(f"Wrote {_plural(count, 'finding')} to the baseline {write_baseline}.", err=True)
            return [], 0
        if baseline is not None:
            fresh = baselines.new_findings(findings, baselines.load(baseline), baseline.resolve().parent)
            return fresh, len(findings) - len(fresh)
    except (baselines.BaselineError, OSError) as exc:
        raise UsageFailure(str(exc)) from None
    return findings, 0


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def report_check(run: Run, result, output_format: str, output_file: str | None, report_options: ReportOptions) -> None:
    """Print what a check run produced: the report, or the fixed source of stdin, or the suppressions added."""
    if result.fixed_stdin is not None:  # `--fix -`: the fixed source goes to stdout, findings to stderr
        click.echo(result.fixed_stdin, nl=False)
        click.echo(renderer("text")(run, dataclasses.replace(report_options, color=False)), err=True, nl=False)
    elif result.suppressions_added:
        click.echo(f"Added {_plural(result.suppressions_added, 'suppression')}.")
    else:
        emit(run, output_format, output_file, report_options)
    if report_options.show_fixes and result.fixed and result.fixed_stdin is None:
        click.echo(fixes_summary(result.fixed), nl=False)


def report_diff(run: Run, result, exit_zero: bool) -> int:
    """`--diff`, as ruff: the diff on stdout and what it would fix on stderr; exit 1 only when there is a diff."""
    if result.diffs:
        click.echo("".join(result.diffs), nl=False)
        click.echo(f"Would fix {_plural(len(result.fixed), 'finding')}.", err=True)
        code = EXIT_OK if exit_zero else EXIT_FINDINGS
    else:
        hidden = run.fixes_hidden
        more = f" ({hidden} fix{'es' if hidden != 1 else ''} available with `--unsafe-fixes`)" if hidden else ""
        click.echo(f"No errors would be fixed{more}.", err=True)
        code = EXIT_OK
    return EXIT_ERROR if result.errors else code


def fixes_summary(fixed: list[Finding]) -> str:
    by_file: dict[str, dict[str, int]] = {}
    for finding in fixed:
        counts = by_file.setdefault(finding.source_location.path, {})
        counts[finding.code] = counts.get(finding.code, 0) + 1
    lines = [f"Fixed {len(fixed)} finding{'s' if len(fixed) != 1 else ''}:"]
    for path, counts in sorted(by_file.items()):
        lines.append(f"- {path}:")
        lines.extend(f"    {n} \u00d7 {code} ({catalog.name_of(code)})" for code, n in sorted(counts.items()))
    return "".join(f"{line}\n" for line in lines)


@main.command()
@click.argument("models", nargs=-1, type=click.Path(path_type=Path))
@shared_options(GRAPH_FORMATS)
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="NAME|PROFILE.json",
    help="Execution-provider profile (repeatable), e.g. cuda-fp16, or a profile file of your own.",
)
@click.option("--list-targets", is_flag=True, help="List the built-in target profiles and exit.")
@click.option(
    "--input-range",
    "input_ranges",
    multiple=True,
    metavar="NAME=LO,HI",
    help="Value range of a model input (repeatable; '*=LO,HI' for every other input) [default: -1,1].",
)
@click.option(
    "--input-shape",
    "input_shapes",
    multiple=True,
    metavar="NAME=D0,D1,...",
    help="Concrete shape for a model input with symbolic dimensions (repeatable).",
)
@click.option(
    "--samples",
    type=click.IntRange(min=0),
    help="Inputs drawn from the declared ranges and run with onnxruntime (0: static only) [default: 16].",
)
@click.option(
    "--inputs",
    "inputs_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Calibration data: an .npz with one array per input, first axis = samples.",
)
@click.option("--provider", help="onnxruntime execution provider for sampling [default: CPUExecutionProvider].")
@click.option(
    "--search/--no-search",
    default=None,
    help="Search for a concrete input that triggers each static hazard not seen in samples.",
)
@click.option("--budget", type=click.FloatRange(min=0), help="Seconds for the witness search per target [default: 10].")
@click.option("--witness-dir", type=click.Path(file_okay=False), help="Save witness inputs here as .npz.")
@click.option(
    "--headroom",
    type=click.FloatRange(min=1),
    help="NAN602 when observed max |x| is within this factor of the dtype's max [default: 4].",
)
@click.option("--emit-block-list", type=click.Path(dir_okay=False), help="Write the nodes to keep in fp32 (JSON).")
@click.option("--write-mixed", type=click.Path(dir_okay=False), help="Write a mixed-precision model for the target.")
@click.option(
    "--source-root",
    type=click.Path(exists=True, file_okay=False),
    help="Where the Python files the exporter recorded are (found by the longest tail of their path).",
)
@guarded
def graph(
    models,
    select,
    extend_select,
    ignore,
    output_format,
    output_file,
    fail_on,
    exit_zero,
    statistics,
    quiet,
    no_color,
    config_path,
    targets,
    list_targets,
    input_ranges,
    input_shapes,
    samples,
    inputs_file,
    provider,
    search,
    budget,
    witness_dir,
    headroom,
    emit_block_list,
    write_mixed,
    source_root,
) -> None:
    """Analyse ONNX models for overflow and domain hazards on a target precision."""
    require_graph_extra()
    from nanlint.graph.driver import GraphOptions, analyze_models, list_target_names

    if list_targets:
        click.echo(describe_targets(list_target_names()), nl=False)
        return
    if not models:
        raise UsageFailure("no model given (usage: nanlint graph MODEL.onnx ...)")
    config = configuration(config_path, select, extend_select, ignore, fail_on)
    settings = settings_for(config, models[0] if models[0].exists() else Path.cwd())
    print_notices(config)
    try:
        options = GraphOptions.from_cli(
            settings.graph,
            targets,
            input_ranges,
            input_shapes,
            samples=samples,
            inputs=inputs_file,
            provider=provider,
            search=search,
            budget=budget,
            witness_dir=witness_dir,
            headroom=headroom,
            block_list=emit_block_list,
            write_mixed=write_mixed,
            source_root=source_root,
            progress=None if quiet else progress_bars(),
        )
    except ValueError as exc:
        raise UsageFailure(str(exc)) from None
    results, errors = analyze_models([str(m) for m in models], settings, options)
    findings = [f for r in results for f in r.findings]
    run = Run(command="graph", findings=findings, checked=len(results), graphs=results, errors=list(errors))
    report_options = ReportOptions(
        color=use_color(no_color, output_format, output_file), statistics=statistics, quiet=quiet, root=str(Path.cwd())
    )
    for message in errors:
        click.echo(f"nanlint: error: {message}", err=True)
    emit(run, output_format, output_file, report_options)
    for result in results:
        if str(result.summary.get("sampling", "")).startswith("skipped"):
            click.echo(f"nanlint: warning: {result.model}: sampling {result.summary['sampling']}", err=True)
        elif result.summary.get("sampling"):
            click.echo(f"nanlint: note: {result.model}: sampled {result.summary['sampling']}", err=True)
        if "mixed" in result.summary and (not quiet or mixed_failed([result])):
            click.echo(describe_mixed(write_mixed, result.summary["mixed"]), err=True)
    code = exit_code(findings, lambda finding: settings.fail_on, exit_zero, bool(errors))
    sys.exit(max(code, EXIT_FINDINGS) if mixed_failed(results) else code)


GRAPH_MODULES = ("onnx", "onnxruntime", "numpy")


def require_graph_extra() -> None:
    """`nanlint graph` needs the graph extra; without it, one line that says how to install it."""
    missing = [name for name in GRAPH_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageFailure(
            f"nanlint graph needs {', '.join(missing)}: pip install 'nanlint[graph]' "
            "(or 'nanlint[graph-gpu]' for onnxruntime-gpu)"
        )


def progress_bars():
    """click progress bars on a terminal (stderr), nothing in CI or when piped."""
    if not sys.stderr.isatty() or os.environ.get("CI"):
        return None

    def bar(label: str, length: int):
        return click.progressbar(length=length, label=label, file=sys.stderr)

    return bar


def describe_mixed(path: str, written: dict) -> str:
    """What --write-mixed wrote and how the written model ran (mixed.summary)."""
    lines = [
        f"Wrote {path} for {written['target']}: {written['nodes_in_fp32']} of {written['float_nodes']} nodes kept in "
        f"fp32, {written['fp16_tensors']} fp16 tensors; inputs and outputs as in the original model."
    ]
    if written["not_run"]:
        lines.append(f"nanlint: warning: the mixed model was not run: {written['not_run']}")
        return "\n".join(lines)
    again = (
        f" (conversion {written['rounds']}: what broke in the previous one is kept in fp32)"
        if written["rounds"] > 1
        else ""
    )
    ran = f"Ran it{again}, each float16 value stored as float16, on {' and '.join(written['checked'])}"
    if written["nonfinite_outputs"]:
        lines.append(f"{ran}.")
        lines.append(
            "nanlint: error: the mixed model gives NaN/Inf where the fp32 model is finite: "
            + "; ".join(written["nonfinite_outputs"])
            + _overflow_note(written["overflowing"])
        )
        return "\n".join(lines)
    lines.append(
        f"{ran}: outputs finite, max relative error {written['max_relative_error']:.2g} against the fp32 model"
        + (_overflow_note(written["overflowing"]) or ".")
    )
    return "\n".join(lines)


def _overflow_note(overflowing: list[str]) -> str:
    if not overflowing:
        return ""
    shown = ", ".join(overflowing[:5]) + (f" and {len(overflowing) - 5} more" if len(overflowing) > 5 else "")
    return f"; fp16 tensors still overflowing there: {shown}."


def mixed_failed(results) -> bool:
    """A written mixed model whose outputs are NaN/Inf where fp32's are finite (exit 1)."""
    return any(r.summary.get("mixed", {}).get("nonfinite_outputs") for r in results)


def describe_targets(names: list[str]) -> str:
    """One line per built-in target: its name and what it models."""
    from nanlint.graph.targets import load_profile

    profiles = [load_profile(name) for name in names]
    width = max(len(p.name) for p in profiles)
    return "".join(f"{p.name:<{width}}  {p.description}\n" for p in profiles)


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Use this pyproject.toml or nanlint.toml instead of the nearest one.",
)
@guarded
def clean(config_path: Path | None) -> None:
    """Remove the result cache of the current project."""
    from nanlint.source.cache import clean as remove_cache

    settings = settings_for(configuration(config_path, None, None, None, None), Path.cwd())
    folder = settings.root / settings.cache_dir
    shown = os.path.relpath(folder) if folder.is_relative_to(Path.cwd()) else str(folder)
    click.echo(f"Removed {shown}." if remove_cache(folder) else f"No cache at {shown}.")


@main.command()
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="List every rule: code, name, summary, status.")
@guarded
def rule(code: str | None, show_all: bool) -> None:
    """Print a rule's page, or list all rules."""
    if show_all or not code:
        pages = catalog.load().values()
        width = max(len(p.name) for p in pages)
        for page in pages:
            click.echo(f"{page.code}  {page.name:<{width}}  {page.status:<11}  {page.summary}")
        return
    try:
        page = catalog.get(code)
    except catalog.CatalogError as exc:
        raise UsageFailure(str(exc)) from None
    click.echo(page.text, nl=not page.text.endswith("\n"))


@main.command()
@click.option("--stdio", is_flag=True, hidden=True, help="Speak LSP on stdin/stdout (the default; editors pass it).")
@guarded
def server(stdio: bool) -> None:
    """Run the language server for editors (LSP on stdin/stdout)."""
    if importlib.util.find_spec("pygls") is None:
        raise UsageFailure("nanlint server needs pygls: pip install 'nanlint[server]'")
    from nanlint.server import serve

    serve()
