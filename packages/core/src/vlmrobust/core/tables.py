"""Plain-text tables for command output: columns padded to their widest cell."""

from __future__ import annotations

from collections.abc import Sequence


def format_rows(rows: Sequence[Sequence[str]], left: int, indent: str = "") -> list[str]:
    """One line per row, cells joined by two spaces; the first ``left`` columns left-aligned, the rest
    right-aligned (numbers); trailing spaces stripped."""
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return [
        (
            indent
            + "  ".join(
                v.ljust(w) if c < left else v.rjust(w)
                for c, (v, w) in enumerate(zip(row, widths, strict=True))
            )
        ).rstrip()
        for row in rows
    ]
