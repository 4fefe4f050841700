"""Where a graph node came from: the Python line and module path its exporter recorded.

What exporters record, and where:
- torch's dynamo exporter (`torch.onnx.export(..., dynamo=True)`, the default since torch 2.9),
  in each node's metadata_props: `pkg.torch.onnx.stack_trace` (a Python traceback, outermost
  frame first: `File "model.py", line 12, in forward`), `pkg.torch.onnx.name_scopes` (the module
  path as a list, `['', 'encoder', 'encoder.layer.0', 'softmax']`), `namespace`
  (`: Net/encoder: Encoder/encoder.layer.0: Layer/softmax: aten.softmax.int`) and
  `pkg.torch.onnx.class_hierarchy` (the module classes along the same path).
- torch's TorchScript exporter (`dynamo=False`): the module path in the node name
  (`/encoder/layer.0/attention/Softmax`), and with `verbose=True` the stack in the node's
  doc_string, innermost frame first (`model.py(12): forward`).
- tf2onnx / keras2onnx: the TensorFlow name scope in the node name (`model/dense_1/MatMul`,
  under `StatefulPartitionedCall/` wrappers).

Of a stack, the frame shown is the user's own: the innermost frame under `--source-root` when
one is given; else the innermost frame outside the library whose code ran the op (torch's
`linear.py` is skipped for the `self.fc(x)` line that called it, and a model library such as
transformers counts as the user's code when the op is torch's).
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath

from nanlint.findings import Finding, GraphLocation, PythonSource

STACK_TRACE = "pkg.torch.onnx.stack_trace"
NAME_SCOPES = "pkg.torch.onnx.name_scopes"
NAMESPACE = "namespace"
# `File "path", line N, in func` (Python tracebacks) and `path(N): func` (TorchScript source ranges).
_TRACEBACK_FRAME = re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+)')
_SOURCE_RANGE_FRAME = re.compile(r"^(?P<path>.+?)\((?P<line>\d+)\): \S+$", re.MULTILINE)
_INSTALLED = re.compile(r"[/\\](?:site|dist)-packages[/\\](?P<package>[^/\\]+)")
_STDLIB = re.compile(r"[/\\](?:lib[/\\]python\d[\d.]*|Lib)[/\\](?!site-packages|dist-packages)")
_TF_WRAPPER = re.compile(r"^(?:Stateful)?PartitionedCall(?:_\d+)?$")


@dataclass(frozen=True)
class Frame:
    path: str
    line: int

    @property
    def package(self) -> str | None:
        """The installed package the file belongs to ('torch', 'transformers'), 'stdlib', or None."""
        installed = _INSTALLED.search(self.path)
        if installed:
            return installed.group("package").split(".")[0]
        if _STDLIB.search(self.path) or self.path.startswith("<"):
            return "stdlib"
        return None


# --- reading what the exporter recorded ------------------------------------------------------------


def recorded_frames(node) -> list[Frame]:
    """The stack the exporter recorded for `node`, innermost frame first ([] when none)."""
    metadata = {p.key: p.value for p in node.metadata_props}
    trace = metadata.get(STACK_TRACE)
    if trace:
        frames = [Frame(m["path"], int(m["line"])) for m in _TRACEBACK_FRAME.finditer(trace)]
        return frames[::-1]  # tracebacks list the outermost frame first
    if node.doc_string:
        return [Frame(m["path"].strip(), int(m["line"])) for m in _SOURCE_RANGE_FRAME.finditer(node.doc_string)]
    return []


def module_path(node, producer: str = "") -> str | None:
    """The module path inside the model (`encoder.layer.0.attention`), None for the top level or unknown."""
    metadata = {p.key: p.value for p in node.metadata_props}
    scopes = _name_scopes(metadata)
    if scopes is not None:
        return _module_of(scopes[:-1])  # the last scope is the op itself
    if producer == "pytorch" and node.name.startswith("/"):
        return _module_of(_torchscript_scopes(node.name.split("/")[1:-1]))
    if producer in ("tf2onnx", "keras2onnx") and "/" in node.name:
        parts = [p for p in node.name.split("/")[:-1] if p and not _TF_WRAPPER.match(p)]
        return "/".join(parts) or None
    return None


def _name_scopes(metadata: dict[str, str]) -> list[str] | None:
    if NAME_SCOPES in metadata:
        try:
            scopes = ast.literal_eval(metadata[NAME_SCOPES])
        except (ValueError, SyntaxError):
            scopes = None
        if isinstance(scopes, list) and all(isinstance(s, str) for s in scopes):
            return scopes
    if NAMESPACE in metadata:  # 'scope: Class/scope: Class/...'
        return [segment.split(": ", 1)[0] for segment in metadata[NAMESPACE].split("/")]
    return None


def _torchscript_scopes(segments: list[str]) -> list[str]:
    """TorchScript names nest attribute names (`/layers.0/norm/`) or full paths (`/block/block.0/`)."""
    paths: list[str] = []
    for segment in segments:
        parent = paths[-1] if paths else ""
        paths.append(segment if not parent or segment.startswith(parent + ".") else f"{parent}.{segment}")
    return paths


def _module_of(scopes: list[str]) -> str | None:
    named = [s for s in scopes if s]
    return named[-1] if named else None


# --- which frame, and where that file is here ---------------------------------------------------


class SourceMap:
    """Recorded paths -> files here: as recorded when the file exists, else (with `root`) the longest
    tail of the recorded path that exists under `root`. Paths inside the working directory are shown
    relative to it."""

    def __init__(self, root: str | None = None, cwd: str | None = None):
        self.root = Path(root).resolve() if root else None
        self.cwd = Path(cwd or os.getcwd()).resolve()

    def choose(self, frames: list[Frame]) -> Frame | None:
        """The frame to show, of a stack listed innermost first."""
        if not frames:
            return None
        if self.root is not None:
            mapped = next((f for f in frames if self.under_root(f.path) is not None), None)
            if mapped is not None:
                return mapped
        innermost = frames[0].package
        if innermost is None:
            return frames[0]
        outside = next((f for f in frames if f.package not in (innermost, "stdlib")), None)
        return outside or frames[0]

    def display(self, path: str) -> str:
        """The path to print: relative to the working directory when the file is inside it."""
        local = self.under_root(path) if self.root is not None else None
        if local is None:
            local = self._existing(path)
        if local is None:
            return path
        try:
            return local.relative_to(self.cwd).as_posix()
        except ValueError:
            return str(local)

    def under_root(self, path: str) -> Path | None:
        return _under(self.root, path) if self.root is not None else None

    @staticmethod
    def _existing(path: str) -> Path | None:
        candidate = Path(path)
        return candidate.resolve() if candidate.is_file() else None


@lru_cache(maxsize=4096)
def _under(root: Path, path: str) -> Path | None:
    parts = _pure(path).parts
    anchor = 1 if _pure(path).anchor else 0
    for start in range(anchor, len(parts)):
        candidate = root.joinpath(*parts[start:])
        if candidate.is_file():
            return candidate.resolve()
    return None


def _pure(path: str) -> PurePath:
    return PureWindowsPath(path) if "\\" in path and "/" not in path else PurePosixPath(path)


# --- findings ------------------------------------------------------------------------------------


def node_source(node, sources: SourceMap, producer: str = "") -> PythonSource | None:
    frame = sources.choose(recorded_frames(node))
    module = module_path(node, producer)
    if frame is None and module is None:
        return None
    if frame is None:
        return PythonSource(None, None, module)
    return PythonSource(sources.display(frame.path), frame.line, module)


def with_sources(model, findings: Iterable[Finding], source_root: str | None = None) -> list[Finding]:
    """Each graph finding with the Python source of its node (or of its tensor's producer, or of the
    first node that reads it, for a constant), where the exporter recorded one."""
    sources = SourceMap(source_root)
    producer = model.proto.producer_name
    by_name = {node.name: node for node, _ in model.walk() if node.name}
    cache: dict[int, PythonSource | None] = {}
    result = []
    for finding in findings:
        loc = finding.location
        node = _node_of(loc, model, by_name) if isinstance(loc, GraphLocation) else None
        if node is None:
            result.append(finding)
            continue
        if id(node) not in cache:
            cache[id(node)] = node_source(node, sources, producer)
        source = cache[id(node)]
        located = replace(loc, source=source) if isinstance(loc, GraphLocation) and source else loc
        result.append(replace(finding, location=located))
    return result


def _node_of(loc: GraphLocation, model, by_name):
    if loc.node and loc.node in by_name:
        return by_name[loc.node]
    if loc.tensor:
        readers = model.consumers.get(loc.tensor) or [None]
        return model.producer.get(loc.tensor) or readers[0]
    return None


def local_file(source: PythonSource | None, root: str) -> str | None:
    """The source file relative to `root` (the repository), POSIX style, when it is a file inside it."""
    if source is None or source.path is None or source.line is None:
        return None
    path = Path(source.path)
    absolute = (path if path.is_absolute() else Path.cwd() / path).resolve()
    try:
        relative = absolute.relative_to(Path(root).resolve())
    except ValueError:
        return None
    return relative.as_posix() if absolute.is_file() else None
