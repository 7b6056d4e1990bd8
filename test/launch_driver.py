"""Runs the installed pose.launch.py through launch.LaunchService, as ``ros2 launch`` does.

    python launch_driver.py [name:=value ...]

ros2cli is not on PyPI; this is the part of ``ros2 launch occrobnet_ros pose.launch.py`` that
matters to the package: the launch arguments, the real launch and launch_ros, and a
LaunchService that shuts everything down on SIGINT. The exit code is LaunchService.run()'s.
"""

import os
import signal
import sys

from ament_index_python.packages import get_package_share_directory
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource

from launch import LaunchDescription, LaunchService


def main(argv: list[str]) -> int:
    # A shell starts background jobs with SIGINT ignored, and LaunchService only hears signals
    # that have a Python handler: take Ctrl-C as ``ros2 launch`` in a terminal does.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    path = os.path.join(get_package_share_directory("occrobnet_ros"), "launch", "pose.launch.py")
    arguments = [tuple(argument.split(":=", 1)) for argument in argv]
    service = LaunchService(argv=argv, noninteractive=True)
    service.include_launch_description(
        LaunchDescription(
            [
                IncludeLaunchDescription(
                    PythonLaunchDescriptionSource(path), launch_arguments=arguments
                )
            ]
        )
    )
    return service.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
