"""Resuming method: rpc from a checkpoint continues with exactly the losses of an uninterrupted run.

Real solo-learn 1.0.2 + PL 1.4.7: 2 epochs straight vs 1 epoch, ``trainer.save_checkpoint``, then a new
Trainer with ``resume_from_checkpoint`` for epoch 2. The two-view batches are materialised once from
solo's own augmentation pipeline on real digit images, so both runs see the same inputs; weights,
SGD momentum and the cosine schedule must all come back for the epoch-2 losses to match.
RPC: Tsai et al., ICLR 2021, arXiv 2103.11275.
"""

import pytest

from integration_tests.solo.conftest import require_era

require_era("1.0.2")

import torch  # noqa: E402
from pytorch_lightning import Trainer, seed_everything  # noqa: E402
from solo.methods import METHODS  # noqa: E402

from rpc_solo.data import export  # noqa: E402
from rpc_solo.pretrain import build_loaders, parse_args  # noqa: E402

FLAGS = [
    "--method",
    "rpc",
    "--dataset",
    "custom",
    "--train_dir",
    "train",
    "--val_dir",
    "val",
    "--encoder",
    "resnet18",
    "--optimizer",
    "sgd",
    "--scheduler",
    "cosine",
    "--lr",
    "0.3",
    "--batch_size",
    "32",
    "--max_epochs",
    "2",
    "--brightness",
    "0.4",
    "--contrast",
    "0.4",
    "--saturation",
    "0.2",
    "--hue",
    "0.1",
    "--crop_size",
    "32",
    "--proj_hidden_dim",
    "64",
    "--proj_output_dim",
    "32",
    "--temperature",
    "0.2",
    "--num_workers",
    "0",
]


def recording(cls):
    class Recording(cls):
        """The solo method, unchanged, plus a list of the losses its training_step returns."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.losses = []

        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            self.losses.append(float(loss))
            return loss

    return Recording


def trainer(max_epochs, **kwargs):
    return Trainer(
        max_epochs=max_epochs,
        gpus=None,
        logger=False,
        checkpoint_callback=False,
        progress_bar_refresh_rate=0,
        weights_summary=None,
        num_sanity_val_steps=0,
        **kwargs,
    )


@pytest.mark.parametrize("loss", ["rpc", "mio"])
def test_resume_continues_with_identical_losses(tmp_path, loss):
    data_dir = export("digits", str(tmp_path / "digits"), n_train=64, n_val=32, size=32)
    args = parse_args(FLAGS + ["--data_dir", data_dir, "--loss", loss])
    seed_everything(0)
    solo_loader, _ = build_loaders(args)
    batches = [b for _, b in zip(range(2), solo_loader)]  # 2 steps per epoch, fixed across runs
    loader = torch.utils.data.DataLoader(batches, batch_size=None, shuffle=False)
    cls = recording(METHODS["rpc"])

    seed_everything(1)
    straight = cls(**vars(args))
    init = {k: v.clone() for k, v in straight.state_dict().items()}
    trainer(2).fit(straight, loader)

    first = cls(**vars(args))
    first.load_state_dict(init)
    t1 = trainer(1)
    t1.fit(first, loader)
    path = str(tmp_path / "epoch1.ckpt")
    t1.save_checkpoint(path)

    resumed = cls(**vars(args))  # fresh weights: everything must come from the checkpoint
    t2 = trainer(2, resume_from_checkpoint=path)
    t2.fit(resumed, loader)

    assert len(straight.losses) == 4 and first.losses == straight.losses[:2]
    assert len(resumed.losses) == 2, resumed.losses  # (global_step reads 5: PL 1.4.7 adds 1 when it saves)
    torch.testing.assert_close(torch.tensor(resumed.losses), torch.tensor(straight.losses[2:]), rtol=1e-5, atol=1e-6)
    # the losses moved: a no-op resume (or frozen weights) would not pass the comparison by accident
    assert straight.losses[0] != straight.losses[3]
