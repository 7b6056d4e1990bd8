"""The ``occrobnet_pose`` node: camera frames in, HandObjectPose + TF + markers out.

A thin lifecycle node around :class:`occrobnet_ros.inference.estimator.Estimator` (DESIGN.md
section 5):

- configure: check the parameters, load the model, create the subscriptions and publishers;
  a bad checkpoint makes configure fail with a log line, and the node stays up, unconfigured,
  ready for a new ``checkpoint`` and another configure;
- activate: enable the outputs (reloading the model if deactivate freed it);
- deactivate: stop processing and free the model (GPU memory);
- cleanup: destroy what configure created.

With ``autostart`` (the default) :func:`main` configures and activates the node itself, so
``ros2 launch`` just works.

Data flow. Subscription callbacks pair each image with its CameraInfo by stamp
(message_filters.ApproximateTimeSynchronizer where installed, else stamp_sync.StampSync) and
put the pair in a one-slot buffer, counting what that overwrites. A worker thread takes the
newest frame, drops it when older than ``max_frame_age`` (node clock, so sim time works),
converts the image, runs the estimator, and publishes. Bad frames are logged (throttled),
counted in diagnostics and skipped; estimator exceptions skip the frame and turn diagnostics to
ERROR. The node keeps serving through all of it. When the node clock jumps backwards (a bag
restarting under ``use_sim_time``) everything buffered is discarded and the estimator's
tracking state is reset.

Run it with ``ros2 launch occrobnet_ros pose.launch.py`` or, without ros2cli, with
``python -m occrobnet_ros.ros.node --ros-args --params-file config/pose.yaml -r image:=...``.
"""

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType, JumpThreshold, TimeJump
from rclpy.duration import Duration
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_srvs.srv import SetBool
from visualization_msgs.msg import MarkerArray

from occrobnet_ros.drawing import draw_prediction
from occrobnet_ros.geometry import LensDistortion
from occrobnet_ros.msg import HandObjectPose
from occrobnet_ros.prediction import Prediction
from occrobnet_ros.ros.camera_info import (
    CameraInfoError,
    camera_info_image_size,
    check_image_matches,
    distortion_from_camera_info,
    intrinsics_from_camera_info,
)
from occrobnet_ros.ros.diagnostics import NodeState, PipelineStats, diagnostic_array
from occrobnet_ros.ros.frame_buffer import LatestFrameBuffer
from occrobnet_ros.ros.image_conversion import (
    ImageConversionError,
    compressed_to_rgb,
    image_to_rgb,
    rgb_to_image_msg,
)
from occrobnet_ros.ros.markers import MarkerArrayWriter
from occrobnet_ros.ros.messages import HandObjectPoseWriter
from occrobnet_ros.ros.pairing import make_pairing
from occrobnet_ros.ros.parameters import (
    SPECS,
    Settings,
    check_parameter,
    check_settings,
    declare_parameters,
    read_settings,
)
from occrobnet_ros.ros.stamp_sync import stamp_to_nanoseconds
from occrobnet_ros.ros.tf import TfSender, TransformsWriter, expand_prefix

NODE_NAME = "occrobnet_pose"
LOG_THROTTLE = 5.0  # s between repeats of one warning about bad input
OUTPUT_QOS = 10
WORKER_POLL = 0.5  # s: how often an idle worker checks for shutdown
INFO_GRACE = 1.0  # s: how long images wait for a first CameraInfo before being rejected


def load_estimator(**options: Any):
    """The real estimator; imported here so this module imports without torch."""
    from occrobnet_ros.inference.estimator import Estimator

    return Estimator(**options)


@dataclass(frozen=True)
class Frame:
    """One image waiting for the worker, with its CameraInfo (None: fallback intrinsics)."""

    image: Image | CompressedImage
    info: CameraInfo | None
    received: float  # time.monotonic() when it arrived


