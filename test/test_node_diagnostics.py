"""/diagnostics content: rates, latency percentiles, drops and rejections by reason, levels."""

from dataclasses import replace

from diagnostic_msgs.msg import DiagnosticStatus

from occrobnet_ros.ros.diagnostics import NodeState, PipelineStats, Snapshot, diagnostic_status

STATE = NodeState(name="occrobnet_pose: hand and object pose", lifecycle="active", device="cpu")


def values(status: DiagnosticStatus) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


def test_rates_percentiles_and_counts_over_one_period():
    stats = PipelineStats()
    previous = stats.snapshot()
    for i in range(30):
        stats.count_input()
    for i in range(20):
        stats.record_output(latency=0.010 * (i + 1), processing=0.005, inference=0.004)
    stats.count_drop("overwritten", 8)
    stats.count_drop("too_old", 0)  # nothing: no key appears
    now = replace(stats.snapshot(), time=previous.time + 2.0)
    status = diagnostic_status(now, previous, STATE)
    kv = values(status)
    assert kv["input rate (Hz)"] == "15.00" and kv["output rate (Hz)"] == "10.00"
    assert kv["latency p50 (ms)"] == "105.0"  # median of 10, 20, ..., 200 ms
    assert kv["latency p95 (ms)"] == "190.5"
    assert kv["processing p50 (ms)"] == "5.0" and kv["inference p50 (ms)"] == "4.0"
    assert kv["dropped: overwritten"] == "8" and "dropped: too_old" not in kv
    assert kv["frames received"] == "30" and kv["frames published"] == "20"
    assert kv["device"] == "cpu" and status.hardware_id == "cpu"
    assert status.level == DiagnosticStatus.OK
    assert status.message == "active: 15.0 Hz in, 10.0 Hz out"


def test_rejected_frames_warn_for_one_period_then_clear():
    stats = PipelineStats()
    start = stats.snapshot()
    stats.count_rejected("image_unknown_encoding")
    stats.count_rejected("camera_info_not_finite")
    stats.count_rejected("camera_info_not_finite")
    middle = stats.snapshot()
    status = diagnostic_status(middle, start, STATE)
    assert status.level == DiagnosticStatus.WARN and "3 frames rejected" in status.message
    kv = values(status)
    assert kv["rejected: image_unknown_encoding"] == "1"
    assert kv["rejected: camera_info_not_finite"] == "2"
    later = diagnostic_status(stats.snapshot(), middle, STATE)
    assert later.level == DiagnosticStatus.OK
    assert values(later)["frames rejected"] == "3"  # totals stay


def test_estimator_errors_and_load_failures_are_errors():
    stats = PipelineStats()
    start = stats.snapshot()
    stats.count_error("RuntimeError: CUDA out of memory")
    status = diagnostic_status(stats.snapshot(), start, STATE)
    assert status.level == DiagnosticStatus.ERROR
    assert "CUDA out of memory" in status.message
    assert values(status)["estimator errors"] == "1"
    unloaded = replace(STATE, lifecycle="unconfigured", load_error="CheckpointError: truncated")
    status = diagnostic_status(Snapshot(time=1.0), Snapshot(time=0.0), unloaded)
    assert status.level == DiagnosticStatus.ERROR and "truncated" in status.message


def test_paused_and_too_old_frames_show_in_the_message():
    stats = PipelineStats()
    start = stats.snapshot()
    stats.count_drop("too_old", 4)
    status = diagnostic_status(stats.snapshot(), start, replace(STATE, enabled=False))
    assert status.level == DiagnosticStatus.WARN
    assert "4 frames older than max_frame_age" in status.message
    assert values(status)["state"] == "active, paused"
