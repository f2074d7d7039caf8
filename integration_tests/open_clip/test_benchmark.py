"""The open_clip benchmark scripts at smoke size: the recorded bytes are what the collectives carry
(RPC's do not grow with N), and the report renders every section."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "benchmarks", "open_clip")


def run(script, *args):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, os.path.join(BENCH, script), *args], capture_output=True, text=True, env=env, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("open_clip_bench") / "results.json")
    run("comm.py", "--dim", "16", "--sizes", "64", "128", "--rpc-sizes", "64", "512", "--report-sizes", "256",
        "--out", out)  # fmt: skip
    run("cost.py", "--dim", "16", "--sizes", "128", "256", "--repeats", "1", "--out", out)
    run("zero_shot.py", "--steps", "2", "--seeds", "0", "--train-size", "256", "--test-size", "64", "--out", out)
    run("report.py", "--results", out)
    with open(out) as f:
        return out, json.load(f)


def test_rpc_bytes_are_the_statistics_whatever_n(results):
    _, data = results
    d, rows = 16, data["bytes"]["rows"]
    rpc = [r for r in rows if r["loss"] == "RPC all_reduce"]
    assert sorted(r["N"] for r in rpc) == [64, 128, 512] and all(r["measured"] for r in rpc)
    # forward: the d-vector with the count, the d x d Gram matrix and 6 moments, in float64; backward: the same
    assert {r["payload_bytes"] for r in rpc} == {2 * 8 * ((d + 1) + d * d + 6)}
    assert {tuple(r["collectives"]) for r in rpc} == {("all_reduce",)}


def test_clip_and_siglip_bytes_grow_with_the_gathered_features(results):
    _, data = results
    d, world, rows = 16, data["bytes"]["world_size"], data["bytes"]["rows"]
    for r in rows:
        features = (r["N"] // world) * d * 4  # one rank's image (or text) features, float32
        if r["loss"] == "ClipLoss (open_clip defaults)":  # two all_gathers, no gradient
            assert r["payload_bytes"] == r["sent_bytes"] == 2 * features
        elif r["loss"] == "ClipLoss local_loss+gather_with_grad":  # and their reduce-scatter in the backward
            assert r["sent_bytes"] == 4 * (world - 1) * features
        elif r["loss"] == "SigLipLoss bidir":  # the texts to the neighbour, their gradient back
            assert r["sent_bytes"] == 2 * features
    assert any(not r["measured"] and r["N"] == 256 for r in rows)


def test_report_renders_every_section(results):
    out, data = results
    assert {"bytes", "cost", "zero_shot"} <= set(data)
    assert all(r["status"] == "run" for r in data["cost"]["rows"])
    assert {r["loss"] for r in data["zero_shot"]["rows"]} == {"random init", "ClipLoss", "SigLipLoss", "RPC"}
    folder = os.path.dirname(out)
    text = open(os.path.join(folder, "results.md")).read()
    assert "CPU scale" in text and text.count("Command: `python benchmarks/open_clip/") == 3
    assert os.path.getsize(os.path.join(folder, "open_clip.png")) > 1000
