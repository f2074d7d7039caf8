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


def hydra_train(config, data, save_dir, *overrides, world_size=1, timeout=240):
    """Run fairseq-hydra-train (or torchrun of it); return (returncode, combined output)."""
    cmd = [os.path.join(BIN, "fairseq-hydra-train"), "--config-dir", CONFIGS, "--config-name", config,
           f"task.data={data}", f"common.user_dir={USER_DIR}", f"checkpoint.save_dir={save_dir}", *overrides]
    if world_size > 1:
        cmd = [os.path.join(BIN, "torchrun"), f"--nproc_per_node={world_size}", "--master_port=29731"] + cmd + [
            f"distributed_training.distributed_world_size={world_size}",
            "distributed_training.distributed_backend=gloo"]
    env = dict(os.environ, HYDRA_FULL_ERROR="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(save_dir))
    return proc.returncode, proc.stdout + proc.stderr


def train_log(output):
    """[{key: value}] of every train_inner line."""
    rows = []
    for line in output.splitlines():
        if "[train_inner]" in line:
            rows.append({k: v for k, v in re.findall(r"(\w+)=([-\w.+]+)", line)})
    return rows
