"""A seconds-long run of the HF speech benchmark (benchmarks/speech/run_hf.py): tuning, seeds, probes, tables."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.timeout(400)
def test_run_hf_smoke(tmp_path):
    cmd = [
        sys.executable,
        os.path.join(ROOT, "benchmarks", "speech", "run_hf.py"),
        "--data",
        str(tmp_path / "data"),
        "--out",
        str(tmp_path / "out"),
        "--utterances",
        "15",
        "--steps",
        "2",
        "--seeds",
        "1",
        "--tune-trials",
        "2",
        "--batch-size",
        "4",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=380)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    saved = json.load(open(tmp_path / "out" / "results.json"))
    methods = {r["method"] for r in saved["rows"]}
    assert methods == {"raw-features", "rpc", "infonce", "rpc_tuned", "infonce_tuned", "untrained"}
    assert {c: len(rec["scores"]) for c, rec in saved["tuning"].items()} == {"rpc": 2, "infonce": 2}
    for row in saved["rows"]:
        assert 0.0 <= row["phone_acc"] <= 1.0 and 0.0 <= row["speaker_acc"] <= 1.0
    table = open(tmp_path / "out" / "results.md").read()
    assert "HF Wav2Vec2ForPreTraining loss" in table and "**rpc tuned**" in table and "majority class" in table
