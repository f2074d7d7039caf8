"""Two gloo processes against one: ``infonce`` is open_clip's ClipLoss across ranks for every
``local_loss`` / ``gather_with_grad`` setting, and RPC all-reduced (nothing gathered) is RPC on the
gathered global batch, in value and gradients."""

import pytest
import torch
import torch.multiprocessing as mp

from integration_tests.open_clip import _dist_worker as worker
from rpc_open_clip import ObjectiveClipLoss

WORLD = 2


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("open_clip_dist")
    mp.spawn(worker.run, args=(WORLD, str(tmp / "init"), str(tmp)), nprocs=WORLD, join=True)
    return [torch.load(tmp / f"rank{r}.pt") for r in range(WORLD)]


def close(a, b):
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("local_loss,gather_with_grad", worker.CLIP_SETTINGS)
def test_infonce_is_clip_loss_on_two_ranks(ranks, local_loss, gather_with_grad):
    key = f"local{int(local_loss)}-grad{int(gather_with_grad)}"
    for result in ranks:
        close(result[f"infonce-{key}"], result[f"clip-{key}"])
        if key == "local1-grad1":
            close(result[f"infonce-{key}-bias"], result[f"clip-{key}-bias"])


def test_infonce_two_ranks_is_one_process_on_the_global_batch(ranks):
    """local_loss + gather_with_grad: the ranks' mean loss is the global one; each rank's input gradient is
    WORLD x the single-process one (DDP's averaging undoes it) and logit_scale's averages to it."""
    image, text = worker.global_batch(WORLD)
    single = worker.loss_and_grads(ObjectiveClipLoss("infonce"), image, text)
    loss = sum(r["infonce-local1-grad1"][0] for r in ranks) / WORLD
    torch.testing.assert_close(loss, single[0], rtol=1e-10, atol=1e-12)
    for r, result in enumerate(ranks):
        local = slice(r * worker.N_PER_RANK, (r + 1) * worker.N_PER_RANK)
        for got, want in zip(result["infonce-local1-grad1"][1:3], single[1:3]):
            torch.testing.assert_close(got, WORLD * want[local], rtol=1e-10, atol=1e-12)
    scale_grad = sum(r["infonce-local1-grad1"][3] for r in ranks) / WORLD
    torch.testing.assert_close(scale_grad, single[3], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", ["rpc-all_reduce-gram", "rpc-all_reduce-knobs", "rpc-all_reduce-gram-bias"])
def test_rpc_all_reduce_is_rpc_on_the_gathered_batch(ranks, case):
    knobs = dict(alpha=0.7, beta=0.2, gamma=0.05) if case.endswith("knobs") else {}
    bias = worker.BIAS if case.endswith("bias") else None
    image, text = worker.global_batch(WORLD)
    for method in ("dense", "gram"):
        single = worker.loss_and_grads(ObjectiveClipLoss("rpc", method=method, **knobs), image, text, bias)
        for r, result in enumerate(ranks):
            got = result[case]
            local = slice(r * worker.N_PER_RANK, (r + 1) * worker.N_PER_RANK)
            torch.testing.assert_close(got[0], single[0], rtol=1e-10, atol=1e-12)  # every rank: the global loss
            for g, want in zip(got[1:3], single[1:3]):
                torch.testing.assert_close(g, WORLD * want[local], rtol=1e-10, atol=1e-12)
            for g, want in zip(got[3:], single[3:]):  # logit_scale (and logit_bias): the global gradient
                torch.testing.assert_close(g, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method", ["dense", "gram"])
def test_rpc_gather_equals_all_reduce(ranks, method):
    """Gathered (local images against every rank's texts): the ranks' mean loss and the input gradients
    are the all-reduced ones."""
    gathered, reduced = [r[f"rpc-gather-{method}"] for r in ranks], [r["rpc-all_reduce-gram"] for r in ranks]
    torch.testing.assert_close(sum(g[0] for g in gathered) / WORLD, reduced[0][0], rtol=1e-10, atol=1e-12)
    for g, a in zip(gathered, reduced):
        close(g[1:3], a[1:3])
    torch.testing.assert_close(sum(g[3] for g in gathered) / WORLD, reduced[0][3], rtol=1e-10, atol=1e-12)


def test_rpc_all_reduce_gathers_nothing(ranks):
    for result in ranks:
        calls = result["rpc-all_reduce-collectives"]
        assert calls and set(calls) == {"all_reduce"}, calls
