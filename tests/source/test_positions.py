"""Fast positions (one statement regenerated) agree with libcst's PositionProvider on every node."""

from __future__ import annotations

import ast
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from nanlint import catalog
from nanlint.source.positions import resolve
from nanlint.source.traversal import iter_nodes

ROOT = Path(__file__).resolve().parents[2]
SOURCES = {
    "decorators and comments": (
        "import torch\n\n\n# a comment\n@decorator(1)\n@other\ndef f(x):  # trailing\n    '''doc'''\n\n"
        "    # inside\n    return torch.log(x)\n\n\nclass A(Base):\n    eps = 1e-8\n\n    @staticmethod\n"
        "    def g(y, *, z=2):\n        if y:\n            return y / z\n        a = 1; b = 2\n        return a\n"
    ),
    "tabs and nested classes": "class A:\n\tclass B:\n\t\tdef f(self):\n\t\t\treturn 1\n\tx = [\n\t\t1,\n\t\t2]\n",
    "crlf": "import numpy as np\r\n\r\ndef f(x):\r\n    return np.exp(x) / np.exp(x).sum()\r\n",
    "multiline strings": 'x = """\nline\n"""\ndef f():\n    s = f"{1}\\n"\n    return """a\nb"""\n',
    "async and with": (
        "async def f():\n    async with a as b:\n        await b\n    with c:\n        pass\n"
        "if x:\n    pass\nelif y:\n    pass\nelse:\n    z = 1\n"
    ),
}
SOURCES.update(
    {
        f"rule page {code} {i}": block
        for code, page in sorted(catalog.load().items())
        for i, block in enumerate(page.examples("Example") + page.examples("Use instead"))
    }
)
SOURCES.update({str(p.relative_to(ROOT)): p.read_text() for p in sorted((ROOT / "nanlint" / "source").glob("*.py"))})


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_fast_positions_equal_libcst_positions_for_every_node(name):
    source = SOURCES[name]
    module = cst.parse_module(source)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    tree = ast.parse(source)
    nodes = [n for n in iter_nodes(module) if not isinstance(n, cst.Module)]
    for node in nodes[:: max(1, len(nodes) // 300)]:  # a spread of nodes, each resolved on its own
        assert resolve(module, tree, [node])[node] == expected[node], (name, module.code_for_node(node))


def test_unpaired_statements_fall_back_to_libcst():
    module = cst.parse_module("x = 1\ny = 2\n")
    node = module.body[1]
    wrong_tree = ast.parse("x = 1\n")  # one statement short: must not guess
    assert resolve(module, wrong_tree, [node])[node].start.line == 2
