"""``criterion._name=rpc`` with nothing else set trains from fairseq's own entry point (no user dir).

The Hydra plugin ``hydra_plugins.rpc_fairseq_plugin`` registers the criterion before fairseq composes its
config, so the criterion's dataclass defaults are part of that config.
"""

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from integration_tests.fairseq.conftest import CONFIGS, USER_DIR, fairseq_pretraining_configs, hydra_train, train_log


def minimal_criterion_yaml(example, out_dir):
    """Copy of an example yaml whose criterion section is only ``_name: rpc``."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(os.path.join(CONFIGS, example + ".yaml"))
    cfg.criterion = {"_name": "rpc"}
    os.makedirs(out_dir, exist_ok=True)
    name = example + "_defaults"
    with open(os.path.join(out_dir, name + ".yaml"), "w") as f:
        f.write("# @package _group_\n" + OmegaConf.to_yaml(cfg))
    return name


def assert_finite_updates(out, updates):
    rows = train_log(out)
    assert len(rows) == updates, out[-3000:]
    assert all(math.isfinite(float(r[k])) for r in rows for k in ("loss", "E_pos", "E_neg")), rows
    return rows


@pytest.mark.parametrize("example", ["wav2vec2_tiny_rpc", "wav2vec_cpc_tiny_rpc"])
def test_criterion_section_with_only_its_name_trains(example, speech_corpus, tmp_path):
    name = minimal_criterion_yaml(example, str(tmp_path / "configs"))
    code, out = hydra_train(
        name, speech_corpus, tmp_path, "optimization.max_update=4", config_dir=str(tmp_path / "configs")
    )
    assert code == 0, out[-3000:]
    assert_finite_updates(out, 4)
    # the composed config carries the dataclass defaults (fairseq logs it before training)
    assert "'criterion': {'_name': 'rpc', 'objective': 'rpc', 'alpha': 0.3" in out


# fairseq's wav2vec2_base_librispeech.yaml, shrunk to a CPU smoke size; only the criterion name is switched
SHRINK = [
    "common.fp16=false",
    "common.cpu=true",
    "common.log_format=simple",
    "common.log_interval=1",
    "task.max_sample_size=24000",
    "task.min_sample_size=8000",
    "task.normalize=true",
    "dataset.num_workers=0",
    "dataset.max_tokens=96000",
    "dataset.disable_validation=true",
    "distributed_training.distributed_world_size=1",
    "optimization.max_update=4",
    "optimization.clip_norm=1.0",
    "lr_scheduler.warmup_updates=2",
    "model.final_dim=32",
    "model.encoder_embed_dim=64",
    "model.encoder_layerdrop=0.0",
    "+model.encoder_layers=2",
    "+model.encoder_ffn_embed_dim=128",
    "+model.encoder_attention_heads=2",
    '+model.conv_feature_layers="[(64, 10, 5)] + [(64, 3, 2)] * 4 + [(64, 2, 2)] * 2"',
    "+model.latent_vars=32",
    "+model.latent_dim=32",
    "+model.extractor_mode=layer_norm",
    "+model.conv_pos=16",
    "+model.conv_pos_groups=4",
]


def test_fairseqs_own_wav2vec2_pretraining_yaml_with_criterion_rpc(speech_corpus, tmp_path):
    """fairseq's shipped yaml with its criterion switched: ``infonce`` is the wav2vec criterion's key, not rpc's."""
    config_dir = fairseq_pretraining_configs()
    assert os.path.exists(os.path.join(config_dir, "wav2vec2_base_librispeech.yaml")), config_dir
    code, out = hydra_train(
        "wav2vec2_base_librispeech",
        speech_corpus,
        tmp_path,
        "criterion._name=rpc",
        "~criterion.infonce",
        *SHRINK,
        config_dir=config_dir,
    )
    assert code == 0, out[-3000:]
    rows = assert_finite_updates(out, 4)
    assert {"loss_0", "loss_1", "loss_2", "prob_perplexity"} <= set(rows[-1])  # the yaml's loss_weights/log_keys
    assert "criterion: RpcCriterion" in out


