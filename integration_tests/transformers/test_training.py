"""Where users train: the loss line of HF's pretraining loop, transformers.Trainer, and the example on flite."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from rpc_transformers import PretrainingCollator, Wav2Vec2PretrainingLoss

from .conftest import make_batch, tiny_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "transformers", "pretrain_wav2vec2.py")
sys.path.insert(0, os.path.dirname(EXAMPLE))
import pretrain_wav2vec2 as example  # noqa: E402


def waves(n=8, samples=3200, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(samples + 40 * i).astype(np.float32) for i in range(n)]


def trainer_for(model, objective, steps, tmp_path):
    from transformers import TrainingArguments

    from rpc_transformers.trainer import RPCPretrainingTrainer

    args = TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=steps,
        learning_rate=1e-3,
        per_device_train_batch_size=4,
        logging_steps=2,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
    )
    return RPCPretrainingTrainer(
        model=model,
        args=args,
        train_dataset=waves(),
        data_collator=PretrainingCollator(model.config, mask_prob=0.5, mask_length=3),
        rpc_loss=Wav2Vec2PretrainingLoss(model.config, objective=objective),
    )


def test_trainer_compute_loss_is_hf_loss_per_masked_frame(tmp_path):
    model = tiny_model().eval()
    trainer = trainer_for(model, "infonce", 1, tmp_path)
    x, mask, negatives = make_batch(model.config, batch=3, seed=12)
    inputs = {"input_values": x, "mask_time_indices": mask, "sampled_negative_indices": negatives}
    hf = model(**inputs).loss
    loss = trainer.compute_loss(model, inputs)
    torch.testing.assert_close(loss, hf / mask.sum(), rtol=1e-5, atol=0)
    loss.backward()  # a real graph to the model's parameters
    assert model.project_hid.weight.grad is not None


@pytest.mark.parametrize("objective", ["rpc", "infonce"])
def test_trainer_trains_and_logs_e_pos_e_neg_mi(objective, tmp_path):
    model = tiny_model()
    before = [p.detach().clone() for p in model.parameters()]
    trainer = trainer_for(model, objective, 4, tmp_path)
    trainer.train()
    logged = [entry for entry in trainer.state.log_history if "E_pos" in entry]
    assert len(logged) == 2
    for entry in logged:
        assert all(math.isfinite(entry[k]) for k in ("loss", "E_pos", "E_neg", "mi_nce"))
        assert ("mi_rpc" in entry) == (objective == "rpc")
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_loop_loss_line_trains_and_reports(capsys):
    model = tiny_model()
    collator = PretrainingCollator(model.config, mask_prob=0.5, mask_length=3)
    lines = []
    losses = example.pretrain_loop(
        model,
        waves(),
        Wav2Vec2PretrainingLoss(model.config, objective="rpc"),
        collator,
        steps=6,
        lr=1e-3,
        batch_size=4,
        log_every=3,
        log=lines.append,
    )
    assert len(losses) == 6 and all(math.isfinite(v) for v in losses)
    assert len(lines) == 2 and all(k in lines[0] for k in ("E_pos", "E_neg", "mi_nce", "mi_rpc"))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", ["loop", "trainer"])
def test_example_trains_on_flite_and_reports_probes(mode, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [
            sys.executable,
            EXAMPLE,
            "--data",
            str(tmp_path / "speech"),
            "--utterances",
            "15",
            "--steps",
            "4",
            "--log-every",
            "2",
            "--batch-size",
            "4",
            "--mode",
            mode,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=280,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "E_pos" in proc.stdout and "E_neg" in proc.stdout and "mi_rpc" in proc.stdout
    assert "probe accuracy on held-out utterances: phone" in proc.stdout
