"""The ``loss:`` switch's objectives on solo-learn main's pairs, forward and backward on ``meta`` tensors (no value
read back on the host, no tensor made off the embeddings' device), and every collective of the pair builders
handed tensors on that device (torch's ``fake`` backend, world size 2, in this one process; NCCL refuses CPU
tensors). ``integration_tests/device_checks.py`` holds the checks. RPC: Tsai et al., ICLR 2021, arXiv 2103.11275.
"""

import pytest
import torch
from omegaconf import OmegaConf

import rpc_plugins
from rpc_solo.loss_switch import LossSwitch
from rpc_solo.pairs import offset_pairs, queue_pairs, simclr_pairs

from integration_tests.device_checks import OnDevice, fake_process_group, recorded_collectives


def switch(objective, method="simclr"):
    cfg = OmegaConf.create({"loss": objective, "method_kwargs": {"temperature": 0.2}})
    return LossSwitch.from_cfg(cfg, method)


def meta(*shape):
    return torch.empty(*shape, device="meta", requires_grad=True)


def layouts():
    """(name, leaves, pairs builder) for each of the methods' layouts (SimCLR/SupCon, MoCo v2+, MoCo v3, NNCLR)."""
    z, q, k, queue = meta(12, 8), meta(6, 8), meta(6, 8), meta(8, 20)
    ids = torch.arange(6, device="meta").repeat(2)
    return [
        ("simclr", [z], lambda: simclr_pairs(z, ids)),
        ("mocov2plus", [q], lambda: queue_pairs(q, k, queue)),
        ("mocov3", [q], lambda: offset_pairs(q, k, with_grad=False)),
        ("nnclr", [q, k], lambda: offset_pairs(q, k, with_grad=True)),
    ]


@pytest.mark.parametrize("layout", range(4), ids=["simclr", "mocov2plus", "mocov3", "nnclr"])
@pytest.mark.parametrize("objective", sorted(rpc_plugins.OBJECTIVES))
def test_switch_on_meta(objective, layout):
    loss_fn = switch(objective)
    name, leaves, pairs = layouts()[layout]
    with OnDevice("meta") as mode:
        loss = loss_fn(*pairs())
        loss.backward()
    assert mode.off_device == [], (name, mode.off_device[:5])
    assert loss.device.type == "meta" and loss.dim() == 0
    assert all(t.grad is not None and t.grad.device.type == "meta" for t in leaves), name


@pytest.mark.parametrize("layout", range(4), ids=["simclr", "mocov2plus", "mocov3", "nnclr"])
def test_pairs_collectives_on_the_embeddings_device(layout, monkeypatch):
    loss_fn = switch("rpc")
    with fake_process_group(world_size=2), recorded_collectives(monkeypatch) as calls:
        name, leaves, pairs = layouts()[layout]
        with OnDevice("meta") as mode:
            loss = loss_fn(*pairs())
            loss.backward()
    assert [c for c in calls if c[1] != "meta"] == [], (name, calls)
    assert mode.off_device == [], (name, mode.off_device[:5])
    if name != "mocov2plus":  # MoCo v2+'s pairs are local (solo enqueues gathered keys itself)
        assert calls, name
