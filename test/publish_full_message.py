"""Publishes the fully populated HandObjectPose on `hand_object_pose` every 50 ms until stopped.

Run as its own OS process by test_messages.py.
"""

import rclpy
from rclpy.executors import ExternalShutdownException

from occrobnet_ros.msg import HandObjectPose

from message_fixtures import full_hand_object_pose


def main() -> None:
    rclpy.init()
    node = rclpy.create_node("full_message_publisher")
    publisher = node.create_publisher(HandObjectPose, "hand_object_pose", 10)
    message = full_hand_object_pose()
    node.create_timer(0.05, lambda: publisher.publish(message))
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
