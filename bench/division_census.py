"""Census of divisions: what nanlint's value analysis knows about every denominator, and what NAN105 decides.

    python3 bench/division_census.py --out /tmp/census.jsonl            # dev + M + H bug lines, and /tmp/clean
    python3 bench/division_census.py --sets dev M --table                # a subset, then the summary table
    python3 bench/division_census.py --load /tmp/census.jsonl --table    # the table of a saved census
    python3 bench/division_census.py --load /tmp/census.jsonl --candidates   # broadenings: bug cases vs clean rows

Every division (`/`, `/=`, divide/div/true_divide, reciprocal, rsqrt) is one row: where it is, the
denominator's shape in the source (a parameter, an attribute, a call of an op or of an unsummarised
function, a difference, ...), its Fact (can it be 0, why, how strong the evidence, guarded, a Python
scalar), what guards the rule sees around it (a test of the denominator, a where(), math.*), and the
verdict: "fires" or the first reason NAN105 stays quiet. Bug rows are the divisions within the score's
2-line window of a labelled line of a DIV case (the dev set, bench/mined_bugs cases.tsv and holdout.tsv
-- never holdout2/holdout3); clean rows are every division of the repositories of
bench/quiet_on_clean_code.py. A broadening of NAN105 is then a predicate over rows: bug rows it gains
against clean rows it adds (`--table` prints the counts by denominator class and verdict, `--candidates` the
broadenings weighed so far). The clean part takes ~10 minutes on 2 cores; the bug sets a minute or two.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import libcst as cst

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import count_lines
from bench.quiet_on_clean_code import REPOSITORIES
from nanlint.config import Settings
from nanlint.source.documents import Document, DocumentError
from nanlint.source.engine import parse, run_rules
from nanlint.source.project import Project, view_of
from nanlint.source.rules import divisions
from nanlint.source.rules.divisions import UnguardedDivision, normalises, zero_denominator
from nanlint.source.values import variables_of

HERE = Path(__file__).resolve().parent
BUG_SETS = {  # name -> (cases.tsv, built cases folder)
    "dev": (Path("/work/shared/realworld/source/cases.tsv"), Path("/tmp/nanlint-realworld/bugcases")),
    "M": (HERE / "mined_bugs/cases.tsv", Path("/tmp/mined/bugcases")),
    "H": (HERE / "mined_bugs/holdout.tsv", Path("/tmp/mined-holdout/bugcases")),
}
NEAR = 2  # the score's window around a labelled line


class Census(UnguardedDivision):
    """NAN105's visitor, recording every division instead of reporting some."""

    quiet_in_tests = False

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.rows: list[dict] = []
        ctx.shared[Census] = self  # where the run below finds its rows

    def visit_Call(self, node: cst.Call) -> None:
        found = self.ctx.call(node)
        if found is not None and found.op == "rsqrt" and found.args:
            self._check(node, None, found.args[0], enclose=False, op="rsqrt")
            return
        super().visit_Call(node)

    def _check(self, division, numerator, denominator, enclose, op="/") -> None:
        if isinstance(division, cst.Call):
            op = op if op == "rsqrt" else self.ctx.op(division) or "div"
        elif isinstance(division, cst.BinaryOperation):
            op = "/"
        else:
            op = "/="
        self.rows.append(self._row(division, numerator, denominator, op))

    def _row(self, division, numerator, denominator, op: str) -> dict:
        ctx = self.ctx
        fact = ctx.values.of(denominator)
        zero = fact.zero
        top = ctx.values.of(numerator) if numerator is not None else None
        return {
            "node": division,
            "op": op,
            "denominator": _text(ctx, denominator),
            "shape": shape(ctx, denominator),
            "kind": fact.kind,
            "zero_kind": zero.kind if zero is not None else "",
            "zero_level": zero.level if zero is not None else -1,
            "nonzero": fact.nonzero,
            "scalar": fact.scalar,
            "integer": fact.integer,
            "numerator_scalar": bool(top and top.scalar),
            "normalises": bool(numerator is not None and normalises(ctx, numerator, fact)),
            "numerator": _text(ctx, numerator) if numerator is not None else "",
            "own_entry": bool(numerator is not None and own_entry(ctx, numerator, denominator)),
            "fraction_of_bound": bool(numerator is not None and fraction_of_bound(ctx, numerator, denominator)),
            "guards": self._guards(division, numerator, denominator),
            "testing": ctx.testing,  # NAN105 is quiet in test modules
            "verdict": self._verdict(division, numerator, denominator, op),
        }

    def _guards(self, division, numerator, denominator) -> list[str]:
        """Every guard the rule would see, whatever the fact (so that a broadening can be judged with them)."""
        found = []
        if self.around.in_scalar_call():
            found.append("math")
        if self.around.checked(denominator):
            found.append("tested")
        if self.around.in_select() is not None:
            found.append("where")
        if numerator is not None and self.around.checked(numerator):
            found.append("numerator tested")
        if self._replaced_after(division, denominator):
            found.append("replaced")
        return found

    def _verdict(self, division, numerator, denominator, op: str) -> str:
        if op == "rsqrt":
            return "rsqrt (not NAN105's)"
        if self.around.in_scalar_call():
            return "in math.*"
        if zero_denominator(self.ctx, numerator, denominator, self.option("plain-sums")) is None:
            return "fact: " + _why_not(self.ctx, numerator, denominator)
        if self.around.checked(denominator):
            return "guard: denominator tested"
        if self.around.in_select() is not None:
            return "guard: inside where()"
        if numerator is not None and self.around.checked(numerator):
            return "guard: numerator tested"
        if self._replaced_after(division, denominator):
            return "guard: replaced after"
        return "fires"


