"""The one machine description every benchmark writes beside its numbers.

``facts`` gathers what a reader needs to weigh a timing or a wall time (CPU model and architecture, logical
CPUs, torch version and threads, device and GPU, Python; the load average on request, where timings
share the machine); ``describe`` phrases them as one line, leaving out whatever a facts dict lacks.

>>> f = facts()
>>> sorted(f)
['arch', 'cpu', 'cpus', 'device', 'python', 'threads', 'torch']
>>> len(facts(load=True)["load"])
3
>>> describe(dict(arch="x86_64", cpus=2, threads=1))
'x86_64, 2 logical CPUs, torch threads 1'
>>> describe(dict(cpu="Xeon", arch="x86_64", cpus=16, torch="2.4.0", threads=16, device="cuda", gpu="H100",
...               python="3.11.7", load=[1.0, 0.5, 0.25]))  # doctest: +NORMALIZE_WHITESPACE
'Xeon (x86_64), 16 logical CPUs, torch 2.4.0 (threads 16), device cuda (H100), Python 3.11.7,
 load average 1.0 / 0.5 / 0.2'
"""

import os
import platform


def cpu_model():
    """The CPU's model name (/proc/cpuinfo), else what ``platform`` knows, else the architecture."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def facts(device="cpu", threads=None, load=False):
    """What this process runs on; ``threads``: the torch threads the run uses (default: torch's current count).

    The GPU's name is added for a CUDA ``device``; with ``load``, the load average (1, 5, 15 min) where the OS
    reports one (it changes from call to call: for timings, not for a line a resumed run must write again)."""
    import torch

    out = dict(
        cpu=cpu_model(),
        arch=platform.machine(),
        cpus=os.cpu_count(),
        torch=torch.__version__,
        threads=threads or torch.get_num_threads(),
        device=device,
        python=platform.python_version(),
    )
    if device.startswith("cuda") and torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(torch.device(device))
    if load and hasattr(os, "getloadavg"):
        out["load"] = [round(x, 2) for x in os.getloadavg()]
    return out


def describe(f=None, **kwargs):
    """One line from a facts dict (default: ``facts(**kwargs)`` of this process)."""
    f = facts(**kwargs) if f is None else f
    parts = []
    if f.get("cpu") or f.get("arch"):
        cpu, arch = f.get("cpu"), f.get("arch")
        parts.append(f"{cpu} ({arch})" if cpu and arch and cpu != arch else cpu or arch)
    if f.get("cpus"):
        parts.append(f"{f['cpus']} logical CPUs")
    if f.get("torch"):
        parts.append(f"torch {f['torch']}" + (f" (threads {f['threads']})" if f.get("threads") else ""))
    elif f.get("threads"):
        parts.append(f"torch threads {f['threads']}")
    if f.get("device"):
        parts.append(f"device {f['device']}" + (f" ({f['gpu']})" if f.get("gpu") else ""))
    if f.get("python"):
        parts.append(f"Python {f['python']}")
    if f.get("load"):
        parts.append("load average " + " / ".join(f"{x:.1f}" for x in f["load"]))
    return ", ".join(parts)
