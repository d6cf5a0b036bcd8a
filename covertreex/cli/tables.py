"""``Sheet``: a titled table of text cells that prints whole at any console width.

Rich shrinks a table that is wider than the console by wrapping and cutting cells ("0.0…").  A sheet
never does: when its columns do not fit, it prints as several tables, each with the leading ``key``
columns (what a row is about) and as many of the other columns as fit, in order — the way wide data
frames wrap.  Every cell is printed in full on one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

# a column takes its text width plus one space either side and one rule; the table one closing rule
_COLUMN_EXTRA = 3


@dataclass
class Sheet:
    title: str
    headers: list[str]
    key: int = 1  # leading columns repeated in every part; left-justified, the rest right-justified
    rows: list[list[str]] = field(default_factory=list)

    def add(self, *cells) -> None:
        if len(cells) != len(self.headers):
            raise ValueError(f"a row of {self.title!r} needs {len(self.headers)} cells, got {len(cells)}")
        self.rows.append([str(c) for c in cells])

    def _widths(self) -> list[int]:
        return [max([len(h)] + [len(r[i]) for r in self.rows]) + _COLUMN_EXTRA for i, h in enumerate(self.headers)]

    def parts(self, width: int) -> list[list[int]]:
        """Column indices of each table printed at console ``width`` (one part when everything fits)."""
        widths = self._widths()
        key = list(range(min(self.key, len(widths))))
        base = 1 + sum(widths[i] for i in key)
        parts, current, used = [], [], base
        for i in range(len(key), len(widths)):
            if current and used + widths[i] > width:
                parts.append(key + current)
                current, used = [], base
            current.append(i)
            used += widths[i]
        parts.append(key + current)
        return parts

    def tables(self, width: int) -> list[Table]:
        parts = self.parts(width)
        out = []
        for n, columns in enumerate(parts):
            title = self.title if len(parts) == 1 else f"{self.title} ({n + 1}/{len(parts)})"
            table = Table(title=title)
            for i in columns:
                table.add_column(self.headers[i], justify="left" if i < self.key else "right", no_wrap=True)
            for row in self.rows:
                table.add_row(*(row[i] for i in columns))
            out.append(table)
        return out

    def print(self, console: Console) -> None:
        for table in self.tables(console.width):
            console.print(table)
