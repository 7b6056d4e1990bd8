"""The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) for jittery pose estimates, and
the smoothing of a stream's predictions with it (for teleoperation).

A first-order low-pass filter whose cutoff frequency rises with the signal's speed: still
hands are smoothed strongly (no jitter), fast motions pass with little lag. Works on arrays of
any shape; each element is filtered independently with the same parameters.
"""

import math

import numpy as np

from occrobnet_ros import geometry
from occrobnet_ros.prediction import Prediction


def _alpha(cutoff_hz: float, dt: float) -> float:
    """Smoothing factor of an exponential filter with this cutoff at sampling period dt."""
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter over arrays; call ``filter(value, t)`` with increasing times (s)."""

    def __init__(
        self, min_cutoff: float = 1.0, beta: float = 0.05, derivative_cutoff: float = 1.0
    ):
        if min_cutoff <= 0 or derivative_cutoff <= 0 or beta < 0:
            raise ValueError(
                "One-Euro filter needs min_cutoff > 0, derivative_cutoff > 0, beta >= 0"
            )
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.derivative_cutoff = derivative_cutoff
        self.reset()

    def reset(self) -> None:
        """Forget the past (a new track, or time jumped backwards)."""
        self._value: np.ndarray | None = None
        self._derivative: np.ndarray | None = None
        self._time: float | None = None

    def filter(self, value: np.ndarray, t: float) -> np.ndarray:
        value = np.asarray(value, dtype=np.float64)
        if self._value is None or self._time is None or t <= self._time:
            # First sample, or a non-increasing time: restart from this sample.
            self._value, self._derivative, self._time = value.copy(), np.zeros_like(value), t
            return value.copy()
        dt = t - self._time
        derivative = (value - self._value) / dt
        a_d = _alpha(self.derivative_cutoff, dt)
        self._derivative = a_d * derivative + (1.0 - a_d) * self._derivative
        cutoff = self.min_cutoff + self.beta * np.abs(self._derivative)
        tau = 1.0 / (2.0 * np.pi * cutoff)
        a = 1.0 / (1.0 + tau / dt)
        self._value = a * value + (1.0 - a) * self._value
        self._time = t
        return self._value.copy()


class PredictionSmoother:
    """One-Euro filters over a stream's predictions, in place: each hand's joints, the
    object's translation and rotation. A part that is not detected restarts its filter."""

    def __init__(self, min_cutoff: float, beta: float) -> None:
        self.right = OneEuroFilter(min_cutoff, beta)
        self.left = OneEuroFilter(min_cutoff, beta)
        self.translation = OneEuroFilter(min_cutoff, beta)
        self.rotation = OneEuroFilter(min_cutoff, beta)  # unit quaternions

    def __call__(self, prediction: Prediction, t: float) -> None:
        for hand, joints_filter in (
            (prediction.right_hand, self.right),
            (prediction.left_hand, self.left),
        ):
            if hand.detected:
                hand.joints = joints_filter.filter(hand.joints, t)
            else:
                joints_filter.reset()
        obj = prediction.object
        if not obj.detected:
            self.translation.reset()
            self.rotation.reset()
            return
        obj.translation = self.translation.filter(obj.translation, t)
        quaternion = geometry.matrix_to_quaternion(obj.rotation)
        previous = self.rotation._value
        if previous is not None and np.dot(previous, quaternion) < 0:
            quaternion = -quaternion  # q and -q are one rotation: filter the nearer one
        quaternion = self.rotation.filter(quaternion, t)
        obj.rotation = geometry.quaternion_to_matrix(quaternion / np.linalg.norm(quaternion))
