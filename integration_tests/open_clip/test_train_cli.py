"""``python -m rpc_open_clip.train``: open_clip_train with ``--loss``; a tiny model on open_clip's
synthetic data, on the CPU."""

import json
import os
import subprocess
import sys

import pytest
import torch

from rpc_open_clip import train as cli

# a tiny CLIP for open_clip.create_model: a 1-block ViT on 28 x 28 images and a 1-block text tower
TINY_MODEL = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 28, "layers": 1, "width": 16, "head_width": 8, "patch_size": 14},
    "text_cfg": {"context_length": 8, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1},
}


@pytest.fixture
def model_config(tmp_path):
    path = tmp_path / "tiny-test-clip.json"
    path.write_text(json.dumps(TINY_MODEL))
    return str(path)


def host_flags(model_config, logs, name, steps=2, batch=4):
    return [
        "--model-config", model_config, "--model", "tiny-test-clip",
        "--dataset-type", "synthetic", "--train-num-samples", str(steps * batch), "--batch-size", str(batch),
        "--epochs", "1", "--workers", "0", "--device", "cpu", "--precision", "fp32",
        "--lr", "1e-2", "--warmup", "1", "--seed", "0", "--report-to", "",
        "--log-every-n-steps", "1", "--logs", str(logs), "--name", name,
    ]  # fmt: skip


def run(args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def checkpoint(logs, name):
    return torch.load(logs / name / "checkpoints" / "epoch_1.pt", map_location="cpu", weights_only=False)


def train_lines(logs, name):
    return [line for line in (logs / name / "out.log").read_text().splitlines() if "Train Epoch" in line]


def test_cli_trains_two_steps_with_rpc(tmp_path, model_config):
    logs = tmp_path / "logs"
    args = ["-m", "rpc_open_clip.train", "--loss", "rpc", "--rpc-alpha", "0.5"]
    proc = run(args + host_flags(model_config, logs, "rpc"), tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = train_lines(logs, "rpc")
    assert len(lines) == 2, lines
    losses = [float(line.split("Contrastive_loss: ")[1].split()[0]) for line in lines]
    assert all(torch.isfinite(torch.tensor(losses)))
    scales = [float(line.split("Logit Scale: ")[1].split()[0]) for line in lines]
    assert scales[0] != scales[1]  # the first step moved logit_scale: RPC's gradient reached it
    params = checkpoint(logs, "rpc")["state_dict"]
    assert params["logit_scale"].exp().item() != pytest.approx(1 / 0.07, abs=1e-6)


def test_loss_is_swapped_only_for_the_run(tmp_path, model_config):
    """In process: during the run open_clip_train builds our loss from its own args; afterwards
    create_loss is open_clip's again."""
    import open_clip
    import open_clip_train.main as host

    seen = []
    original = open_clip.create_loss

    class Recorder:
        def __init__(self):
            self.inner = None

        def __call__(self, args, *choice):
            loss = self.inner(args, *choice)
            seen.append((loss, args.world_size, args.local_loss))
            return loss

    # wrap the swapped create_loss by wrapping the adapter's factory the CLI calls
    recorder = Recorder()
    recorder.inner, cli.create_loss = cli.create_loss, recorder
    try:
        cli.main(["--loss", "rpc", "--rpc-gamma", "0.2"] + host_flags(model_config, tmp_path / "logs", "swap"))
    finally:
        cli.create_loss = recorder.inner
    assert len(seen) == 1
    loss, world_size, local_loss = seen[0]
    assert loss.objective == "rpc" and loss.knobs["gamma"] == 0.2 and (world_size, local_loss) == (1, False)
    assert host.create_loss is original


def test_without_loss_it_is_open_clip(tmp_path, model_config):
    """No --loss: the same checkpoint as open_clip_train.main itself (given the model config)."""
    logs = tmp_path / "logs"
    ours = run(["-m", "rpc_open_clip.train"] + host_flags(model_config, logs, "ours"), tmp_path)
    assert ours.returncode == 0, ours.stderr[-3000:]
    flags = host_flags(model_config, logs, "theirs")[2:]  # without --model-config (ours, not open_clip's)
    script = (
        "import sys, open_clip, open_clip_train.main as m; "
        f"open_clip.add_model_config({model_config!r}); m.main(sys.argv[1:])"
    )
    theirs = run(["-c", script] + flags, tmp_path)
    assert theirs.returncode == 0, theirs.stderr[-3000:]
    a, b = checkpoint(logs, "ours")["state_dict"], checkpoint(logs, "theirs")["state_dict"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert len(train_lines(logs, "ours")) == len(train_lines(logs, "theirs")) == 2


@pytest.mark.parametrize(
    "flags,named",
    [
        (["--loss", "clip"], "--loss"),
        (["--loss", "rpc", "--rpc-alpha", "-1"], "--rpc-alpha"),
        (["--loss", "rpc", "--rpc-beta", "nan-ish"], "--rpc-beta"),
        (["--loss", "rpc", "--smile-clip", "2"], "--smile-clip"),
        (["--rpc-alpha", "0.5"], "--rpc-alpha"),
        (["--loss", "smile", "--smile-clip", "0"], "--smile-clip"),
        (["--loss", "infonce", "--loss-reduction", "all_reduce"], "--loss-reduction"),
        (["--loss", "rpc", "--loss-reduction", "sum"], "--loss-reduction"),
        (["--loss-method", "gram"], "--loss-method"),
        (["--loss", "rpc", "--siglip"], "--siglip"),
        (["--loss", "rpc", "--batch-size", "four"], "--batch-size"),
    ],
)
def test_bad_flags_fail_before_training_naming_the_flag(tmp_path, model_config, capsys, flags, named):
    logs = tmp_path / "logs"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(flags + host_flags(model_config, logs, "bad"))
    assert exit_info.value.code not in (0, None)
    message = capsys.readouterr().err + str(exit_info.value.code)
    assert f"argument {named}" in message, message
    assert not logs.exists()  # open_clip never started: no log folder


def test_knob_flags_come_from_the_objective_declaration():
    import rpc_plugins

    flags = {a.option_strings[0] for a in cli.build_parser()._actions if a.option_strings}
    for objective, knobs in rpc_plugins.OBJECTIVE_KNOBS.items():
        for knob in knobs:
            assert f"--{objective}-{knob.replace('_', '-')}" in flags
    choice, rest = cli.parse_args(["--loss", "rpc", "--lr", "1e-3"])
    assert choice.knobs == rpc_plugins.objective_options("rpc", {}) and rest == ["--lr", "1e-3"]
