"""Two gloo processes under DistributedDataParallel equal one process on the whole batch: loss and gradients."""

import os

import pytest
import torch
import torch.multiprocessing as mp

from rpc_transformers import Wav2Vec2PretrainingLoss

from .conftest import make_batch, tiny_model

WORLD = 2


def split(x, mask, negatives, rank):
    """Rank's half of the batch; its distractor indices re-based onto its own flattened (B/2 * T) frames."""
    per, frames = x.shape[0] // WORLD, mask.shape[1]
    rows = slice(rank * per, (rank + 1) * per)
    return x[rows], mask[rows], negatives[rows] - rank * per * frames


def step(model, x, mask, negatives, objective, weight):
    model.zero_grad()
    out = model(x, mask_time_indices=mask)
    module = model.module if hasattr(model, "module") else model
    result = Wav2Vec2PretrainingLoss(module.config, objective=objective, diversity_loss_weight=weight)(
        out, mask, negatives
    )
    result.loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in module.named_parameters() if p.grad is not None}
    return result, grads


def worker(rank, init_file, out_dir, objectives, weight):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        model = tiny_model().eval()
        ddp = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
        x, mask, negatives = split(*make_batch(model.config, batch=4, seed=11), rank)
        for objective in objectives:
            result, grads = step(ddp, x, mask, negatives, objective, weight)
            torch.save(
                {
                    "loss": result.loss.detach(),
                    "contrastive": result.contrastive_loss.detach(),
                    "diversity": result.diversity_loss.detach(),
                    "num_masked": result.num_masked,
                    "logs": dict(result.logs),  # computed when read; torch.load(weights_only) takes a dict
                    "grads": grads,
                },
                os.path.join(out_dir, f"{objective}_rank{rank}.pt"),
            )
    finally:
        torch.distributed.destroy_process_group()


OBJECTIVES = ("rpc", "infonce", "dv")  # pooled moments, per-anchor cross-entropy, a log-mean-exp over all pairs


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory):
    """One spawn of two gloo ranks; each saves its loss, logs and gradients per objective."""
    out = tmp_path_factory.mktemp("ddp")
    mp.start_processes(
        worker, args=(str(out / "init"), str(out), OBJECTIVES, 0.1), nprocs=WORLD, join=True, start_method="spawn"
    )
    return out


@pytest.mark.timeout(300)
@pytest.mark.parametrize("objective", OBJECTIVES)
def test_two_gloo_ranks_equal_one_process(objective, ddp_runs):
    weight = 0.1
    ranks = [torch.load(ddp_runs / f"{objective}_rank{r}.pt") for r in range(WORLD)]

    model = tiny_model().eval()
    x, mask, negatives = make_batch(model.config, batch=4, seed=11)
    halves = [split(x, mask, negatives, r)[1] for r in range(WORLD)]
    assert int(halves[0].sum()) != int(halves[1].sum())  # ranks hold different numbers of masked frames
    single, single_grads = step(model, x, mask, negatives, objective, 0.0)

    # the diversity loss is each rank's own (HF's perplexity is per forward), summed over ranks
    diversity = 0.0
    with torch.no_grad():
        for r in range(WORLD):
            xr, mr, nr = split(x, mask, negatives, r)
            diversity += float(model(xr, mask_time_indices=mr, sampled_negative_indices=nr).diversity_loss)
    for rank in ranks:
        assert rank["num_masked"] == single.num_masked == int(mask.sum())
        torch.testing.assert_close(rank["contrastive"], single.contrastive_loss.detach(), rtol=1e-5, atol=0)
        assert abs(float(rank["diversity"]) - diversity) <= 1e-5 * abs(diversity)
        torch.testing.assert_close(
            rank["loss"], single.contrastive_loss.detach() + weight * rank["diversity"], rtol=1e-5, atol=0
        )
        for key in ("E_pos", "E_neg", "mi_nce", "num_negatives"):
            assert abs(rank["logs"][key] - single.logs[key]) <= 1e-5 * max(1.0, abs(single.logs[key])), key
    # DDP's averaged gradient equals the one-process gradient; only the contrastive part is compared exactly
    # (weight 0 there; the diversity term's gradient is the per-rank one, HF's)
    floor = 1e-6 * max(float(g.abs().max()) for g in single_grads.values())
    contrastive_only = [n for n in single_grads if "quantizer.weight_proj" not in n]
    for rank in ranks:
        for name in contrastive_only:
            torch.testing.assert_close(rank["grads"][name], single_grads[name], rtol=1e-4, atol=floor, msg=name)
