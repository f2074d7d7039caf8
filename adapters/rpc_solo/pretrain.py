"""Launcher for solo-learn 1.0.2 pretraining with ``--method rpc`` available.

solo-learn 1.0.2's wheel lacks its ``main_pretrain.py``; this runs the same flow with solo's own
pieces: ``solo.args.setup.parse_args_pretrain`` (so solo's bash-file flags work unchanged), solo's
transforms, datasets and dataloaders, ``METHODS[args.method]``, and PyTorch Lightning 1.4's
``Trainer.from_argparse_args``. Importing ``rpc_solo`` first registers ``rpc``.

    python -m rpc_solo.pretrain --method rpc --loss rpc --alpha 0.3 --beta 0.01 --gamma 0.1 \\
        --dataset custom --data_dir data/solo_fmnist --train_dir train --val_dir val \\
        --encoder resnet18 --optimizer sgd --lr 0.3 --batch_size 128 --max_epochs 1 \\
        --brightness 0.4 --contrast 0.4 --saturation 0.2 --hue 0.1 --crop_size 32 \\
        --proj_hidden_dim 512 --proj_output_dim 128 --temperature 0.2 --num_workers 0
"""

import os
import sys

from pytorch_lightning import Trainer, seed_everything
from torchvision.datasets import ImageFolder

import rpc_solo  # noqa: F401  (registers method "rpc")
from solo.args.setup import parse_args_pretrain
from solo.methods import METHODS
from solo.utils.checkpointer import Checkpointer
from solo.utils.classification_dataloader import prepare_data as prepare_data_classification
from solo.utils.pretrain_dataloader import (
    prepare_dataloader,
    prepare_datasets,
    prepare_n_crop_transform,
    prepare_transform,
)


class IndexedImageFolder(ImageFolder):
    """solo's ``dataset_with_index(ImageFolder)`` as a module-level class, so that PL 1.4's
    spawn-based ``ddp_cpu`` can pickle the dataloader (solo's factory class is local)."""

    def __getitem__(self, index):
        return (index, *super().__getitem__(index))


def build_model(args):
    if args.method not in METHODS:
        raise ValueError(f"--method {args.method!r} is not registered; choose one of {sorted(METHODS)}")
    return METHODS[args.method](**args.__dict__)


def build_loaders(args):
    if args.unique_augs > 1:
        transform = [prepare_transform(args.dataset, **kwargs) for kwargs in args.transform_kwargs]
    else:
        transform = [prepare_transform(args.dataset, **args.transform_kwargs)]
    transform = prepare_n_crop_transform(transform, num_crops_per_aug=args.num_crops_per_aug)
    if args.dataset == "custom" and not args.no_labels:
        train_dataset = IndexedImageFolder(args.data_dir / args.train_dir, transform)
    else:
        train_dataset = prepare_datasets(
            args.dataset, transform, data_dir=args.data_dir, train_dir=args.train_dir, no_labels=args.no_labels
        )
    train_loader = prepare_dataloader(train_dataset, batch_size=args.batch_size, num_workers=args.num_workers)
    if args.dataset == "custom" and (args.no_labels or args.val_dir is None):
        return train_loader, None
    _, val_loader = prepare_data_classification(
        args.dataset,
        data_dir=args.data_dir,
        train_dir=args.train_dir,
        val_dir=args.val_dir,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
    )
    return train_loader, val_loader


def parse_args(argv):
    """solo's own parser. Without ``--gpus`` the run is on the CPU: solo 1.0.2 scales the lr by
    ``len(gpus)`` (0 on a CPU), so parse as one device, then hand PL 1.4 ``gpus=None`` (and, with
    ``--accelerator ddp_cpu --num_processes N``, scale the lr by N as solo does for N GPUs)."""
    argv = list(argv)
    method = argv[argv.index("--method") + 1] if "--method" in argv[:-1] else None
    if method not in METHODS:  # solo's parser would fail on a bare KeyError
        raise ValueError(f"--method {method!r} is not registered; choose one of {sorted(METHODS)}")
    cpu = "--gpus" not in argv
    sys.argv = [sys.argv[0]] + argv + (["--gpus", "0"] if cpu else [])
    args = parse_args_pretrain()
    if cpu:
        args.gpus = None
        if args.accelerator == "ddp_cpu":
            args.lr *= args.num_processes or 1
    return args


def main(argv=None):
    seed_everything(5)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    model = build_model(args)
    train_loader, val_loader = build_loaders(args)
    callbacks = []
    if args.accelerator == "ddp_cpu":  # PL 1.4 spawns ranks that share one copy of the weights: split them
        from .spawn_fix import unshare_callback

        callbacks.append(unshare_callback())
    if args.save_checkpoint:
        callbacks.append(
            Checkpointer(
                args, logdir=os.path.join(args.checkpoint_dir, args.method), frequency=args.checkpoint_frequency
            )
        )
    trainer = Trainer.from_argparse_args(
        args, logger=None, callbacks=callbacks, checkpoint_callback=False, terminate_on_nan=True
    )
    trainer.fit(model, train_loader, val_loader)
    return model, trainer


if __name__ == "__main__":
    main()
