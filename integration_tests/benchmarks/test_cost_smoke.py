"""Smoke run of the cost benchmark (tiny sizes): it runs end to end against the real lightly losses."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_cost_benchmark_smoke(tmp_path):
    cmd = [sys.executable, os.path.join(ROOT, "benchmarks", "cost", "run.py"), "--sizes", "64", "128",
           "--gram-sizes", "512", "--repeats", "2", "--out", str(tmp_path)]
    subprocess.run(cmd, check=True, timeout=300)
    rows = json.load(open(tmp_path / "results.json"))["rows"]
    assert {r["loss"] for r in rows} == {"NTXentLoss", "DCLLoss", "RPCLoss dense", "RPCLoss gram"}
    assert all(r["time_s"] > 0 and r["peak_bytes"] is not None for r in rows)
    assert "| 128 | RPCLoss gram |" in open(tmp_path / "results.md").read()
    assert (tmp_path / "cost.png").stat().st_size > 1000
