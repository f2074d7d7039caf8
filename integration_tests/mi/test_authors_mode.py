"""CI smoke of the authors' MI setting (Tsai et al. 2021, Sec. 4.3; protocol of Poole et al. 2019):
``benchmarks/mi/run.py --setting authors`` at a reduced scale, its concat critic at the authors' size,
and a low-MI level tracked by a short training run through ``rpc_plugins.mi.train_critic``."""

import importlib.util
import json
import math
import os

import pytest
import torch

from rpc_plugins.mi import ConcatCritic, estimate, gaussian, rpc_estimate, rpc_score_from_log_ratio, train_critic

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_run():
    spec = importlib.util.spec_from_file_location("mi_run", os.path.join(ROOT, "benchmarks", "mi", "run.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_authors_concat_critic_at_full_size_equals_the_naive_concatenation():
    """40 -> 512 -> 512 -> 1 on all 128 x 128 pairs: the decomposed first layer is the same function."""
    torch.manual_seed(0)
    critic = ConcatCritic(20, 20, hidden=512).double()
    x, y = gaussian.sample(128, 6.0, generator=torch.Generator().manual_seed(1))
    x, y = x.double(), y.double()
    fast, naive = critic(x, y), critic.naive(x, y)
    assert fast.shape == (128, 128)
    torch.testing.assert_close(fast, naive, rtol=1e-12, atol=1e-12)
    # and naive[i, j] is the MLP on the concatenated pair [x_i, y_j]
    torch.testing.assert_close(naive[3, 77], critic.net(torch.cat([x[3], y[77]])).squeeze(), rtol=1e-12, atol=1e-12)


def test_reduced_authors_mode_writes_the_results_schema(tmp_path):
    run = load_run()
    run.main(
        [
            "--setting",
            "authors",
            "--hidden",
            "16",
            "--steps",
            "12",
            "--tail",
            "8",
            "--tasks",
            "gaussian",
            "--estimators",
            "infonce",
            "rpc_authors",
            "rpc",
            "--workers",
            "1",
            "--progress",
            "0",
            "--out",
            str(tmp_path),
        ]
    )
    res = json.loads((tmp_path / "results_authors.json").read_text())
    assert res["mode"] == "reduced" and res["steps_per_level"] == 12 and res["tail"] == 8 and res["hidden"] == 16
    stats = res["stats"]["gaussian"]
    assert set(stats) == {"infonce", "rpc", "rpc[batch_mean]", "rpc[per_sample]", "rpc[dv]", "rpc[dv_clip]"}
    for rows in stats.values():
        assert [r["mi"] for r in rows] == [2.0, 4.0, 6.0, 8.0, 10.0]
        for r in rows:
            assert math.isfinite(r["mean"]) and r["var"] >= 0
            assert r["bias"] == pytest.approx(r["mean"] - r["mi"])
            assert r["mse"] == pytest.approx(r["bias"] ** 2 + r["var"])
    md = (tmp_path / "results_authors.md").read_text()
    assert "**Mode: reduced.**" in md and "authors' committed" in md
    assert (tmp_path / "mi_authors.png").stat().st_size > 1000


def test_level_stats_from_the_definition():
    run = load_run()
    steps, tail = 6, 4
    trace = [float(i % 7) for i in range(5 * steps)]
    rows = run.level_stats(trace, steps, tail)
    for i, row in enumerate(rows):
        window = trace[(i + 1) * steps - tail : (i + 1) * steps]
        mean = sum(window) / tail
        assert row["mean"] == pytest.approx(mean)
        assert row["var"] == pytest.approx(sum((v - mean) ** 2 for v in window) / tail)
        assert row["bias"] == pytest.approx(mean - run.LEVELS[i])
    trace[steps + 5] = math.nan  # a diverged step inside level 2's window: no statistics for it
    assert math.isnan(run.level_stats(trace, steps, tail)[1]["mean"])


@pytest.mark.parametrize("name, hidden, steps", [("infonce", 32, 300), ("rpc", 64, 800)])
def test_concat_critic_tracks_a_low_mi_level(name, hidden, steps):
    """A small concat critic at MI = 1 nat (d = 20, batch 64): InfoNCE (300 steps) and the default RPC estimator
    (the authors' critic and relative parameters, per-sample readout; 800 steps, RPC's critic converges more
    slowly) land within 0.5 nat of the truth, and the untrained critic does not."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    data = iter(lambda: gaussian.sample(64, 1.0, generator=g), None)
    critic = ConcatCritic(20, 20, hidden=hidden)
    with torch.no_grad():
        x, y = next(data)
        untrained = float(estimate(name, critic(x, y)))
    trace = train_critic(critic, name, data, steps=steps)
    tail = sum(trace[name][-100:]) / 100
    assert abs(untrained - 1.0) > 0.5, untrained
    assert abs(tail - 1.0) < 0.5, tail


def test_readouts_on_the_exact_optimal_critic():
    """No training: RPC's optimal critic f* = (r - 1)/(1e-4 r + 1) built from the true Gaussian ratio.
    The per-sample readout is unbiased (within 4 standard errors of the d rho^2 / B sampling floor), while the
    authors' batch-mean readout log r(E_P f) is over by more than a nat at MI 2 (log E_P[r] >= E_P[log r])
    and under the truth at MI 10 (f* saturates at 1/beta): their committed pattern, from the readout alone."""
    g = torch.Generator().manual_seed(0)
    for mi, over in ((2.0, True), (10.0, False)):
        per_sample, batch_mean = [], []
        for _ in range(200):
            x, y = gaussian.sample(128, mi, generator=g)
            f = rpc_score_from_log_ratio(gaussian.log_ratio(x, y, mi), 1.0, 1e-4, 1.0)
            per_sample.append(float(rpc_estimate(f)))
            batch_mean.append(float(rpc_estimate(f, form="batch_mean")))
        floor_var = 20 * gaussian.rho_for_mi(mi) ** 2 / 128
        assert abs(sum(per_sample) / 200 - mi) < 4 * math.sqrt(floor_var / 200), (mi, sum(per_sample) / 200)
        sample_var = sum((v - sum(per_sample) / 200) ** 2 for v in per_sample) / 199
        assert 0.5 * floor_var < sample_var < 2 * floor_var, (mi, sample_var, floor_var)
        bm = sum(batch_mean) / 200
        assert (bm > mi + 1.0) if over else (bm < mi - 0.2), (mi, bm)


def test_combine_averages_seeds_from_the_definition(tmp_path):
    run = load_run()
    base = [
        "--setting",
        "authors",
        "--hidden",
        "8",
        "--steps",
        "5",
        "--tail",
        "3",
        "--tasks",
        "gaussian",
        "--workers",
        "1",
        "--progress",
        "0",
        "--out",
        str(tmp_path),
    ]
    run.main(base + ["--estimators", "rpc_authors", "infonce", "--seeds", "0", "--tag", "a"])
    run.main(base + ["--estimators", "rpc_authors", "--seeds", "1", "2", "--tag", "b"])
    run.main(
        [
            "--combine",
            str(tmp_path / "results_a.json"),
            str(tmp_path / "results_b.json"),
            "--keys",
            "rpc",
            "--out",
            str(tmp_path),
            "--tag",
            "c",
        ]
    )
    a, b, c = (json.loads((tmp_path / f"results_{t}.json").read_text()) for t in "abc")
    per = [a["stats_per_seed"]["0"], b["stats_per_seed"]["1"], b["stats_per_seed"]["2"]]
    assert "infonce" not in c["stats"]["gaussian"]  # filtered by --keys
    for i in range(5):
        means = [p["gaussian"]["rpc"][i]["mean"] for p in per]
        row = c["stats"]["gaussian"]["rpc"][i]
        m = sum(means) / 3
        assert row["seeds"] == 3 and row["mean"] == pytest.approx(m)
        assert row["mean_sd"] == pytest.approx(math.sqrt(sum((v - m) ** 2 for v in means) / 2))
        assert row["var"] == pytest.approx(sum(p["gaussian"]["rpc"][i]["var"] for p in per) / 3)


def test_module_examples():
    import doctest

    run = load_run()  # puts the checkout on sys.path
    from benchmarks.mi import report

    for module in (run, report):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__
