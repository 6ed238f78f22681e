"""pixret_node: the ROS face of the engine (DESIGN section 3). A thin adapter, no vision here.

A managed (lifecycle) node. configure loads the gallery and the engine and starts its thread
(ros/engine_run.py), with the publishers and the services; activate subscribes the camera
input(s) and starts publishing (detections, mask, markers, diagnostics); deactivate
unsubscribes (nothing is processed or published; the gallery services still answer);
cleanup releases the engine; shutdown does that from any state. `autostart` (default true)
configures and activates at start, so a plain `ros2 run` or launch works as before.
The engine thread and the newest-frame slot are explained in ros/engine_run.py.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import CompressedImage, Image

from pixret_ros.engine import Gallery, PixelRetriever
from pixret_ros.errors import ConfigError, PixretError
from pixret_ros.ros import node_process, params
from pixret_ros.ros.engine_run import EngineRun, Frame
from pixret_ros.ros.qos import image_qos

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rcl_interfaces.msg import SetParametersResult
    from rclpy.parameter import Parameter

NODE_NAME = "pixret_node"
_OK, _FAILED = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class PixretNode(LifecycleNode):
    """Subscribes camera frames, publishes detections, label masks and diagnostics."""

    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        self.problem = ""  # why the parameters cannot be used; configure fails with it
        self.failure = ""  # why the last configure failed
        try:
            self._settings = params.declare(self)
            self._engine_config = params.declare_engine(self, self._settings)
        except (ConfigError, ParameterException) as err:
            self.problem = str(err)
            self._settings = params.NodeSettings.from_values({})
        # Read even when a later parameter was refused (autostart is declared first).
        self.autostart = not self.has_parameter("autostart") or bool(
            self.get_parameter("autostart").value
        )
        self.add_on_set_parameters_callback(params.check_changes)
        self.add_post_set_parameters_callback(self._apply_parameters)
        self._run: EngineRun | None = None
        self._inputs: list[Any] = []  # subscriptions of the active state
        self._timers: list[Any] = []  # its diagnostics timer
        self._active = False
        # Here, not in main(): a node built in a user's executor starts the same way.
        self.started = self.autostart and self._start()

    # --- lifecycle --------------------------------------------------------------------------

    def _start(self) -> bool:
        """configure, then activate; False (the reason in `failure` and the log) if one failed."""
        return bool(self.trigger_configure() == _OK and self.trigger_activate() == _OK)

    def on_configure(self, _state: LifecycleState) -> TransitionCallbackReturn:
        """Load the gallery and the engine, start its thread, create publishers and services."""
        self.failure = self.problem
        if self.problem:
            self.get_logger().error(f"configure failed: {self.problem}")
            return _FAILED
        settings = self._settings
        path = Path(settings.gallery_path).expanduser()
        try:
            retriever = PixelRetriever(Gallery(path), self._engine_config)
            writer = Gallery(path)
        except (PixretError, OSError) as err:
            self.failure = str(err)  # the folder may be fixed: a later configure retries
            self.get_logger().error(f"configure failed: {err}")
            return _FAILED
        try:
            self._run = EngineRun(self, retriever, writer, lambda: self._settings, self._is_active)
        except Exception:
            # rclpy turns a raise into ERROR without a word: say what it was (then on_error),
            # unless a signal stopped the start (a stop, not a failure)
            if self.context.ok():
                self.get_logger().error(f"configure failed:\n{traceback.format_exc()}")
            raise
        self.get_logger().info(f"configured: gallery {path} ({self._run.instances} instance(s))")
        return _OK

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe the camera input(s); publishers and the diagnostics timer start."""
        run = self._run
        if run is None:  # the state machine activates only a configured node
            return _FAILED
        settings = self._settings
        inputs = MutuallyExclusiveCallbackGroup()
        qos = image_qos(settings.qos_reliability, settings.qos_depth)
        self._inputs = [
            self.create_subscription(Image, "image", self.submit_frame, qos, callback_group=inputs)
        ]
        if settings.compressed_input:
            self._inputs.append(
                self.create_subscription(
                    CompressedImage,
                    "image/compressed",
                    self.submit_frame,
                    qos,
                    callback_group=inputs,
                )
            )
        self._timers = [
            self.create_timer(
                settings.diagnostics_period,
                run.publish_diagnostics,
                callback_group=MutuallyExclusiveCallbackGroup(),  # never waits for a sync
            )
        ]
        self._active = True
        self.get_logger().info(f"active: input {self.resolve_topic_name('image')}")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe: frames stop being processed and nothing is published."""
        self._active = False
        self._release_inputs()
        self.get_logger().info("inactive: camera input unsubscribed")
        return super().on_deactivate(state)

    def on_cleanup(self, _state: LifecycleState) -> TransitionCallbackReturn:
        """Stop the engine thread, release the engine, its publishers and services."""
        self._release()
        self.get_logger().info("unconfigured: engine released")
        return _OK

    def on_shutdown(self, _state: LifecycleState) -> TransitionCallbackReturn:
        """From any state: release everything (finalized)."""
        self._release()
        return _OK

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """A transition raised: release everything, back to unconfigured."""
        self.get_logger().error(f"lifecycle error (from {state.label}): releasing the engine")
        self._release()
        return _OK

    def _release_inputs(self) -> None:
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        for timer in self._timers:
            self.destroy_timer(timer)
        self._inputs, self._timers = [], []

    def _release(self) -> None:
        """Back to unconfigured from any state: idempotent, also at process exit."""
        self._active = False
        self._release_inputs()
        run, self._run = self._run, None
        if run is not None:
            run.release()

    def _is_active(self) -> bool:
        return self._active

    def destroy_node(self) -> None:
        """Stop the engine thread (after its current frame) before the publishers go."""
        self._release()
        super().destroy_node()

    # --- parameters -------------------------------------------------------------------------

    def set_parameters_atomically(self, parameter_list: list[Parameter]) -> SetParametersResult:
        """Behind both set_parameters services: an unchanged read-only value is accepted."""
        return params.set_atomically(self, parameter_list, super().set_parameters_atomically)

    def _apply_parameters(self, changes: Sequence[Parameter]) -> None:
        """After check_changes accepted them: swap in a new settings snapshot.

        The engine thread applies score_threshold to the engine before its next frame.
        """
        ours = {p.name: p.value for p in changes if p.name in self._settings.__dataclass_fields__}
        if ours:
            self._settings = self._settings.updated(ours)
            if self._run is not None:
                self._run.debug.enable(self._settings.publish_debug_image)
            self.get_logger().info(f"parameters changed: {ours}")

    # --- frames -----------------------------------------------------------------------------

    def submit_frame(self, msg: Frame) -> None:
        """Hand a camera frame to the engine thread (the newest wins); returns at once.

        The image subscriptions call this; so may a camera driver in the same process, for a
        hand-off without DDS (rclpy has no intra-process transport): the message object
        itself is passed, decoded only if the engine takes it. Ignored unless active.
        """
        run = self._run
        if run is not None and self._active:
            run.submit(msg)


# How often the executor wakes when nothing happens, to notice a stop that did not wake it.
STOP_POLL_S = 0.5


def _spin_until_stopped(executor: SingleThreadedExecutor) -> None:
    """spin(), but waking every STOP_POLL_S to look whether a signal asked for a stop.

    rclpy's SIGINT handler shuts the context down and triggers a guard condition that wakes the
    executor's wait; under CPU load that wake-up was seen lost (about 1 stop in 6 of an idle
    node, no timer armed: spin() then waited for ever although the context was shut down).
    A bounded wait makes the stop independent of that race; the cost is two wake-ups a second.
    """
    while rclpy.ok() and not node_process.stop_asked():
        executor.spin_once(timeout_sec=STOP_POLL_S)


def main(args: list[str] | None = None) -> int:
    """Run pixret_node until Ctrl-C, SIGTERM or shutdown (shape of ros2/demos talker).

    Start it through node_process.main (the console script does): its signal handlers make a
    stop during the imports clean; rclpy's then shut the context down on SIGINT and SIGTERM.
    With autostart (the default) a failed configure ends the process with status 1.
    """
    try:
        rclpy.init(args=args)
    except RuntimeError as err:  # rcl rejects the --ros-args (bad remap, params file...)
        print(f"pixret_node: cannot start: {err}", file=sys.stderr)
        return 1
    if node_process.stop_asked():  # a signal came before rclpy's handlers were in place
        rclpy.try_shutdown()
        return 0
    node: PixretNode | None = None
    executor = SingleThreadedExecutor()  # callbacks are short: the engine has its own thread
    try:
        node = PixretNode()
        if node.autostart and not node.started and rclpy.ok():  # (not ok: a signal stopped it)
            reason = node.failure or "configure failed: see the log above"
            print(f"pixret_node: cannot start: {reason}", file=sys.stderr)
            return 1
        executor.add_node(node)
        _spin_until_stopped(executor)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if rclpy.ok():
            raise
        # else a signal shut rclpy down while the node was being built: a stop, not a failure
    finally:
        executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(node_process.main())
