"""solo-learn 1.0.2's SimCLR and BYOL vs ``method: rpc`` on a Fashion-MNIST subset, same tiny CPU budget.

Each method is built exactly as solo's launcher builds it (solo's argparse flags through
``rpc_solo.pretrain.parse_args``, ``METHODS[name](**vars(args))``, solo's pretraining transforms
and dataloader) and trained with PyTorch Lightning 1.4 for the same epochs, batch size, optimiser,
lr schedule, backbone and seed. Reported:
- online linear: solo's online classifier (trained on detached features during pretraining), val top-1;
- online kNN: solo's ``WeightedKNNClassifier`` (k=20, last epoch's train features), val top-1;
- frozen probes after training: logistic regression and 20-NN (cosine) on frozen encoder features.
Validation images are fed at their training size (32 px; solo's ``custom`` val pipeline would resize
to 224).

    OMP_NUM_THREADS=1 .venvs/solo/bin/python benchmarks/solo/run.py --out benchmarks/solo

>>> method_flags("byol")[:2]
['--pred_hidden_dim', '256']
"""

import argparse
import os
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the checkout

from benchmarks.harness import machine  # noqa: E402
from benchmarks.harness.probes import sklearn_knn, sklearn_linear  # noqa: E402
from benchmarks.harness.rows import write_json  # noqa: E402
from benchmarks.harness.tables import markdown  # noqa: E402

METHODS_TO_RUN = ("simclr", "byol", "rpc")


def method_flags(method):
    """Method-specific solo flags; everything else is shared."""
    if method == "byol":
        return ["--pred_hidden_dim", "256", "--base_tau_momentum", "0.99", "--final_tau_momentum", "1.0"]
    if method == "rpc":
        return ["--loss", "rpc", "--alpha", "0.3", "--beta", "0.01", "--gamma", "0.1", "--temperature", "0.2"]
    if method == "simclr":
        return ["--temperature", "0.2"]
    raise ValueError(f"unknown method {method!r}; choose from {METHODS_TO_RUN}")


def solo_flags(method, data_dir, a):
    return [
        "--method",
        method,
        "--dataset",
        "custom",
        "--data_dir",
        data_dir,
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
        str(a.lr),
        "--classifier_lr",
        "0.1",
        "--weight_decay",
        "1e-4",
        "--batch_size",
        str(a.batch_size),
        "--max_epochs",
        str(a.epochs),
        "--brightness",
        "0.4",
        "--contrast",
        "0.4",
        "--saturation",
        "0.2",
        "--hue",
        "0.1",
        "--gaussian_prob",
        "0.0",
        "--min_scale",
        "0.3",
        "--crop_size",
        "32",
        "--proj_hidden_dim",
        "512",
        "--proj_output_dim",
        "128",
        "--num_workers",
        "0",
        "--knn_eval",
        "--knn_k",
        "20",
        "--progress_bar_refresh_rate",
        "0",
        "--weights_summary",
        "None",
        "--num_sanity_val_steps",
        "0",
        *method_flags(method),
    ]


def val_loader(data_dir, split, batch_size=256):
    """Un-augmented 32 px images with solo's custom-dataset normalisation (ImageNet mean/std)."""
    from torchvision import datasets, transforms

    t = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize(mean=(0.485, 0.456, 0.406), std=(0.228, 0.224, 0.225))]
    )
    ds = datasets.ImageFolder(os.path.join(data_dir, split), t)
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=0)


@torch.no_grad()
def features(model, loader):
    model.eval()
    xs, ys = [], []
    for x, y in loader:
        xs.append(model.encoder(x))
        ys.append(y)
    return torch.cat(xs).numpy(), torch.cat(ys).numpy()


def frozen_probes(model, data_dir):
    """(logistic-regression top-1, 20-NN cosine top-1) on frozen encoder features (the harness's probes)."""
    xtr, ytr = features(model, val_loader(data_dir, "train"))
    xte, yte = features(model, val_loader(data_dir, "val"))
    return sklearn_linear(xtr, ytr, xte, yte, max_iter=2000), sklearn_knn(xtr, ytr, xte, yte, k=20)


class Progress:
    """Per-epoch line: the metrics solo logs (PL 1.4 callback; built lazily to keep imports cheap)."""

    @staticmethod
    def make(method, history):
        import pytorch_lightning as pl

        class _Progress(pl.Callback):
            def on_validation_epoch_end(self, trainer, module):
                m = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(("val_", "train_"))}
                m["epoch"] = trainer.current_epoch
                history.append(m)
                print(
                    f"  [{method}] epoch {trainer.current_epoch}: online linear {m.get('val_acc1', float('nan')):.1f}% "
                    f"online kNN {m.get('val_knn_acc1', float('nan')):.1f}%",
                    flush=True,
                )

        return _Progress()


