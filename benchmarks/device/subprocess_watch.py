"""Run a benchmark script as a child, its output to a log file, polling a callback while it runs.

>>> import sys, tempfile, os
>>> rc, tail = run_watched([sys.executable, "-c", "print('hi')"], os.path.join(tempfile.mkdtemp(), "log"))
>>> rc, tail.strip()
(0, 'hi')
"""

import os
import signal
import subprocess
import time


def run_watched(cmd, log_path, on_poll=None, every=2.0, timeout=None, env=None):
    """(exit code, last 4000 characters of the log); ``timeout`` seconds: the child and every process it
    started (a worker pool on the GPU) are ended (exit code None)."""
    start = time.time()
    with open(log_path, "w") as log:
        child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        rc = None
        while True:
            try:
                rc = child.wait(timeout=every)
                break
            except subprocess.TimeoutExpired:
                if on_poll:
                    on_poll()
                if timeout is not None and time.time() - start > timeout:
                    end_group(child)
                    break
        end_group(child)  # stragglers of a child that exited
    with open(log_path) as f:
        return rc, f.read()[-4000:]


def end_group(child, wait=10):
    """SIGTERM, then SIGKILL, to the child's process group (its own session); quiet if it is gone."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            break
        try:
            child.wait(timeout=wait)
            if sig == signal.SIGTERM:
                time.sleep(0.5)  # let the group's other members end too before the SIGKILL
        except subprocess.TimeoutExpired:
            continue
