"""The package runs on Humble: Python 3.10 syntax, and no rclpy name that Humble's rclpy lacks.

Humble (Ubuntu 22.04, Python 3.10, rclpy 3.3) has no wheels on PyPI; its rclpy sources are in
``../shared/ros-python/rclpy_humble_api/``. Every rclpy module, name and attribute the package
uses is looked up in them: an attribute counts as rclpy's when the installed (newer) rclpy
defines a member of that name, and must then be defined in Humble's rclpy too.
"""

import ast
from pathlib import Path

import pytest
import rclpy
from real_ros_python import HUMBLE_RCLPY, REPO

PYTHON_FILES = sorted([*(REPO / "occrobnet_ros").rglob("*.py"), *(REPO / "launch").glob("*.py")])
# Standard-library names that Python 3.10 does not have.
PYTHON_311_NAMES = {
    ("typing", "Self"), ("typing", "LiteralString"), ("typing", "Never"),
    ("typing", "assert_never"), ("typing", "reveal_type"), ("typing", "Required"),
    ("typing", "NotRequired"), ("enum", "StrEnum"), ("datetime", "UTC"),
    ("asyncio", "TaskGroup"), ("asyncio", "timeout"),
}  # fmt: skip
PYTHON_311_MODULES = {"tomllib", "wsgiref.types"}


def _where(path: Path) -> Path:
    return path.relative_to(REPO) if path.is_relative_to(REPO) else Path(path.name)


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _module_file(root: Path, module: str) -> Path | None:
    """The source file of ``module`` (``rclpy.lifecycle.node``) under ``root`` (rclpy's parent)."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _defined_names(path: Path, *, imports: bool, attributes: bool) -> set[str]:
    """Functions, classes and assigned names of a file, plus what it imports (``imports``) or
    the ``x.attr = ...`` attributes it sets (``attributes``)."""
    names = set()
    for node in ast.walk(_parse(path)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif imports and isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif attributes and isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
    return names


def _top_level_names(path: Path) -> set[str]:
    """What ``from module import x`` finds in a module."""
    return _defined_names(path, imports=True, attributes=False)


def _member_names_in(path: Path) -> set[str]:
    """Every function, method, class, property and ``self.x`` attribute a file defines."""
    return _defined_names(path, imports=False, attributes=True)


def _parameters(package: Path) -> dict[str, set[str]]:
    """Function name -> the keyword names its definitions accept ("**" when any takes
    ``**kwargs``)."""
    accepted: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        for node in ast.walk(_parse(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args
                names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
                if args.kwarg is not None:
                    names.add("**")
                accepted.setdefault(node.name, set()).update(names)
    return accepted


def _member_names(package: Path) -> set[str]:
    return set().union(*(_member_names_in(path) for path in package.rglob("*.py")))


def _imports_rclpy(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rclpy"):
            return True
        if isinstance(node, ast.Import) and any(a.name.startswith("rclpy") for a in node.names):
            return True
    return False


def humble_problems(paths: list[Path], humble: Path, current: Path) -> list[str]:
    """Every rclpy module, name or attribute in ``paths`` that Humble's rclpy lacks."""
    humble_root = humble.parent
    # Names the package defines itself (a method of its own), private names and numpy's
    # transpose are not calls into rclpy, whatever rclpy happens to define.
    own = set().union(*(_member_names_in(path) for path in paths))
    current_only = _member_names(current) - _member_names(humble) - own - {"T"}
    current_only = {name for name in current_only if not name.startswith("_")}
    humble_keywords, current_keywords = _parameters(humble), _parameters(current)
    problems = []
    for path in paths:
        tree = _parse(path)
        if not _imports_rclpy(tree):
            continue
        where = _where(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rclpy"):
                source = _module_file(humble_root, node.module)
                if source is None:
                    problems.append(f"{where}:{node.lineno}: no module {node.module} on Humble")
                    continue
                defined = _top_level_names(source)
                for alias in node.names:
                    submodule = _module_file(humble_root, f"{node.module}.{alias.name}")
                    if alias.name not in defined and submodule is None:
                        problems.append(
                            f"{where}:{node.lineno}: {node.module}.{alias.name} not on Humble"
                        )
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and (name := node.func.attr) in current_keywords
                and name in humble_keywords
                and name not in own
                and "**" not in humble_keywords[name]
            ):
                problems += [
                    f"{where}:{node.lineno}: {name}({k.arg}=...) not on Humble"
                    for k in node.keywords
                    if k.arg is not None and k.arg not in humble_keywords[name]
                ]
            elif isinstance(node, ast.Attribute) and node.attr in current_only:
                problems.append(f"{where}:{node.lineno}: .{node.attr} is not in Humble's rclpy")
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "rclpy"
                and node.attr not in _top_level_names(humble / "__init__.py")
                and _module_file(humble_root, f"rclpy.{node.attr}") is None
            ):
                problems.append(f"{where}:{node.lineno}: rclpy.{node.attr} not on Humble")
    return problems


def python_311_problems(paths: list[Path]) -> list[str]:
    """Syntax or standard-library names that Python 3.10 (Humble's) does not have."""
    problems = []
    for path in paths:
        where = _where(path)
        try:
            tree = ast.parse(path.read_text(), feature_version=(3, 10))
        except SyntaxError as error:
            problems.append(f"{where}:{error.lineno}: not Python 3.10 syntax: {error.msg}")
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if (node.module, alias.name) in PYTHON_311_NAMES:
                        problems.append(f"{where}:{node.lineno}: {node.module}.{alias.name}")
                if node.module in PYTHON_311_MODULES:
                    problems.append(f"{where}:{node.lineno}: module {node.module}")
            elif isinstance(node, ast.Import):
                problems += [
                    f"{where}:{node.lineno}: module {a.name}"
                    for a in node.names
                    if a.name in PYTHON_311_MODULES
                ]
            elif isinstance(node, ast.TryStar):
                problems.append(f"{where}:{node.lineno}: except* (Python 3.11)")
    return problems


needs_humble_sources = pytest.mark.skipif(
    not (HUMBLE_RCLPY / "__init__.py").is_file(),
    reason=f"Humble's rclpy sources are not in {HUMBLE_RCLPY}",
)


@needs_humble_sources
def test_the_package_uses_only_rclpy_names_that_humble_has():
    current = Path(rclpy.__file__).parent
    assert humble_problems(PYTHON_FILES, HUMBLE_RCLPY, current) == []


@needs_humble_sources
def test_the_check_finds_a_name_humble_lacks(tmp_path):
    # add_post_set_parameters_callback came with Iron: a node calling it dies on Humble.
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from rclpy.node import Node\n"
        "from rclpy.event_handler import SubscriptionEventCallbacks\n\n\n"
        "def wire(node: Node) -> None:\n"
        "    node.add_post_set_parameters_callback(print)\n"
        "    node.create_subscription(int, 'a', print, 1, event_callbacks=None, raw=True)\n"
        "    node.create_timer(1.0, print, autostart=False)\n"
    )
    problems = humble_problems([probe], HUMBLE_RCLPY, Path(rclpy.__file__).parent)
    assert any("add_post_set_parameters_callback" in p for p in problems)
    assert any("rclpy.event_handler" in p for p in problems)
    assert any("create_timer(autostart=...)" in p for p in problems)  # since Jazzy
    assert [p for p in problems if "create_subscription" in p] == []  # both exist on Humble


def test_the_package_is_python_310():
    assert python_311_problems(PYTHON_FILES) == []


def test_the_syntax_check_finds_python_311_only_code(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import tomllib\nfrom typing import Self\n")
    assert len(python_311_problems([probe])) == 2