def run_method(method, data_dir, a):
    import pytorch_lightning as pl
    from pytorch_lightning import seed_everything
    from solo.methods import METHODS

    from rpc_solo.pretrain import build_loaders, parse_args

    seed_everything(a.seed)
    args = parse_args(solo_flags(method, data_dir, a))
    model = METHODS[args.method](**vars(args))
    train_loader, _ = build_loaders(args)
    history = []
    trainer = pl.Trainer(
        max_epochs=a.epochs,
        gpus=None,
        logger=False,
        checkpoint_callback=False,
        progress_bar_refresh_rate=0,
        weights_summary=None,
        num_sanity_val_steps=0,
        callbacks=[Progress.make(method, history)],
    )
    t0 = time.time()
    trainer.fit(model, train_loader, val_loader(data_dir, "val"))
    train_s = time.time() - t0
    lin, knn = frozen_probes(model, data_dir)
    last = history[-1]
    # solo logs accuracies in percent; the table uses fractions like the frozen probes
    return dict(
        method=method,
        online_linear=last["val_acc1"] / 100,
        online_knn=last["val_knn_acc1"] / 100,
        frozen_linear=lin,
        frozen_knn=knn,
        train_seconds=train_s,
        steps=trainer.global_step,
        history=history,
    )


def write_results(results, a, command, out):
    host = machine.describe()
    write_json(
        os.path.join(out, "results.json"), dict(command=command, settings=vars(a), machine=host, results=results)
    )
    lines = [
        "# solo-learn 1.0.2: SimCLR, BYOL and `method: rpc` on Fashion-MNIST (tiny CPU budget)",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {host}",
        "",
        f"Data: Fashion-MNIST train file, {a.train} images for pretraining (and the frozen probes' training set), "
        f"a disjoint {a.val} for validation; 28 px resized to 32 px RGB. ResNet-18 (solo's, ImageNet stem), "
        f"{a.epochs} epochs, batch {a.batch_size}, SGD lr {a.lr} (solo scales by batch/256), cosine schedule, seed {a.seed}; "
        "same flags for every method except its own (BYOL predictor/momentum; RPC alpha/beta/gamma).",
        "",
        markdown(
            [
                "method",
                "online linear top-1",
                "online kNN top-1",
                "frozen linear top-1",
                "frozen 20-NN top-1",
                "steps",
                "train s",
            ],
            [
                [
                    r["method"],
                    *(f"{r[k]:.3f}" for k in ("online_linear", "online_knn", "frozen_linear", "frozen_knn")),
                    r["steps"],
                    f"{r['train_seconds']:.0f}",
                ]
                for r in results
            ],
            align="lllllll",
        ),
        "",
        "Online = solo's own online classifier / WeightedKNNClassifier at the last epoch; frozen = "
        "scikit-learn probes on the trained encoder's features. One seed and a few epochs: the run-to-run "
        "spread was not measured, so gaps of a few points are not a ranking; this is a smoke-scale check "
        "that `method: rpc` trains like solo's own methods, not a reproduction of the paper's CIFAR numbers. "
        "`train s` is wall time on a machine shared with other jobs.",
        "",
        "![results](results.png)",
        "",
    ]
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(lines))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", nargs="+", default=list(METHODS_TO_RUN))
    p.add_argument("--train", type=int, default=3072)
    p.add_argument("--val", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch_size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.6)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--source", default="fashion-mnist", choices=["fashion-mnist", "digits"])
    p.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    a = p.parse_args(argv)
    for m in a.methods:
        method_flags(m)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from rpc_solo.data import export

    command = "OMP_NUM_THREADS=1 .venvs/solo/bin/python benchmarks/solo/run.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = export(a.source, tmp, a.train, a.val, size=32, seed=a.seed)
        for m in a.methods:
            print(f"== {m}", flush=True)
            results.append(run_method(m, data_dir, a))
            r = results[-1]
            print(
                f"  {m}: online linear {r['online_linear']:.3f}, online kNN {r['online_knn']:.3f}, frozen linear "
                f"{r['frozen_linear']:.3f}, frozen kNN {r['frozen_knn']:.3f}, {r['train_seconds']:.0f} s",
                flush=True,
            )
            write_results(results, a, command, a.out)
    return results


if __name__ == "__main__":
    main()
