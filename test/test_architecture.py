"""The package's layers import downwards only, with no cycle (docs/architecture.md).

    skeleton, resources, msg  <-  geometry, prediction, metrics, crop_policy  <-  model, data
    <-  inference, training, evaluation  <-  ros  <-  bag  <-  tools, cli

A module may import its own layer or a lower one, never a higher one, and no chain of imports
(lazy ones inside functions included) leads back to where it started. The network stays free of
ROS, and the node free of the network's internals. Inside data/, inference/ and training/ the
parts are ranked the same way (PARTS).
"""

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "occrobnet_ros"
LAYERS = [
    {"skeleton", "resources", "msg"},
    {"geometry", "prediction", "metrics", "crop_policy", "drawing"},
    {"model", "data"},
    {"inference", "training", "evaluation"},
    {"ros"},
    {"bag"},
    {"tools", "cli"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
# Inside a layer's package, its parts are ranked the same way; parts of one rank do not import
# each other. data/: the Sample type; the two sources of frames (real datasets, the generator),
# which know nothing of each other; what turns frames into training examples. inference/: the
# stages of a frame, then the estimator that runs them in order. training/: the command line
# and the run's state; the frames; the loop; the command that wires them.
PARTS = {
    "data": [
        {"sample"},
        {"readers", "synthetic"},
        {"targets"},
        {"augment"},
        {"dataset"},
        {"rendered"},
    ],  # fmt: skip
    "inference": [
        {"preprocess", "hand_detection", "decode", "smoothing", "tracking"},
        {"estimator"},
    ],
    "training": [
        {"options", "state"},
        {"datasets"},
        {"trainer"},
        {"train"},
    ],
}
ROS_MODULES = ("rclpy", "sensor_msgs", "std_msgs", "geometry_msgs", "tf2_msgs", "launch")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, lazily or not (``from a import b`` counts ``a.b`` when
    ``b`` is a module of the package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                if _source(candidate) is not None:
                    found.add(candidate)
    return found


def _source(module: str) -> Path | None:
    base = REPO.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports."""
    edges = {}
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        edges[name] = {
            m for m in imports(path)
            if m.startswith("occrobnet_ros.") and _source(m) is not None and m != name
        }  # fmt: skip
    return edges


def layer(module: str) -> str:
    return module.split(".")[1]


def test_every_module_belongs_to_a_layer():
    assert {layer(m) for m in graph() if m != "occrobnet_ros"} <= set(RANK)


def test_imports_go_down_the_layers():
    upward = [
        f"{source} -> {target}"
        for source, targets in graph().items() if source != "occrobnet_ros"
        for target in targets
        if RANK[layer(target)] > RANK[layer(source)]
    ]  # fmt: skip
    assert upward == []


@pytest.mark.parametrize("package", sorted(PARTS))
def test_inside_a_package_imports_go_down_its_parts(package):
    rank = {name: r for r, names in enumerate(PARTS[package]) for name in names}
    prefix = f"occrobnet_ros.{package}."

    def part(module: str) -> str:
        return module.removeprefix(prefix).split(".")[0]

    inside = {m: ts for m, ts in graph().items() if m.startswith(prefix)}
    assert {part(m) for m in inside} <= set(rank)
    crossing = [
        f"{source} -> {target}"
        for source, targets in inside.items()
        for target in targets
        if target.startswith(prefix) and part(target) != part(source)
        if rank[part(target)] >= rank[part(source)]
    ]  # fmt: skip
    assert crossing == []


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_no_import_cycle():
    # Package __init__ files re-export their modules: an edge from a package to its own
    # modules is not a cycle a reader follows.
    edges = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph().items()}
    assert find_cycle(edges) is None


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_network_has_no_ros_and_the_node_no_network_internals():
    for path in (PACKAGE / "model").rglob("*.py"):
        assert not any(m.split(".")[0] in ROS_MODULES for m in imports(path)), path
    for path in (PACKAGE / "ros").rglob("*.py"):
        assert not any(m.startswith(("occrobnet_ros.model", "torch")) for m in imports(path)), path


def test_the_architecture_document_has_one_line_per_module():
    text = (REPO / "docs" / "architecture.md").read_text()
    listed = re.findall(r"^\| `([\w/]+\.py)` \|", text, flags=re.MULTILINE)
    modules = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py"
    }
    assert sorted(listed) == sorted(modules)
