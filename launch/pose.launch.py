"""Start the occrobnet_pose node: camera image + camera_info in, HandObjectPose + TF out.

    ros2 launch occrobnet_ros pose.launch.py image:=/camera/color/image_raw \
        camera_info:=/camera/color/camera_info device:=cuda
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from launch import LaunchDescription

ARGUMENTS = {
    "namespace": ("", "Namespace of the node and its topics."),
    "image": ("image", "Camera image topic (sensor_msgs/Image)."),
    "camera_info": ("camera_info", "CameraInfo topic of the same camera."),
    "use_compressed": ("false", "Subscribe to <image>/compressed (CompressedImage) instead."),
    "params_file": ("", "YAML parameters file; empty = the package's config/pose.yaml."),
    "checkpoint": ("", "Model .safetensors file; empty = the embedded default."),
    "device": ("auto", "auto | cuda | cpu"),
    "use_sim_time": ("false", "Use /clock (rosbag replay)."),
    "autostart": ("true", "Configure and activate the lifecycle node at start-up."),
    "fastdds_shm": ("true", "Use the package's Fast DDS shared-memory profile (big images)."),
}


def _bool(argument: str) -> ParameterValue:
    return ParameterValue(LaunchConfiguration(argument), value_type=bool)


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("occrobnet_ros")
    default_params = os.path.join(share, "config", "pose.yaml")
    params_file = LaunchConfiguration("params_file")
    params_or_default = PythonExpression(["'", params_file, "' or '", default_params, "'"])
    node = Node(
        package="occrobnet_ros",
        executable="occrobnet_pose",
        name="occrobnet_pose",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        emulate_tty=True,
        parameters=[
            params_or_default,
            {
                "checkpoint": LaunchConfiguration("checkpoint"),
                "device": LaunchConfiguration("device"),
                "use_sim_time": ParameterValue(
                    LaunchConfiguration("use_sim_time"), value_type=bool
                ),
                "autostart": ParameterValue(LaunchConfiguration("autostart"), value_type=bool),
                "use_compressed": ParameterValue(
                    LaunchConfiguration("use_compressed"), value_type=bool
                ),
            },
        ],
        remappings=[
            ("image", LaunchConfiguration("image")),
            ("image/compressed", [LaunchConfiguration("image"), "/compressed"]),
            ("camera_info", LaunchConfiguration("camera_info")),
        ],
    )
    # Big images need the shared-memory profile in every process that exchanges them; the
    # camera driver must use it too (README, "Big images and Fast DDS").
    shm_profile = SetEnvironmentVariable(
        "FASTDDS_DEFAULT_PROFILES_FILE",
        os.path.join(share, "config", "fastdds_shm.xml"),
        condition=IfCondition(LaunchConfiguration("fastdds_shm")),
    )
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=description)
        for name, (default, description) in ARGUMENTS.items()
    ]
    return LaunchDescription([*declared, shm_profile, node])
