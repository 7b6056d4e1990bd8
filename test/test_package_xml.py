"""package.xml declares what the code imports, and nothing it does not.

rosdep installs what package.xml lists: a missing entry breaks a user's install, an extra one
(cv_bridge, once) pulls in what nothing uses.
"""

import ast
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = [*(REPO / "occrobnet_ros").rglob("*.py"), *(REPO / "launch").glob("*.py")]
# Python modules -> their rosdep keys.
PYTHON_KEYS = {
    "numpy": "python3-numpy", "cv2": "python3-opencv", "scipy": "python3-scipy",
    "yaml": "python3-yaml", "tqdm": "python3-tqdm", "matplotlib": "python3-matplotlib",
    "hypothesis": "python3-hypothesis",
}  # fmt: skip
# Installed with pip (README, "Build on a ROS 2 install"): no rosdep key on every distro.
PIP_ONLY = {"torch", "safetensors", "rosbags", "mcap", "mcap_ros2"}
# The training, conversion and export lanes' packages (requirements-training.txt,
# requirements-export.txt): imported inside the functions that need them, never by the node,
# so rosdep does not install them.
TRAINING_ONLY = {
    "tflite": "tflite", "ai_edge_litert": "ai-edge-litert", "moderngl": "moderngl", "anny": "anny",
}  # fmt: skip
# Declared for the build or the generated messages, not imported by name.
NOT_IMPORTED = {"rosidl_default_runtime", "rosidl_default_generators", "ament_cmake",
                "ament_cmake_python", "ament_cmake_pytest", "python3-pytest"}  # fmt: skip


def imported_modules() -> set[str]:
    """Top-level modules the package's code and launch file import (not its own, not stdlib)."""
    names = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"occrobnet_ros"}


def declared_dependencies() -> set[str]:
    root = ET.parse(REPO / "package.xml").getroot()
    tags = ("depend", "exec_depend", "build_depend", "buildtool_depend", "test_depend")
    return {element.text.strip() for tag in tags for element in root.iter(tag)}


def test_every_import_is_declared_and_every_declaration_imported():
    imported = imported_modules()
    assert imported & set(PYTHON_KEYS), "the module scan found nothing: is it broken?"
    needed = {
        PYTHON_KEYS.get(module, module) for module in imported - PIP_ONLY - set(TRAINING_ONLY)
    }
    declared = declared_dependencies()
    assert sorted(needed - declared) == [], "imported but not in package.xml"
    assert sorted(declared - needed - NOT_IMPORTED) == [], "in package.xml but never imported"


def test_training_only_modules_are_pinned_in_the_training_requirements():
    lines = [
        line
        for name in ("requirements-training.txt", "requirements-export.txt")
        for line in (REPO / name).read_text().splitlines()
    ]
    pinned = {
        line.split("==")[0].strip().lower()
        for line in lines
        if "==" in line and not line.lstrip().startswith("#")
    }
    assert sorted(set(TRAINING_ONLY.values()) - pinned) == []
