"""Start pixret_node: one per camera, each in its camera's namespace, all sharing one gallery.

Examples (on a ROS 2 Jazzy install):
  ros2 launch pixret_ros pixret.launch.py camera_topic:=/camera/image_raw
  ros2 launch pixret_ros pixret.launch.py cameras:=cam_left,cam_right camera_topic:=image_raw
  ros2 launch pixret_ros pixret.launch.py namespace:=arm gallery_path:=/data/gallery
  ros2 launch pixret_ros pixret.launch.py profile:=realtime   # 20 frames/s on 2 CPU cores
  ros2 launch pixret_ros pixret.launch.py dds_profile:=none    # Fast DDS defaults
  ros2 launch pixret_ros pixret.launch.py autostart:=false     # wait for `ros2 lifecycle set`

With `cameras`, node i runs as /<camera>/pixret_node and reads <camera>/<camera_topic> (a
relative camera_topic resolves inside the camera's namespace); a registration through any
of them reaches all within about sync_period (they watch the shared gallery folder).

Transport: the nodes run with config/fastdds_shm.xml (shared memory with segments large enough
for camera frames) unless FASTRTPS_DEFAULT_PROFILES_FILE or dds_profile says otherwise. The
camera driver needs the same profile, or most frames never arrive (README, "Transport").
Logs: no pseudo-terminal (emulate_tty=False), so log files get no colour codes; Python
output is unbuffered, so lines still arrive at once.
"""

from __future__ import annotations

from pathlib import Path

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import EnvironmentVariable, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

PROFILES = ("accurate", "realtime")
DDS_PROFILE = "fastdds_shm.xml"  # in the package's config/

ARGUMENTS = (
    DeclareLaunchArgument(
        "cameras",
        default_value="",
        description="comma-separated camera namespaces, one node each; empty: one node",
    ),
    DeclareLaunchArgument(
        "namespace",
        default_value="",
        description="namespace of the single node (used when cameras is empty)",
    ),
    DeclareLaunchArgument(
        "camera_topic",
        default_value="image",
        description="sensor_msgs/Image topic each node reads (remaps 'image')",
    ),
    DeclareLaunchArgument(
        "params_file",
        default_value=PathJoinSubstitution(
            [FindPackageShare("pixret_ros"), "config", "pixret.yaml"]
        ),
        description="parameter file of the nodes",
    ),
    DeclareLaunchArgument(
        "profile",
        default_value="accurate",
        description="engine profile: accurate (the params file's engine settings) or realtime "
        "(config/pixret_realtime.yaml on top: about 20 frames/s on 2 CPU cores, lower accuracy)",
    ),
    DeclareLaunchArgument(
        "gallery_path",
        default_value="",
        description="gallery folder shared by all nodes; empty: the params file's gallery_path",
    ),
    DeclareLaunchArgument(
        "autostart",
        default_value="true",
        description="configure and activate each node at start; false: they wait unconfigured "
        "for lifecycle transitions (ros2 lifecycle set /pixret_node configure, then activate)",
        choices=["true", "false"],
    ),
    DeclareLaunchArgument(
        "dds_profile",
        default_value=EnvironmentVariable("FASTRTPS_DEFAULT_PROFILES_FILE", default_value=""),
        description="Fast DDS profile file of the nodes; default: FASTRTPS_DEFAULT_PROFILES_FILE "
        "if set, else the package's config/fastdds_shm.xml (give the camera the same one); "
        "none: Fast DDS defaults",
    ),
)


def _nodes(context: LaunchContext) -> list[Node]:
    """One pixret_node per camera namespace (or one in `namespace`)."""
    cameras = [
        camera.strip().strip("/")
        for camera in LaunchConfiguration("cameras").perform(context).split(",")
        if camera.strip().strip("/")
    ]
    namespaces = cameras or [LaunchConfiguration("namespace").perform(context)]
    topic = LaunchConfiguration("camera_topic").perform(context)
    gallery = LaunchConfiguration("gallery_path").perform(context)
    parameters: list[object] = [LaunchConfiguration("params_file").perform(context)]
    profile = LaunchConfiguration("profile").perform(context)
    if profile not in PROFILES:
        message = f"profile:={profile!r}: choose one of {', '.join(PROFILES)}"
        raise ValueError(message)
    if profile == "realtime":
        parameters.append(
            PathJoinSubstitution(
                [FindPackageShare("pixret_ros"), "config", "pixret_realtime.yaml"]
            ).perform(context)
        )
    if gallery:
        parameters.append({"gallery_path": gallery})
    parameters.append({"autostart": LaunchConfiguration("autostart").perform(context) == "true"})
    env: dict[str, str] = {}
    env["PYTHONUNBUFFERED"] = "1"  # without a tty, Python would hold its output back
    dds_profile = LaunchConfiguration("dds_profile").perform(context)
    if not dds_profile:
        share = FindPackageShare("pixret_ros").perform(context)
        dds_profile = str(Path(share) / "config" / DDS_PROFILE)
    if dds_profile != "none":
        env["FASTRTPS_DEFAULT_PROFILES_FILE"] = dds_profile
    return [
        Node(
            package="pixret_ros",
            executable="pixret_node",
            name="pixret_node",
            namespace=namespace,
            parameters=parameters,
            remappings=[("image", topic), ("image/compressed", f"{topic}/compressed")],
            output="screen",
            emulate_tty=False,  # a tty makes rcutils colour its logs, also in log files
            additional_env=env,
        )
        for namespace in namespaces
    ]


def generate_launch_description() -> LaunchDescription:
    """The launch description `ros2 launch pixret_ros pixret.launch.py` runs."""
    return LaunchDescription([*ARGUMENTS, OpaqueFunction(function=_nodes)])
