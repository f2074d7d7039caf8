"""``method: rpc`` through solo-learn main's OWN ``main_pretrain.py`` and its cifar ``simclr.yaml`` (real solo-learn
9187ea3, Lightning 2.1, torch 2, CPU). Nothing of ours is on the command line: in a fresh process ``method=rpc``
is found because Hydra imports ``hydra_plugins.rpc_solo_plugin`` when solo's script starts (first test). The
other runs execute the same script in the test process (``main_pretrain_in_process``) to save start-up time.
"""

import json
import math
import os

import pytest

import torch

from integration_tests.solo.conftest import (
    assert_ok,
    checkpoints,
    compose_solo_cfg,
    cpu_overrides,
    fixed_augmentations,
    logged_metrics,
    main_pretrain_in_process,
    run_main_pretrain,
)


def saved_args(folder):
    """The args.json that solo's Checkpointer writes beside its checkpoints."""
    (path,) = [os.path.join(d, "args.json") for d, _, files in os.walk(folder) if "args.json" in files]
    with open(path) as f:
        return json.load(f)


def test_simclr_yaml_with_only_method_rpc_trains_with_online_linear_and_knn(digits_folder, tmp_path):
    """solo's cifar simclr.yaml, ``method=rpc``, CPU/data overrides only: trains, validates (solo's online
    linear classifier and kNN), and solo's Checkpointer saves under ``<dir>/rpc/`` with RPC's defaults."""
    proc = run_main_pretrain(
        tmp_path,
        cpu_overrides(
            digits_folder,
            val_batches="+limit_val_batches=1.0",
            knn="+knn_eval.enabled=True",
            knn_k="+knn_eval.k=5",
            checkpoint="checkpoint.enabled=True",
            checkpoint_dir=f"checkpoint.dir={tmp_path}/ckpt",
        ),
    )
    assert_ok(proc)
    metrics, _ = logged_metrics(tmp_path)
    assert math.isfinite(metrics["train_rpc_loss_epoch"]), metrics
    assert 0.0 <= metrics["val_acc1"] <= 100.0 and math.isfinite(metrics["val_loss"]), metrics  # online linear
    assert 0.0 <= metrics["val_knn_acc1"] <= 100.0, metrics  # solo's WeightedKNNClassifier
    (ckpt,) = checkpoints(tmp_path / "ckpt" / "rpc")
    args = saved_args(tmp_path / "ckpt")
    assert args["method"] == "rpc"
    assert args["loss"] == "rpc"  # method rpc = simclr + loss rpc, with RPC's defaults resolved by the core
    assert args["loss_kwargs"] == dict(alpha=0.3, beta=0.01, gamma=0.1, normalize=True)
    state = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


@pytest.mark.parametrize("loss", ["infonce", "mio"])
def test_loss_switch_from_the_command_line(digits_folder, tmp_path, monkeypatch, loss):
    """One key switches the objective; ``+`` because simclr.yaml has no ``loss``."""
    main_pretrain_in_process(
        tmp_path,
        cpu_overrides(digits_folder, loss=f"+loss={loss}", train_batches="+limit_train_batches=1"),
        monkeypatch,
    )
    metrics, _ = logged_metrics(tmp_path)
    assert math.isfinite(metrics[f"train_{loss}_loss_epoch"]), metrics
    assert "train_rpc_loss_epoch" not in metrics


def test_timm_backbone_by_name(digits_folder, tmp_path, monkeypatch):
    """``backbone.name=timm_<name>``: rpc_solo adds timm backbones to solo's ``BaseMethod._BACKBONES``."""
    main_pretrain_in_process(
        tmp_path,
        cpu_overrides(
            digits_folder,
            backbone="backbone.name=timm_resnet10t",
            train_batches="+limit_train_batches=1",
            checkpoint="checkpoint.enabled=True",
            checkpoint_dir=f"checkpoint.dir={tmp_path}/ckpt",
        ),
        monkeypatch,
    )
    metrics, _ = logged_metrics(tmp_path)
    assert math.isfinite(metrics["train_rpc_loss_epoch"])
    (ckpt,) = checkpoints(tmp_path / "ckpt")
    state = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
    # timm's resnet10t has a 3-conv deep stem (conv1.0/.3/.6); solo's own resnet18 has one conv1
    assert "backbone.conv1.6.weight" in state


def test_bad_loss_from_solo_script_names_the_key(digits_folder, tmp_path):
    """What a user sees from solo's script in a fresh process (Hydra prints the ValueError's message)."""
    proc = run_main_pretrain(
        tmp_path, cpu_overrides(digits_folder, loss="+loss=simclr2"), env={"HYDRA_FULL_ERROR": "0"}
    )
    assert proc.returncode != 0
    assert "loss='simclr2' is not a known objective" in proc.stderr, proc.stderr[-3000:]


