"""launch/pose.launch.py: its arguments, the node it starts, and that the executable exists.

The structure is read with ``ast`` (no `launch` needed); test_launch_service.py runs the file
through the real LaunchService.
"""

import ast
import os
from pathlib import Path

from occrobnet_ros.ros.parameters import SPECS

REPO = Path(__file__).resolve().parents[1]
LAUNCH_FILE = REPO / "launch" / "pose.launch.py"
REQUIRED_ARGUMENTS = {
    "namespace", "image", "camera_info", "params_file", "checkpoint", "device", "use_sim_time",
    "autostart",
}  # fmt: skip


def module_constant(tree: ast.Module, name: str):
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} is not a module-level constant of {LAUNCH_FILE.name}")


def node_call(tree: ast.Module) -> dict:
    """The keyword arguments of the one ``Node(...)`` call that are constants or names."""
    calls = [
        node for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Node"
        and not any(k.arg == "package" and getattr(k.value, "value", "") == "rviz2"
                    for k in node.keywords)
    ]  # fmt: skip
    assert len(calls) == 1, "the launch file starts exactly one Node besides the optional RViz"
    constants = {name: module_constant(tree, name) for name in ("PACKAGE", "EXECUTABLE")}
    keywords = {}
    for keyword in calls[0].keywords:
        if isinstance(keyword.value, ast.Constant):
            keywords[keyword.arg] = keyword.value.value
        elif isinstance(keyword.value, ast.Name) and keyword.value.id in constants:
            keywords[keyword.arg] = constants[keyword.value.id]
    return keywords


def test_declares_the_documented_arguments():
    tree = ast.parse(LAUNCH_FILE.read_text())
    arguments = module_constant(tree, "ARGUMENTS")
    assert REQUIRED_ARGUMENTS <= set(arguments)
    for name, (default, description) in arguments.items():
        assert isinstance(default, str) and description, name
    # Every override names a real node parameter (or rclpy's use_sim_time).
    assert set(module_constant(tree, "OVERRIDES")) <= {*SPECS, "use_sim_time"}


def test_starts_the_node_executable_of_this_package():
    node = node_call(ast.parse(LAUNCH_FILE.read_text()))
    assert node["package"] == "occrobnet_ros"
    assert node["executable"] == "occrobnet_pose"
    assert node["name"] == "occrobnet_pose"
    prefixes = [Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    executables = [p / "lib" / node["package"] / node["executable"] for p in prefixes]
    assert any(e.is_file() and os.access(e, os.X_OK) for e in executables), (
        "the node executable is not in the install tree: run scripts/setup.sh, source env.sh"
    )
