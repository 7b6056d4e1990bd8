"""The package's layers import downwards only, with no cycle (docs/architecture.md).

    skeleton, resources, msg  <-  geometry, prediction, metrics, crop_policy  <-  model, data
    <-  inference, training, evaluation  <-  ros  <-  bag  <-  tools, cli

A module may import its own layer or a lower one, never a higher one, and no chain of imports
(lazy ones inside functions included) leads back to where it started. The network stays free of
ROS, and the node free of the network's internals.
"""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "occrobnet_ros"
LAYERS = [
    {"skeleton", "resources", "msg"},
    {"geometry", "prediction", "metrics", "crop_policy"},
    {"model", "data"},
    {"inference", "training", "evaluation"},
    {"ros"},
    {"bag"},
    {"tools", "cli"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
# Inside data/: the Sample type; the two sources of frames, which know nothing of each other
# (real datasets and the generator); what turns frames into training examples. Parts of one
# rank do not import each other.
DATA_LAYERS = [{"sample"}, {"readers", "synthetic"}, {"targets"}, {"augment"}, {"dataset"}]
DATA_RANK = {name: rank for rank, names in enumerate(DATA_LAYERS) for name in names}
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


def test_inside_data_the_readers_and_the_generator_stand_apart():
    def part(module: str) -> str:
        return module.split(".")[2]

    data = {m: ts for m, ts in graph().items() if m.startswith("occrobnet_ros.data.")}
    assert {part(m) for m in data} <= set(DATA_RANK)
    crossing = [
        f"{source} -> {target}"
        for source, targets in data.items()
        for target in targets
        if target.startswith("occrobnet_ros.data.") and part(target) != part(source)
        if DATA_RANK[part(target)] >= DATA_RANK[part(source)]
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
