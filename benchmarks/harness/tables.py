"""Markdown tables from result rows.

>>> print(markdown(["objective", "top-1"], [["RPC", "85.2"]], align="lr"))
| objective | top-1 |
|---|---:|
| RPC | 85.2 |
"""


def markdown(header, body, align=None):
    """A GitHub markdown table; ``align`` one letter per column ('l' or 'r'; default: first l, rest r).
    Cells are ``str``-ed; an empty cell is written ``| |``."""
    if align is not None and len(align) != len(header):
        raise ValueError(f"align {align!r} has {len(align)} letters for {len(header)} columns")
    align = align or "l" + "r" * (len(header) - 1)
    rule = "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"
    return "\n".join([_row(header), rule] + [_row(r) for r in body])


def _row(cells):
    return "|" + "|".join(f" {c} " if str(c) else " " for c in cells) + "|"


def ordered(rows, key="objective"):
    """The distinct values of ``key`` in first-seen order."""
    return list(dict.fromkeys(r[key] for r in rows))
