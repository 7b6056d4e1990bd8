"""The installed `occrobnet` executable itself, as a user types the README's commands.

The tests elsewhere call ``python -m occrobnet_ros.cli``; the installed script is a different
``__main__``, and DataLoader workers (started from a fork server, which re-imports the main
script) once re-ran the whole command in every worker from it.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from occrobnet_ros.cli import SUBCOMMANDS

REPO = Path(__file__).resolve().parents[1]
EXECUTABLE = shutil.which("occrobnet")
pytestmark = pytest.mark.skipif(
    EXECUTABLE is None, reason="occrobnet is not on PATH: source env.sh (or install/setup.bash)"
)


def _run(*args: str, cwd: Path = REPO, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [EXECUTABLE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip


def test_the_readme_training_command_with_dataloader_workers_runs(tmp_path):
    run = tmp_path / "run"
    result = _run(
        "train", "--model", "config/model/occrobnet_tiny_cpu.yaml", "--dataset", "synthetic",
        "--out", str(run), "--steps", "2", "--batch-size", "2", "--workers", "2",
        "--val-every", "2", "--val-size", "2",
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "bootstrapping phase" not in output and "exited unexpectedly" not in output
    assert any(run.glob("*.safetensors")), sorted(p.name for p in run.iterdir())


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_every_subcommand_answers_help(command):
    result = _run(command, "--help", timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"usage: occrobnet {command}" in result.stdout
