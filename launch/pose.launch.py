"""Start the occrobnet_pose node: camera image + camera_info in, HandObjectPose + TF out.

    ros2 launch occrobnet_ros pose.launch.py image:=/camera/color/image_raw \
        camera_info:=/camera/color/camera_info device:=cuda

Parameters come from ``params_file`` (default: the package's config/pose.yaml). The launch
arguments ``checkpoint``, ``device``, ``use_sim_time``, ``autostart`` and ``use_compressed``
override it only when given: left empty, the params file decides.

``fastdds_shm`` gives the node the package's Fast DDS shared-memory profile unless the
environment already names one in FASTDDS_DEFAULT_PROFILES_FILE (yours wins). Under another
RMW (e.g. RMW_IMPLEMENTATION=rmw_cyclonedds_cpp) the profile is simply not read.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription

PACKAGE = "occrobnet_ros"
EXECUTABLE = "occrobnet_pose"

# name: (default, description)
ARGUMENTS = {
    "namespace": ("", "Namespace of the node and its topics."),
    "image": ("image", "Camera image topic (sensor_msgs/Image)."),
    "camera_info": ("camera_info", "CameraInfo topic of the same camera."),
    "params_file": ("", "YAML parameters file; empty = the package's config/pose.yaml."),
    "checkpoint": ("", "Model .safetensors file; empty = from the params file."),
    "device": ("", "auto | cuda | cpu; empty = from the params file."),
    "use_sim_time": ("", "true to follow /clock (rosbag replay); empty = from the params file."),
    "autostart": ("", "true: configure and activate at start-up; empty = from the params file."),
    "use_compressed": ("", "true: subscribe to <image>/compressed; empty = from the params file."),
    "rviz": ("false", "true: also start RViz (config/occrobnet.rviz: debug image, markers, TF)."),
    "rviz_frame": (
        "camera_color_optical_frame",
        "RViz's fixed frame: the camera's optical frame (the images' frame_id).",
    ),
    "fastdds_shm": (
        "true",
        "Give the node the package's Fast DDS shared-memory profile (big images), unless "
        "FASTDDS_DEFAULT_PROFILES_FILE is already set.",
    ),
}
# Launch arguments that, when not empty, override the parameter of the same name.
OVERRIDES = ("checkpoint", "device", "use_sim_time", "autostart", "use_compressed")
BOOLEANS = ("use_sim_time", "autostart", "use_compressed")


def _overrides(context) -> dict:
    values = {}
    if _true(LaunchConfiguration("rviz").perform(context)):
        values["publish_debug_image"] = True  # RViz shows it (drawn only while subscribed)
    for name in OVERRIDES:
        text = LaunchConfiguration(name).perform(context).strip()
        if text:
            values[name] = _true(text) if name in BOOLEANS else text
    return values


def _true(text: str) -> bool:
    return text.strip().lower() in ("true", "1", "yes")


def _fastdds_env(context, share: str) -> dict:
    """The shared-memory profile for the node, unless the user's environment has a profile.

    Big images need it in every process that exchanges them: the camera driver must use it
    too (README, "Big images and Fast DDS").
    """
    if not _true(LaunchConfiguration("fastdds_shm").perform(context)):
        return {}
    if EnvironmentVariable("FASTDDS_DEFAULT_PROFILES_FILE", default_value="").perform(context):
        return {}
    return {"FASTDDS_DEFAULT_PROFILES_FILE": os.path.join(share, "config", "fastdds_shm.xml")}


def _node(context) -> list:
    share = get_package_share_directory(PACKAGE)
    params_file = LaunchConfiguration("params_file").perform(context)
    image = LaunchConfiguration("image").perform(context)
    node = Node(
        package=PACKAGE,
        executable=EXECUTABLE,
        name="occrobnet_pose",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        emulate_tty=True,
        additional_env=_fastdds_env(context, share),
        parameters=[
            params_file or os.path.join(share, "config", "pose.yaml"),
            _overrides(context),
        ],
        remappings=[
            ("image", image),
            ("image/compressed", f"{image}/compressed"),
            ("camera_info", LaunchConfiguration("camera_info")),
        ],
    )
    return [node]


def _rviz(context) -> list:
    """RViz in the node's namespace (its displays use relative topics), when asked for."""
    if not _true(LaunchConfiguration("rviz").perform(context)):
        return []
    config = os.path.join(get_package_share_directory(PACKAGE), "config", "occrobnet.rviz")
    frame = LaunchConfiguration("rviz_frame").perform(context)
    return [
        Node(
            package="rviz2",
            executable="rviz2",
            namespace=LaunchConfiguration("namespace"),
            arguments=["-d", config, "-f", frame],
            output="screen",
        )
    ]


def generate_launch_description() -> LaunchDescription:
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=description)
        for name, (default, description) in ARGUMENTS.items()
    ]
    return LaunchDescription(
        [*declared, OpaqueFunction(function=_node), OpaqueFunction(function=_rviz)]
    )
