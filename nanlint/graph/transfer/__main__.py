"""`python -m nanlint.graph.transfer [PATH]`: write docs/graph-ops.md from the registry."""

import sys
from pathlib import Path

from nanlint.graph.transfer.docs import ops_markdown

if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[3] / "docs" / "graph-ops.md"
    target.write_text(ops_markdown() + "\n", encoding="utf-8")
    print(f"wrote {target}")
