"""launch/pixret.launch.py cannot run here (no `launch` on PyPI): check what it references.

Parsed with `ast`: every executable, installed file, launch argument, parameter and
remapped topic it names must exist in this package, so a rename breaks this test.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from pixret_ros.entry_points import ENTRY_POINTS
from pixret_ros.ros import params
from pixret_ros.ros.node import NODE_NAME

REPO = Path(__file__).resolve().parents[2]
LAUNCH = REPO / "launch" / "pixret.launch.py"


@pytest.fixture(scope="module")
def tree() -> ast.Module:
    return ast.parse(LAUNCH.read_text(), filename=str(LAUNCH))


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name
    ]


def _first_strings(calls: list[ast.Call]) -> list[str]:
    out = []
    for call in calls:
        assert call.args, ast.unparse(call)
        first = call.args[0]
        assert isinstance(first, ast.Constant), f"not a literal: {ast.unparse(call)}"
        assert isinstance(first.value, str)
        out.append(first.value)
    return out


def _keyword(call: ast.Call, name: str) -> ast.expr:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    pytest.fail(f"{ast.unparse(call)[:80]}... has no {name}=")


def test_every_used_argument_is_declared_and_every_declared_one_used(tree: ast.Module) -> None:
    declared = _first_strings(_calls(tree, "DeclareLaunchArgument"))
    used = set(_first_strings(_calls(tree, "LaunchConfiguration")))
    assert len(declared) == len(set(declared)), declared
    assert used == set(declared)
    documented = set(re.findall(r"(\w+):=", ast.get_docstring(tree) or ""))
    assert documented, "the docstring has no usage examples"
    assert documented <= set(declared), documented - set(declared)
    for call in _calls(tree, "DeclareLaunchArgument"):
        description = _keyword(call, "description")
        assert isinstance(description, ast.Constant)
        assert description.value


def test_node_executable_and_name_exist(tree: ast.Module) -> None:
    nodes = _calls(tree, "Node")
    assert len(nodes) == 1
    node = nodes[0]
    fields = {k: _keyword(node, k) for k in ("package", "executable", "name")}
    values = {k: v.value for k, v in fields.items() if isinstance(v, ast.Constant)}
    assert values == {"package": "pixret_ros", "executable": "pixret_node", "name": NODE_NAME}
    assert ENTRY_POINTS["pixret_node"] == "pixret_ros.ros.node_process:main"
    cmake = (REPO / "CMakeLists.txt").read_text()
    foreach = re.search(r"foreach\(entry ([^)]*)\)", cmake)
    assert foreach is not None
    assert "pixret_node" in foreach.group(1).split()
    assert "DESTINATION lib/${PROJECT_NAME}" in cmake  # where `ros2 run`/launch look
    package_xml = (REPO / "package.xml").read_text()
    assert "<name>pixret_ros</name>" in package_xml


def test_params_files_are_installed_where_the_launch_file_looks(tree: ast.Module) -> None:
    found = []
    for join in _calls(tree, "PathJoinSubstitution"):
        parts = join.args[0]
        assert isinstance(parts, ast.List)
        share, *rest = parts.elts
        assert isinstance(share, ast.Call)
        assert _first_strings([share]) == ["pixret_ros"]
        relative = [str(p.value) for p in rest if isinstance(p, ast.Constant)]
        assert (REPO.joinpath(*relative)).is_file(), relative
        found.append(relative)
    # the default parameters and the realtime profile (profile:=realtime)
    assert sorted(found) == [["config", "pixret.yaml"], ["config", "pixret_realtime.yaml"]]
    cmake = (REPO / "CMakeLists.txt").read_text()
    install = re.search(r"install\(DIRECTORY ([^)]*) DESTINATION share/\$\{PROJECT_NAME\}\)", cmake)
    assert install is not None
    assert "config" in install.group(1).split()
    assert "launch" in install.group(1).split()


def test_parameter_overrides_are_node_parameters(tree: ast.Module) -> None:
    keys = [
        key.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for key in node.keys
        if isinstance(key, ast.Constant)
    ]
    assert set(keys) == {"autostart", "gallery_path"}
    assert set(keys) <= set(params.all_names())


def test_remapped_topics_are_the_nodes_inputs(tree: ast.Module) -> None:
    node_source = ast.parse((REPO / "pixret_ros" / "ros" / "node.py").read_text())
    subscribed = {
        call.args[1].value
        for call in ast.walk(node_source)
        if isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "create_subscription"
        and isinstance(call.args[1], ast.Constant)
    }
    assert subscribed == {"image", "image/compressed"}
    remappings = _keyword(_calls(tree, "Node")[0], "remappings")
    assert isinstance(remappings, ast.List)
    sources = set()
    for pair in remappings.elts:
        assert isinstance(pair, ast.Tuple)
        assert isinstance(pair.elts[0], ast.Constant)
        sources.add(pair.elts[0].value)
    assert sources == subscribed


def test_nodes_get_the_shared_memory_profile_and_plain_logs(tree: ast.Module) -> None:
    """Finding 3 (launch side) and emulate_tty: the profile file exists, logs carry no colour."""
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    profile = REPO / "config" / str(constants["DDS_PROFILE"])
    assert profile.is_file()
    assert "<type>SHM</type>" in profile.read_text()
    node = _calls(tree, "Node")[0]
    emulate_tty = _keyword(node, "emulate_tty")
    assert isinstance(emulate_tty, ast.Constant)
    assert emulate_tty.value is False  # a pseudo-tty makes rcutils write colour codes
    assert isinstance(_keyword(node, "additional_env"), ast.Name)
    assigned = {
        target.slice.value
        for target in (t for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets)
        if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant)
    }
    assert {"PYTHONUNBUFFERED", "FASTRTPS_DEFAULT_PROFILES_FILE"} <= assigned
