"""The ``loss:`` key's configuration with real solo-learn main (9187ea3): solo's own yamls composed by Hydra, solo's
``parse_cfg``, and the method built from ``METHODS`` as ``main_pretrain.py`` does. Bad input fails when the method is
built (before any data is read), with an error naming the key.
"""

import pytest

import rpc_plugins
import rpc_solo  # noqa: F401  (registers the switch in this process)
from solo.methods import METHODS

from integration_tests.solo.conftest import compose_solo_cfg, cpu_overrides

SWITCHABLE = ["simclr", "supcon", "mocov2plus", "mocov3", "nnclr"]


def build(digits_folder, method, *extra):
    cfg = compose_solo_cfg(cpu_overrides(digits_folder, method=None) + list(extra), config_name=f"{method}.yaml")
    return METHODS[cfg.method](cfg), cfg


@pytest.mark.parametrize("method", SWITCHABLE)
def test_switch_resolves_rpc_defaults_and_method_temperature(digits_folder, method):
    """``+loss=rpc`` on solo's yaml: the paper's defaults (from the core), the yaml's own temperature."""
    model, cfg = build(digits_folder, method, "+loss=rpc")
    defaults = rpc_plugins.ContrastiveLoss("rpc").knobs
    assert model.loss_switch.name == "rpc" and model.loss_switch.knobs == defaults
    assert model.loss_switch.temperature == cfg.method_kwargs.temperature
    assert {k: cfg.loss_kwargs[k] for k in defaults} == defaults  # written back: solo saves it in args.json


def test_options_reach_the_objective(digits_folder):
    model, _ = build(digits_folder, "mocov2plus", "+loss=smile", "+loss_kwargs.clip=2.5")
    assert model.loss_switch.knobs == {"clip": 2.5}
    model, _ = build(digits_folder, "nnclr", "+loss=mio", "+loss_kwargs.l2_weight=0.5")
    assert model.loss_switch.knobs["l2_weight"] == 0.5


@pytest.mark.parametrize("method", SWITCHABLE)
def test_without_loss_key_no_switch(digits_folder, method):
    model, cfg = build(digits_folder, method)
    assert model.loss_switch is None and "loss" not in cfg and "loss_kwargs" not in cfg


def test_unknown_objective_lists_the_valid_ones(digits_folder):
    with pytest.raises(ValueError, match=r"loss='bogus' is not a known objective; choose one of \['dv', 'infonce'"):
        build(digits_folder, "simclr", "+loss=bogus")


@pytest.mark.parametrize("method", ["byol", "barlow", "vicreg", "dino", "swav", "simsiam"])
def test_method_without_infonce_refuses_loss(digits_folder, method):
    """byol.yaml +loss=rpc: an error naming ``loss`` and listing the methods that take it."""
    with pytest.raises(ValueError) as err:
        build(digits_folder, method, "+loss=rpc")
    message = str(err.value)
    assert message.startswith("loss: method") and "has no InfoNCE objective" in message
    assert "['simclr', 'supcon', 'mocov2plus', 'mocov3', 'nnclr', 'rpc']" in message


def test_method_without_infonce_untouched_without_loss(digits_folder):
    model, _ = build(digits_folder, "byol")
    assert type(model).__bases__[-1].__module__ == "solo.methods.byol"


@pytest.mark.parametrize(
    "extra,message",
    [
        (("+loss_kwargs.alpha=-1",), r"loss_kwargs for loss='rpc'.*alpha must be finite and >= 0"),
        (("+loss_kwargs.beta=nan",), r"loss_kwargs for loss='rpc'.*beta must be finite and >= 0"),
        (("+loss_kwargs.gamma=abc",), r"loss_kwargs for loss='rpc'.*gamma must be a real number"),
        (("+loss_kwargs.clip=2",), r"loss_kwargs for loss='rpc'.*unknown knob\(s\) \['clip'\]"),
        (("+loss_kwargs.distributed_mode=moments",), r"loss_kwargs.distributed_mode is not an option of loss='rpc'"),
    ],
)
def test_bad_rpc_options_name_the_key(digits_folder, extra, message):
    with pytest.raises(ValueError, match=message):
        build(digits_folder, "mocov3", "+loss=rpc", *extra)


def test_loss_kwargs_without_loss(digits_folder):
    with pytest.raises(ValueError, match="loss_kwargs is set but loss is not"):
        build(digits_folder, "simclr", "+loss_kwargs.alpha=0.5")


def test_normalize_is_simclr_family_only(digits_folder):
    model, _ = build(digits_folder, "supcon", "+loss=rpc", "+loss_kwargs.normalize=false")
    assert model.loss_switch.normalize is False
    with pytest.raises(ValueError, match=r"loss_kwargs.normalize is not an option of loss=.rpc. for method mocov2plus"):
        build(digits_folder, "mocov2plus", "+loss=rpc", "+loss_kwargs.normalize=false")


def test_method_rpc_is_simclr_with_loss_rpc(digits_folder):
    """``method: rpc`` is the switch's SimCLR with ``loss`` defaulting to rpc; the objective's keys live in
    ``loss`` / ``loss_kwargs`` only (one in ``method_kwargs`` is an error naming it)."""
    from rpc_solo.switch_methods import SimCLR

    model, cfg = build(digits_folder, "simclr", "method=rpc")
    assert isinstance(model, SimCLR) and model.loss_switch.name == "rpc" and cfg.loss == "rpc"
    model, cfg = build(digits_folder, "simclr", "method=rpc", "+loss=mio", "+loss_kwargs.l2_weight=0.5")
    assert model.loss_switch.name == "mio" and model.loss_switch.knobs["l2_weight"] == 0.5
    for key in ("loss=mio", "alpha=0.5"):
        with pytest.raises(ValueError, match=f"method_kwargs.{key.split('=')[0]} is not a setting of method rpc"):
            build(digits_folder, "simclr", "method=rpc", f"+method_kwargs.{key}")
    model, _ = build(digits_folder, "simclr", "method=rpc", "+loss=nwj")
    assert model.loss_switch.name == "nwj"
