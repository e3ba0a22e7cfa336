"""Savitzky–Golay smoothing of generated parameter tracks (paper §4 "Setup", after DiffPoseTalk/EmoTalk).

The authors' released code applies no smoothing (REFERENCE-NOTES §4.3); the paper does, without
giving window or order, so both are arguments. Per channel: a lip closure on p/b/m lasts 3-4 frames
at 25 fps, which a 7-frame window fills in, so the mouth channels (jaw pose and, in ARKit space, the
``mouth*`` shapes) get at most :data:`MOUTH_WINDOW` frames, and everything else (head, brows, blinks,
identity) the full window.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import savgol_filter

from ..errors import X3DError


MOUTH_WINDOW = 5
"""Longest Savitzky–Golay window (frames) for the mouth channels: shorter than a bilabial closure's 3-4
frames plus its edges, so closures stay closed."""


def mouth_channels(expression_space: str) -> np.ndarray:
    """Indices into the 284 parameters of the channels that shape the mouth: the jaw pose, plus the
    ``mouth*`` ARKit shapes when the expression channels speak ARKit (PCA coefficients mix the whole face,
    so there only the jaw)."""
    from ..flame.arkit import ARKIT_EXPRESSION_NAMES, ARKIT_SPACE
    from ..params import EXP, JAW_POSE

    jaw = np.arange(JAW_POSE.start, JAW_POSE.stop)
    if expression_space != ARKIT_SPACE:
        return jaw
    lips = [EXP.start + i for i, name in enumerate(ARKIT_EXPRESSION_NAMES) if name.startswith("mouth")]
    return np.concatenate([jaw, np.asarray(lips, np.int64)])


def smooth_motion(params: np.ndarray, window: int, order: int, expression_space: str) -> np.ndarray:
    """(T, 284) generated motion smoothed per channel: :func:`savgol_smooth` with ``window`` everywhere
    except the mouth channels (:func:`mouth_channels`), which get ``min(window, MOUTH_WINDOW)``."""
    out = savgol_smooth(params, window, order)
    if out is params:  # unchanged (too short or no smoothing): never write into the caller's array
        out = params.copy()
    mouth_window = min(window, MOUTH_WINDOW)
    if mouth_window != window and mouth_window > order:
        idx = mouth_channels(expression_space)
        out[:, idx] = savgol_smooth(params[:, idx], mouth_window, order)
    return out


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
