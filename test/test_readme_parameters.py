"""README's parameter table matches config/pose.yaml and the node's parameter specs."""

import re
from pathlib import Path

import yaml

from occrobnet_ros.ros.parameters import SPECS

REPO = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| `(\w+)` \| `(.*)` \| (live|configure|start-up) \| .+ \|$")


def readme_rows() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in (REPO / "README.md").read_text().splitlines():
        if match := ROW.match(line):
            rows[match[1]] = (match[2], match[3])
    return rows


def test_readme_lists_every_parameter_with_the_default_of_pose_yaml():
    defaults = yaml.safe_load((REPO / "config" / "pose.yaml").read_text())
    defaults = defaults["/**"]["ros__parameters"]
    rows = readme_rows()
    assert list(rows) == list(defaults) and set(rows) == set(SPECS)
    for name, (default, applies) in rows.items():
        assert yaml.safe_load(default) == defaults[name], name
        spec = SPECS[name]
        expected = "start-up" if spec.read_only else "live" if spec.live else "configure"
        assert applies == expected, name
