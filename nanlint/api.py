"""nanlint as a library: check a source string or an ONNX model from Python (a test, a notebook, a script).

    import nanlint

    findings = nanlint.check_source("p = torch.softmax(x, -1)\\nloss = torch.log(p)\\n", path="train.py")
    result = nanlint.check_model("model.onnx", target="cuda-fp16", input_ranges={"pixels": (0, 1)})

Both return the same Finding objects the command line reports (nanlint.findings). Importing nanlint
costs neither pass: libcst is imported by the first check_source, onnx and numpy by the first
check_model (which needs the graph extra, `pip install 'nanlint[graph]'`).
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from nanlint.config import Settings
from nanlint.findings import Finding, GraphLocation

if TYPE_CHECKING:
    from nanlint.findings import GraphResult

GRAPH_MODULES = ("onnx", "onnxruntime", "numpy")
IN_MEMORY_MODEL = "<in-memory model>"  # how findings name a model that was passed as an object

Config = str | os.PathLike | Mapping[str, Any] | Settings | None
Codes = str | Iterable[str] | None


class CheckError(ValueError):
    """An input nanlint cannot analyse (an unreadable model, a range naming no input); one line."""


def check_source(
    text: str,
    path: str | os.PathLike | None = None,
    *,
    select: Codes = None,
    ignore: Codes = None,
    config: Config = None,
) -> list[Finding]:
    """The findings of one Python source (or notebook JSON, when `path` ends in .ipynb), sorted.

    `path` names the source in findings and decides what configuration applies: unless `config` is
    given, the configuration file nearest to it is read, as `nanlint check` does (no `path`: the
    defaults). `config` is a configuration file, a `[tool.nanlint]` table as a dict, or Settings.
    `select`/`ignore` replace the configured selection ("NAN1,NAN201" or a list of codes/prefixes).
    A source that does not parse is one NAN900 finding, as on the command line.
    """
    from nanlint.source.engine import lint_bytes

    shown = os.fspath(path) if path is not None else "<string>.py"
    settings = with_codes(resolve_config(config, path), select, ignore)
    return sorted(lint_bytes(shown, encode_source(text), settings), key=Finding.sort_key)


def check_model(
    model_or_path: Any,
    *,
    target: str | Iterable[str] | None = None,
    input_ranges: Mapping[str, tuple[float, float]] | None = None,
    input_shapes: Mapping[str, Iterable[int]] | None = None,
    samples: int | None = None,
    select: Codes = None,
    ignore: Codes = None,
    config: Config = None,
) -> GraphResult:
    """Analyse an ONNX model for the targets; the GraphResult's `findings` are what `nanlint graph` reports.

    `model_or_path` is a path, an onnx.ModelProto (e.g. `onnx.load(...)`, or what torch.onnx.export
    wrote to a BytesIO, parsed), the serialized bytes, or an exporter's result that carries a
    `model_proto` (torch.onnx.export(..., dynamo=True)). `target` is a built-in target name (see
    `nanlint graph --list-targets`), a profile file, or several; `input_ranges` maps input names to
    (lo, hi), `"*"` for every other input; `samples` is how many inputs onnxruntime runs (0: the
    static analysis alone). Unset arguments come from the configuration, as for check_source.
    A file that is not a readable model is one NAN900 finding, as on the command line. Raises CheckError
    for a missing path or bad options, ImportError without the graph extra.
    """
    require_graph_extra("check_model")
    from nanlint.graph.driver import DEFAULT_RANGE, GraphOptions, analyze_models, load_profiles, runtime_options

    path = model_or_path if isinstance(model_or_path, (str, os.PathLike)) else None
    settings = with_codes(resolve_config(config, path), select, ignore)
    graph = settings.graph
    targets = (target,) if isinstance(target, str) else tuple(target or graph.targets or ("cpu",))
    ranges = {**graph.input_ranges, **{name: checked_range(name, r) for name, r in (input_ranges or {}).items()}}
    shapes = {
        **graph.input_shapes,
        **{name: tuple(int(d) for d in dims) for name, dims in (input_shapes or {}).items()},
    }
    default = ranges.pop("*", DEFAULT_RANGE)  # "*": every input not named
    names = tuple(dict.fromkeys(targets))
    try:
        options = GraphOptions(
            names,
            ranges,
            shapes,
            profiles=load_profiles(names),
            runtime=runtime_options(graph, samples=samples),
            default_range=default,
        )
    except ValueError as exc:
        raise CheckError(str(exc)) from None
    if path is not None:
        results, errors = analyze_models([os.fspath(path)], settings, options)
    else:
        results, errors = _analyze_in_memory(model_or_path, settings, options, analyze_models)
    if errors:  # the driver speaks of the command line's option
        raise CheckError("; ".join(errors).replace("--input-range names", "input_ranges names"))
    return results[0]


def _analyze_in_memory(model: Any, settings: Settings, options, analyze_models) -> tuple[list, list[str]]:
    """A model object is written to a private temporary file and analysed there; findings name it
    IN_MEMORY_MODEL (the loader's safety checks and memory mapping all work on files)."""
    data = serialized(model)
    with tempfile.TemporaryDirectory(prefix="nanlint-") as folder:
        file = os.path.join(folder, "model.onnx")
        with open(file, "wb") as handle:
            handle.write(data)
        results, errors = analyze_models([file], settings, options)
    errors = [e.replace(file, IN_MEMORY_MODEL) for e in errors]
    return [renamed(result, file, IN_MEMORY_MODEL) for result in results], errors


def serialized(model: Any) -> bytes:
    """The bytes of a model object: a ModelProto, bytes, or an object with a `model_proto` (ONNXProgram)."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    proto = getattr(model, "model_proto", model)
    if not hasattr(proto, "SerializeToString"):
        raise TypeError(
            f"check_model takes a path, an onnx.ModelProto, its bytes or an ONNXProgram, not {type(model).__name__}"
        )
    try:
        return proto.SerializeToString()
    except ValueError as exc:  # protobuf refuses messages above 2 GiB
        raise CheckError(f"cannot serialize the model ({exc}): save it with external data and pass the path") from None


def renamed(result: GraphResult, old: str, new: str) -> GraphResult:
    findings = [replace(f, location=replace(cast(GraphLocation, f.location), model=new)) for f in result.findings]
    return replace(result, model=new, findings=findings)


def require_graph_extra(what: str) -> None:
    missing = [name for name in GRAPH_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"nanlint.{what} needs {', '.join(missing)}: pip install 'nanlint[graph]' "
            "(or 'nanlint[graph-gpu]' for onnxruntime-gpu)"
        )


# --- settings ------------------------------------------------------------------------------------


def resolve_config(config: Config, path: str | os.PathLike | None) -> Settings:
    """Settings from `config` (a file, a table, Settings), else from the file nearest to `path`, else defaults."""
    from nanlint import options
    from nanlint.config import ConfigError, load_settings, parse_table

    if isinstance(config, Settings):
        return config
    try:
        if isinstance(config, Mapping):
            return parse_table(config, Path.cwd() / "<config>", options.schema())
        if config is not None:
            return load_settings(Path(config), Path.cwd(), options.schema())
        if path is None:
            return Settings()
        return load_settings(None, Path(path), options.schema())  # upward from the path, which need not exist
    except ConfigError as exc:
        raise CheckError(str(exc)) from None


def with_codes(settings: Settings, select: Codes, ignore: Codes) -> Settings:
    """`select`/`ignore` replace the configured ones, as on the command line (ValueError for a typo)."""
    from nanlint.catalog import check_selector

    changes: dict[str, Any] = {}
    for name, codes in (("select", select), ("ignore", ignore)):
        if codes is not None:
            listed = codes.split(",") if isinstance(codes, str) else list(codes)
            changes[name] = tuple(check_selector(code) for code in listed if code.strip())
    return replace(settings, **changes) if changes else settings


def checked_range(name: str, bounds: tuple[float, float]) -> tuple[float, float]:
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise CheckError(f"input_ranges[{name!r}] must be a pair (lo, hi) of numbers, not {bounds!r}") from None
    if lo != lo or hi != hi or lo > hi:
        raise CheckError(f"input_ranges[{name!r}] = {bounds!r}: expected lo <= hi, neither NaN")
    return lo, hi


def encode_source(text: str) -> bytes:
    """The text as the bytes a file would hold: in the encoding its coding cookie declares (UTF-8 by default)."""
    import io
    import tokenize

    data = text.encode("utf-8", errors="surrogatepass")
    try:
        encoding = tokenize.detect_encoding(io.BytesIO(data).readline)[0]
    except SyntaxError:
        return data
    if encoding in ("utf-8", "utf-8-sig"):
        return data
    try:
        return text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return data