def own_entry(ctx, numerator: cst.BaseExpression, denominator: cst.BaseExpression) -> bool:
    """The denominator is an entry of the numerator's tensor along its last axis (the fact NAN105 now asks)."""
    base = ctx.values.component_of(denominator)
    return base is not None and base in variables_of(ctx, numerator)


def fraction_of_bound(ctx, numerator: cst.BaseExpression, denominator: cst.BaseExpression) -> bool:
    """The numerator is clipped into [0, d] and d is the denominator (the fact NAN105 now asks)."""
    peeled = ctx.peel(denominator)
    name = divisions.dotted(peeled) if isinstance(peeled, (cst.Name, cst.Attribute)) else None
    return name is not None and ctx.values.clipped_under(numerator) == name


def _why_not(ctx, numerator, denominator) -> str:
    """Which condition of zero_denominator() left the division alone."""
    fact = ctx.values.of(denominator)
    if fact.nonzero:
        return "nonzero (guarded or bounded)"
    if fact.zero is None:
        return "no reason to be 0"
    top = numerator is not None and ctx.values.of(numerator)
    if fact.scalar and top and top.scalar:
        return "scalar / scalar"
    level = {0: "named", 1: "degenerate", 2: "built"}[fact.zero.level]
    if numerator is None:
        return f"{level} {fact.zero.kind}, reciprocal"
    return f"{level} {fact.zero.kind or '?'}, not asked"


def shape(ctx, expr: cst.BaseExpression) -> str:
    """The denominator's class in the source, through names to what they were assigned."""
    origin = None
    for step in ctx.origins(expr):
        origin = step
    expr = ctx.peel(origin if origin is not None else expr)
    if isinstance(expr, (cst.Integer, cst.Float)):
        return "constant"
    if isinstance(expr, cst.Name):
        if ctx.values.index.parameter(expr) is not None:
            return "function parameter"
        return "name (unknown origin)"
    if isinstance(expr, cst.Attribute):
        owner = divisions.dotted(expr.value) or ""
        if expr.attr.value in ("shape", "size", "ndim"):
            return "shape/size"
        return "attribute of self" if owner.split(".")[0] in ("self", "cls") else "attribute of another object"
    if isinstance(expr, cst.Subscript):
        inner = ctx.peel(expr.value)
        if (isinstance(inner, cst.Attribute) and inner.attr.value == "shape") or ctx.op(inner) == "shape":
            return "shape/size"
        return "subscript"
    if isinstance(expr, cst.Call):
        found = ctx.call(expr)
        if found is not None:
            return f"op {found.op}"
        name = divisions.dotted(expr.func) or ""
        last = name.rsplit(".", 1)[-1]
        if last in ("len", "int", "float", "max", "min", "sum", "abs"):
            return f"builtin {last}"
        if ctx.values.index.callee(expr, None) is not None:
            return "call of this file's function"
        return "call of an unknown function"
    if isinstance(expr, cst.BinaryOperation):
        return "arithmetic " + type(expr.operator).__name__.lower()
    if isinstance(expr, cst.UnaryOperation):
        return "unary"
    return type(expr).__name__.lower()


