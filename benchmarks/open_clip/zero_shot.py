"""Zero-shot Fashion-MNIST with a tiny open_clip model, at CPU scale: ClipLoss vs SigLipLoss vs RPC.

Images: Fashion-MNIST from Debian's dataset-fashion-mnist (IDX files, nothing downloaded). Captions: a
training template filled with the image's class name ("a photo of a sneaker."); the zero-shot classifier
uses other, held-out templates (open_clip.build_zero_shot_classifier, averaged over them). Every loss
trains the same tiny model config (common.TINY_MODEL, random init) for the same steps, batches, learning
rate and seeds; the random-init model of each seed is the baseline, evaluated in the same run.

RPC is ``rpc_open_clip.ObjectiveClipLoss("rpc")`` at the package's default knobs; SigLIP's model starts
from open_clip_train's SigLIP init (logit scale 10, bias -10), ClipLoss's and RPC's from CLIP's (1/0.07).

    python benchmarks/open_clip/zero_shot.py                    # the committed table (CPU scale)
    python benchmarks/open_clip/zero_shot.py --steps 20 --seeds 0 --out /tmp/zs.json   # smoke
    python benchmarks/open_clip/zero_shot.py --device cuda --steps 5000 --batch-size 1024 --out <folder>/results.json
"""

import argparse
import math
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path += [ROOT, os.path.join(ROOT, "adapters")]  # a checkout without installing (installed packages first)

from benchmarks.harness import machine  # noqa: E402
from benchmarks.harness.data import DEFAULT_FASHION_MNIST, load_fashion_mnist  # noqa: E402
from benchmarks.open_clip import common  # noqa: E402

CLASSES = ("T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot")
TRAIN_TEMPLATES = (
    "a photo of a {}.",
    "a picture of a {}.",
    "an image of a {}.",
    "a {} on a plain background.",
    "a black and white photo of a {}.",
    "this is a {}.",
)
ZERO_SHOT_TEMPLATES = ("a low resolution photo of a {}.", "a close-up photo of a {}.", "a {}.")
LOSSES = ("ClipLoss", "SigLipLoss", "RPC")


def make_model(loss_name, seed):
    import numpy as np
    import open_clip

    torch.manual_seed(seed)
    kwargs = dict(init_logit_scale=np.log(10), init_logit_bias=-10) if loss_name == "SigLipLoss" else {}
    return open_clip.create_model(common.TINY_MODEL_NAME, output_dict=True, **kwargs)


def make_loss(loss_name):
    import open_clip

    from rpc_open_clip import ObjectiveClipLoss

    if loss_name == "ClipLoss":
        return open_clip.ClipLoss()
    if loss_name == "SigLipLoss":
        return open_clip.loss.SigLipLoss()
    return ObjectiveClipLoss("rpc")


def images_in(x):
    """(n, 1, 28, 28) in [0, 1] -> 3 channels normalised as the model expects (mean 0.5, std 0.5)."""
    return ((x - 0.5) / 0.5).expand(-1, 3, -1, -1)


@torch.no_grad()
def zero_shot_accuracy(model, tokenizer, x_test, y_test, batch=500):
    import open_clip

    model.eval()
    device = model.logit_scale.device
    classifier = open_clip.build_zero_shot_classifier(
        model, tokenizer, CLASSES, ZERO_SHOT_TEMPLATES, num_classes_per_batch=10, device=device, use_tqdm=False
    )
    correct = 0
    for i in range(0, len(x_test), batch):
        features = model.encode_image(images_in(x_test[i : i + batch].to(device)), normalize=True)
        correct += int((features @ classifier).argmax(1).eq(y_test[i : i + batch].to(device)).sum())
    model.train()
    return correct / len(x_test)


def train(loss_name, seed, data, tokenizer, args):
    x_train, y_train, x_test, y_test = data
    model, loss_fn = make_model(loss_name, seed).to(args.device), make_loss(loss_name)
    captions = tokenizer([t.format(c) for c in CLASSES for t in TRAIN_TEMPLATES]).view(
        len(CLASSES), len(TRAIN_TEMPLATES), -1
    )
    x_train, y_train, captions = x_train.to(args.device), y_train.to(args.device), captions.to(args.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd)
    g = torch.Generator().manual_seed(seed)  # the same batches and captions for every loss of a seed
    start, losses = time.time(), []
    for step in range(args.steps):
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        for group in optimizer.param_groups:
            group["lr"] = lr
        index = torch.randint(len(x_train), (args.batch_size,), generator=g).to(args.device)
        template = torch.randint(len(TRAIN_TEMPLATES), (args.batch_size,), generator=g).to(args.device)
        out = model(images_in(x_train[index]), captions[y_train[index], template])
        loss = loss_fn(**out)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))  # as open_clip_train does
        losses.append(float(loss.detach()))
    seconds = time.time() - start
    accuracy = zero_shot_accuracy(model, tokenizer, x_test, y_test)
    return dict(
        loss=loss_name,
        seed=seed,
        zero_shot=accuracy,
        train_seconds=round(seconds, 1),
        final_loss=losses[-1],
        logit_scale=float(model.logit_scale.detach().exp()),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=DEFAULT_FASHION_MNIST)
    parser.add_argument("--train-size", type=int, default=20000)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--wd", type=float, default=0.1)
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--losses", nargs="+", choices=LOSSES, default=list(LOSSES))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=common.RESULTS, help="results.json to write the 'zero_shot' section to")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    import open_clip

    common.register_tiny_model(os.path.join(os.path.dirname(os.path.abspath(args.out)), "model_configs"))
    tokenizer = open_clip.get_tokenizer(common.TINY_MODEL_NAME)
    data = load_fashion_mnist(args.data_dir, args.train_size, args.test_size)
    rows = []
    for seed in args.seeds:
        baseline = make_model("ClipLoss", seed).to(args.device)
        acc = zero_shot_accuracy(baseline, tokenizer, data[2], data[3])
        rows.append(dict(loss="random init", seed=seed, zero_shot=acc))
        print(f"seed {seed} random init: zero-shot {acc:.3f}", flush=True)
        for loss_name in args.losses:
            row = train(loss_name, seed, data, tokenizer, args)
            rows.append(row)
            print(f"seed {seed} {loss_name}: zero-shot {row['zero_shot']:.3f} in {row['train_seconds']} s", flush=True)
    section = dict(
        command=common.command_line(),
        gpu_command=(
            "python benchmarks/open_clip/zero_shot.py --device cuda --train-size 60000 --test-size 10000 --steps 5000 "
            "--batch-size 1024 --seeds 0 1 2 --out benchmarks/open_clip/cuda/results.json  (not run: no GPU in this run)"
        ),
        scale="CPU scale" if args.device == "cpu" else f"device {args.device}",
        machine=machine.describe(machine.facts(device=args.device, threads=args.threads, load=True)),
        args=vars(args),
        model=common.TINY_MODEL,
        rpc_knobs=make_loss("RPC").knobs,
        train_templates=TRAIN_TEMPLATES,
        zero_shot_templates=ZERO_SHOT_TEMPLATES,
        rows=rows,
    )
    common.write_section("zero_shot", section, args.out)


if __name__ == "__main__":
    main()
