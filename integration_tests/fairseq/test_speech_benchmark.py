"""Smoke run of benchmarks/speech/run.py: every criterion pretrains through fairseq's CLI and gets probed."""
import json
import os
import subprocess
import sys

from integration_tests.fairseq.conftest import ROOT


def test_speech_benchmark_smoke(speech_corpus, tmp_path):
    cmd = [sys.executable, os.path.join(ROOT, "benchmarks", "speech", "run.py"), "--data", speech_corpus,
           "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out"), "--updates", "6", "--seeds", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    rows = json.load(open(tmp_path / "out" / "results.json"))["rows"]
    assert [r["method"] for r in rows] == ["raw-features", "rpc", "rpc_a1", "infonce", "binary", "untrained"]
    for r in rows:
        assert 0.0 <= r["phone_acc"] <= 1.0 and 0.0 <= r["speaker_acc"] <= 1.0 and r["n_phones"] > 5
    table = open(tmp_path / "out" / "results.md").read()
    assert "| majority class" in table and "wav2vec infonce=false (binary)" in table and "| raw-features" in table
