"""The solo comparison benchmark runs end to end at smoke size; the main-API example yaml mirrors solo's.

Real solo-learn 1.0.2 (Python 3.9, torch 1.9.1, PL 1.4.7); RPC: Tsai et al., ICLR 2021, arXiv 2103.11275.
"""
import json
import os

import pytest


def test_benchmark_smoke_writes_table(tmp_path):
    from benchmarks.solo.run import main

    results = main(["--source", "digits", "--train", "192", "--val", "128", "--epochs", "1", "--batch_size", "64",
                    "--out", str(tmp_path)])
    assert [r["method"] for r in results] == ["simclr", "byol", "rpc"]
    for r in results:
        assert r["steps"] == 3  # 192 images / batch 64, one epoch, same budget for every method
        for key in ("online_linear", "online_knn", "frozen_linear", "frozen_knn"):
            assert 0.0 <= r[key] <= 1.0, (r["method"], key, r[key])
        # digits are easy: a trained encoder's frozen 20-NN must beat chance (0.1) clearly
        assert r["frozen_knn"] > 0.3, r
    table = (tmp_path / "results.md").read_text()
    assert table.count("\n| ") == 4 and "| rpc |" in table and "Command: `" in table
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["settings"]["epochs"] == 1 and len(saved["results"]) == 3


def test_unknown_benchmark_method_names_it():
    from benchmarks.solo.run import main

    with pytest.raises(ValueError, match="unknown method 'moco'"):
        main(["--methods", "simclr", "moco"])


def test_example_yaml_mirrors_solo_simclr_yaml():
    """examples/solo/rpc.yaml keeps simclr.yaml's blocks and sets method: rpc with the loss switch keys."""
    import yaml

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "examples", "solo", "rpc.yaml")) as f:
        cfg = yaml.safe_load(f)
    assert cfg["method"] == "rpc"
    assert {"proj_hidden_dim", "proj_output_dim", "temperature", "loss", "alpha", "beta", "gamma"} <= set(
        cfg["method_kwargs"])
    assert {"backbone", "data", "optimizer", "scheduler", "checkpoint", "auto_resume"} <= set(cfg)
    assert {"augmentations": "symmetric.yaml"} in cfg["defaults"]
