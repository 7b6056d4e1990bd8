"""Where tests get the real ROS 2 Python libraries that the PyPI wheels lack.

``launch``, ``launch_ros`` and ``message_filters`` exist on every ROS install but not on PyPI.
A test that needs one uses the installed library when there is one (a ROS install), else the
upstream sources in ``../shared/ros-python/`` (``OCCROBNET_ROS_PYTHON`` overrides the folder),
and skips with the reason when neither exists.
"""

import importlib.util
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = Path(os.environ.get("OCCROBNET_ROS_PYTHON", REPO.parent / "shared" / "ros-python"))
HUMBLE_RCLPY = SOURCES / "rclpy_humble_api" / "rclpy"


def installed(module: str) -> bool:
    """Whether ``module`` is importable as a regular package (the repo's own ``launch/``
    folder would otherwise pass as an empty namespace package called ``launch``)."""
    spec = importlib.util.find_spec(module)
    return spec is not None and spec.origin is not None


def source_folder(module: str, distro: str) -> Path | None:
    """The folder to put on PYTHONPATH for ``module`` of ``distro``, None when absent."""
    folder = SOURCES / f"{module}_{distro}"
    return folder if (folder / module / "__init__.py").is_file() else None


def variants(module: str, distros: tuple[str, ...]) -> list[tuple[str, list[Path]]]:
    """``(name, PYTHONPATH folders)`` for each copy of ``module`` to test: the installed one
    (no folders), else one per distro whose sources exist; empty when there is none."""
    if installed(module):
        return [("installed", [])]
    found = [(distro, source_folder(module, distro)) for distro in distros]
    return [(distro, [folder]) for distro, folder in found if folder is not None]


def why_absent(module: str) -> str:
    return f"{module} is not installed and {SOURCES} has no copy of it"


def pythonpath(folders: list[Path], env: dict) -> dict:
    """``env`` with ``folders`` in front of its PYTHONPATH."""
    parts = [str(folder) for folder in folders]
    if env.get("PYTHONPATH"):
        parts.append(env["PYTHONPATH"])
    return {**env, "PYTHONPATH": os.pathsep.join(parts)}
