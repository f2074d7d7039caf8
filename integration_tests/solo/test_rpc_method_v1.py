"""method: rpc through solo-learn 1.0.2's own classes, parser and launcher (real solo, torch 1.9.1, PL 1.4.7)."""

import os
import subprocess
import sys

import pytest

from integration_tests.solo.conftest import require_era

require_era("1.0.2")

import torch  # noqa: E402
from solo.losses.simclr import simclr_loss_func  # noqa: E402
from solo.methods import METHODS  # noqa: E402

import rpc_plugins  # noqa: E402
import rpc_solo  # noqa: E402
from integration_tests.solo.conftest import solo_flags  # noqa: E402
from rpc_solo.pretrain import build_loaders, parse_args  # noqa: E402


def test_registered_in_solo_methods():
    assert METHODS["rpc"] is rpc_solo.RPC and not rpc_solo.HYDRA_API
    assert issubclass(rpc_solo.RPC, METHODS["simclr"])


def fit(data_dir, *extra, steps=3):
    import pytorch_lightning as pl

    args = parse_args(solo_flags(data_dir, *extra))
    model = METHODS[args.method](**args.__dict__)
    train_loader, _ = build_loaders(args)
    trainer = pl.Trainer(
        max_steps=steps,
        gpus=None,
        logger=False,
        checkpoint_callback=False,
        progress_bar_refresh_rate=0,
        weights_summary=None,
        num_sanity_val_steps=0,
    )
    trainer.fit(model, train_loader)
    return model, trainer, train_loader, args


@pytest.mark.parametrize("loss", ["rpc", "infonce", "mio"])
def test_method_fits_through_solo_classes(digits_folder, loss):
    model, trainer, _, _ = fit(digits_folder, "--loss", loss)
    value = trainer.callback_metrics[f"train_{loss}_loss"]
    assert torch.isfinite(value)
    assert trainer.global_step == 3


def test_infonce_switch_equals_solo_simclr_loss():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(16, 32, generator=g), torch.randn(16, 32, generator=g)
    ours = rpc_plugins.ContrastiveLoss("infonce", temperature=0.2)(z1, z2)
    torch.testing.assert_close(ours, simclr_loss_func(z1, z2, temperature=0.2))


def test_checkpoint_resume_gives_identical_loss(digits_folder, tmp_path):
    import pytorch_lightning as pl

    model, trainer, loader, args = fit(digits_folder, "--loss", "rpc", steps=2)
    path = str(tmp_path / "rpc.ckpt")
    trainer.save_checkpoint(path)
    # solo 1.0.2 saves no hyperparameters: rebuild from the same flags, then load the weights
    restored = METHODS["rpc"](**args.__dict__)
    restored.load_state_dict(torch.load(path, map_location="cpu")["state_dict"], strict=True)
    batch = next(iter(loader))
    torch.manual_seed(0)
    model.eval(), restored.eval()
    with torch.no_grad():
        z_a = [model.projector(model.encoder(x)) for x in batch[1][:2]]
        z_b = [restored.projector(restored.encoder(x)) for x in batch[1][:2]]
    torch.testing.assert_close(model.contrastive_loss(*z_a), restored.contrastive_loss(*z_b), rtol=0, atol=0)
    assert restored.loss_name == "rpc" and restored.contrastive_loss.objective == "rpc"
    # and training resumes from the checkpoint's step
    resumed = pl.Trainer(
        max_steps=4,
        gpus=None,
        logger=False,
        checkpoint_callback=False,
        progress_bar_refresh_rate=0,
        weights_summary=None,
        num_sanity_val_steps=0,
        resume_from_checkpoint=path,
    )
    resumed.fit(restored, loader)
    assert resumed.global_step == 4 and torch.isfinite(resumed.callback_metrics["train_rpc_loss"])


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--loss", "simclr2"], "--loss='simclr2' is not a known objective"),
        (["--beta", "-0.5"], "--beta must be >= 0"),
        (["--gamma", "-1"], "--gamma must be >= 0"),
    ],
)
def test_bad_config_names_the_key(digits_folder, flags, message):
    args = parse_args(solo_flags(digits_folder, *flags))
    with pytest.raises(ValueError, match=message):
        METHODS[args.method](**args.__dict__)


def test_unknown_method_named(digits_folder):
    with pytest.raises(ValueError, match="--method 'rcp' is not registered"):
        parse_args(solo_flags(digits_folder, method="rcp"))


def run_launcher(*flags, timeout=150):
    cmd = [sys.executable, "-m", "rpc_solo.pretrain", *flags]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def test_launcher_runs_one_epoch(digits_folder, tmp_path):
    proc = run_launcher(
        *solo_flags(digits_folder, "--loss", "rpc", "--save_checkpoint", "--checkpoint_dir", str(tmp_path))
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    saved = [f for _, _, files in os.walk(tmp_path) for f in files if f.endswith(".ckpt")]
    assert saved, "solo's Checkpointer wrote no checkpoint"


def test_launcher_two_cpu_processes(digits_folder):
    """PL 1.4 ddp_cpu (spawn): two gloo processes, negatives gathered across ranks by rpc_plugins."""
    proc = run_launcher(
        *solo_flags(digits_folder, "--loss", "rpc", "--accelerator", "ddp_cpu", "--num_processes", "2", batch_size=16)
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_timm_encoder_swap(digits_folder):
    model, trainer, _, _ = fit(digits_folder, "--loss", "rpc", "--timm_encoder_name", "resnet26", steps=1)
    assert type(model.encoder).__module__.startswith("timm.")
    assert model.classifier.in_features == model.features_dim == model.encoder.num_features
