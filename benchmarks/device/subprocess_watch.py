"""Run a benchmark script as a child, its output to a log file, polling a callback while it runs.

>>> import sys, tempfile, os
>>> rc, tail = run_watched([sys.executable, "-c", "print('hi')"], os.path.join(tempfile.mkdtemp(), "log"))
>>> rc, tail.strip()
(0, 'hi')
"""
import subprocess
import time


def run_watched(cmd, log_path, on_poll=None, every=2.0, timeout=None, env=None):
    """(exit code, last 4000 characters of the log); ``timeout`` seconds: the child is ended (exit code None)."""
    start = time.time()
    with open(log_path, "w") as log:
        child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        rc = None
        while True:
            try:
                rc = child.wait(timeout=every)
                break
            except subprocess.TimeoutExpired:
                if on_poll:
                    on_poll()
                if timeout is not None and time.time() - start > timeout:
                    child.terminate()
                    try:
                        child.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        child.kill()
                        child.wait()
                    break
    with open(log_path) as f:
        return rc, f.read()[-4000:]
