"""Peak memory of a CPU process, from /proc/self/status: what the cost benchmarks record per row.

>>> status_bytes("VmRSS") > 0
True
"""


def status_bytes(field: str) -> int:
    """A /proc/self/status field (VmRSS, VmHWM, ...) in bytes."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))


def reset_peak() -> int:
    """Current RSS as the baseline, VmHWM reset to it (falls back to the current peak where it cannot be reset)."""
    base = status_bytes("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        base = status_bytes("VmHWM")
    return base