def _text(ctx, expr: cst.BaseExpression) -> str:
    text = " ".join(ctx.module.code_for_node(expr).split())
    return text if len(text) <= 70 else text[:67] + "..."


# --- running it ----------------------------------------------------------------------------------------


def census_of(files: list[Path], root: Path) -> Iterator[dict]:
    """The rows of every division in `files`, analysed as one project (as `nanlint check` would)."""
    rule_options = Settings().rule_options
    project = Project(files, rule_options) if len(files) > 1 else None
    for path in files:
        text = path.read_text(errors="replace")
        if "/" not in text and "div" not in text and "reciprocal" not in text and "rsqrt" not in text:
            continue
        try:
            module, _ = parse(Document(str(path), text))
        except DocumentError:  # a file nanlint cannot parse has no rows
            continue
        ctx = run_rules(module, [Census], rule_options, view_of(project, path))
        census = ctx.shared[Census]
        positions = cst.MetadataWrapper(module, unsafe_skip_copy=True).resolve(cst.metadata.PositionProvider)
        for row in census.rows:
            start = positions[row.pop("node")].start
            yield {"path": str(path.relative_to(root)), "line": start.line, "col": start.column + 1, **row}
        ctx.release()


def bug_rows(name: str) -> Iterator[dict]:
    tsv, built = BUG_SETS[name]
    with tsv.open() as f:
        cases = list(csv.DictReader(f, delimiter="\t"))
    for case in cases:
        if "DIV" not in case["category"].split("+"):
            continue
        before = built / case["id"] / "before"
        files = sorted(before.rglob("*.py"))
        labelled = {
            path: _lines(spec) for path, spec in zip(case["path"].split(";"), case["line"].split(";"), strict=False)
        }
        hits = 0
        for row in census_of(files, before):
            lines = labelled.get(row["path"], [])
            if any(abs(row["line"] - n) <= NEAR for n in lines):
                hits += 1
                yield {"set": name, "case": case["id"], **row}
        if not hits:
            yield {"set": name, "case": case["id"], "path": case["path"], "line": 0, "verdict": "no division"}


def clean_rows(snapshots: Path) -> Iterator[dict]:
    for repository, subdirectory in REPOSITORIES.items():
        name = repository.split("/")[-1]
        root = snapshots / name / subdirectory
        if not root.is_dir():
            continue
        files = _python_files(root)
        for row in census_of(files, root):
            yield {"set": "clean", "case": name, **row}


def _python_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if p.is_file())


