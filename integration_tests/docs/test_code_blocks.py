"""Every code block of README.md and docs/ runs in CI: ``python`` blocks are executed in the era that has their
host, the other blocks are checked against the repository (paths, ``python -m`` modules, ``make`` targets).

A block without a marker, with an unknown host, or whose host is missing from the era that must run it, fails.
"""

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from . import setups
from .blocks import HOSTS, REPO, all_blocks

BLOCKS = all_blocks()
# the era this interpreter belongs to (.venvs/<era>/bin/python), None outside the project's venvs
ERA = Path(sys.prefix).name if Path(sys.prefix).parent.name == ".venvs" else None
_PATH = re.compile(
    r"(?<![\w./-])((?:examples|benchmarks|adapters|envs|integration_tests|tests|rpc_plugins)/[\w./<>*-]*)"
)


def _need_host(block):
    """Skip unless this environment has the block's host; in the host's own era a missing host is a failure."""
    module, era = HOSTS[block.host]
    if module is None or importlib.util.find_spec(module) is not None:
        return
    if ERA == era:
        pytest.fail(f"{block.id}: the {era} era must run this block, but {module} does not import here")
    pytest.skip(f"{module} is not installed in this environment (the {era} era runs this block)")


def test_every_block_has_a_known_host():
    assert BLOCKS, "no code blocks found"
    bad = [f"{b.id} ({b.lang or 'no language'})" for b in BLOCKS if b.host not in HOSTS]
    assert not bad, f"blocks without a '<!-- test: HOST -->' marker naming one of {sorted(HOSTS)}: {bad}"
    unknown_setups = [b.id for b in BLOCKS if b.setup and not hasattr(setups, b.setup)]
    assert not unknown_setups, f"setup= names no function of integration_tests/docs/setups.py: {unknown_setups}"


def _makefile_lists():
    """ERAS and each era's expanded test list, read from the Makefile's ``NAME := value`` lines."""
    text = (REPO / "Makefile").read_text()
    variables = dict(re.findall(r"^([\w-]+)\s*:?=\s*(.*?)\s*$", text, re.M))

    def expand(value, depth=0):
        assert depth < 10, "recursive Makefile variable"
        return re.sub(r"\$\(([\w-]+)\)", lambda m: expand(variables.get(m.group(1), ""), depth + 1), value)

    eras = expand(variables.get("ERAS", "")).split()
    return eras, {era: expand(variables.get(f"{era.upper()}_TESTS", "")).split() for era in eras}


def test_every_host_era_runs_these_blocks():
    """Each block's era is one `make test` runs, and its test list holds integration_tests/docs."""
    eras, lists = _makefile_lists()
    for era in sorted({HOSTS[b.host][1] for b in BLOCKS if b.host in HOSTS}):
        assert era in eras, f"the {era} era runs documentation blocks but is not in the Makefile's ERAS"
        assert "integration_tests/docs" in lists[era], f"add integration_tests/docs to the {era} era's test list"


PYTHON = [b for b in BLOCKS if b.lang == "python" and b.host in HOSTS]
OTHER = [b for b in BLOCKS if b.lang != "python" and b.host in HOSTS]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("block", PYTHON, ids=[b.id for b in PYTHON])
def test_python_block_runs(block, tmp_path, monkeypatch):
    _need_host(block)
    for path in (str(REPO / "adapters"), str(REPO)):
        if path not in sys.path:
            monkeypatch.syspath_prepend(path)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    if block.setup:
        namespace.update(getattr(setups, block.setup)())
    exec(compile(block.code, block.id, "exec"), namespace)


RUN = [b for b in OTHER if b.run]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("block", RUN, ids=[b.id for b in RUN])
def test_shell_block_runs(block):
    _need_host(block)
    assert block.lang in ("bash", "sh"), f"{block.id}: only shell blocks can be marked run"
    path = os.pathsep.join(
        [str(REPO / "adapters"), str(REPO), os.environ.get("PYTHONPATH", "")]
    )  # as the python blocks
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=path)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.code], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{block.id} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def _make_targets():
    text = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+)\s*:(?!=)", text, re.M))
    eras, _ = _makefile_lists()
    return targets | {f"{kind}-{era}" for era in eras for kind in ("test", "env")}


@pytest.mark.parametrize("block", OTHER, ids=[b.id for b in OTHER])
def test_other_block_names_what_exists(block):
    outputs = set()  # what a command writes (the word after an output flag): its folder must exist, not itself
    for line in block.code.replace("\\\n", " ").splitlines():
        words = line.split()
        outputs.update(w for flag, w in zip(words, words[1:]) if flag in _OUTPUT_FLAGS)
    missing = [
        p for p in _PATH.findall(block.code) if not _exists(p.rstrip(".,:;)"), output=any(p in w for w in outputs))
    ]
    assert not missing, f"{block.id} names paths the repository does not have: {missing}"
    if block.lang == "yaml":
        yaml = pytest.importorskip("yaml")
        assert isinstance(yaml.safe_load(block.code), dict), f"{block.id}: not a yaml mapping"
        return
    targets = _make_targets()
    commands = [line.split("#")[0] for line in block.code.replace("\\\n", " ").splitlines()]
    for words in (shlex.split(c) for c in commands if c.strip()):
        if words[0] == "make":
            bad = [w for w in words[1:] if not w.startswith("-") and "=" not in w and w not in targets]
            assert not bad, f"{block.id}: no Makefile target {bad}"
        for i, word in enumerate(words[:-1]):
            if word == "-m":
                _need_host(block)
                module = words[i + 1]
                assert importlib.util.find_spec(module) is not None, f"{block.id}: python -m {module} does not import"
            if word == "--config-dir" and "--config-name" in words:
                folder = REPO / words[i + 1].replace("$PWD/", "")
                name = words[words.index("--config-name") + 1]
                if folder.is_dir():
                    assert (folder / name).exists() or (folder / f"{name}.yaml").exists(), f"{block.id}: {name}"


_OUTPUT_FLAGS = {"--out", "--to", "--runs", "-w", "-d", "--save-dir"}


def _exists(path, output=False):
    if "<" in path or "*" in path:  # a pattern such as envs/<era>.sh: its folder must exist
        return (REPO / path.split("<")[0].split("*")[0]).parent.exists()
    return (REPO / path).parent.exists() if output else (REPO / path).exists()