@pytest.mark.parametrize(
    "override,message",
    [
        ("+loss_kwargs.beta=-0.5", r"loss_kwargs for loss='rpc'.*beta must be finite and >= 0"),
        ("+loss_kwargs.gamma=-1", r"loss_kwargs for loss='rpc'.*gamma must be finite and >= 0"),
        ("method_kwargs.temperature=0", r"method_kwargs.temperature=0\): temperature must be finite and > 1e-8"),
        ("+method_kwargs.lossy=mio", "method_kwargs.lossy is not a setting of method rpc"),
        ("+method_kwargs.beta=0.5", r"method_kwargs.beta is not a setting of method rpc.*`loss` and `loss_kwargs`"),
    ],
)
def test_bad_config_names_the_key(digits_folder, tmp_path, monkeypatch, override, message):
    """solo's script fails when it builds the method, before any data is read or a step is taken."""
    with pytest.raises(ValueError, match=message):
        main_pretrain_in_process(tmp_path, cpu_overrides(digits_folder, bad=override), monkeypatch)
    assert not (tmp_path / "lightning_logs").exists()


def test_infonce_switch_equals_solo_simclr_loss():
    """``loss: infonce`` is solo main's own SimCLR objective (``simclr_loss_func``)."""
    import rpc_plugins
    from solo.losses.simclr import simclr_loss_func

    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(16, 32, generator=g), torch.randn(16, 32, generator=g)
    indexes = torch.arange(16).repeat(2)
    ours = rpc_plugins.ContrastiveLoss("infonce", temperature=0.2)(z1, z2)
    torch.testing.assert_close(ours, simclr_loss_func(torch.cat([z1, z2]), indexes, temperature=0.2))


def test_example_rpc_yaml_composes_with_solo_cifar_groups(digits_folder, tmp_path):
    """examples/solo/rpc.yaml copied next to solo's simclr.yaml (its augmentations/ and wandb/ groups) composes,
    passes solo's parse_cfg and builds the method; it differs from simclr.yaml only where it should."""
    import shutil

    import rpc_solo
    from solo.methods import METHODS

    from integration_tests.solo.conftest import solo_checkout

    cifar = os.path.join(solo_checkout(), "scripts", "pretrain", "cifar")
    conf = tmp_path / "cifar"
    conf.mkdir()
    for group in ("augmentations", "wandb"):
        os.symlink(os.path.join(cifar, group), conf / group)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    shutil.copy(os.path.join(root, "examples", "solo", "rpc.yaml"), conf / "rpc.yaml")
    shutil.copy(os.path.join(cifar, "simclr.yaml"), conf / "simclr.yaml")
    overrides = cpu_overrides(digits_folder, method=None)
    ours = compose_solo_cfg(overrides, config_name="rpc.yaml", config_dir=str(conf))
    theirs = compose_solo_cfg(overrides, config_name="simclr.yaml", config_dir=str(conf))
    assert ours.method == "rpc" and theirs.method == "simclr"
    assert ours.augmentations == theirs.augmentations and ours.optimizer == theirs.optimizer
    assert ours.loss == "rpc" and {"alpha", "beta", "gamma", "normalize"} <= set(ours.loss_kwargs)
    assert isinstance(METHODS["rpc"](ours), rpc_solo.RPC)


@pytest.mark.parametrize("method", ["simclr", "rpc"])
def test_batch_of_one_sample_same_outcome_as_solo_simclr(tmp_path, monkeypatch, method):
    """``optimizer.batch_size=1`` (one sample per rank, no other ranks). solo's own SimCLR gives a
    finite loss (its NT-Xent over {positive} alone is 0) and trains on; method rpc must do the same (the core
    takes the empty negative terms as 0, with a one-time warning). 64 px images: at 32 px solo's resnet18 ends at
    1x1 and its last BatchNorm raises for one sample in BOTH methods before any loss is computed."""
    from rpc_solo.data import export

    data = export("digits", str(tmp_path / "digits64"), n_train=8, n_val=4, size=64)
    overrides = cpu_overrides(
        data,
        method=f"method={method}",
        batch_size="optimizer.batch_size=1",
        **fixed_augmentations(tmp_path / "conf", crop_size=64),
    )
    main_pretrain_in_process(tmp_path, overrides, monkeypatch)
    metrics, _ = logged_metrics(tmp_path)
    loss = metrics["train_nce_loss_epoch" if method == "simclr" else "train_rpc_loss_epoch"]
    assert math.isfinite(loss) and metrics["step"] == 1, metrics  # both steps ran (step counts from 0)
