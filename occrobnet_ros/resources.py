"""Files the package ships (config/, weights/): where to find them, installed or not.

A colcon install puts them in ``share/occrobnet_ros/``; a source checkout (or a pip install of
the library on a machine without ROS) has them at the repository root.
"""

from pathlib import Path


def shipped_file_candidates(*parts: str) -> list[Path]:
    """Where ``share/occrobnet_ros/<parts>`` may be: the installed share/ first, then the tree."""
    roots = []
    try:
        from ament_index_python.packages import get_package_share_directory

        roots.append(Path(get_package_share_directory("occrobnet_ros")))
    except Exception:  # not installed with colcon, or no ament_index: the source tree only
        pass
    roots.append(Path(__file__).resolve().parents[1])
    return [root.joinpath(*parts) for root in roots]


def shipped_file(*parts: str) -> Path | None:
    """The first existing candidate of :func:`shipped_file_candidates`, or None."""
    return next((path for path in shipped_file_candidates(*parts) if path.is_file()), None)


def require_shipped_file(*parts: str) -> Path:
    """:func:`shipped_file`, or a FileNotFoundError naming every place searched."""
    path = shipped_file(*parts)
    if path is None:
        searched = ", ".join(str(p) for p in shipped_file_candidates(*parts))
        raise FileNotFoundError(f"{'/'.join(parts)} is not at any of: {searched}")
    return path


def model_config_path(name: str) -> Path:
    """A shipped model config (config/model/<name>.yaml), installed or in the source tree."""
    return require_shipped_file("config", "model", f"{name}.yaml")
