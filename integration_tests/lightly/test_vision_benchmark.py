"""benchmarks/vision/run.py end to end on a tiny Fashion-MNIST slice (real lightly losses, every part).

Checks the evidence's groundwork: the trivial baselines (raw-pixels, random-init, supervised) are rows of
the same run, the equal-budget tuning record gives every objective the same k, a restarted command
resumes instead of retraining, and the stability summary names the largest lr that trains.
"""

import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = [
    "--train-size",
    "200",
    "--test-size",
    "100",
    "--val-size",
    "60",
    "--samples",
    "64",
    "--sweep-samples",
    "64",
    "--seeds",
    "0",
    "--batch-size",
    "32",
    "--batch-sizes",
    "32",
    "64",
    "--lrs",
    "1e-3",
    "--grid-seeds",
    "0",
    "--tune-trials",
    "2",
    "--objectives",
    "RPC",
    "NT-Xent",
    "--parts",
    "accuracy",
    "tuning",
    "stability",
    "batch",
    "--few-labels",
    "4",
    "--bf16",
]


def load_benchmark():
    spec = importlib.util.spec_from_file_location("vision_run", os.path.join(ROOT, "benchmarks", "vision", "run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_writes_baselines_tuning_tables_plot_and_resumes(tmp_path, capsys):
    bench = load_benchmark()
    bench.main(TINY + ["--out", str(tmp_path)])
    saved = json.load(open(tmp_path / "results.json"))
    rows = saved["results"]
    assert {r["part"] for r in rows} == {"accuracy", "trial", "tuned", "batch", "stability"}
    accuracy = {r["objective"] for r in rows if r["part"] == "accuracy"}
    assert accuracy == {"RPC", "NT-Xent", "raw-pixels", "random-init", "supervised"}
    assert all(r["samples"] == 64 for r in rows if r["part"] == "batch")
    for r in rows:
        assert 0.1 < r["linear"] <= 1 and 0.1 < r["knn"] <= 1, r  # every encoder (and the pixels) beats chance
        assert 0.1 < r["linear_few"] <= 1, r  # the few-label probe (4 labels per class) too
    # equal budget: the same k for every objective, each trial scored on the validation split
    tuning = saved["tuning"]
    assert set(tuning) == {"RPC", "NT-Xent"} and {t["trials"] for t in tuning.values()} == {2}
    assert all(t["done"] == 2 for t in tuning.values())
    assert set(tuning["RPC"]["selected"]) == {"alpha", "beta", "gamma", "temperature", "lr"}
    assert set(tuning["NT-Xent"]["selected"]) == {"temperature", "lr"}
    trials = [r for r in rows if r["part"] == "trial"]
    assert len(trials) == 4 and {r["split"] for r in trials} == {"val"}
    assert all(r["split"] == "test" for r in rows if r["part"] != "trial")
    assert len({(r["objective"], r["lr"], json.dumps(r["hyper"], sort_keys=True)) for r in trials}) == 4
    assert saved["stability"]["adam"]["RPC"]["largest_lr"] == 1e-3
    text = (tmp_path / "results.md").read_text()
    for heading in (
        "## 1. Accuracy",
        "## 2. Equal-budget tuning",
        "## 3. Stability grid",
        "## 4. Batch-size sweep",
        "| RPC |",
        "| NT-Xent |",
        "| raw-pixels (baseline) |",
        "| random-init (baseline) |",
        "linear, 4 labels/class",
        "bfloat16 autocast",
    ):
        assert heading in text
    assert (tmp_path / "vision.png").stat().st_size > 10_000
    capsys.readouterr()
    bench.main(TINY + ["--out", str(tmp_path)])  # resumes: every run is already in results.json
    out = capsys.readouterr().out
    assert f"resuming: {len(rows)} rows" in out and "] accuracy" not in out
    bench.main(["--render", str(tmp_path / "results.json"), "--out", str(tmp_path / "again")])
    assert (tmp_path / "again" / "results.md").read_text().split("Machine")[1] == text.split("Machine")[1]
    merged = json.load(open(tmp_path / "again" / "results.json"))
    assert merged["results"] == rows and merged["tuning"] == tuning and merged["stability"] == saved["stability"]
    # two processes' files (e.g. one per core) merge by row key and per-objective record
    halves = [
        dict(
            saved,
            results=[r for r in rows if (r["part"] == "stability") == side],
            tuning={k: v for k, v in tuning.items() if (k == "RPC") == side},
            wall=10.0 * (1 + side),
        )
        for side in (True, False)
    ]
    halves[0]["results"].append(dict(rows[0], linear=-1.0))  # a stale copy of a row the later file holds
    paths = [str(tmp_path / f"half{i}.json") for i in range(2)]
    for half, path in zip(halves, paths):
        json.dump(half, open(path, "w"))
    bench.main(["--render"] + paths + ["--out", str(tmp_path / "merged")])
    merged = json.load(open(tmp_path / "merged" / "results.json"))
    assert sorted(r["key"] for r in merged["results"]) == sorted(r["key"] for r in rows)
    assert all(r["linear"] > 0 for r in merged["results"]) and merged["tuning"] == tuning and merged["wall"] == 30.0


def test_largest_lr_that_trains_stops_at_the_first_failing_lr():
    bench = load_benchmark()
    rows = [dict(objective="RPC", lr=lr, optimizer="sgd", diverged=lr >= 3, collapsed=False) for lr in (0.1, 1, 3, 10)]
    rows += [dict(objective="DV", lr=lr, optimizer="sgd", diverged=False, collapsed=lr == 0.1) for lr in (0.1, 1)]
    record = bench.stability_record(rows)
    assert record["RPC"] == dict(optimizer="sgd", lrs=[0.1, 1, 3, 10], largest_lr=1, first_failing_lr=3)
    assert record["DV"]["largest_lr"] is None and record["DV"]["first_failing_lr"] == 0.1


def test_bad_inputs_are_value_errors(tmp_path):
    bench = load_benchmark()
    with pytest.raises(ValueError, match="Fashion-MNIST not found"):
        bench.main(["--data-dir", str(tmp_path), "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="unknown objectives"):
        bench.make_objectives(["RPC", "SimSiam"])
    with pytest.raises(ValueError, match="same number of trials"):
        bench.parse_args(["--parts", "tuning", "--tune-trials", "1000"])


def test_few_label_draws_are_class_balanced_seeded_and_named_when_too_few():
    load_benchmark()
    import torch

    from benchmarks.harness import probes

    y = torch.arange(3).repeat_interleave(torch.tensor([5, 7, 9]))
    idx = probes.few_label_indices(y, 4, seed=1)
    assert torch.bincount(y[idx]).tolist() == [4, 4, 4] and len(set(idx.tolist())) == 12
    assert torch.equal(idx, probes.few_label_indices(y, 4, seed=1))
    assert not torch.equal(idx, probes.few_label_indices(y, 4, seed=2))
    with pytest.raises(ValueError, match="class 0 has 5 examples, fewer than per_class=6"):
        probes.few_label_indices(y, 6, seed=0)


def test_bf16_autocast_trains_in_bfloat16_and_returns_float32_losses():
    load_benchmark()
    import torch

    from benchmarks.vision import train

    seen = []
    x = torch.rand(32, 1, 28, 28)

    def objective():
        from rpc_plugins import RPCLoss

        class Spy(RPCLoss):
            def forward(self, a, b):
                seen.append((a.dtype, b.dtype))
                return super().forward(a, b)

        return Spy()

    with train.mixed_precision("cpu", True):  # the harness's context, as train uses it
        assert torch.nn.Linear(4, 4)(torch.rand(2, 4)).dtype == torch.bfloat16
    out = train.pretrain(
        objective, x, batch_size=16, lr=1e-3, samples=32, seed=0, device="cpu", backbone_name="cnn", bf16=True
    )
    assert seen == [(torch.float32, torch.float32)] * 2 and not out["diverged"]
    assert all(p.dtype == torch.float32 for p in out["backbone"].parameters())


def test_a_run_whose_embeddings_blow_up_is_diverged_for_every_kind_of_objective():
    """lightly's losses return NaN, rpc_plugins' raise a ValueError naming the non-finite scores: both
    end the run as diverged instead of crashing the grid; other errors still propagate."""
    load_benchmark()
    import torch

    from benchmarks.vision import train
    from benchmarks.vision.objectives import make_loss

    x = torch.rand(32, 1, 28, 28)
    for name in ("NT-Xent", "RPC", "NWJ-raw-critic", "RPC-cifar10-preset"):
        out = train.pretrain(
            lambda: make_loss(name),
            x,
            batch_size=16,
            lr=1e30,
            samples=96,
            seed=0,
            device="cpu",
            backbone_name="cnn",
            optimizer="sgd",
        )
        assert out["diverged"], name
    with pytest.raises(ValueError, match="must be"):
        train.pretrain(
            lambda: make_loss("RPC", {"alpha": -1.0}),
            x,
            batch_size=16,
            lr=1e-3,
            samples=32,
            seed=0,
            device="cpu",
            backbone_name="cnn",
        )


def test_raw_critic_variants_score_unnormalised_projections():
    load_benchmark()
    import torch

    from benchmarks.vision.objectives import make_loss

    a, b = torch.randn(8, 16), torch.randn(8, 16)
    for name in ("InfoNCE", "NWJ", "DV"):
        raw = make_loss(f"{name}-raw-critic")
        assert raw.normalize is False and raw.temperature == 128.0
        assert not torch.isclose(raw(a, b), raw(3 * a, b)), name  # normalised critics ignore the scale


def test_harness_and_vision_module_examples():
    """The ``>>>`` examples of the shared harness (probes, tuning draws, LARS, rows) and the vision modules."""
    import doctest
    import importlib

    load_benchmark()  # puts the checkout on sys.path
    names = ["augment", "data", "optim", "plots", "precision", "probes", "rows", "tables", "tuning"]
    modules = [f"benchmarks.harness.{n}" for n in names] + [
        f"benchmarks.vision.{n}" for n in ("models", "objectives", "report", "train")
    ]
    for name in modules:
        result = doctest.testmod(importlib.import_module(name))
        assert result.failed == 0 and result.attempted > 0, name
