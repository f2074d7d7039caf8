"""Every collective of ``Wav2Vec2PretrainingLoss`` is handed tensors on the inputs' device (NCCL, the backend of
multi-GPU HF Trainer and accelerate runs, refuses CPU tensors).

torch.distributed runs on torch's ``fake`` backend with world size 2 in this one process (no data moves) and the
inputs are ``meta`` tensors; ``recorded_collectives`` records the device of every tensor handed to a collective.
A CPU count tensor in the all-gather of the ranks' masked-frame counts fails this test.
RPC: Tsai et al., ICLR 2021, arXiv 2103.11275.
"""

import pytest

from rpc_transformers import Wav2Vec2PretrainingLoss

from integration_tests.device_checks import fake_process_group, recorded_collectives
from integration_tests.transformers.test_meta import answer_reads, cpu_batch, to_meta


@pytest.mark.parametrize("objective", ["rpc", "infonce"])
def test_collectives_get_tensors_on_the_inputs_device(objective, monkeypatch):
    config, outputs, mask, negatives = cpu_batch()
    count = int(mask.sum())
    reads = answer_reads(monkeypatch, mask, True, counts=[count, count])  # the fake backend copies rank 0's
    leaves, mask_m, negatives_m = to_meta(outputs, mask, negatives)
    with fake_process_group(world_size=2), recorded_collectives(monkeypatch) as calls:
        result = Wav2Vec2PretrainingLoss(config, objective=objective)(leaves, mask_m, negatives_m)
        result.loss.backward()
    assert {name for name, _ in calls} >= {"all_gather", "all_reduce"}, calls
    assert [c for c in calls if c[1] != "meta"] == [], calls
    assert reads == ["masked_frames", "counts", "any"]
    assert result.num_masked == 2 * count
    assert leaves["projected_states"].grad.device.type == "meta"
