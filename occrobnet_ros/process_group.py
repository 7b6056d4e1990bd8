"""Stopping a child process started in its own process group (``start_new_session=True``).

The demo, bag-eval --live, the benchmarks, the reliability tools and the tests start ROS nodes
as child processes; each must end with everything it started, even on errors.
"""

import contextlib
import os
import signal
import subprocess


def stop_process_group(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGINT (rclpy's clean shutdown), then SIGKILL if the leader is not gone in ``timeout`` s.

    Whatever the leader left behind in its group is killed too.
    """
    for sig in (signal.SIGINT, signal.SIGKILL):
        if process.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=timeout)