class PoseNode(LifecycleNode):
    """The occrobnet_pose lifecycle node (see the module docstring)."""

    def __init__(
        self, *, estimator_factory: Callable[..., Any] = load_estimator, **kwargs: Any
    ) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._estimator_factory = estimator_factory
        self._estimator = None
        self._model = ("", "")  # name, version of the loaded model
        self._load_error = ""
        self._lifecycle = "unconfigured"
        self._enabled = True
        self._io: _Io | None = None
        self._stats = PipelineStats()
        self._buffer: LatestFrameBuffer[Frame] = LatestFrameBuffer()
        self._estimator_lock = threading.Lock()  # held while a frame is estimated + published
        self._reset_estimator = threading.Event()
        self._last_stamp_ns = -1
        self._intrinsics = _Intrinsics()
        self._expanded_prefix: tuple[str | None, str] = (None, "")  # tf_prefix -> its expansion
        self._applied: Settings | None = None  # the settings the estimator runs with
        self._settings: Settings = declare_parameters(self)
        # Registered after declaring, so a bad value in a params file is reported by configure
        # instead of killing the process in the constructor.
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", OUTPUT_QOS)
        self._previous = self._stats.snapshot()
        # On the steady clock: diagnostics keep coming while a bag (sim time) is paused.
        self._diagnostics_timer = self.create_timer(
            self._settings.diagnostics_period,
            self._publish_diagnostics,
            clock=Clock(clock_type=ClockType.STEADY_TIME),
        )
        self.create_service(SetBool, "~/enable", self._on_enable)
        self._jump_handle = self.get_clock().create_jump_callback(
            JumpThreshold(
                min_forward=None, min_backward=Duration(nanoseconds=-1), on_clock_change=False
            ),
            post_callback=self._on_time_jump,
        )
        self._worker = threading.Thread(target=self._work, name="occrobnet_worker", daemon=True)
        self._worker.start()

    # --- lifecycle -----------------------------------------------------------------------------

    def autostart(self) -> bool:
        """Configure and activate when the ``autostart`` parameter says so; True when active."""
        if not self._settings.autostart:
            self.get_logger().info("autostart is false: waiting for lifecycle transitions")
            return False
        if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            return False
        return self.trigger_activate() == TransitionCallbackReturn.SUCCESS

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the model and create inputs and outputs; FAILURE keeps the node unconfigured."""
        settings = read_settings(self)
        problems = check_settings(settings)
        if problems:
            self._load_error = "invalid parameters: " + "; ".join(problems)
            self.get_logger().error(f"configure failed: {self._load_error}")
            return TransitionCallbackReturn.FAILURE
        self._settings = settings
        if not self._load_model():
            return TransitionCallbackReturn.FAILURE
        self._io = _Io(self, settings, self._on_image, self._on_camera_info, self._store)
        self._lifecycle = "inactive"
        self.get_logger().info(f"configured: {self._io.describe()}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Enable the outputs and start processing (reloading a model freed by deactivate)."""
        if self._estimator is None and not self._load_model():
            return TransitionCallbackReturn.FAILURE
        self._discard_pending()
        with self._estimator_lock:
            self._lifecycle = "active"
        self.get_logger().info(f"active on {self._estimator.device}")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop processing and free the model (and its GPU memory)."""
        with self._estimator_lock:  # waits for the frame in flight
            self._lifecycle = "inactive"
            self._free_model()
        self._discard_pending()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Destroy what configure created."""
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Back to unconfigured, from where a configure can try again."""
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self) -> None:
        self._buffer.close()
        worker = getattr(self, "_worker", None)  # absent when a parameter failed to declare
        if worker is not None:
            worker.join(timeout=5.0)
        self._teardown()
        super().destroy_node()

    def _load_model(self) -> bool:
        settings = self._settings
        try:
            estimator = self._estimator_factory(
                checkpoint=settings.checkpoint or None,
                device=settings.device,
                precision=settings.precision,
                compile_model=settings.compile_model,
                roi_tracking=settings.roi_tracking,
                hand_detector=settings.hand_detector,
                smoothing=settings.smoothing,
                smoothing_min_cutoff=settings.smoothing_min_cutoff,
                smoothing_beta=settings.smoothing_beta,
            )
        except Exception as error:  # noqa: BLE001 - any load failure leaves the node serving
            source = settings.checkpoint or "the embedded default weights"
            self._load_error = f"{type(error).__name__}: {error}"
            self.get_logger().error(
                f"could not load the model from {source}: {self._load_error}. Set a valid "
                "'checkpoint' and configure again."
            )
            return False
        _apply_live_settings(estimator, settings)
        self._estimator, self._load_error = estimator, ""
        self._applied = settings
        self._model = (str(estimator.model_name), str(estimator.model_version))
        self._reset_estimator.clear()
        self._last_stamp_ns = -1
        return True

    def _free_model(self) -> None:
        if self._estimator is not None:
            self._estimator.close()
            self._estimator = None

    def _teardown(self) -> None:
        with self._estimator_lock:
            self._lifecycle = "unconfigured"
            self._free_model()
        self._discard_pending()
        if self._io is not None:
            self._io.destroy()
            self._io = None

    def _discard_pending(self) -> None:
        if self._buffer.clear():
            self._stats.count_drop("discarded")  # a frame waiting for the worker is a frame
        if self._io is not None:
            self._io.pairing.reset()
            self._count_unpaired()
        self._stats.restart_watchdog()

    # --- input: callbacks only store -------------------------------------------------------

    def _on_image(self, msg: Image | CompressedImage) -> None:
        if self._lifecycle != "active":
            return
        self._stats.count_input()
        io = self._io
        if not self._enabled:
            self._stats.count_drop("paused")
        elif io.info_seen:
            io.pairing.add_image(msg)
        elif any(self._settings.fallback_intrinsics):
            self._store(msg, None)
        elif io.waiting_for_first_info():
            io.pairing.add_image(msg)
        else:
            self._reject(
                "no_camera_info",
                f"no CameraInfo on {io.camera_info_topic} and no fallback_intrinsics set",
            )

    def _on_camera_info(self, msg: CameraInfo) -> None:
        if self._lifecycle == "active" and self._enabled:
            self._io.info_seen = True
            self._io.pairing.add_info(msg)

    def _store(self, image: Image | CompressedImage, info: CameraInfo | None) -> None:
        if self._buffer.put(Frame(image, info, time.monotonic())):
            self._stats.count_drop("overwritten")

    # --- the worker -----------------------------------------------------------------------

    def _work(self) -> None:
        while not self._buffer.closed:
            frame = self._buffer.take(timeout=WORKER_POLL)
            if frame is None:
                continue
            try:
                self._process(frame)
            except Exception as error:  # noqa: BLE001 - a bug must not stop the node serving
                if not self.context.ok():
                    return  # shutting down (SIGINT): the frame in flight has nowhere to go
                self._stats.count_error(f"{type(error).__name__}: {error}")
                self.get_logger().error(
                    f"frame skipped: {type(error).__name__}: {error}",
                    throttle_duration_sec=LOG_THROTTLE,
                )

    def _process(self, frame: Frame) -> None:
        settings = self._settings
        if not frame.image.header.frame_id:
            # A pose in no frame is unusable (REP 105) and TF cannot hang it anywhere.
            self._reject("image_no_frame_id", "the image header has an empty frame_id")
            return
        stamp_ns = stamp_to_nanoseconds(frame.image.header.stamp)
        age = (self.get_clock().now().nanoseconds - stamp_ns) * 1e-9
        if settings.max_frame_age > 0.0 and age > settings.max_frame_age:
            self._stats.count_drop("too_old")
            self.get_logger().warning(
                f"dropping a frame {age:.3f} s old (max_frame_age {settings.max_frame_age} s); "
                "replaying a bag? use_sim_time:=true and play with --clock",
                throttle_duration_sec=LOG_THROTTLE,
            )
            return
        try:
            rgb = _to_rgb(frame.image)
            K, lens = self._intrinsics(frame.info, rgb.shape[1], rgb.shape[0], settings)
        except ImageConversionError as error:
            self._reject(f"image_{error.reason}", f"bad image: {error}")
            return
        except CameraInfoError as error:
            self._reject(f"camera_info_{error.reason}", f"bad intrinsics: {error}")
            return
        with self._estimator_lock:
            if self._lifecycle != "active" or self._estimator is None or not self._enabled:
                self._stats.count_drop("inactive")
                return
            self._estimate_and_publish(frame, stamp_ns, rgb, K, lens, settings)

    def _estimate_and_publish(
        self,
        frame: Frame,
        stamp_ns: int,
        rgb: np.ndarray,
        K: np.ndarray,
        lens: LensDistortion | None,
        settings: Settings,
    ) -> None:
        estimator = self._estimator
        if settings is not self._applied:  # parameters changed: apply them between frames
            _apply_live_settings(estimator, settings, self._applied)
            self._applied = settings
        if self._reset_estimator.is_set() or stamp_ns < self._last_stamp_ns:
            estimator.reset()  # tracking and smoothing must not bridge a jump back in time
            self._reset_estimator.clear()
        self._last_stamp_ns = stamp_ns
        try:
            prediction = estimator.predict(rgb, K, stamp_ns * 1e-9, lens)
        except Exception as error:  # noqa: BLE001 - skip the frame, report, keep serving
            self._stats.count_error(f"{type(error).__name__}: {error}")
            self.get_logger().error(
                f"estimator failed, frame skipped: {type(error).__name__}: {error}",
                throttle_duration_sec=LOG_THROTTLE,
            )
            return
        self._publish(frame, rgb, K, lens, prediction, settings)
        latency = (self.get_clock().now().nanoseconds - stamp_ns) * 1e-9
        self._stats.record_output(
            latency, time.monotonic() - frame.received, prediction.inference_time
        )

    def _publish(
        self,
        frame: Frame,
        rgb: np.ndarray,
        K: np.ndarray,
        lens: LensDistortion | None,
        prediction: Prediction,
        settings: Settings,
    ) -> None:
        """Every output for one frame: stamp and frame are the image's (markers and the debug
        image only while someone listens)."""
        io, header = self._io, frame.image.header
        io.pose.publish(io.pose_writer.write(prediction, header, *self._model))
        if settings.publish_tf:
            prefix = self._tf_prefix(settings.tf_prefix)
            io.tf.send(io.tf_writer.write(prediction, header, prefix, settings.publish_joint_tf))
        if settings.publish_markers and io.markers.get_subscription_count():
            io.markers.publish(io.markers_writer.write(prediction, header))
        if settings.publish_debug_image and io.debug_image.get_subscription_count():
            drawn = draw_prediction(rgb, prediction, K, lens)
            io.debug_image.publish(rgb_to_image_msg(drawn, header))

    def _tf_prefix(self, configured: str) -> str:
        """The TF prefix with ``~/`` expanded, recomputed only when the parameter changes."""
        if self._expanded_prefix[0] != configured:
            name = self.get_fully_qualified_name()
            self._expanded_prefix = (configured, expand_prefix(configured, name))
        return self._expanded_prefix[1]

    def _reject(self, reason: str, detail: str) -> None:
        self._stats.count_rejected(reason)
        self.get_logger().warning(
            f"frame skipped ({reason}): {detail}", throttle_duration_sec=LOG_THROTTLE
        )

    # --- services, parameters, clock, diagnostics --------------------------------------------

    def _on_enable(self, request: SetBool.Request, response: SetBool.Response):
        """Pause or resume. Resuming succeeds only when frames will be processed: while the
        node is not active the request is kept for activation and the reply says so."""
        self._enabled = bool(request.data)
        if not self._enabled:
            self._discard_pending()  # which restarts the watchdog too
        else:
            self._stats.restart_watchdog()  # frames counted while paused were not unanswered
        active = self._lifecycle == "active"
        response.success = active or not self._enabled
        if not self._enabled:
            response.message = "paused"
        elif active:
            response.message = "processing"
        else:
            response.message = (
                f"enabled, but the node is {self._lifecycle}: nothing is processed until it is "
                "activated (ros2 lifecycle set <node> activate)"
            )
        self.get_logger().info(f"enable: {response.message}")
        return response

    def _on_set_parameters(self, parameters: list) -> SetParametersResult:
        configured = self._lifecycle != "unconfigured"
        for parameter in parameters:
            reason = check_parameter(parameter.name, parameter.value, configured)
            if reason is not None:
                return SetParametersResult(successful=False, reason=reason)
        # Accepted: rclpy has checked types and ranges before calling us and stores the values
        # next. Applying them here works on every distro (Humble has no post-set callback).
        self._apply_parameters(parameters)
        return SetParametersResult(successful=True)

    def _apply_parameters(self, parameters: list) -> None:
        changed = {p.name: p.value for p in parameters if p.name in SPECS}
        self._settings = self._settings.replace(changed)  # the worker applies it
        if "diagnostics_period" in changed:
            self._diagnostics_timer.timer_period_ns = int(changed["diagnostics_period"] * 1e9)

    def _on_time_jump(self, jump: TimeJump) -> None:
        if jump.delta.nanoseconds >= 0:
            return
        self._stats.count_clock_jump()
        self._discard_pending()
        self._reset_estimator.set()
        self.get_logger().warning(
            f"node clock jumped back {-jump.delta.nanoseconds * 1e-9:.3f} s: "
            "buffers cleared, tracking reset"
        )

    def _count_unpaired(self) -> None:
        """Count the images the pairing has given up on, and say why in the log."""
        io = self._io
        if io is None or not (dropped := io.count_unpaired(self._stats)):
            return
        gap = io.pairing.stamp_gap()
        apart = (
            ""
            if gap is None
            else (f"; the newest image and CameraInfo stamps are {1e3 * gap:+.1f} ms apart")
        )
        self.get_logger().warning(
            f"{dropped} frames dropped unpaired: no CameraInfo on {io.camera_info_topic} within "
            f"sync_slop ({self._settings.sync_slop} s) of their stamps{apart}. Does the camera "
            "publish CameraInfo with the image's stamp? Raise sync_slop otherwise.",
            throttle_duration_sec=LOG_THROTTLE,
        )

    def _publish_diagnostics(self) -> None:
        self._count_unpaired()
        now = self._stats.snapshot()
        estimator = self._estimator
        tracks = getattr(estimator, "tracks", None)
        io = self._io
        state = NodeState(
            name=f"{self.get_fully_qualified_name().lstrip('/')}: hand and object pose",
            lifecycle=self._lifecycle,
            enabled=self._enabled,
            device=str(estimator.device) if estimator is not None else self._settings.device,
            model=" ".join(part for part in self._model if part),
            load_error=self._load_error,
            pairing=io.pairing.name if io is not None else "",
            waiting_for_info=io.pairing.waiting if io is not None else 0,
            watchdog_timeout=self._settings.watchdog_timeout,
            tracks_started=getattr(tracks, "started", 0),
            hand_swaps=getattr(tracks, "swaps", 0),
        )
        stamp = self.get_clock().now().to_msg()
        self._diagnostics.publish(diagnostic_array(now, self._previous, state, stamp))
        self._previous = now


def _apply_live_settings(estimator, settings: Settings, previous: Settings | None = None) -> None:
    """Give the estimator the live parameters (thresholds, smoothing) that changed."""
    estimator.hand_threshold = settings.hand_threshold
    estimator.object_threshold = settings.object_threshold
    smoothing = (settings.smoothing, settings.smoothing_min_cutoff, settings.smoothing_beta)
    if previous is None or smoothing != (
        previous.smoothing,
        previous.smoothing_min_cutoff,
        previous.smoothing_beta,
    ):
        estimator.set_smoothing(*smoothing)


class _Io:
    """The subscriptions, publishers and stamp pairing that configure creates."""

    def __init__(self, node: PoseNode, settings: Settings, on_image, on_info, on_pair) -> None:
        self._node = node
        qos = _input_qos(settings.image_qos)
        image_type, image_topic = (
            (CompressedImage, "image/compressed") if settings.use_compressed else (Image, "image")
        )
        self.image_topic = node.resolve_topic_name(image_topic)
        self.camera_info_topic = node.resolve_topic_name("camera_info")
        self.info_seen = False
        self._first_image: float | None = None
        self.pairing = make_pairing(settings.sync_queue_size, settings.sync_slop, on_pair)
        self._unpaired_counted = 0
        self._subscriptions = [
            node.create_subscription(image_type, image_topic, on_image, qos),
            node.create_subscription(CameraInfo, "camera_info", on_info, qos),
        ]
        self.pose = node.create_lifecycle_publisher(HandObjectPose, "hand_object_pose", OUTPUT_QOS)
        self.pose_writer = HandObjectPoseWriter()
        self.markers = node.create_lifecycle_publisher(MarkerArray, "markers", OUTPUT_QOS)
        self.debug_image = node.create_lifecycle_publisher(Image, "debug_image", 1)
        self.tf = TfSender(node)
        self.tf_writer = TransformsWriter()
        self.markers_writer = MarkerArrayWriter()

    def waiting_for_first_info(self) -> bool:
        """True during the first INFO_GRACE seconds of images while no CameraInfo has come
        (an image can overtake its CameraInfo); without a fallback, images are rejected after.
        """
        if self._first_image is None:
            self._first_image = time.monotonic()
        return time.monotonic() - self._first_image < INFO_GRACE

    def describe(self) -> str:
        return f"{self.image_topic} + {self.camera_info_topic}, paired by {self.pairing.name}"

    def count_unpaired(self, stats: PipelineStats) -> int:
        """Count the images dropped unpaired since the last call; returns how many."""
        dropped = self.pairing.dropped
        new = dropped - self._unpaired_counted
        stats.count_drop("unpaired", new)
        self._unpaired_counted = dropped
        return new

    def destroy(self) -> None:
        for subscription in self._subscriptions:
            self._node.destroy_subscription(subscription)
        for publisher in (self.pose, self.markers, self.debug_image):
            self._node.destroy_lifecycle_publisher(publisher)
        self.tf.destroy()


def _input_qos(name: str) -> QoSProfile:
    """sensor_data (best effort, depth 5: matches reliable and best-effort cameras) or
    reliable (depth 5: for recorders that must see every frame)."""
    if name == "reliable":
        return QoSProfile(
            depth=5, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE
        )
    return qos_profile_sensor_data


def _to_rgb(msg: Image | CompressedImage) -> np.ndarray:
    return compressed_to_rgb(msg) if isinstance(msg, CompressedImage) else image_to_rgb(msg)


class _Intrinsics:
    """K and the lens distortion for each frame: from its CameraInfo, else the fallback
    parameter (a pinhole). With ``use_projection_matrix`` the image is rectified: no lens.

    A camera's CameraInfo rarely changes, so both are recomputed only when the numbers they
    depend on do (DESIGN.md section 5: the per-frame budget).
    """

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._camera: tuple[np.ndarray, LensDistortion | None] | None = None

    def __call__(
        self, info: CameraInfo | None, width: int, height: int, settings: Settings
    ) -> tuple[np.ndarray, LensDistortion | None]:
        if info is None:
            K = settings.fallback_K
            if K is None:
                raise CameraInfoError("not_set", "no CameraInfo and no fallback_intrinsics")
            return K, None
        roi = info.roi
        key = (
            bytes(info.k), bytes(info.p), info.width, info.height, info.binning_x,
            info.binning_y, roi.x_offset, roi.y_offset, roi.width, roi.height, width, height,
            settings.use_projection_matrix, bytes(info.d), info.distortion_model,
        )  # fmt: skip
        if key != self._key:
            rectified = settings.use_projection_matrix
            K = intrinsics_from_camera_info(info, use_projection=rectified)
            K = check_image_matches(K, width, height, *camera_info_image_size(info))
            lens = None if rectified else distortion_from_camera_info(info)
            self._camera, self._key = (K, lens), key
        return self._camera


def main(args: list[str] | None = None, estimator_factory=load_estimator) -> int:
    """Run the node until Ctrl-C; ``args`` are ROS arguments (default: sys.argv)."""
    rclpy.init(args=args)
    try:
        node = PoseNode(estimator_factory=estimator_factory)
    except ParameterException as error:
        print(f"{NODE_NAME}: invalid parameter: {error}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        node.autostart()
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
