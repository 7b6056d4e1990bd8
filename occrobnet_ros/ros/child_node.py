"""The occrobnet_pose node as a child process: its command line, and stopping it.

The demo, bag-eval --live, the benchmarks, the reliability tools and the tests start the node
as a child process in its own process group (``start_new_session=True``); each must end with
everything it started, even on errors.
"""

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping

NODE_MODULE = ("-m", "occrobnet_ros.ros.node")


def node_command(
    parameters: Mapping[str, object] = (),
    remaps: Mapping[str, str] = (),
    namespace: str | None = None,
    extra: Iterable[str] = (),
    program: Iterable[str] = NODE_MODULE,
) -> list[str]:
    """``python -m occrobnet_ros.ros.node --ros-args ...`` with these overrides.

    ``parameters`` become ``-p name:=value`` (booleans as true/false), ``remaps`` ``-r a:=b``;
    ``extra`` is appended as is (e.g. ``--params-file F`` or ``--log-level warn``).
    """
    command = [sys.executable, *program, "--ros-args"]
    if namespace:
        command += ["-r", f"__ns:={namespace}"]
    for name, value in dict(parameters).items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        command += ["-p", f"{name}:={text}"]
    for source, target in dict(remaps).items():
        command += ["-r", f"{source}:={target}"]
    return command + list(extra)


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
