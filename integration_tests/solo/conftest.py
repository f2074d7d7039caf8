"""Shared helpers for the solo-learn main integration tests (``.venvs/solo-main``: Hydra API, Lightning 2).

``run_main_pretrain`` runs solo's OWN ``main_pretrain.py`` with solo's own ``scripts/pretrain/cifar/simclr.yaml``
in a fresh process, as a user does; ``method=rpc`` is found through the ``hydra_plugins.rpc_solo_plugin`` hook,
nothing else. RPC: Tsai et al., ICLR 2021, arXiv 2103.11275.
"""

import csv
import os
import subprocess
import sys

import pytest


@pytest.fixture(scope="session")
def digits_folder(tmp_path_factory):
    from rpc_solo.data import export

    return export("digits", str(tmp_path_factory.mktemp("digits")), n_train=128, n_val=64, size=32)


def solo_checkout():
    """solo-learn main's source tree (``main_pretrain.py`` + ``scripts/``, not in its wheel).

    ``envs/solo-main.sh`` unpacks it to ``<venv>/solo-learn``; ``SOLO_LEARN_DIR`` points elsewhere.
    """
    path = os.environ.get("SOLO_LEARN_DIR") or os.path.join(sys.prefix, "solo-learn")
    if not os.path.isfile(os.path.join(path, "main_pretrain.py")):
        pytest.fail(
            f"no solo-learn main checkout at {path} (main_pretrain.py missing): build it with "
            "`bash envs/solo-main.sh` or set SOLO_LEARN_DIR to a clone of vturrisi/solo-learn@9187ea3"
        )
    return path


def cpu_overrides(data_dir, **changes):
    """Hydra overrides that turn solo's cifar ``simclr.yaml`` into a 2-step CPU run on an image folder.

    ``changes`` maps a key (dots as ``__``) to its override: ``loss="+loss=mio"`` replaces or adds
    by key, ``None`` drops a default. Returns the override list.
    """
    base = {
        "method": "method=rpc",
        "dataset": "data.dataset=custom",
        "train": f"data.train_path={data_dir}/train",
        "val": f"data.val_path={data_dir}/val",
        "workers": "data.num_workers=0",
        "accelerator": "accelerator=cpu",
        "devices": 'devices="1"',  # a string: solo scales the lr by len(devices); Lightning reads one CPU process
        "strategy": "strategy=auto",
        "precision": "precision=32",
        "sync_bn": "sync_batchnorm=False",
        "checkpoint": "checkpoint.enabled=False",
        "auto_resume": "auto_resume.enabled=False",
        "wandb": "wandb.enabled=False",
        "batch_size": "optimizer.batch_size=32",
        "max_epochs": "max_epochs=1",
        "train_batches": "+limit_train_batches=2",
        "val_batches": "+limit_val_batches=0",
        "channels_last": "+performance.disable_channel_last=True",
    }
    base.update(changes)
    return [v for v in base.values() if v is not None]


def run_main_pretrain(cwd, overrides, config_name="simclr.yaml", config_path=None, timeout=240, env=None):
    """Run solo's own ``main_pretrain.py`` in a fresh process (cwd: where Lightning's CSV logs go)."""
    solo = solo_checkout()
    cmd = [
        sys.executable,
        os.path.join(solo, "main_pretrain.py"),
        "--config-path",
        config_path or os.path.join(solo, "scripts", "pretrain", "cifar"),
        "--config-name",
        config_name,
        *overrides,
    ]
    full_env = dict(os.environ, HYDRA_FULL_ERROR="1", PYTHONWARNINGS="ignore")
    full_env.update(env or {})
    return subprocess.run(cmd, cwd=str(cwd), capture_output=True, text=True, timeout=timeout, env=full_env)


def main_pretrain_in_process(cwd, overrides, monkeypatch, config_name="simclr.yaml", config_path=None):
    """Run solo's own ``main_pretrain.py`` as ``__main__`` in this process (no start-up cost; the test process has
    already imported ``rpc_solo``, so use ``run_main_pretrain`` to test the Hydra plugin itself). With
    HYDRA_FULL_ERROR=1 Hydra re-raises the task's exception, so ``pytest.raises`` sees solo's real error."""
    import runpy

    from hydra.core.global_hydra import GlobalHydra

    solo = solo_checkout()
    script = os.path.join(solo, "main_pretrain.py")
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    monkeypatch.setattr(
        sys,
        "argv",
        [
            script,
            "--config-path",
            config_path or os.path.join(solo, "scripts", "pretrain", "cifar"),
            "--config-name",
            config_name,
            *overrides,
        ],
    )
    GlobalHydra.instance().clear()
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        GlobalHydra.instance().clear()


def assert_ok(proc):
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"


def logged_metrics(cwd):
    """solo logs through Lightning's default logger (CSV here): the last value of every column, per epoch."""
    versions = sorted(os.listdir(os.path.join(cwd, "lightning_logs")), key=lambda v: int(v.split("_")[-1]))
    with open(os.path.join(cwd, "lightning_logs", versions[-1], "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    out = {}
    for row in rows:
        for key, value in row.items():
            if value not in ("", None):
                out[key] = float(value)
    return out, rows


def checkpoints(folder):
    """Every ``.ckpt`` solo's Checkpointer wrote under ``folder`` (newest last)."""
    found = [os.path.join(d, f) for d, _, files in os.walk(folder) for f in files if f.endswith(".ckpt")]
    return sorted(found, key=os.path.getmtime)


def compose_solo_cfg(overrides, config_name="simclr.yaml", config_dir=None):
    """solo's own config path in-process: Hydra composes the yaml, then ``solo.args.pretrain.parse_cfg``
    (which calls ``METHODS[cfg.method].add_and_assert_specific_cfg``), as ``main_pretrain.main`` does."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf
    from solo.args.pretrain import parse_cfg

    config_dir = config_dir or os.path.join(solo_checkout(), "scripts", "pretrain", "cifar")
    with initialize_config_dir(config_dir=config_dir, version_base="1.2"):
        cfg = compose(config_name, overrides=list(overrides))
    OmegaConf.set_struct(cfg, False)
    return parse_cfg(cfg)


FIXED_AUGMENTATIONS = """\
# one deterministic pipeline (no random crop, flip or colour change): both views are the resized image
- rrc: {enabled: false, crop_min_scale: 1.0, crop_max_scale: 1.0}
  color_jitter: {prob: 0.0, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1}
  grayscale: {prob: 0.0}
  gaussian_blur: {prob: 0.0}
  solarization: {prob: 0.0}
  equalization: {prob: 0.0}
  horizontal_flip: {prob: 0.0}
  crop_size: CROP
  num_crops: 2
"""


def fixed_augmentations(folder, crop_size=32):
    """A Hydra search path holding ``augmentations/fixed.yaml``; select it with the returned overrides
    (solo's ``simclr.yaml`` stays the primary config)."""
    os.makedirs(os.path.join(folder, "augmentations"), exist_ok=True)
    with open(os.path.join(folder, "augmentations", "fixed.yaml"), "w") as f:
        f.write(FIXED_AUGMENTATIONS.replace("CROP", str(crop_size)))
    return {
        "searchpath": f"hydra.searchpath=[file://{os.path.abspath(folder)}]",
        "augmentations": "augmentations=fixed",
    }
