"""Start pixret_node: one per camera, each in its camera's namespace, all sharing one gallery.

Examples (on a ROS 2 Jazzy install):
  ros2 launch pixret_ros pixret.launch.py camera_topic:=/camera/image_raw
  ros2 launch pixret_ros pixret.launch.py cameras:=cam_left,cam_right camera_topic:=image_raw
  ros2 launch pixret_ros pixret.launch.py namespace:=arm gallery_path:=/data/gallery
  ros2 launch pixret_ros pixret.launch.py profile:=realtime   # 20 frames/s on 2 CPU cores

With `cameras`, node i runs as /<camera>/pixret_node and reads <camera>/<camera_topic> (a
relative camera_topic resolves inside the camera's namespace); a registration through any
of them reaches all within about sync_period (they watch the shared gallery folder).
"""

from __future__ import annotations

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

PROFILES = ("accurate", "realtime")

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
    return [
        Node(
            package="pixret_ros",
            executable="pixret_node",
            name="pixret_node",
            namespace=namespace,
            parameters=parameters,
            remappings=[("image", topic), ("image/compressed", f"{topic}/compressed")],
            output="screen",
            emulate_tty=True,
        )
        for namespace in namespaces
    ]


def generate_launch_description() -> LaunchDescription:
    """The launch description `ros2 launch pixret_ros pixret.launch.py` runs."""
    return LaunchDescription([*ARGUMENTS, OpaqueFunction(function=_nodes)])
