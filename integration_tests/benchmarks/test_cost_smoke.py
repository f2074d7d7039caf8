"""Smoke run of the cost benchmark (tiny sizes): it runs end to end against the real lightly losses."""

import json
import os
import platform
import subprocess
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_cost_benchmark_smoke(tmp_path):
    cmd = [
        sys.executable,
        os.path.join(ROOT, "benchmarks", "cost", "run.py"),
        "--sizes",
        "64",
        "--gram-sizes",
        "512",
        "--repeats",
        "2",
        "--train-step",
        "--train-step-sizes",
        "8",
        "--threads",
        "1",
        "--out",
        str(tmp_path),
    ]
    subprocess.run(cmd, check=True)
    result = json.load(open(tmp_path / "results.json"))
    rows = result["rows"]
    assert {r["loss"] for r in rows} == {"NTXentLoss", "DCLLoss", "RPCLoss dense", "RPCLoss gram"}
    assert all(
        r["time_s"] > 0 and r["gram_s"] > 0 and r["grad_write_s"] > 0 and r["peak_bytes"] is not None for r in rows
    )
    assert [r["n"] for r in rows if r["loss"] == "RPCLoss gram"] == [64, 512]
    assert {r["loss"] for r in result["steps"]} == {"NTXentLoss", "RPCLoss gram"}
    text = open(tmp_path / "results.md").read()
    assert "| 64 | RPCLoss gram | float32 |" in text and "Gram floor ms" in text and "gradient write ms" in text
    assert (tmp_path / "cost.png").stat().st_size > 1000
    # the harness's machine line, in the json and the markdown (the run's threads, not this process's)
    for fact in (
        f"{os.cpu_count()} logical CPUs",
        f"torch {torch.__version__} (threads 1)",
        "device cpu",
        f"Python {platform.python_version()}",
    ):
        assert fact in result["machine"], (fact, result["machine"])
    assert f"Machine: {result['machine']}" in text
