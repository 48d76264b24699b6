"""Where the people commands write, in one of three modes chosen once per command:

- `json`: exactly one JSON document on stdout, no colours, nothing else (for scripts);
- `tty`: rich on a terminal (colours, tables, a live progress bar);
- `plain`: stdout is a pipe or file, so plain lines without ANSI codes or redraws.

Errors always go to stderr as one line (plus an indented detail), so stdout stays
parseable in every mode.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from lro.cli.jobs.describe import Row


def to_jsonable(value: Any) -> Any:
    """A client object (pydantic model, dataclass, datetime...) as plain JSON data."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


class Output:
    """The chosen mode plus the consoles; commands ask it to print rows, tables, documents."""

    def __init__(self, *, json_mode: bool) -> None:
        self.json = json_mode
        self.console = Console(highlight=False)
        self.err = Console(stderr=True, highlight=False)
        self.tty = not json_mode and self.console.is_terminal

    @property
    def plain(self) -> bool:
        return not self.json and not self.tty

    def document(self, value: Any) -> None:
        """The one JSON document of `--json` mode."""
        sys.stdout.write(json.dumps(to_jsonable(value), indent=2) + "\n")
        sys.stdout.flush()

    def line(self, text: str, style: str = "") -> None:
        if self.tty:
            self.console.print(Text(text, style=style))
        else:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def rows(self, rows: Sequence[Row], *, indent: str = "") -> None:
        """Label/value rows: an aligned, coloured grid on a terminal, `label: value` lines
        (easy to grep) otherwise."""
        if not self.tty:
            for label, text, _style in rows:
                self.line(f"{indent}{label}: {text}")
            return
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(overflow="fold")
        for label, text, style in rows:
            grid.add_row(indent + label, Text(text, style=style))
        self.console.print(grid)

    def table(self, headers: Sequence[str], body: Sequence[Sequence[Row]]) -> None:
        """A table of jobs: rich's on a terminal; whitespace-aligned columns otherwise, never
        wrapped or truncated so `awk`/`cut` see whole values."""
        if self.tty:
            table = Table(box=None, header_style="bold", pad_edge=False)
            for header in headers:
                table.add_column(header, no_wrap=header != "STEP", overflow="ellipsis")
            for cells in body:
                table.add_row(*(Text(text, style=style) for _label, text, style in cells))
            self.console.print(table)
            return
        texts = [list(headers), *([text for _l, text, _s in cells] for cells in body)]
        widths = [max(len(row[i]) for row in texts) for i in range(len(headers))]
        for row in texts:
            self.line(
                "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            )

    def note(self, text: str) -> None:
        """A hint for people (more pages, empty listing) on stderr, out of the data's way."""
        self.err.print(Text(text, style="dim"))

    def error(self, message: str, detail: str | None = None) -> None:
        text = Text("lro: error: ", style="bold red")
        text.append(message)
        self.err.print(text, soft_wrap=True)
        if detail and detail != message:
            self.err.print(Text(f"  {detail}"), soft_wrap=True)
