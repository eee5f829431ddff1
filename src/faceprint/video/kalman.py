"""A constant-velocity Kalman filter on a box's centre, height and aspect ratio (``cx, cy, h, a``),
the motion model of SORT / DeepSORT / ByteTrack. Time steps are in seconds (frames of a
variable-frame-rate video are not evenly spaced), and the noise scales with the box height, as
in DeepSORT, so that near and far faces are equally uncertain in relative terms.
"""

from __future__ import annotations

import numpy as np

from faceprint.types import Box

__all__ = ["BoxKalman"]

# Standard deviations relative to the box height: position measurement noise, and how fast
# position / velocity may change per second (DeepSORT's 1/20 and 1/160 per frame at ~30 fps).
_STD_POS = 1.0 / 20.0
_STD_VEL_PER_S = 30.0 / 160.0


class BoxKalman:
    """State ``[cx, cy, h, a, vcx, vcy, vh, va]`` (velocities per second)."""

    def __init__(self, box: Box) -> None:
        z = self.measure(box)
        self.x = np.concatenate([z, np.zeros(4)])
        h = max(z[2], 1.0)
        std = np.array([2 * _STD_POS * h, 2 * _STD_POS * h, 2 * _STD_POS * h, 1e-2,
                        10 * _STD_VEL_PER_S * h, 10 * _STD_VEL_PER_S * h, 10 * _STD_VEL_PER_S * h, 1e-3])  # fmt: skip
        self.P = np.diag(std**2)

    @staticmethod
    def measure(box: Box) -> np.ndarray:
        cx, cy = box.center
        h = max(box.height, 1e-3)
        return np.array([cx, cy, h, box.width / h], np.float64)

    def predict(self, dt: float) -> None:
        dt = max(float(dt), 0.0)
        F = np.eye(8)
        F[:4, 4:] = np.eye(4) * dt
        h = max(self.x[2], 1.0)
        q_pos = (_STD_POS * h) ** 2 * dt
        q_vel = (_STD_VEL_PER_S * h) ** 2 * dt
        Q = np.diag([q_pos, q_pos, q_pos, 1e-4 * dt, q_vel, q_vel, q_vel, 1e-6 * dt])
        self.x = F @ self.x
        self.x[2] = max(self.x[2], 1.0)
        self.P = F @ self.P @ F.T + Q

    def update(self, box: Box) -> None:
        z = self.measure(box)
        H = np.eye(4, 8)
        h = max(z[2], 1.0)
        R = np.diag([(_STD_POS * h) ** 2, (_STD_POS * h) ** 2, (_STD_POS * h) ** 2, 1e-2**2])
        S = H @ self.P @ H.T + R
        K = np.linalg.solve(S, H @ self.P).T  # P H^T S^-1 (S symmetric)
        self.x = self.x + K @ (z - H @ self.x)
        self.P = (np.eye(8) - K @ H) @ self.P

    def box(self) -> Box:
        cx, cy, h, a = self.x[:4]
        h = max(float(h), 1.0)
        w = max(float(a) * h, 1.0)
        return Box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
