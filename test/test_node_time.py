"""Sim time: max_frame_age follows /clock, and /clock jumping backwards (a bag that loops)
resets the node without losing it. Fake estimator."""

from node_harness import running_node
from rclpy.time import Time


def at(seconds: float):
    return Time(seconds=seconds).to_msg()


def test_frame_age_follows_sim_time_and_a_jump_back_resets_the_node(tmp_path):
    parameters = {"use_sim_time": True, "max_frame_age": 1.0, "diagnostics_period": 0.25}
    with running_node(tmp_path, parameters) as node:
        node.wait_for_subscribers()
        node.publish_clock(1000.0)

        def frames_at(seconds):
            node.publish_clock(seconds)  # /clock keeps coming, as from `ros2 bag play --clock`
            return node.publish_frame(stamp=at(seconds))

        # Frames as old as the clock are served; one 5 s behind it is dropped.
        node.spin_until(lambda: answered(node, [frames_at(1000.0)]), 20, "a pose at t = 1000")
        stale = node.publish_frame(stamp=at(995.0))
        node.wait_for_status(lambda lvl, msg, values: int(values.get("dropped: too_old", 0)) > 0)
        assert not answered(node, [stale])

        # The bag starts over: the clock goes back to t = 500.
        node.spin_until(lambda: answered(node, [frames_at(500.0)]), 20, "a pose at t = 500")
        level, message, values = node.latest_status()
        assert int(values["clock jumps backwards"]) >= 1
        assert "jumped back" in node.output()


def answered(node, stamps) -> bool:
    node.spin_for(0.1)
    return any(p.header.stamp in stamps for p in node.poses)
