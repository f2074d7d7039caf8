"""PL 1.4.7's ddp_cpu ranks share one copy of the weights; rpc_solo.spawn_fix gives each its own.

Two real spawned gloo ranks (PyTorch Lightning 1.4.7, torch 1.9.1): after a barrier rank 0 overwrites a
weight in place and every rank records what it reads. Without the fix rank 1 reads rank 0's write
(shared memory: the ranks' optimizer steps race on one tensor and 2-process solo runs intermittently
end with NaN/Inf weights); with the fix it keeps its own value, and DDP still keeps the now private
weights equal across ranks after two steps on different data.
"""

import json
import os

from integration_tests.solo.conftest import require_era

require_era("1.0.2")

import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402

from rpc_solo.spawn_fix import unshare_callback  # noqa: E402


class Probe(pl.LightningModule):
    def __init__(self, out_dir):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.out_dir = out_dir
        self.start = {}

    def on_train_start(self):  # runs after the callbacks' on_train_start, in every spawned rank
        import torch.distributed as dist

        dist.barrier()
        if self.global_rank == 0:
            with torch.no_grad():
                self.layer.weight.fill_(7.0)
        dist.barrier()
        self.start = {"read": float(self.layer.weight[0, 0]), "shared": self.layer.weight.is_shared()}
        with torch.no_grad():
            self.layer.weight.fill_(0.5)  # same start on both ranks for the DDP check below

    def on_train_end(self):  # after 2 DDP steps on different data the ranks must still agree
        with open(os.path.join(self.out_dir, f"rank{self.global_rank}.json"), "w") as f:
            json.dump({**self.start, "weight": self.layer.weight.detach().flatten().tolist()}, f)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def spawn_and_read(out_dir, callbacks):
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(16, 4)), batch_size=4)
    trainer = pl.Trainer(
        accelerator="ddp_cpu",
        num_processes=2,
        max_steps=2,
        logger=False,
        checkpoint_callback=False,
        progress_bar_refresh_rate=0,
        weights_summary=None,
        callbacks=callbacks,
    )
    trainer.fit(Probe(str(out_dir)), loader)
    return [json.loads((out_dir / f"rank{r}.json").read_text()) for r in (0, 1)]


def test_spawned_ranks_own_their_weights(tmp_path):
    """(Without the callback both files read 7.0 and ``is_shared()`` is True: measured on PL 1.4.7; the
    unfixed case is left out of CI because each 2-process spawn costs ~30 s on a 2-core machine.)"""
    rank0, rank1 = spawn_and_read(tmp_path, [unshare_callback()])
    assert rank0["read"] == 7.0
    assert rank1["read"] != 7.0 and not rank1["shared"]
    # DDP still synchronises the (now private) weights: both ranks end equal, and they moved from 0.5
    assert rank0["weight"] == rank1["weight"] and rank0["weight"] != [0.5] * 4
