"""fairseq 0.12.2's own CLI trains wav2vec 2.0 and wav2vec (CPC) with criterion rpc from the shipped configs."""

import math

import pytest

from integration_tests.fairseq.conftest import hydra_train, legacy_train, train_log


def assert_trains(output, key, updates):
    rows = train_log(output)
    assert len(rows) == updates, output[-3000:]
    values = [float(r[key]) for r in rows]
    assert all(math.isfinite(v) for v in values), values
    first, last = sum(values[:3]) / 3, sum(values[-3:]) / 3
    assert last < first, f"{key} did not fall: {values}"
    return rows


# wav2vec 2.0: the total (RPC + diversity + feature penalty) falls; with alpha=1 the RPC term itself starts near 0
@pytest.mark.parametrize("config,key", [("wav2vec2_tiny_rpc", "loss"), ("wav2vec_cpc_tiny_rpc", "loss")])
def test_rpc_criterion_trains(config, key, speech_corpus, tmp_path):
    code, out = hydra_train(config, speech_corpus, tmp_path, "optimization.max_update=12")
    assert code == 0, out[-3000:]
    rows = assert_trains(out, key, 12)
    assert {"E_pos", "E_neg", "mi_rpc", "accuracy"} <= set(rows[-1])
    assert all(math.isfinite(float(r[k])) for r in rows for k in ("E_pos", "E_neg", "mi_rpc"))


@pytest.mark.parametrize("config,key", [("wav2vec2_tiny_rpc", "loss_0"), ("wav2vec_cpc_tiny_rpc", "loss")])
def test_builtin_wav2vec_criterion_same_config(config, key, speech_corpus, tmp_path):
    code, out = hydra_train(
        config,
        speech_corpus,
        tmp_path,
        "optimization.max_update=12",
        "criterion._name=wav2vec",
        "+criterion.infonce=true",  # the wav2vec criterion's layout key (default false); rpc has none
        "~criterion.objective",
        "~criterion.alpha",
        "~criterion.beta",
        "~criterion.gamma",
        "~criterion.critic_scale",
    )
    assert code == 0, out[-3000:]
    assert_trains(out, key, 12)


def test_legacy_fairseq_train_cli(speech_corpus, tmp_path):
    """The argparse CLI (fairseq-train --user-dir ... --criterion rpc) as in examples/fairseq/README.md."""
    code, out = legacy_train(speech_corpus, tmp_path, "--max-update", "12", "--alpha", "1.0")
    assert code == 0, out[-3000:]
    rows = assert_trains(out, "loss", 12)
    assert {"E_pos", "E_neg", "mi_rpc", "accuracy"} <= set(rows[-1])


def test_infonce_objective_through_the_rpc_criterion(speech_corpus, tmp_path):
    code, out = hydra_train(
        "wav2vec2_tiny_rpc",
        speech_corpus,
        tmp_path,
        "optimization.max_update=6",
        "criterion.objective=infonce",
        "criterion.critic_scale=null",
    )  # unset: 1.0
    assert code == 0, out[-3000:]
    rows = train_log(out)
    assert len(rows) == 6 and "mi_rpc" not in rows[0]


def test_checkpoint_save_and_resume(speech_corpus, tmp_path):
    code, out = hydra_train(
        "wav2vec2_tiny_rpc", speech_corpus, tmp_path, "optimization.max_update=10", "checkpoint.save_interval_updates=5"
    )
    assert code == 0, out[-3000:]
    assert (tmp_path / "checkpoint_last.pt").exists()
    code, out = hydra_train(
        "wav2vec2_tiny_rpc", speech_corpus, tmp_path, "optimization.max_update=14", "checkpoint.save_interval_updates=5"
    )
    assert code == 0, out[-3000:]
    assert "Loaded checkpoint" in out and "@ 10 updates" in out, out[-3000:]
    assert [int(r["num_updates"]) for r in train_log(out)] == [11, 12, 13, 14]


@pytest.mark.parametrize(
    "override,message",
    [
        ("criterion.gamma=-0.1", "criterion: rpc: gamma must be finite and >= 0"),
        ("+criterion.infonce=true", "Key 'infonce' not in 'RpcCriterionConfig'"),
        ("criterion.objective=simclr", "criterion.objective='simclr' is not supported"),
    ],
)
def test_bad_config_fails_with_a_clear_error(override, message, speech_corpus, tmp_path):
    code, out = hydra_train("wav2vec2_tiny_rpc", speech_corpus, tmp_path, "optimization.max_update=2", override)
    assert code != 0
    assert message in out, out[-3000:]
    if "objective" in override:
        assert "valid values: dv, infonce, js, mio, nwj, rpc, smile" in out, out[-3000:]


def test_binary_layout_fails_with_a_clear_error(speech_corpus, tmp_path):
    """wav2vec (v1) with ``model.infonce=false`` emits one logit per pair: the criterion names the key to set."""
    code, out = hydra_train(
        "wav2vec_cpc_tiny_rpc", speech_corpus, tmp_path, "optimization.max_update=2", "model.infonce=false"
    )
    assert code != 0
    assert "wav2vec (v1) emits that layout with model.infonce=true" in out, out[-3000:]


def test_two_process_gloo_training(speech_corpus, tmp_path):
    """torchrun + gloo + legacy_ddp on the CPU: the criterion's logging outputs are summable."""
    code, out = hydra_train("wav2vec2_tiny_rpc", speech_corpus, tmp_path, "optimization.max_update=4", world_size=2)
    assert code == 0, out[-3000:]
    rows = train_log(out)
    assert len(rows) >= 4 and all(math.isfinite(float(r["loss"])) for r in rows)
