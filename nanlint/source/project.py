"""The project index: what the other files of a run say, for value facts that cross module boundaries.

Built once per run (`Project.build`) over the files being checked, cheaply: every file's dotted module
path (for `from pkg.mod import helper`, `import pkg.mod as m`, relative imports), and the project's
precision evidence -- an entry point (a module with a `__main__` guard) that switches float16 on
(`model.half()`, `autocast(dtype=float16)`, `torch_dtype=torch.float16`, `fp16=True`, a `--fp16` flag,
`mixed_precision="fp16"`, keras' `mixed_float16` policy, a GradScaler). Only the few files that are
entry points and mention float16 are read by Python's own parser; nothing else is parsed up front.

A helper's return fact is computed on demand, when a rule asks about a call that resolves to a
module-level function of another checked file: that file is parsed in the asking process (once; a
few are kept) and the function is summarised with the caller's argument facts bound to its
parameters, exactly as the value analysis summarises a function of the file itself.

A library that merely offers a float16 option (`def __init__(self, use_amp=False)`) is not evidence:
only a program that sets it is, and it is evidence about the modules it imports, not a certainty
about each expression -- rules that use it say where it came from.

Each file's analysis records what of the project it read (`View.used`: a resolved import and the
digest of the file it found, the precision evidence); the result cache stores that with the findings
and recomputes an entry when any of it changed (engine._cached_analysis).
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import libcst as cst

PRECISION_KEY = "precision:float16"
_KEEP_PARSED = 32  # foreign modules kept parsed per process
# Words an entry point must contain before Python's parser looks for float16 evidence in it.
_HALF_WORDS = (b"float16", b"half", b"fp16", b"GradScaler", b"mixed_float16")
_HALF_KEYWORDS = frozenset({"fp16", "use_fp16", "fp16_run", "half_precision", "use_half", "half"})
_DTYPE_KEYWORDS = frozenset({"torch_dtype", "dtype", "compute_dtype"})
_PRECISION_KEYWORDS = frozenset({"mixed_precision", "precision", "amp_dtype"})
_HALF_STRINGS = frozenset({"fp16", "float16", "16", "16-mixed", "mixed_float16", "half"})


@dataclass
class Foreign:
    """Another file of the project, parsed for the summaries of its functions."""

    ctx: Any  # its rule.Context (names filled from its imports), whose `values` summarise its functions
    used: dict[str, str] = field(default_factory=dict)  # what of the project its summaries read


class Project:
    """The files of one run, by module path, with their precision evidence."""

    def __init__(self, paths: Iterable[Path], rule_options: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.paths = sorted({Path(p).resolve() for p in paths})
        self.rule_options = {code: dict(o) for code, o in (rule_options or {}).items()}
        self._by_suffix: dict[tuple[str, ...], list[Path]] = {}
        for path in self.paths:
            parts = _module_parts(path)
            for start in range(len(parts)):
                self._by_suffix.setdefault(tuple(parts[start:]), []).append(path)
        self.known = set(self.paths)
        self.programs = _half_programs(self.paths)  # entry points that switch float16 on -> "path:line: what"
        self._reached: dict[Path, str] | None = None
        self._digests: dict[Path, str] = {}
        self._foreign: OrderedDict[Path, Foreign | None] = OrderedDict()
        self._constants: dict[tuple[Path, str], float | None] = {}
        self._edges: dict[Path, set[Path]] = {}  # a file -> the checked files it imports
        self._near: dict[tuple[str, Path, int], Path | None] = {}

    def __getstate__(self) -> dict:  # to a worker: without the parsed modules
        state = dict(self.__dict__)
        state["_foreign"] = OrderedDict()
        return state

    # --- module paths ----------------------------------------------------------------------

    def digest(self, path: Path | None) -> str:
        """The content hash of a checked file ("" for none, "?" for one that cannot be read)."""
        if path is None:
            return ""
        if path not in self._digests:
            try:
                self._digests[path] = hashlib.sha256(path.read_bytes()).hexdigest()[:24]
            except OSError:
                self._digests[path] = "?"
        return self._digests[path]

    def module_file(self, module: str, importer: Path, level: int = 0) -> Path | None:
        """The checked file a module name means from `importer` (relative when level > 0), or None."""
        parts = tuple(p for p in module.split(".") if p)
        if level > 0:
            base = importer.parent
            for _ in range(level - 1):
                base = base.parent
            for candidate in (base.joinpath(*parts).with_suffix(".py"), base.joinpath(*parts, "__init__.py")):
                if parts and candidate in self.known:
                    return candidate
            return base / "__init__.py" if not parts and base / "__init__.py" in self.known else None
        found = self._by_suffix.get(parts)
        if not found:
            return None
        if len(found) == 1:
            return found[0]
        # Several files end so (`utils.py` in two packages): the one nearest the importer, if only one is.
        nearest = max(_shared(importer, f) for f in found)
        closest = [f for f in found if _shared(importer, f) == nearest]
        return closest[0] if len(closest) == 1 else None

    def function_of(self, target: str, importer: Path, level: int = 0):
        """((Foreign, Function) or None, the checked file the name leads to or None) for `pkg.mod.helper`: the
        pair when it is a module-level function of another checked file (then parsed, once per process)."""
        parts = target.split(".")
        for cut in range(len(parts) - 1, 0 if level == 0 else -1, -1):
            path = self.module_file(".".join(parts[:cut]), importer, level)
            if path is None or path == importer:
                continue
            if cut != len(parts) - 1:
                return None, path  # a module's attribute of an attribute (a class's method): not summarised
            foreign = self._parsed(path)
            function = _module_function(foreign.ctx, parts[-1]) if foreign is not None else None
            return (foreign, function) if function is not None else None, path
        return None, None

    def constant_of(self, path: Path, name: str) -> float | None:
        """The value of `NAME = <constant expression>` at the top level of a checked file (read from its text)."""
        key = (path, name)
        if key not in self._constants:
            self._constants[key] = _module_constant(path, name)
        return self._constants[key]

    # --- foreign modules -----------------------------------------------------------------

    def _parsed(self, path: Path) -> Foreign | None:
        if path in self._foreign:
            self._foreign.move_to_end(path)
            return self._foreign[path]
        foreign = _parse_foreign(self, path)
        self._foreign[path] = foreign
        if len(self._foreign) > _KEEP_PARSED:
            self._foreign.popitem(last=False)
        return foreign

    # --- precision ---------------------------------------------------------------------------------

    def half_evidence(self, path: Path) -> str | None:
        """The program that runs this file in float16: an entry point that switches float16 on and imports it,
        directly or through other checked files."""
        if self._reached is None:
            self._reached = {}
            for program, evidence in self.programs.items():
                for reached in self._imported_from(program):
                    self._reached.setdefault(reached, evidence)
        return self._reached.get(path)

    def _imported_from(self, start: Path) -> set[Path]:
        """The checked files a file imports, transitively (read from the import statements' text)."""
        seen, todo = {start}, [start]
        while todo:
            for found in self._imports_of(todo.pop()):
                if found not in seen:
                    seen.add(found)
                    todo.append(found)
        return seen - {start}

    def _imports_of(self, path: Path) -> set[Path]:
        """The checked files one file imports directly (computed once: every program's closure shares them)."""
        if path not in self._edges:
            edges: set[Path] = set()
            for level, module, names in _imports(path):
                for name in names or ("",):
                    found = self._module_file_near(
                        f"{module}.{name}" if module and name else module or name, path, level
                    )
                    found = found or self._module_file_near(module, path, level)
                    if found is not None:
                        edges.add(found)
            self._edges[path] = edges
        return self._edges[path]

    def _module_file_near(self, module: str, importer: Path, level: int) -> Path | None:
        """module_file, remembered per importing folder: the files of one package import the same names."""
        key = (module, importer.parent, level)
        if key not in self._near:
            self._near[key] = self.module_file(module, importer, level)
        return self._near[key]

    # --- the cache ---------------------------------------------------------------------------

    def stale(self, used: Mapping[str, str], importer: Path) -> bool:
        """Has anything a cached analysis read of the project changed since?"""
        return any(self.lookup(key, importer) != value for key, value in used.items())

    def lookup(self, key: str, importer: Path) -> str:
        """The current value of a recorded dependency: `import|<importer>|<level>|<module>` -> the digest of
        the file it resolves to ("" for none); `file|<path>` -> its digest; the precision evidence."""
        if key == PRECISION_KEY:
            return self.half_evidence(importer) or ""
        kind, _, rest = key.partition("|")
        if kind == "file":
            path = Path(rest)
            return self.digest(path) if path in self.known else ""
        if kind == "import":
            where, level, module = rest.split("|", 2)
            return self.digest(self.module_file(module, Path(where) if where else importer, int(level)))
        return "?"


class View:
    """The project as one file's analysis sees it: lookups relative to that file, recorded for the cache."""

    def __init__(self, project: Project, path: Path) -> None:
        self.project = project
        self.path = path.resolve()
        self.used: dict[str, str] = {}

    def half_evidence(self) -> str | None:
        """Where the project switches float16 on ("train.py:12: model.half()"), if it does."""
        evidence = self.project.half_evidence(self.path)
        self.used[PRECISION_KEY] = evidence or ""
        return evidence

    def resolves(self, call: cst.Call, names) -> bool:
        """Does the call name a module of the run (whatever the function), as far as imports tell?"""
        target = names.qualify(call.func)
        relative = names.relative_target(call.func) if target is None else None
        level, dotted_target = relative if relative is not None else (0, target)
        if dotted_target is None or ("." not in dotted_target and level == 0):
            return False
        module = dotted_target.rsplit(".", 1)[0] if "." in dotted_target else ""
        return self.project.module_file(module, self.path, level) is not None

    def constant(self, expr: cst.BaseExpression, names) -> float | None:
        """The number a module constant of another checked file holds (`from .consts import NEG_INF`): its
        last top-level assignment, when that is a constant expression of its own."""
        target = names.qualify(expr)
        relative = names.relative_target(expr) if target is None else None
        level, dotted_target = relative if relative is not None else (0, target)
        if dotted_target is None or "." not in dotted_target:
            return None
        module, name = dotted_target.rsplit(".", 1)
        if not _CONSTANT_NAME.match(name):
            return None  # classes and functions are imported far more often than constants: not looked for
        path = self.project.module_file(module, self.path, level)
        self.used[f"import|{self.path}|{level}|{module}"] = self.project.digest(path)
        if path is None or path == self.path:
            return None
        return self.project.constant_of(path, name)

    def call_fact(self, values, call: cst.Call, env):
        """The return fact of a call to another checked file's function, its arguments bound; None if unknown."""
        names = values.ctx.names
        level, target = 0, names.qualify(call.func)
        if target is None:
            relative = names.relative_target(call.func)
            if relative is None:
                return None
            level, target = relative
        found, path = self.project.function_of(target, self.path, level)
        if level > 0 or "." in target:  # the module the name says, even when it is not (yet) a checked file
            module = target.rsplit(".", 1)[0] if "." in target else ""
            self.used[f"import|{self.path}|{level}|{module}"] = self.project.digest(
                self.project.module_file(module, self.path, level)
            )
        if path is None:
            return None
        self.used[f"file|{path}"] = self.project.digest(path)
        if found is None:
            return None
        foreign, function = found
        fact = foreign.ctx.values.foreign_summary(function, values, call, env)
        self.used.update(foreign.used)
        return fact


def view_of(project: Project | None, path: Path | None) -> View | None:
    return View(project, path) if project is not None and path is not None else None


# --- building -----------------------------------------------------------------------------------


def _module_parts(path: Path) -> list[str]:
    """Directory names and the module's own name (`__init__` is its package)."""
    parts = list(path.parent.parts[1:]) if path.is_absolute() else list(path.parent.parts)
    if path.stem != "__init__":
        parts.append(path.stem)
    return parts


def _shared(a: Path, b: Path) -> int:
    count = 0
    for x, y in zip(a.parts, b.parts):
        if x != y:
            break
        count += 1
    return count


_CONSTANT_NAME = re.compile(r"_?[A-Z][A-Z0-9_]*$")


def _module_constant(path: Path, name: str) -> float | None:
    from nanlint.source.rule import Context

    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = re.findall(rf"^{re.escape(name)}[ \t]*(?::[^=\n]*)?=(?!=)[ \t]*([^\n#]+)", text, re.M)
    if not found:
        return None
    try:
        value = cst.parse_expression(found[-1].strip())
    except cst.ParserSyntaxError:
        return None
    ctx = Context(module=cst.Module(body=[]))
    return ctx.const(value)


def _module_function(ctx, name: str):
    """A module-level function of a parsed file (not a method, not a nested def)."""
    function = ctx.values.index.functions.get(name)
    if function is None or function.owner is not None or function.yields:
        return None
    return function if any(statement is function.node for statement in ctx.module.body) else None


def _parse_foreign(project: Project, path: Path) -> Foreign | None:
    from nanlint.source.documents import DocumentError, read_document
    from nanlint.source.engine import parse
    from nanlint.source.rule import Context

    try:
        document = read_document(str(path), path.read_bytes())
        if document.cells is not None:
            return None
        module, _ = parse(document)
    except (OSError, DocumentError, RecursionError):
        return None
    ctx = Context(module=module, options={code: dict(o) for code, o in project.rule_options.items()})
    for statement in _top_level(module.body):
        for small in statement.body:
            if isinstance(small, cst.Import):
                ctx.names.add_import(small)
            elif isinstance(small, cst.ImportFrom):
                ctx.names.add_import_from(small)
    foreign = Foreign(ctx)
    view = View(project, path)
    view.used = foreign.used
    ctx.project = view
    return foreign


def _top_level(body) -> Iterable[cst.SimpleStatementLine]:
    """The simple statements of a module, also those inside top-level if/try blocks (guarded imports)."""
    for statement in body:
        if isinstance(statement, cst.SimpleStatementLine):
            yield statement
        elif isinstance(statement, (cst.If, cst.Try)):
            yield from _top_level(statement.body.body)


# --- precision evidence -----------------------------------------------------------------------------


def _half_programs(paths: list[Path]) -> dict[Path, str]:
    """The entry points that switch float16 on, each with its first evidence: "path:line: what". Tests are not
    programs here: a test that runs in float16 checks that float16 works, it does not train in it."""
    found: dict[Path, str] = {}
    for path in paths:
        if _TEST_FILE.search(path.name) or "tests" in path.parts:
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if b"__main__" not in data or not any(word in data for word in _HALF_WORDS) or _TEST_IMPORT.search(data):
            continue
        try:
            tree = ast.parse(data)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        evidence = _half_in(tree)
        if evidence is not None:
            found[path] = f"{_shown(path, paths)}:{evidence[0]}: {evidence[1]}"
    return found


_TEST_FILE = re.compile(r"^test_|_test\.py$|^conftest\.py$")
_TEST_IMPORT = re.compile(rb"^\s*(?:import|from)\s+(?:pytest|unittest|absl\.testing|absl import testing)\b", re.M)
_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]+)|import[ \t]+([^\n#;]+))", re.M
)


def _imports(path: Path) -> list[tuple[int, str, tuple[str, ...]]]:
    """(level, module, imported names) of a file's import statements, read from its text."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found: list[tuple[int, str, tuple[str, ...]]] = []
    for dots, module, names, plain in _IMPORT.findall(text):
        if plain:
            for part in plain.split(","):
                found.append((0, part.split(" as ")[0].strip(), ()))
            continue
        listed = tuple(n.split(" as ")[0].strip() for n in names.strip("()").replace("\\", "").split(","))
        found.append((len(dots), module, tuple(n for n in listed if n.isidentifier())))
    return found


def _shown(path: Path, paths: list[Path]) -> str:
    """The path below the run's common folder (`scripts/train.py`)."""
    try:
        return path.relative_to(Path(os.path.commonpath(paths)) if len(paths) > 1 else path.parent).as_posix()
    except ValueError:
        return path.name


def _half_in(tree: ast.AST) -> tuple[int, str] | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            found = _half_call(node)
            if found is not None:
                return node.lineno, found
    return None


def _half_call(node: ast.Call) -> str | None:
    """What about this call sets float16 (a literal setting or a flag wired to it), or None."""
    name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
    if name == "half" and not node.args and not node.keywords and isinstance(node.func, ast.Attribute):
        return ".half()"
    if name == "GradScaler" and not any(k.arg == "enabled" and _false(k.value) for k in node.keywords):
        return "a GradScaler (float16 loss scaling)"
    if name == "add_argument" and any(_flag_word(a) in _HALF_KEYWORDS for a in node.args):
        return "a --fp16 flag"
    if name in ("set_global_policy", "Policy", "set_policy") and any(_text(a) == "mixed_float16" for a in node.args):
        return "the mixed_float16 policy"
    for keyword in node.keywords:
        value = keyword.value
        if keyword.arg in _HALF_KEYWORDS and not _false(value) and not isinstance(value, ast.Constant | ast.Name):
            return f"{keyword.arg}={ast.unparse(value)}"  # fp16=args.fp16: a flag wired to the call
        if keyword.arg in _HALF_KEYWORDS and isinstance(value, ast.Constant) and value.value is True:
            return f"{keyword.arg}=True"
        if keyword.arg in _DTYPE_KEYWORDS and _half_dtype(value):
            return f"{keyword.arg}={ast.unparse(value)}"
        if keyword.arg in _PRECISION_KEYWORDS and (_text(value) in _HALF_STRINGS or _half_dtype(value)):
            return f"{keyword.arg}={ast.unparse(value)}"
    return None


def _half_dtype(node: ast.expr) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr in ("float16", "half")
    return _text(node) == "float16"


def _text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int) and not isinstance(node.value, bool):
        return str(node.value)
    return None


def _flag_word(node: ast.expr) -> str:
    text = _text(node)
    return text.lstrip("-").replace("-", "_") if text and text.startswith("--") else ""


def _false(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value in (False, None, 0)


def rebased(fact, values, bound: Mapping[str, cst.BaseExpression]):
    """A summary's fact with the callee's parameter names in `bases` replaced by the caller's variables."""
    from nanlint.source.values.analysis import variables_of

    if not fact.bases & bound.keys():
        return fact
    bases = set(fact.bases - bound.keys())
    for name in fact.bases & bound.keys():
        bases |= variables_of(values.ctx, bound[name])
    return replace(fact, bases=frozenset(bases))
