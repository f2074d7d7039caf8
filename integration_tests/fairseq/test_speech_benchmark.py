"""Smoke run of benchmarks/speech/run.py: every criterion pretrains through fairseq's CLI and gets probed."""

import json
import math
import os
import subprocess
import sys

from integration_tests.fairseq.conftest import ROOT


def run_benchmark(corpus, tmp_path, *flags, timeout):
    """benchmarks/speech/run.py on ``corpus`` with runs and results under ``tmp_path``, one seed; its results.json."""
    cmd = [sys.executable, os.path.join(ROOT, "benchmarks", "speech", "run.py"), "--data", corpus]
    cmd += ["--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out"), "--seeds", "1", *flags]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return json.load(open(tmp_path / "out" / "results.json"))


def test_speech_benchmark_smoke(speech_corpus, tmp_path):
    result = run_benchmark(speech_corpus, tmp_path, "--updates", "6", "--log-interval", "2", timeout=300)
    rows = result["rows"]
    assert [r["method"] for r in rows] == ["raw-features", "rpc", "rpc_a1", "infonce", "binary", "untrained"]
    for r in rows:
        assert 0.0 <= r["phone_acc"] <= 1.0 and 0.0 <= r["speaker_acc"] <= 1.0 and r["n_phones"] > 5
    table = open(tmp_path / "out" / "results.md").read()
    assert "| majority class" in table and "wav2vec infonce=false (binary)" in table and "| raw-features" in table
    assert "--log-interval 2 " in table
    # the curves are fairseq's own JSON train_inner records (common.log_format=json), one every 2 updates
    for method in ("rpc", "rpc_a1", "infonce", "binary"):
        log = open(tmp_path / "runs" / f"{method}_s1" / "train.log").read().splitlines()
        records = [json.loads(line[line.index("{") :]) for line in log if "train_inner" in line and "{" in line]
        assert [int(float(r["num_updates"])) for r in records] == [2, 4, 6], method
        assert result["curves"][method] == [float(r["loss"]) for r in records], method
        assert all(math.isfinite(v) for v in result["curves"][method])


def test_speech_tuning_gives_every_criterion_the_same_trials(speech_corpus, tmp_path):
    """--tune-trials k: k trials for rpc, infonce and binary, selected on the carve, re-run as *_tuned rows."""
    result = run_benchmark(speech_corpus, tmp_path, "--updates", "4", "--tune-trials", "2", timeout=600)
    tuning = result["tuning"]
    assert set(tuning) == {"rpc", "infonce", "binary"}
    for criterion, rec in tuning.items():
        assert rec["trials"] == rec["done"] == len(rec["scores"]) == 2
        assert rec["scores"][0]["config"]["lr"] == 1e-3  # trial 1 is the default
        assert rec["selected"] == max(rec["scores"], key=lambda s: s["score"])["config"]
    assert set(tuning["rpc"]["selected"]) == {"alpha", "beta", "gamma", "critic_scale", "lr"}
    assert set(tuning["infonce"]["selected"]) == {"lr"}
    methods = [r["method"] for r in result["rows"]]
    assert {"rpc_tuned", "infonce_tuned", "binary_tuned"} <= set(methods)
    carve = open(os.path.join(speech_corpus, "tune", "valid.tsv")).read().splitlines()[1:]
    held_out = open(os.path.join(speech_corpus, "valid.tsv")).read().splitlines()[1:]
    assert carve and not set(carve) & set(held_out)  # selection never sees the held-out split
    assert "Equal-budget tuning" in open(tmp_path / "out" / "results.md").read()
