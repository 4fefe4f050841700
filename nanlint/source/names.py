"""Import aliases -> qualified names, resolved from the file's own imports.

Full libcst scope metadata costs ~10x the parse; reading the import statements as the
traversal meets them is enough to turn `T.log`, `F.softmax`, `jnp.exp` or `L` (from
`from torch import log as L`) into `torch.log`, `torch.nn.functional.softmax`, ...
"""

from __future__ import annotations

import libcst as cst

# Builtins that rules care about (guards such as max(n, 1), len(...), float('nan')).
BUILTINS = frozenset({"abs", "float", "len", "max", "min", "pow", "round", "sum", "int", "print", "set"})


def dotted(node: cst.BaseExpression) -> str | None:
    """`a.b.c` as a string, or None for anything that is not a plain dotted name."""
    parts = []
    while type(node) is cst.Attribute:  # `type() is`: isinstance on libcst's ABCs is slow when it fails
        parts.append(node.attr.value)
        node = node.value
    if type(node) is not cst.Name:
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


class Names:
    """The import table of one module, filled in source order by the traversal."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}
        # `from .mod import f` / `from .. import mod`: local name -> (level, dotted target below the package).
        # Kept apart from `aliases`: only the project index (nanlint.source.project) resolves them.
        self.relative: dict[str, tuple[int, str]] = {}

    def add_import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = dotted(alias.name)
            if full is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.aliases[alias.asname.name.value] = full
            else:  # `import a.b` binds `a`
                head = full.split(".", 1)[0]
                self.aliases[head] = head

    def add_import_from(self, node: cst.ImportFrom) -> None:
        if node.relative and not isinstance(node.names, cst.ImportStar):
            self._add_relative(node)
            return
        if node.relative or node.module is None or isinstance(node.names, cst.ImportStar):
            return
        module = dotted(node.module)
        if module is None:
            return
        for local, name in _imported_names(node):
            self.aliases[local] = f"{module}.{name}"

    def _add_relative(self, node: cst.ImportFrom) -> None:
        module = dotted(node.module) if node.module is not None else ""
        if module is None or isinstance(node.names, cst.ImportStar):
            return
        for local, name in _imported_names(node):
            self.relative[local] = (len(node.relative), f"{module}.{name}" if module else name)

    def relative_target(self, node: cst.BaseExpression) -> tuple[int, str] | None:
        """(level, dotted target) of a dotted expression rooted at a relative import: `mod.f` -> (1, "mod.f")."""
        attrs = []
        while isinstance(node, cst.Attribute):
            attrs.append(node.attr.value)
            node = node.value
        if not isinstance(node, cst.Name) or node.value not in self.relative:
            return None
        level, target = self.relative[node.value]
        return level, ".".join([target, *reversed(attrs)])

    def qualify(self, node: cst.BaseExpression) -> str | None:
        """The qualified name of a dotted expression rooted at an import or a builtin."""
        attrs = []
        while type(node) is cst.Attribute:  # see dotted()
            attrs.append(node.attr.value)
            node = node.value
        if type(node) is not cst.Name:
            return None
        root = self.aliases.get(node.value)
        if root is None:
            if node.value not in BUILTINS or attrs:
                return None
            root = f"builtins.{node.value}"
        return ".".join([root, *reversed(attrs)])

    def is_module_alias(self, node: cst.BaseExpression) -> bool:
        """True for `np`, `torch.nn`: a receiver that is a module, not a tensor."""
        return self.qualify(node) is not None


def _imported_names(node: cst.ImportFrom):
    """(local name, imported name) for each alias of `from m import a, b as c`."""
    assert not isinstance(node.names, cst.ImportStar)
    for alias in node.names:
        name = dotted(alias.name)
        if name is not None:
            yield (alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else name), name
