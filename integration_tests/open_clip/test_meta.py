"""rpc_open_clip's loss, forward and backward on ``meta`` tensors: no value read back on the host and no tensor made
off the features' device (``integration_tests/device_checks.py``), for every objective, with and without open_clip's
logit bias; the gradient reaches ``logit_scale`` and the bias."""

import pytest
import torch

import rpc_plugins
from rpc_open_clip import ObjectiveClipLoss

from integration_tests.device_checks import OnDevice


@pytest.mark.parametrize("bias", [False, True], ids=["scale", "scale+bias"])
@pytest.mark.parametrize("objective", sorted(rpc_plugins.OBJECTIVES))
def test_clip_loss_on_meta(objective, bias):
    image = torch.empty(12, 16, device="meta", requires_grad=True)
    text = torch.empty(12, 16, device="meta", requires_grad=True)
    logit_scale = torch.empty((), device="meta", requires_grad=True)
    logit_bias = torch.empty((), device="meta", requires_grad=True) if bias else None
    loss_fn = ObjectiveClipLoss(objective)
    with OnDevice("meta") as mode:
        loss = loss_fn(image, text, logit_scale, logit_bias)
        loss.backward()
    assert mode.off_device == [], mode.off_device[:5]
    assert loss.device.type == "meta" and loss.dim() == 0
    for x in (image, text, logit_scale) + ((logit_bias,) if bias else ()):
        assert x.grad is not None and x.grad.device.type == "meta"
