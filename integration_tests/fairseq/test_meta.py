"""The rpc criterion's loss on wav2vec logits, forward and backward on ``meta`` tensors: it reads back only the one
value listed in ``adapters/README.md`` (whether any negative is valid) and makes no tensor off the logits' device.

fairseq's logging (``loss.item()`` and the like, as its own ``wav2vec`` criterion does) is not part of this check.
RPC: Tsai et al., ICLR 2021, arXiv 2103.11275.
"""

import pytest
import torch

import rpc_fairseq.criterion as criterion_module
import rpc_plugins
from rpc_fairseq.criterion import RpcCriterion

from integration_tests.device_checks import OnDevice


@pytest.mark.parametrize("any_valid", [True, False], ids=["negatives", "no-valid-negative"])
@pytest.mark.parametrize("objective", sorted(rpc_plugins.OBJECTIVES))
def test_loss_on_logits_on_meta(objective, any_valid, monkeypatch):
    reads = []

    def any_(mask):
        reads.append(mask.device.type)
        return any_valid

    monkeypatch.setattr(criterion_module, "_any", any_)
    logits = torch.empty(24, 11, device="meta", requires_grad=True)  # (anchors, 1 + K) as wav2vec emits them
    with OnDevice("meta") as mode:
        loss, _ = RpcCriterion(None, objective=objective).loss_on_logits(logits)
        loss.backward()
    assert mode.off_device == [], mode.off_device[:5]
    assert reads == ["meta"]
    assert loss.device.type == "meta" and loss.dim() == 0
    assert logits.grad is not None and logits.grad.device.type == "meta"
