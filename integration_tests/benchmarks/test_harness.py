"""The shared benchmark harness's machine line and tables (the parts every run script uses)."""

import doctest
import importlib
import os
import platform
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from benchmarks.harness import machine, tables  # noqa: E402


def test_module_examples():
    """The ``>>>`` examples of the harness's machine line and tables, and of the speech tables built on them."""
    for name in ("harness.machine", "harness.memory", "harness.tables", "speech.report"):
        result = doctest.testmod(importlib.import_module(f"benchmarks.{name}"))
        assert result.failed == 0 and result.attempted > 0, name


def test_facts_are_this_process():
    torch_threads = torch.get_num_threads()
    f = machine.facts()
    assert f["cpus"] == os.cpu_count() and f["arch"] == platform.machine()
    assert f["torch"] == torch.__version__ and f["threads"] == torch_threads
    assert f["python"] == platform.python_version() and f["device"] == "cpu" and "gpu" not in f
    assert machine.facts(threads=3)["threads"] == 3


def test_describe_names_every_fact_and_only_those_given():
    line = machine.describe(device="cpu", threads=2)
    for part in (
        f"{os.cpu_count()} logical CPUs",
        f"torch {torch.__version__} (threads 2)",
        "device cpu",
        f"Python {platform.python_version()}",
        machine.cpu_model(),
    ):
        assert part in line, (part, line)
    assert machine.describe({"python": "3.9.18"}) == "Python 3.9.18"
    assert machine.describe({}) == ""


def test_markdown_rows_and_alignment():
    text = tables.markdown(["N", "loss", "ms"], [[64, "RPC", "1.5"], [128, "", "2.0"]], align="rlr")
    assert text.splitlines() == ["| N | loss | ms |", "|---:|---|---:|", "| 64 | RPC | 1.5 |", "| 128 | | 2.0 |"]


def test_markdown_rejects_an_alignment_of_the_wrong_length():
    with pytest.raises(ValueError, match="2 letters for 3 columns"):
        tables.markdown(["a", "b", "c"], [], align="lr")
