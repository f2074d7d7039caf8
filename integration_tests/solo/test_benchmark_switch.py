"""The loss-switch benchmark (benchmarks/solo/switch.py) end to end at smoke size, real solo-learn main:
one method, its own loss and ``loss: rpc``, k = 2 tuning trials on the validation carve, 1 seed, the baselines,
results.json and results.md."""

import json
import os

import pytest


def test_switch_benchmark_smoke(tmp_path):
    from benchmarks.harness.data import DEFAULT_FASHION_MNIST
    from benchmarks.solo.switch import main

    if not os.path.exists(os.path.join(DEFAULT_FASHION_MNIST, "train-images-idx3-ubyte.gz")):
        pytest.fail(f"Fashion-MNIST missing in {DEFAULT_FASHION_MNIST}: `make system` installs dataset-fashion-mnist")
    main(
        [
            "--train",
            "256",
            "--val",
            "128",
            "--test",
            "128",
            "--epochs",
            "1",
            "--batch-size",
            "64",
            "--width",
            "64",
            "--queue",
            "128",
            "--k",
            "2",
            "--seeds",
            "1",
            "--methods",
            "mocov2plus",
            "--losses",
            "own",
            "rpc",
            "--out",
            str(tmp_path),
        ]
    )
    saved = json.loads((tmp_path / "results.json").read_text())
    rows = saved["results"]
    val = [r for r in rows if r["part"] == "val"]
    assert len(val) == 4  # k = 2 trials for each (method, loss): the same budget
    rpc_trials = [r["config"] for r in val if r["loss"] == "rpc"]
    assert rpc_trials[0] == dict(lr=0.3, temperature=0.2, alpha=0.3, beta=0.01, gamma=0.1)  # the yaml's, RPC's defaults
    assert rpc_trials[1] != rpc_trials[0]  # the second trial is another draw
    test = {(r["name"] if r["method"] == "-" else r["loss"]): r for r in rows if r["part"] == "test"}
    assert set(test) == {"raw pixels", "random init", "own", "rpc"}
    for r in test.values():
        assert 0.0 <= r["linear"] <= 1.0 and 0.0 <= r["knn"] <= 1.0, r
    assert test["own"]["steps"] == test["rpc"]["steps"] == 4  # 256 images / 64, one epoch: the same budget
    assert saved["tuning"]["mocov2plus/rpc"]["trials"] == 2
    table = (tmp_path / "results.md").read_text()
    assert "| mocov2plus | loss: rpc |" in table and "| mocov2plus | own InfoNCE |" in table and "Command: `" in table
    assert f"Machine: {saved['machine']}." in table and f"{os.cpu_count()} logical CPUs" in saved["machine"]
