"""Markdown tables from result rows.

>>> print(markdown(["objective", "top-1"], [["RPC", "85.2"]], align="lr"))
| objective | top-1 |
|---|---:|
| RPC | 85.2 |
"""


def markdown(header, body, align=None):
    """A GitHub markdown table; ``align`` one letter per column ('l' or 'r'; default: first l, rest r)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"
    return "\n".join(["| " + " | ".join(header) + " |", rule] + ["| " + " | ".join(map(str, r)) + " |" for r in body])


def ordered(rows, key="objective"):
    """The distinct values of ``key`` in first-seen order."""
    return list(dict.fromkeys(r[key] for r in rows))
