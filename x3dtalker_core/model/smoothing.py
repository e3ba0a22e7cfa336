"""Savitzky–Golay smoothing of generated parameter tracks (paper §4 "Setup", after DiffPoseTalk/EmoTalk).

The authors' released code applies no smoothing (REFERENCE-NOTES §4.3); the paper does, without
giving window or order, so both are arguments.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import savgol_filter

from ..errors import X3DError


def savgol_smooth(params: np.ndarray, window: int, order: int) -> np.ndarray:
    """Smooth every channel of ``params`` (T, D) over time.

    The window is made odd and shortened for short clips; clips too short for the order are
    returned unchanged. ``window`` <= 1 disables smoothing.
    """
    if order < 0:
        raise X3DError(f"smoothing order must be >= 0, got {order}")
    if window <= 1:
        return params
    if window <= order:
        raise X3DError(f"smoothing window ({window}) must be larger than the polynomial order ({order})")
    t = params.shape[0]
    window = min(window if window % 2 else window + 1, t if t % 2 else t - 1)
    if window <= order:
        return params
    return savgol_filter(params, window, order, axis=0, mode="interp").astype(np.float32)
