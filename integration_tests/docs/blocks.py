"""The fenced code blocks of README.md and docs/, each with the host it needs.

Every fenced block is preceded (on the line above, blank lines aside) by a marker comment naming its host:

    <!-- test: lightly -->                 the block needs lightly (runs in the era that has it)
    <!-- test: transformers setup=hf -->   names defined by ``setups.hf()`` exist before the block runs
    <!-- test: open_clip run -->           a shell block that is also run (bash, from the repository root)

``python`` blocks are executed; every other block (bash, yaml, text) is checked: the repository paths it names
exist, its ``python -m`` modules import in the host's era, its ``make`` targets are Makefile targets; a shell
block marked ``run`` is executed as well, with the era's interpreter first on PATH.

>>> [b.host for b in parse("<!-- test: core -->\\n```python\\nx = 1\\n```\\n", "page.md")]
['core']
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

REPO = Path(__file__).resolve().parents[2]

# host -> (the import that says an environment has it, the era whose test list must run its blocks).
# "core" blocks need torch and rpc_plugins only: they run in every era.
HOSTS = {
    "core": (None, "main"),
    "lightly": ("lightly", "main"),
    "timm": ("timm", "main"),
    "open_clip": ("open_clip", "main"),
    "solo": ("solo", "solo-main"),
    "fairseq": ("fairseq", "fairseq-torch2"),
    "transformers": ("transformers", "transformers"),
}

_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*test:\s*(?P<spec>.*?)\s*-->\s*$")


@dataclass
class Block:
    page: str  # path relative to the repository
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    host: Optional[str]  # None: no marker
    setup: Optional[str] = None
    run: bool = False

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}[{self.host}]"


def parse(text: str, page: str) -> List[Block]:
    """Every fenced block of ``text`` with the marker on the line above it (host None when there is none)."""
    lines = text.splitlines()
    blocks: List[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, lang, start = m.group("indent"), m.group("lang"), i
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i].lstrip())
            i += 1
        i += 1  # the closing fence
        host = setup = None
        run = False
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        marker = _MARKER.match(lines[j]) if j >= 0 else None
        if marker:
            words = marker.group("spec").split()
            host = words[0] if words else ""
            for word in words[1:]:
                key, _, value = word.partition("=")
                if word == "run":
                    run = True
                elif key == "setup" and value:
                    setup = value
                else:
                    raise ValueError(f"{page}:{j + 1}: unknown marker option {word!r} (setup=NAME or run)")
        blocks.append(Block(page, start + 1, lang, "\n".join(body) + "\n", host, setup, run))
    return blocks


def pages() -> List[Path]:
    """README.md and every markdown page under docs/."""
    return [REPO / "README.md"] + sorted((REPO / "docs").rglob("*.md"))


def all_blocks() -> List[Block]:
    return [b for p in pages() for b in parse(p.read_text(encoding="utf-8"), str(p.relative_to(REPO)))]
