"""Stopping and auto-resuming ``method: rpc`` through solo-learn main's own Checkpointer and AutoResumer continues
exactly where an uninterrupted run goes (real solo-learn 9187ea3, Lightning 2.1, CPU).

Three runs of solo's ``main_pretrain.py`` with its cifar ``simclr.yaml`` and ``auto_resume.enabled=True``:
A trains 2 epochs straight; B1 is the same command stopped after epoch 1 (``+max_steps=1``; ``max_steps`` is not
one of the AutoResumer's must-match keys); B2 is the same command again, so solo's AutoResumer finds B1's
checkpoint and Lightning restores weights, LARS momentum and the epoch-wise warmup-cosine schedule. B2's final
weights must equal A's. Each epoch is ONE batch holding the whole 32-image train folder with deterministic
augmentations, so solo's shuffling cannot make the runs see different data (the losses are permutation
invariant).
"""

import pytest

import torch

from integration_tests.solo.conftest import (
    checkpoints,
    cpu_overrides,
    fixed_augmentations,
    logged_metrics,
    main_pretrain_in_process,
)


def final_state(folder):
    ckpt = checkpoints(folder)[-1]
    assert ckpt.endswith("ep=1.ckpt"), ckpt
    return torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]


@pytest.mark.parametrize("loss", ["rpc"])
def test_auto_resume_continues_like_an_uninterrupted_run(tmp_path, monkeypatch, capsys, loss):
    from rpc_solo.data import export

    data = export("digits", str(tmp_path / "digits32"), n_train=32, n_val=8, size=32)

    def overrides(ckpt_dir, **extra):
        return cpu_overrides(
            data,
            loss=f"+loss={loss}",
            max_epochs="max_epochs=2",
            train_batches="+limit_train_batches=1",
            checkpoint="checkpoint.enabled=True",
            checkpoint_dir=f"checkpoint.dir={ckpt_dir}",
            auto_resume="auto_resume.enabled=True",
            interval="+scheduler.interval=epoch",
            warmup="+scheduler.warmup_epochs=1",
            warmup_lr="+scheduler.warmup_start_lr=0.01",
            **fixed_augmentations(tmp_path / "conf"),
            **extra,
        )

    (tmp_path / "a").mkdir(), (tmp_path / "b1").mkdir(), (tmp_path / "b2").mkdir()
    main_pretrain_in_process(tmp_path / "a", overrides(tmp_path / "ckpt_a"), monkeypatch)
    main_pretrain_in_process(tmp_path / "b1", overrides(tmp_path / "ckpt_b", stop="+max_steps=1"), monkeypatch)
    (stopped,) = checkpoints(tmp_path / "ckpt_b")
    assert stopped.endswith("ep=0.ckpt"), stopped
    capsys.readouterr()
    main_pretrain_in_process(tmp_path / "b2", overrides(tmp_path / "ckpt_b"), monkeypatch)
    assert "Resuming from previous checkpoint" in capsys.readouterr().out  # solo's AutoResumer found B1's

    straight, resumed = final_state(tmp_path / "ckpt_a"), final_state(tmp_path / "ckpt_b")
    first = torch.load(stopped, map_location="cpu", weights_only=False)["state_dict"]
    assert straight.keys() == resumed.keys()
    for key, value in straight.items():
        torch.testing.assert_close(resumed[key], value, rtol=1e-4, atol=1e-5, msg=key)
    # the second epoch moved the weights: a resume that skipped it would not pass by accident
    assert any(not torch.allclose(first[k], straight[k]) for k in straight if straight[k].is_floating_point())
    # and B2 trained only the second epoch
    _, rows = logged_metrics(tmp_path / "b2")
    assert {int(float(r["epoch"])) for r in rows if r.get("epoch")} == {1}
    a_metrics, _ = logged_metrics(tmp_path / "a")
    b_metrics, _ = logged_metrics(tmp_path / "b2")
    assert b_metrics[f"train_{loss}_loss_epoch"] == pytest.approx(a_metrics[f"train_{loss}_loss_epoch"], rel=1e-4)
