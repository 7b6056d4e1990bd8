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


WATCHED = replace(STATE, watchdog_timeout=3.0)


def test_frames_arriving_with_no_output_for_the_watchdog_timeout_is_an_error_with_reasons():
    stats = PipelineStats()
    stats.count_input()
    stats.count_drop("unpaired", 2)  # before the last output: not part of the complaint
    stats.record_output(latency=0.01, processing=0.01, inference=0.01)
    start = stats.snapshot()
    stats.count_input()  # the silence starts with the first unanswered frame
    first = stats.snapshot().unanswered_since
    for _ in range(40):
        stats.count_input()
    stats.count_drop("unpaired", 30)
    stats.count_rejected("image_unknown_encoding")
    early = replace(stats.snapshot(), time=first + 2.0)
    assert diagnostic_status(early, start, WATCHED).level == DiagnosticStatus.WARN  # rejected
    late = replace(stats.snapshot(), time=first + 4.0)
    status = diagnostic_status(late, start, replace(WATCHED, waiting_for_info=3))
    assert status.level == DiagnosticStatus.ERROR
    assert "nothing was published for 4.0 s" in status.message
    assert "30 dropped unpaired" in status.message
    assert "1 rejected image_unknown_encoding" in status.message
    assert "3 waiting for CameraInfo" in status.message
    assert values(status)["images waiting for CameraInfo"] == "3"


def test_the_watchdog_is_quiet_when_answered_paused_idle_or_off():
    stats = PipelineStats()
    start = stats.snapshot()
    stats.count_input()
    silent = replace(stats.snapshot(), time=stats.snapshot().unanswered_since + 10.0)
    assert diagnostic_status(silent, start, WATCHED).level == DiagnosticStatus.ERROR
    for quiet in (dict(enabled=False), dict(lifecycle="inactive"), dict(watchdog_timeout=0.0)):
        status = diagnostic_status(silent, start, replace(WATCHED, **quiet))
        assert status.level == DiagnosticStatus.OK, quiet
    # No frame in this period: the camera stopped, which is not the node's silence.
    assert diagnostic_status(silent, silent, WATCHED).level == DiagnosticStatus.OK
    stats.record_output(latency=0.01, processing=0.01, inference=0.01)
    answered = replace(stats.snapshot(), time=silent.time)
    assert diagnostic_status(answered, start, WATCHED).level == DiagnosticStatus.OK
    stats.count_input()
    stats.restart_watchdog()  # paused or deactivated: unanswered frames are forgotten
    assert stats.snapshot().unanswered_since is None
