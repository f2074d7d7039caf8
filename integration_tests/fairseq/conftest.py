"""Shared fixtures: a generated flite corpus and a runner for fairseq's real CLI."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
USER_DIR = os.path.join(ROOT, "adapters", "rpc_fairseq")
CONFIGS = os.path.join(ROOT, "examples", "fairseq")
BIN = os.path.dirname(sys.executable)


@pytest.fixture(scope="session")
def speech_corpus(tmp_path_factory):
    from rpc_fairseq.speech_data import generate

    out = tmp_path_factory.mktemp("speech")
    generate(str(out), utterances=48, seed=0)
    return str(out)


def fairseq_pretraining_configs():
    """fairseq's own wav2vec 2.0 pretraining yamls, shipped inside the installed package."""
    import fairseq

    return os.path.join(os.path.dirname(fairseq.__file__), "examples", "wav2vec", "config", "pretraining")


def hydra_train(
    config, data, save_dir, *overrides, world_size=1, timeout=240, user_dir=None, config_dir=CONFIGS, env=None
):
    """Run fairseq-hydra-train (or torchrun of it); return (returncode, combined output).

    No ``common.user_dir`` by default: the installed Hydra plugin registers ``rpc``. ``user_dir=PATH`` passes
    ``common.user_dir=PATH`` as well (the classic plugin route). ``env``: extra environment variables.
    """
    cmd = [
        os.path.join(BIN, "fairseq-hydra-train"),
        "--config-dir",
        config_dir,
        "--config-name",
        config,
        f"task.data={data}",
        f"checkpoint.save_dir={save_dir}",
        *overrides,
    ]
    if user_dir is not None:
        cmd.append(f"common.user_dir={user_dir}")
    if world_size > 1:
        cmd = (
            [os.path.join(BIN, "torchrun"), f"--nproc_per_node={world_size}", "--master_port=29731"]
            + cmd
            + [
                f"distributed_training.distributed_world_size={world_size}",
                "distributed_training.distributed_backend=gloo",
            ]
        )
    env = dict(os.environ, HYDRA_FULL_ERROR="1", OMP_NUM_THREADS="1", **(env or {}))
    os.makedirs(save_dir, exist_ok=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(save_dir))
    return proc.returncode, proc.stdout + proc.stderr


# the wav2vec (v1) tiny model of examples/fairseq/README.md, for fairseq's argparse CLI
LEGACY_ARGS = [
    "--task",
    "audio_pretraining",
    "--normalize",
    "--max-sample-size",
    "24000",
    "--min-sample-size",
    "8000",
    "--arch",
    "wav2vec",
    "--prediction-steps",
    "12",
    "--num-negatives",
    "10",
    "--conv-feature-layers",
    "[(64, 10, 5), (64, 8, 4), (64, 4, 2), (64, 4, 2), (64, 4, 2)]",
    "--conv-aggregator-layers",
    "[(64, 2, 1), (64, 3, 1), (64, 4, 1)]",
    "--residual-scale",
    "0.5",
    "--criterion",
    "rpc",
    "--critic-scale",
    "0.05",
    "--optimizer",
    "adam",
    "--lr",
    "0.001",
    "--lr-scheduler",
    "cosine",
    "--warmup-updates",
    "2",
    "--clip-norm",
    "1.0",
    "--max-tokens",
    "96000",
    "--cpu",
    "--num-workers",
    "0",
    "--disable-validation",
    "--log-format",
    "simple",
    "--log-interval",
    "1",
    "--seed",
    "1",
]


def legacy_train(data, save_dir, *extra, timeout=240):
    """Run fairseq-train (argparse CLI) with --user-dir; return (returncode, combined output)."""
    os.makedirs(save_dir, exist_ok=True)
    cmd = [
        os.path.join(BIN, "fairseq-train"),
        data,
        "--user-dir",
        USER_DIR,
        "--save-dir",
        str(save_dir),
        *LEGACY_ARGS,
        *extra,
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(save_dir))
    return proc.returncode, proc.stdout + proc.stderr


def train_log(output):
    """[{key: value}] of every train_inner line."""
    rows = []
    for line in output.splitlines():
        if "[train_inner]" in line or "| train_inner |" in line:  # hydra and argparse CLIs
            rows.append({k: v for k, v in re.findall(r"(\w+)=([-\w.+]+)", line)})
    return rows
