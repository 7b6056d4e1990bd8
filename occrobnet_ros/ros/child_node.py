"""The occrobnet_pose node as a child process: its command line, starting and stopping it.

The demo, bag-eval --live, the benchmarks, the reliability tools and the tests run the node
(the tests other ROS programs too) through :func:`running`: in its own process group, so that
stopping it reaches whatever it started, and stopped on the way out, even on errors.
"""

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

NODE_MODULE = ("-m", "occrobnet_ros.ros.node")


def node_command(
    parameters: Mapping[str, object] = (),
    remaps: Mapping[str, str] = (),
    namespace: str | None = None,
    params_file: str | Path | None = None,
    extra: Iterable[str] = (),
    program: Iterable[str] = NODE_MODULE,
) -> list[str]:
    """``python -m occrobnet_ros.ros.node --ros-args ...`` with these overrides.

    ``params_file`` comes first and ``parameters`` after it as ``-p name:=value`` (booleans as
    true/false, sequences as [a, b]): rcl lets the later one win, so they override the file.
    ``remaps`` become ``-r a:=b``; ``extra`` is appended as is (e.g. ``--log-level warn``);
    ``program`` replaces ``-m occrobnet_ros.ros.node`` (e.g. a script with a fake estimator).
    """
    command = [sys.executable, *program, "--ros-args"]
    if namespace:
        command += ["-r", f"__ns:={namespace}"]
    if params_file is not None:
        command += ["--params-file", str(params_file)]
    for name, value in dict(parameters).items():
        command += ["-p", f"{name}:={_parameter_text(value)}"]
    for source, target in dict(remaps).items():
        command += ["-r", f"{source}:={target}"]
    return command + list(extra)


def _parameter_text(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_parameter_text(item) for item in value) + "]"
    return str(value)


@contextlib.contextmanager
def running(
    command: list[str],
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    **popen_options,
) -> Iterator[subprocess.Popen]:
    """``command`` as a child in its own process group, with unbuffered Python output;
    :func:`stop_process_group` on exit.

    ``env``: its environment (default this process's). ``log``: a file for its stdout and
    stderr (a pipe nobody reads could fill up and block it); without one the child writes
    where this process does, unless ``popen_options`` say otherwise.
    """
    env = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
    with contextlib.ExitStack() as stack:
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            popen_options.update(
                stdout=stack.enter_context(log.open("w")), stderr=subprocess.STDOUT
            )
        process = subprocess.Popen(command, env=env, start_new_session=True, **popen_options)
        try:
            yield process
        finally:
            stop_process_group(process)


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
