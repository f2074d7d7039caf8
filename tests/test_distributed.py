"""2 and 3 gloo processes equal one process on the concatenated batch (loss and every gradient).

Convention (lightly's GatherLayer, and DDP): each rank's input gradient is world_size times the
single-process gradient of its slice; DDP's gradient averaging then reproduces the single-process
parameter update exactly, which ``ddp-params`` checks end to end.
"""

import os

import pytest
import torch
import torch.multiprocessing as mp

from tests import _dist_worker as worker


@pytest.fixture(scope="module", params=[2, 3])
def distributed_results(request, tmp_path_factory):
    world_size = request.param
    tmp = tmp_path_factory.mktemp(f"dist{world_size}")
    mp.spawn(worker.run, args=(world_size, str(tmp / "init"), str(tmp)), nprocs=world_size, join=True)
    return world_size, [torch.load(os.path.join(tmp, f"rank{r}.pt"), weights_only=False) for r in range(world_size)]


def test_losses_and_gradients_equal_single_process(distributed_results):
    world_size, per_rank = distributed_results
    for n in worker.BATCH_SIZES:
        check_equal_to_single_process(world_size, per_rank, n)


def check_equal_to_single_process(world_size, per_rank, n):
    out0, out1, negatives = worker.global_batch(world_size, n_per_rank=n)
    for name, make in worker.loss_functions().items():
        for extra in (None, negatives):
            key = worker.case_key(name, extra, n)
            loss, grad0, grad1 = worker.loss_and_grads(make(False), out0, out1, extra)
            rank_losses = torch.stack([r[key][0] for r in per_rank])
            if name.startswith("rpc-moments"):
                # every rank holds the exact global loss
                torch.testing.assert_close(rank_losses, loss.repeat(world_size), rtol=1e-12, atol=1e-12, msg=key)
            else:
                # per-rank losses over local anchors average to the global loss
                torch.testing.assert_close(rank_losses.mean(), loss, rtol=1e-12, atol=1e-12, msg=key)
            for r, res in enumerate(per_rank):
                local = slice(r * n, (r + 1) * n)
                torch.testing.assert_close(res[key][1], world_size * grad0[local], rtol=1e-10, atol=1e-12, msg=key)
                torch.testing.assert_close(res[key][2], world_size * grad1[local], rtol=1e-10, atol=1e-12, msg=key)


def test_ddp_training_equals_single_process(distributed_results):
    world_size, per_rank = distributed_results
    model, batches = worker.ddp_model_and_batches(world_size)
    single = worker.train_steps(model, batches, worker.rp.RPCLoss(temperature=0.5))
    for mode in ("gather", "moments"):
        for res in per_rank:
            for got, want in zip(res["ddp-params"][mode], single):
                torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12, msg=mode)
