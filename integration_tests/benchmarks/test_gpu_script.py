"""``benchmarks/gpu.sh dry-run``: the GPU run's steps on this CPU at tiny sizes, with the real lightly and timm.

The dry run runs every step of the GPU run (pytest tests/gpu, the cost benchmark, the ResNet-18 step
benchmark) with ``--device cpu`` and no time limit, so a slow or loaded machine takes longer and passes
the same; the assertions are on the files and rows it leaves. bf16 autocast, emulated on most CPUs, runs
at sizes of a few milliseconds only.
"""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILES = ["cost.json", "cost.md", "cost.png", "pytest.txt", "pytest.xml", "run.txt", "step.json", "step.md"]


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gpu_dry_run")
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS="1")
    env.pop("OUT", None)
    result = subprocess.run(
        ["bash", os.path.join(ROOT, "benchmarks", "gpu.sh"), "dry-run", str(folder)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:] + open(folder / "run.txt").read()
    return folder


def test_the_folder_holds_the_files_the_device_tool_returns(out):
    assert sorted(os.listdir(out)) == FILES  # at most 8 files, no folder
    report = (out / "run.txt").read_text()
    for step in ("pytest tests/gpu", "cost", "step"):
        assert f"{step}: exit 0 in" in report, report
    assert "device cpu" in report and "lightly " in report


def test_the_gpu_tests_collect_and_skip_without_cuda(out):
    suite = ET.parse(out / "pytest.xml").getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    tests, skipped = int(suite.get("tests")), int(suite.get("skipped"))
    assert int(suite.get("failures")) == 0 and int(suite.get("errors")) == 0
    assert tests > 0 and skipped == tests
    modules = {case.get("classname").rsplit(".", 1)[-1] for case in suite.iter("testcase")}
    assert {"test_moments", "test_no_sync", "test_compile"} <= modules
    reasons = {case.find("skipped").get("message") for case in suite.iter("testcase")}
    assert reasons == {"needs a CUDA device (torch.cuda.is_available() is False)"}


def test_cost_rows(out):
    result = json.load(open(out / "cost.json"))
    rows = {(r["n"], r["loss"], r["dtype"]): r for r in result["rows"]}
    assert set(rows) == {
        (32, "NTXentLoss", "float32"),
        (32, "DCLLoss", "float32"),
        (32, "RPCLoss gram", "float32"),
        (256, "RPCLoss gram", "float32"),
        (32, "NTXentLoss", "bf16 autocast"),
        (32, "RPCLoss gram", "bf16 autocast"),
    }
    assert all(r["time_s"] > 0 and r["gram_s"] > 0 and r["peak_bytes"] is not None for r in rows.values())
    assert "partial" not in result and "device cpu" in result["machine"]
    text = (out / "cost.md").read_text()
    assert "| 32 | RPCLoss gram | bf16 autocast |" in text and f"Machine: {result['machine']}" in text
    assert (out / "cost.png").stat().st_size > 1000


def test_step_rows(out):
    result = json.load(open(out / "step.json"))
    assert {(r["batch"], r["precision"], r["loss"]) for r in result["rows"]} == {
        (4, p, loss) for p in ("bf16 autocast", "float32") for loss in ("NT-Xent (lightly)", "RPC (rpc_plugins)")
    }
    assert all(
        r["step_ms"] > 0 and r["loss_only_ms"] > 0 and isinstance(r["rpc_overhead"], float) for r in result["rows"]
    )
    assert "| 4 | float32 | RPC (rpc_plugins) |" in (out / "step.md").read_text()
