"""Runs the real occrobnet_pose node class with node_fixtures.FakeEstimator, as its own process.

Same command line as the node (``--ros-args --params-file ... -p ...``).
"""

import sys

from node_fixtures import FakeEstimator

from occrobnet_ros.ros.node import main

if __name__ == "__main__":
    sys.exit(main(estimator_factory=FakeEstimator))
