"""What the node reports on /diagnostics, and the counters behind it.

diagnostic_updater is not on PyPI, so the node publishes ``diagnostic_msgs/DiagnosticArray``
itself, once per ``diagnostics_period``, with one status: rates, latency percentiles, drops
and rejected frames by reason, estimator errors, clock jumps and the device.

Level (per period, so a problem clears once it stops):

- ERROR: the estimator raised, or the model could not be loaded, or the watchdog fired:
  frames keep arriving while nothing has been published for ``watchdog_timeout`` seconds
  (the message gives what happened to them since the last output, by reason);
- WARN: frames were rejected (bad image or intrinsics) or dropped for age;
- OK otherwise (including paused or inactive, which the message says).

Words used below: *dropped* frames were valid but not processed (overwritten in the one-slot
buffer, too old, unpaired with a CameraInfo, arrived while paused, discarded from the buffer
by a clock jump, pause or deactivate); *rejected* frames could not
be processed (their reason comes from image_conversion.REASONS or camera_info.REASONS, or
is image_no_frame_id: a header without a frame_id).
"""

import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

WINDOW = 300  # latencies kept for the percentiles (~10 s at 30 Hz)


@dataclass(frozen=True)
class Snapshot:
    """The counters at one instant (monotonic ``time``), for rates between two snapshots."""

    time: float
    received: int = 0
    published: int = 0
    errors: int = 0
    clock_jumps: int = 0
    drops: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    latency: tuple[float, ...] = ()  # s, image stamp -> publication (node clock)
    processing: tuple[float, ...] = ()  # s, reception -> publication (wall clock)
    inference: tuple[float, ...] = ()  # s, in the estimator
    last_error: str = ""
    # The watchdog: when the oldest frame received since the last output arrived (monotonic;
    # None when every frame so far was answered), and the drops and rejections since then.
    unanswered_since: float | None = None
    drops_unanswered: dict[str, int] = field(default_factory=dict)
    rejected_unanswered: dict[str, int] = field(default_factory=dict)


class PipelineStats:
    """Thread-safe counters, written by the subscription callbacks and the worker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received = self._published = self._errors = self._clock_jumps = 0
        self._drops: Counter[str] = Counter()
        self._rejected: Counter[str] = Counter()
        self._latency: deque[float] = deque(maxlen=WINDOW)
        self._processing: deque[float] = deque(maxlen=WINDOW)
        self._inference: deque[float] = deque(maxlen=WINDOW)
        self._last_error = ""
        self._unanswered_since: float | None = None
        # The drops and rejections at the last output, for the watchdog's "since then"; copied
        # only when some were counted since the last copy (not on every published frame).
        self._drops_at_output: Counter[str] = Counter()
        self._rejected_at_output: Counter[str] = Counter()
        self._counted_since_copy = False

    def count_input(self) -> None:
        with self._lock:
            self._received += 1
            if self._unanswered_since is None:
                self._unanswered_since = time.monotonic()

    def restart_watchdog(self) -> None:
        """Forget unanswered frames (paused, deactivated, buffers cleared): the watchdog then
        waits for new ones."""
        with self._lock:
            self._mark_answered()

    def _mark_answered(self) -> None:
        self._unanswered_since = None
        if self._counted_since_copy:
            self._drops_at_output = self._drops.copy()
            self._rejected_at_output = self._rejected.copy()
            self._counted_since_copy = False

    def count_drop(self, reason: str, count: int = 1) -> None:
        if count > 0:
            with self._lock:
                self._drops[reason] += count
                self._counted_since_copy = True

    def count_rejected(self, reason: str) -> None:
        with self._lock:
            self._rejected[reason] += 1
            self._counted_since_copy = True

    def count_error(self, message: str) -> None:
        with self._lock:
            self._errors += 1
            self._last_error = message

    def count_clock_jump(self) -> None:
        with self._lock:
            self._clock_jumps += 1

    def record_output(self, latency: float, processing: float, inference: float) -> None:
        with self._lock:
            self._published += 1
            self._mark_answered()
            self._latency.append(latency)
            self._processing.append(processing)
            self._inference.append(inference)

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                time=time.monotonic(),
                received=self._received,
                published=self._published,
                errors=self._errors,
                clock_jumps=self._clock_jumps,
                drops=dict(self._drops),
                rejected=dict(self._rejected),
                latency=tuple(self._latency),
                processing=tuple(self._processing),
                inference=tuple(self._inference),
                last_error=self._last_error,
                unanswered_since=self._unanswered_since,
                drops_unanswered=dict(self._drops - self._drops_at_output),
                rejected_unanswered=dict(self._rejected - self._rejected_at_output),
            )


@dataclass(frozen=True)
class NodeState:
    """What the node is doing, besides the counters."""

    name: str  # the status name, e.g. the node's fully qualified name
    lifecycle: str  # unconfigured, inactive, active, ...
    enabled: bool = True
    device: str = ""
    model: str = ""
    load_error: str = ""  # why configure/activate could not load the model
    pairing: str = ""  # what pairs images with CameraInfo
    waiting_for_info: int = 0  # images queued for a CameraInfo now
    watchdog_timeout: float = 0.0  # s without output while frames arrive: ERROR; 0 = off
    tracks_started: int = 0  # hand and object track ids handed out (inference/tracking.py)
    hand_swaps: int = 0  # frames where the hands changed left/right slots


def diagnostic_array(
    now: Snapshot, previous: Snapshot, state: NodeState, stamp=None
) -> DiagnosticArray:
    """One DiagnosticArray for the period from ``previous`` to ``now``."""
    array = DiagnosticArray(status=[diagnostic_status(now, previous, state)])
    if stamp is not None:
        array.header.stamp = stamp
    return array


def diagnostic_status(now: Snapshot, previous: Snapshot, state: NodeState) -> DiagnosticStatus:
    """The node's status for the period from ``previous`` to ``now`` (see the module doc)."""
    elapsed = max(now.time - previous.time, 1e-9)
    input_rate = (now.received - previous.received) / elapsed
    output_rate = (now.published - previous.published) / elapsed
    level, problem = _level(now, previous, state)
    activity = state.lifecycle if state.enabled else f"{state.lifecycle}, paused"
    message = f"{activity}: {input_rate:.1f} Hz in, {output_rate:.1f} Hz out"
    values = {
        "state": activity,
        "device": state.device,
        "pairing": state.pairing,
        "images waiting for CameraInfo": str(state.waiting_for_info),
        "model": state.model,
        "input rate (Hz)": f"{input_rate:.2f}",
        "output rate (Hz)": f"{output_rate:.2f}",
        "latency p50 (ms)": _ms(now.latency, 50),
        "latency p95 (ms)": _ms(now.latency, 95),
        "processing p50 (ms)": _ms(now.processing, 50),
        "processing p95 (ms)": _ms(now.processing, 95),
        "inference p50 (ms)": _ms(now.inference, 50),
        "frames received": str(now.received),
        "frames published": str(now.published),
        "frames dropped": str(sum(now.drops.values())),
        "frames rejected": str(sum(now.rejected.values())),
        "estimator errors": str(now.errors),
        "clock jumps backwards": str(now.clock_jumps),
        "tracks started": str(state.tracks_started),
        "hand swaps": str(state.hand_swaps),
        **{f"dropped: {reason}": str(n) for reason, n in sorted(now.drops.items())},
        **{f"rejected: {reason}": str(n) for reason, n in sorted(now.rejected.items())},
    }
    if (memory := _gpu_memory_mb(state.device)) is not None:
        values["gpu memory (MB)"] = f"{memory:.0f}"
    if now.last_error:
        values["last error"] = now.last_error
    return DiagnosticStatus(
        level=level,
        name=state.name,
        message=f"{problem}; {message}" if problem else message,
        hardware_id=state.device,
        values=[KeyValue(key=key, value=value) for key, value in values.items()],
    )


