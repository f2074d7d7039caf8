"""The README stays short and says nothing of how the project is made; the objectives page's generator reads
the one declaration of the knobs (``rpc_plugins.OBJECTIVE_KNOBS``) exactly."""

import importlib.util
import re

from .blocks import REPO, pages

_MAKING = re.compile(r"issue[- ]?[0-9]|closing note|\.\./shared", re.I)


def test_readme_is_short():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines (at most 150)"


def test_pages_do_not_speak_of_how_the_project_is_made():
    hits = [
        f"{p.relative_to(REPO)}:{n}: {line.strip()}"
        for p in pages()
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if _MAKING.search(line)
    ]
    assert not hits, "\n".join(hits)


def _hook():
    spec = importlib.util.spec_from_file_location("rpc_docs_hook", REPO / "docs" / "hooks" / "rpc_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_objective_knobs_read_statically_equal_the_declaration():
    """The docs build reads OBJECTIVE_KNOBS without importing torch; what it reads is what the package declares."""
    import rpc_plugins

    hook = _hook()
    assert hook.objective_knobs() == {name: dict(knobs) for name, knobs in rpc_plugins.OBJECTIVE_KNOBS.items()}


def test_every_objective_has_a_section():
    text = (REPO / "docs" / "objectives.md").read_text(encoding="utf-8")
    import rpc_plugins

    assert set(re.findall(r"<!-- knobs: (\w+) -->", text)) - {"all"} == set(rpc_plugins.OBJECTIVE_KNOBS)
