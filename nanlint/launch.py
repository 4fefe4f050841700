"""The `nanlint` command's entry point: `--version` answers before the CLI (click, both passes) is imported."""

from __future__ import annotations

import sys

from nanlint import __version__


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        print(f"nanlint, version {__version__}")  # the same line as click's version option
        return
    from nanlint.cli import main as cli

    cli()
