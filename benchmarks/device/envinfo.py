"""What the device run ran on: GPU, driver, torch / CUDA / cuDNN versions, host packages, carried wheels.

python benchmarks/device/envinfo.py --out env.json --dry-run
"""

import importlib.metadata
import os
import subprocess
import sys

import common
import torch
from results import write_json

from benchmarks.harness import machine  # common put the checkout's root on sys.path

PACKAGES = (
    "torch",
    "lightly",
    "timm",
    "transformers",
    "lightning",
    "pytorch-lightning",
    "numpy",
    "matplotlib",
    "scikit-learn",
    "triton",
)


def version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def nvidia_smi():
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return out.stdout.strip() or out.stderr.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"nvidia-smi not available: {exc}"


def main():
    args = common.parse(__doc__)
    info = dict(
        dry_run=args.dry_run,
        **machine.facts(args.device, load=True),  # cpu, cpus, torch, python, ...
        python_executable=os.path.realpath(sys.executable),
        torch_cuda=torch.version.cuda,
        cuda_available=torch.cuda.is_available(),
        packages={p: version(p) for p in PACKAGES},
        carried_wheels=[w for w in os.environ.get("RPC_DEVICE_WHEELS", "").split(":") if w],
        matmul_tf32=bool(torch.backends.cuda.matmul.allow_tf32),
        cudnn_tf32=bool(torch.backends.cudnn.allow_tf32),
        float32_matmul_precision=torch.get_float32_matmul_precision(),
    )
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(
            gpu=torch.cuda.get_device_name(0),
            gpu_count=torch.cuda.device_count(),
            gpu_memory_gib=round(props.total_memory / 2**30, 1),
            compute_capability=f"{props.major}.{props.minor}",
            multiprocessors=props.multi_processor_count,
            cudnn=torch.backends.cudnn.version(),
            nvidia_smi=nvidia_smi(),
        )
    write_json(args.out, info)
    print(
        f"env: {info.get('gpu', 'no GPU')}, torch {info['torch']} (CUDA {info['torch_cuda']}), "
        f"Python {info['python']}, lightly {info['packages']['lightly']}",
        flush=True,
    )


if __name__ == "__main__":
    main()
