"""benchmarks/vision/run.py end to end on a tiny Fashion-MNIST slice (real lightly losses, all three parts)."""
import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_benchmark():
    spec = importlib.util.spec_from_file_location("vision_run", os.path.join(ROOT, "benchmarks", "vision", "run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_writes_tables_plot_and_rerenders(tmp_path):
    bench = load_benchmark()
    bench.main(["--train-size", "300", "--test-size", "200", "--samples", "128", "--sweep-samples", "64",
                "--seeds", "0", "--batch-sizes", "32", "64", "--lrs", "1e-3", "--grid-seeds", "0",
                "--objectives", "RPC", "NT-Xent", "--out", str(tmp_path)])
    saved = json.load(open(tmp_path / "results.json"))
    rows = saved["results"]
    assert {r["part"] for r in rows} == {"accuracy", "batch", "stability"}
    assert {r["objective"] for r in rows} == {"RPC", "NT-Xent"}
    assert all(r["samples"] == 64 for r in rows if r["part"] == "batch")
    assert all(0.1 < r["linear"] <= 1 and 0.1 < r["knn"] <= 1 for r in rows)  # trained encoders beat chance
    text = (tmp_path / "results.md").read_text()
    for heading in ("## 1. Accuracy", "## 2. Batch-size sweep", "## 3. Stability grid", "| RPC |", "| NT-Xent |"):
        assert heading in text
    assert (tmp_path / "vision.png").stat().st_size > 10_000
    bench.main(["--render", str(tmp_path / "results.json"), "--out", str(tmp_path / "again")])
    assert (tmp_path / "again" / "results.md").read_text().split("Machine")[1] == text.split("Machine")[1]


def test_bad_inputs_are_value_errors(tmp_path):
    bench = load_benchmark()
    with pytest.raises(ValueError, match="Fashion-MNIST not found"):
        bench.main(["--data-dir", str(tmp_path), "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="unknown objectives"):
        bench.make_objectives(["RPC", "SimSiam"])
