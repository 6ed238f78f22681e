"""Parameters by the ROS conventions, over DDS against a real pixret_node process.

There is no `ros2` CLI here, so the test does what `ros2 param dump` and `ros2 param load`
do, with rclpy's own parameter client: list and get every parameter, write the
`/node: ros__parameters:` YAML, and load that file back through the SetParameters service.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from node_harness import NodeProcess, RosPeer
from rcl_interfaces.msg import ParameterType
from rclpy.parameter import Parameter, parameter_value_to_python
from rclpy.parameter_client import AsyncParameterClient
from rclpy.task import Future

from pixret_ros.ros import params

pytestmark = pytest.mark.dds

NUMERIC = (ParameterType.PARAMETER_INTEGER, ParameterType.PARAMETER_DOUBLE)


def _result(future: Future, timeout: float = 30.0) -> Any:
    done = threading.Event()
    future.add_done_callback(lambda _: done.set())
    assert done.wait(timeout), "parameter service did not answer"
    return future.result()


@pytest.fixture
def client(ros_peer: RosPeer, shared_node: NodeProcess) -> AsyncParameterClient:
    parameters = AsyncParameterClient(ros_peer.node, shared_node.name)
    assert parameters.wait_for_services(timeout_sec=30.0)
    return parameters


def _dump(client: AsyncParameterClient, node_name: str) -> dict[str, Any]:
    """What `ros2 param dump <node>` writes: dotted names nested, under ros__parameters."""
    names = sorted(_result(client.list_parameters()).result.names)
    values = _result(client.get_parameters(names)).values
    tree: dict[str, Any] = {}
    for name, value in zip(names, values, strict=True):
        *parents, leaf = name.split(".")
        branch = tree
        for part in parents:
            branch = branch.setdefault(part, {})
        branch[leaf] = parameter_value_to_python(value)
    return {node_name: {"ros__parameters": tree}}


def test_load_of_own_dump_succeeds(
    client: AsyncParameterClient, shared_node: NodeProcess, tmp_path: Path
) -> None:
    dump = _dump(client, shared_node.name)
    dump_file = tmp_path / "dump.yaml"
    dump_file.write_text(yaml.dump(dump, default_flow_style=False))
    names = _result(client.list_parameters()).result.names
    assert set(params.all_names()) <= set(names)

    answer = _result(client.load_parameter_file(str(dump_file)))
    failed = {r.reason for r in answer.results if not r.successful}
    assert len(answer.results) == len(names)
    assert not failed, failed
    atomic = _result(client.load_parameter_file_atomically(str(dump_file)))
    assert atomic.result.successful, atomic.result.reason
    assert _dump(client, shared_node.name) == dump  # nothing changed


def test_descriptors_mark_fixed_read_only_and_range_every_number(
    client: AsyncParameterClient,
) -> None:
    specs = {spec.name: spec for spec in (*params.SPECS, *params.engine_specs())}
    described = _result(client.describe_parameters(sorted(specs))).descriptors
    assert [d.name for d in described] == sorted(specs)
    for descriptor in described:
        spec = specs[descriptor.name]
        assert descriptor.read_only == (not spec.dynamic), descriptor.name
        if descriptor.type in NUMERIC:
            ranges = [*descriptor.integer_range, *descriptor.floating_point_range]
            assert len(ranges) == 1, f"{descriptor.name} has no range"
            assert ranges[0].from_value <= spec.default <= ranges[0].to_value, descriptor.name


def test_read_only_change_refused_unchanged_value_and_live_change_accepted(
    client: AsyncParameterClient,
) -> None:
    current = _result(client.get_parameters(["engine.working_size", "max_detections"])).values
    working_size, max_detections = (parameter_value_to_python(v) for v in current)
    unchanged = _result(
        client.set_parameters([Parameter("engine.working_size", value=working_size)])
    )
    assert unchanged.results[0].successful
    changed = _result(client.set_parameters([Parameter("engine.working_size", value=640)]))
    assert not changed.results[0].successful
    assert "restart" in changed.results[0].reason
    out_of_range = _result(client.set_parameters([Parameter("engine.working_size", value=32)]))
    assert not out_of_range.results[0].successful
    live = _result(client.set_parameters([Parameter("max_detections", value=max_detections)]))
    assert live.results[0].successful
