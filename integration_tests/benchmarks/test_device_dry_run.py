"""``benchmarks/device/run.sh --dry-run``: every part of the GPU run, tiny sizes, on this CPU (issue 22).

The same scripts the GPU machine runs, against the real lightly / timm / rpc_plugins: the dry run
must leave exactly the files the device tool returns (at most 8, all parseable), each part must end
"ok" with its rows, and the renderer must turn the folder into results.md and plots.
"""

import json
import os
import subprocess
import sys

import pytest

import rpc_plugins as rp

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PARTS = ("a_correctness.json", "b_nosync.json", "c_cost.json", "d_step.json", "e_mi.json", "f_vision.json")
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("device_out")
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS="1")
    env.pop("OUT", None)
    result = subprocess.run(
        ["bash", os.path.join(ROOT, "benchmarks", "device", "run.sh"), "--dry-run", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out, {name: json.load(open(out / name)) for name in PARTS}


def test_the_output_folder_is_what_the_device_tool_returns(dry_run):
    out, parts = dry_run
    assert sorted(os.listdir(out)) == sorted(PARTS + ("env.json", "progress.log"))  # 8 files, no folder
    env = json.load(open(out / "env.json"))
    assert env["dry_run"] and env["torch"] and env["python"]
    log = open(out / "progress.log").read()
    for part in "abcdef":
        assert f"part {part} (" in log and "ok:" in log
    for name, data in parts.items():
        assert data["status"] == "ok", (name, data.get("log_tail"))
        assert data["dry_run"] is True and data["exit_code"] == 0


def test_a_fused_path_matches_the_reference(dry_run):
    a = dry_run[1]["a_correctness.json"]
    assert all(c["ok"] for c in a["reference_check"]) and len(a["reference_check"]) == 2
    assert len(a["rows"]) == len(a["sizes"]) * len(a["settings"]) * len(a["precisions"])
    assert all(r["ok"] and r["finite"] for r in a["rows"]), [r for r in a["rows"] if not r["ok"]]
    assert {r["grad_dtype"] for r in a["rows"] if "bf16" in r["precision"]} == {"bfloat16"}
    assert a["all_ok"]


def test_b_every_core_loss_steps_and_missing_hosts_say_why(dry_run):
    b = dry_run[1]["b_nosync.json"]
    names = [r["loss"] for r in b["rows"]]
    assert all(f"ContrastiveLoss('{o}')" in names for o in rp.OBJECTIVES)
    assert "rpc_lightly.RPCLoss()" in names and "lightly.loss.NTXentLoss()" in names
    assert all(r["status"] == "ran (no sync check on cpu)" for r in b["rows"]), b["rows"]
    skipped = {s["what"]: s["reason"] for s in b["skipped"]}
    assert any("rpc_solo" in k and "import" in v for k, v in skipped.items())


def test_c_cost_rows(dry_run):
    c = dry_run[1]["c_cost.json"]
    rows = {(r["loss"], r["dtype"]): r for r in c["rows"]}
    assert set(rows) == {("NTXentLoss", "float32"), ("RPCLoss gram", "float32"), ("RPCLoss gram", "bf16 autocast")}
    assert all(r["time_s"] > 0 and r["peak_bytes"] is not None for r in rows.values())
    assert c["fits"] == {"NTXentLoss": 32, "RPCLoss gram": 32}


def test_d_step_rows(dry_run):
    d = dry_run[1]["d_step.json"]
    assert {(r["precision"], r["loss"]) for r in d["rows"]} == {
        (p, loss) for p in ("float32", "bf16 autocast") for loss in ("NT-Xent (lightly)", "RPC (rpc_plugins)")
    }
    assert all(r["step_ms"] > 0 and r["loss_only_ms"] > 0 and isinstance(r["goal_met"], bool) for r in d["rows"])


def test_e_mi_waves_combine(dry_run):
    e = dry_run[1]["e_mi.json"]
    assert [(w["seed"], w["task"]) for w in e["waves"]] == [(0, "gaussian"), (0, "cubic")]
    assert e["combined"]["seeds"] == {"gaussian": [0], "cubic": [0]}
    for task in ("gaussian", "cubic"):
        assert {"rpc", "rpc[batch_mean]", "infonce"} <= set(e["combined"]["stats"][task])
        assert all(len(rows) == 5 for rows in e["combined"]["stats"][task].values())


def test_f_vision_runs(dry_run):
    f = dry_run[1]["f_vision.json"]
    if not os.path.exists(os.path.join(FASHION_MNIST, "t10k-images-idx3-ubyte.gz")) and not os.path.exists(
        os.path.join(ROOT, ".device", "fashion-mnist")
    ):
        assert "Fashion-MNIST not found" in f["skipped"][0]["reason"]
        return
    objectives = {r["objective"] for r in f["vision"]["results"]}
    assert objectives == {"raw-pixels", "random-init", "supervised", "RPC", "NT-Xent"}
    assert all(0 <= r["linear"] <= 1 for r in f["vision"]["results"])


def test_render(dry_run, tmp_path):
    out = dry_run[0]
    subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "device", "render.py"), str(out), "--to", str(tmp_path)],
        check=True,
        timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    text = open(tmp_path / "results.md").read()
    assert "**Dry run**" in text
    for title in ("## a.", "## b.", "## c.", "## d.", "## e.", "## f."):
        assert title in text
    assert "| 32 | NTXentLoss | float32 |" in text and "### gaussian" in text
    assert text.count("Status: **ok**") == 6
    for png in ("cost.png", "mi.png"):
        assert (tmp_path / png).stat().st_size > 1000