def test_user_dir_given_as_well_registers_once(speech_corpus, tmp_path):
    """The classic route on top of the plugin: common.user_dir names the folder the plugin already imported."""
    code, out = hydra_train(
        "wav2vec_cpc_tiny_rpc", speech_corpus, tmp_path, "optimization.max_update=3", user_dir=USER_DIR
    )
    assert code == 0, out[-3000:]
    assert "has already been imported" in out and "duplicate" not in out, out[-3000:]
    assert len(train_log(out)) == 3


def run_python(code):
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_hydra_plugin_scan_registers_rpc_only_in_a_fairseq_app():
    """hydra-core's plugin scan (what every @hydra.main app runs first) imports our hook from this install."""
    code, out = run_python(
        "import sys\n"
        "from hydra.core.plugins import Plugins\n"
        "Plugins.instance()\n"
        "assert 'hydra_plugins.rpc_fairseq_plugin' in sys.modules, sorted(m for m in sys.modules if 'hydra_plugins' in m)\n"
        "assert 'rpc_fairseq' not in sys.modules and 'fairseq' not in sys.modules\n"
        "print('ok')\n"
    )
    assert code == 0 and "ok" in out, out[-3000:]
    code, out = run_python(
        "import fairseq\n"
        "from fairseq.criterions import CRITERION_REGISTRY\n"
        "assert 'rpc' not in CRITERION_REGISTRY\n"
        "from hydra.core.plugins import Plugins\n"
        "Plugins.instance()\n"
        "import rpc_fairseq.criterion as c\n"
        "assert CRITERION_REGISTRY['rpc'] is c.RpcCriterion\n"
        "print('ok')\n"
    )
    assert code == 0 and "ok" in out, out[-3000:]
    assert "Hydra plugins scanner" not in out, out  # the hook raised no warning


def test_hook_does_nothing_without_fairseq():
    import fairseq  # noqa: F401
    from hydra_plugins.rpc_fairseq_plugin import register_if_fairseq

    assert register_if_fairseq(modules={}) is False
    assert register_if_fairseq() is True


@pytest.mark.parametrize("kind", ["w2v2", "cpc"])
def test_infonce_with_its_defaults_is_fairseqs_wav2vec_loss(kind):
    """``objective=infonce`` with nothing else set equals fairseq's own wav2vec criterion on the real models, in
    value and in every parameter's gradient (critic_scale defaults to 1.0 for every objective but rpc)."""
    import torch
    from fairseq.criterions.wav2vec_criterion import Wav2vecCriterion

    from integration_tests.fairseq.test_edges import LOSS_WEIGHTS, build, make_sample
    from rpc_fairseq.criterion import RpcCriterion, RpcCriterionConfig

    assert RpcCriterionConfig().critic_scale is None
    assert RpcCriterion(None).critic_scale == 0.1  # RPC keeps its own scale: f = cosine on wav2vec 2.0
    model = build(kind)
    sample = make_sample(2, 16000)
    results = []
    for criterion in (
        Wav2vecCriterion(None, infonce=True, loss_weights=LOSS_WEIGHTS[kind]),
        RpcCriterion(None, objective="infonce", loss_weights=LOSS_WEIGHTS[kind]),
    ):
        model.zero_grad()
        torch.manual_seed(2)
        np.random.seed(2)  # wav2vec 2.0 draws its masks with numpy
        loss, sample_size, _ = criterion(model, sample)
        loss.backward()
        results.append((loss.detach(), sample_size, [p.grad.clone() for p in model.parameters() if p.grad is not None]))
    (host, host_size, host_grads), (ours, size, grads) = results
    assert size == host_size and len(grads) == len(host_grads) > 0
    torch.testing.assert_close(ours, host, rtol=1e-5, atol=1e-5)
    # both losses run in float32 (each criterion casts the logits); their round-off reaches every gradient entry
    # at the scale of the largest one (entries that are 0 in exact arithmetic come out as round-off of that size)
    scale = max(float(h.abs().max()) for h in host_grads)
    for g, h in zip(grads, host_grads):
        torch.testing.assert_close(g, h, rtol=1e-4, atol=1e-5 * scale)