def _level(now: Snapshot, previous: Snapshot, state: NodeState) -> tuple[bytes, str]:
    if state.load_error:
        return DiagnosticStatus.ERROR, f"model not loaded: {state.load_error}"
    if now.errors > previous.errors:
        return DiagnosticStatus.ERROR, f"estimator failed: {now.last_error}"
    if (silence := _silence(now, previous, state)) is not None:
        return DiagnosticStatus.ERROR, silence
    rejected = sum(now.rejected.values()) - sum(previous.rejected.values())
    if rejected > 0:
        return DiagnosticStatus.WARN, f"{rejected} frames rejected"
    too_old = now.drops.get("too_old", 0) - previous.drops.get("too_old", 0)
    if too_old > 0:
        return DiagnosticStatus.WARN, f"{too_old} frames older than max_frame_age"
    return DiagnosticStatus.OK, ""


def _silence(now: Snapshot, previous: Snapshot, state: NodeState) -> str | None:
    """The watchdog's complaint: frames came in this period, none was answered for
    ``watchdog_timeout`` s (None when that is not so, or the node is not meant to answer)."""
    if state.watchdog_timeout <= 0.0 or state.lifecycle != "active" or not state.enabled:
        return None
    if now.unanswered_since is None or now.received == previous.received:
        return None
    silent = now.time - now.unanswered_since
    if silent < state.watchdog_timeout:
        return None
    reasons = {f"dropped {k}": n for k, n in now.drops_unanswered.items()}
    reasons |= {f"rejected {k}": n for k, n in now.rejected_unanswered.items()}
    if state.waiting_for_info:
        reasons["waiting for CameraInfo"] = state.waiting_for_info
    why = ", ".join(f"{n} {k}" for k, n in sorted(reasons.items())) or "none counted yet"
    return f"frames arrive but nothing was published for {silent:.1f} s ({why})"


def _ms(values: tuple[float, ...], percentile: float) -> str:
    return f"{1000.0 * np.percentile(values, percentile):.1f}" if values else "n/a"


def _gpu_memory_mb(device: str) -> float | None:
    """CUDA memory PyTorch holds, when the estimator already imported torch and uses CUDA."""
    torch = sys.modules.get("torch")
    if torch is None or not device.startswith("cuda") or not torch.cuda.is_available():
        return None
    return torch.cuda.memory_reserved(device) / 2**20