def _lines(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.replace(" ", "").split(","):
        if part:
            a, _, b = part.partition("-")
            out.extend(range(int(a), int(b or a) + 1))
    return out


def clean_lines(snapshots: Path) -> int:
    total = 0
    for repository, subdirectory in REPOSITORIES.items():
        root = snapshots / repository.split("/")[-1] / subdirectory
        if root.is_dir():
            total += count_lines(_python_files(root))
    return total


# --- the table -----------------------------------------------------------------------------------------


def table(rows: list[dict], lines: int | None) -> str:
    """Bug cases and clean rows by (denominator class, verdict); a case counts once per class."""
    cells: dict[tuple[str, str], list] = defaultdict(lambda: [set(), 0])
    for row in rows:
        key = (row.get("shape", "-"), _short(row["verdict"]))
        if row["set"] == "clean":
            cells[key][1] += 1
        else:
            cells[key][0].add(f"{row['set']}:{row['case']}")
    out = [f"{'denominator':32} {'verdict':44} {'bug cases':>9} {'clean':>6}  cases"]
    for (shape_, verdict), (cases, clean) in sorted(cells.items(), key=lambda kv: (-len(kv[1][0]), -kv[1][1])):
        out.append(f"{shape_:32} {verdict:44} {len(cases):9} {clean:6}  {' '.join(sorted(cases))[:90]}")
    missed = {f"{r['set']}:{r['case']}" for r in rows if r["set"] != "clean"}
    fired = {f"{r['set']}:{r['case']}" for r in rows if r["set"] != "clean" and r["verdict"] == "fires"}
    out.append(f"bug cases with a firing division: {len(fired)}/{len(missed)}")
    if lines:
        fires = sum(1 for r in rows if r["set"] == "clean" and r["verdict"] == "fires")
        out.append(f"clean: {fires} divisions fire in {lines:,} lines ({1000 * fires / lines:.3f} per 1,000)")
    return "\n".join(out)


# Broadenings of NAN105 weighed on 2026-12-07, as predicates over rows NAN105 leaves alone (no guard, no test module).
# Three were taken (an own last-axis entry, a fraction of its clip bound, the complement of a probability by name);
# the others cost too much clean code.
CANDIDATES = {
    "x / own last-axis entry": lambda r: r.get("own_entry", False),
    "clip(x, 0, d) / d": lambda r: r.get("fraction_of_bound", False),
    "x / (1 - p), p by name": lambda r: r.get("zero_kind") == "complement" and r.get("zero_level") == 0,
    "x / temperature": lambda r: re.search(r"(?:^|[._])temp(?:erature)?s?$", r["denominator"].strip("()")) is not None,
    "x / x.sum(), any sign": lambda r: r.get("zero_kind") == "plain-sum" and r.get("normalises"),
    "x / norm(y), y not x": lambda r: r.get("zero_kind") == "norm",
    "x / (n - 1)": lambda r: re.search(r"-\s*1\)?$", r["denominator"]) is not None,
    "x / function parameter": lambda r: r.get("shape") == "function parameter",
    "x / difference": lambda r: r.get("zero_kind") == "difference",
}


def candidates(rows: list[dict], lines: int) -> str:
    """Per candidate: the bug cases it would gain (not already hit) and the clean divisions it would add."""
    hit = {(r["set"], r["case"]) for r in rows if r["set"] != "clean" and r["verdict"] == "fires"}
    out = [f"{'candidate':28} {'bug cases gained':>16} {'clean added':>11} {'per 100k lines':>14}  cases"]
    for name, predicate in CANDIDATES.items():
        quiet = [r for r in rows if r.get("shape") and _left_alone(r) and predicate(r)]
        gained = sorted({(r["set"], r["case"]) for r in quiet if r["set"] != "clean"} - hit)
        clean = sum(1 for r in quiet if r["set"] == "clean")
        rate = 100_000 * clean / lines if lines else 0.0
        out.append(f"{name:28} {len(gained):16} {clean:11} {rate:14.1f}  {' '.join(c for _, c in gained)}")
    return "\n".join(out)


def _left_alone(row: dict) -> bool:
    return row["verdict"].startswith("fact") and not row.get("guards") and not row.get("testing")


def _short(verdict: str) -> str:
    return verdict[:44]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="*", default=["dev", "M", "H", "clean"], help="dev M H clean")
    parser.add_argument("--snapshots", type=Path, default=Path("/tmp/clean"))
    parser.add_argument("--out", type=Path, help="write the rows here (JSON lines)")
    parser.add_argument("--load", type=Path, help="read the rows of an earlier run instead of running")
    parser.add_argument("--table", action="store_true", help="print the summary table")
    parser.add_argument("--candidates", action="store_true", help="weigh the candidate broadenings of NAN105")
    args = parser.parse_args()
    if args.load:
        rows = [json.loads(line) for line in args.load.open()]
    else:
        rows = []
        for name in args.sets:
            produced = clean_rows(args.snapshots) if name == "clean" else bug_rows(name)
            for row in produced:
                rows.append(row)
                if args.out is None and not args.table:
                    print(json.dumps(row))
        if args.out:
            args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines = clean_lines(args.snapshots) if any(r["set"] == "clean" for r in rows) else 0
    if args.table:
        print(table(rows, lines))
    if args.candidates:
        print(candidates(rows, lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
