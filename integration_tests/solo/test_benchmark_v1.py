"""The solo comparison benchmark (benchmarks/solo, solo-learn 1.0.2 API) runs end to end at smoke size.

Real solo-learn 1.0.2 (Python 3.9, torch 1.9.1, PL 1.4.7).
(examples/solo/rpc.yaml is checked against solo main's own cifar groups in test_main_pretrain.py.)
"""

import json
import platform

import pytest

from integration_tests.solo.conftest import require_era

require_era("1.0.2")


def test_benchmark_smoke_writes_table(tmp_path):
    from benchmarks.solo.run import main

    results = main(
        [
            "--source",
            "digits",
            "--train",
            "192",
            "--val",
            "128",
            "--epochs",
            "1",
            "--batch_size",
            "64",
            "--out",
            str(tmp_path),
        ]
    )
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
    assert f"Machine: {saved['machine']}" in table and f"Python {platform.python_version()}" in saved["machine"]


def test_unknown_benchmark_method_names_it():
    from benchmarks.solo.run import main

    with pytest.raises(ValueError, match="unknown method 'moco'"):
        main(["--methods", "simclr", "moco"])
