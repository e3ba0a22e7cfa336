"""Wan 2.2 Fun-Control hand-off: 4n+1 frames, size multiples, fps resampling with audio in sync."""

import numpy as np
import pytest

from x3dtalker_core.errors import X3DError
from x3dtalker_core.render.wan import (
    WAN_PRESETS,
    fit_audio,
    fit_frame_count,
    prepare_for_wan,
    resample_frames,
    wan_frame_count,
    wan_size,
)


def test_frame_counts_are_4n_plus_1():
    for n in range(1, 60):
        padded = wan_frame_count(n)
        assert padded % 4 == 1 and n <= padded < n + 4
        trimmed = wan_frame_count(n, mode="trim")
        assert trimmed % 4 == 1 and n - 4 < trimmed <= n
    assert wan_frame_count(10, min_length=81) == 81
    with pytest.raises(X3DError):
        wan_frame_count(10, min_length=81, mode="trim")


def test_sizes_snap_to_multiples():
    assert wan_size(500, 300, 16) == (496, 304)
    assert wan_size(500, 300, 32) == (512, 288)
    assert wan_size(5, 5, 16) == (16, 16)


def test_resample_keeps_duration_and_interpolates():
    frames = np.arange(50, dtype=np.float32)[:, None]  # value = source frame index
    out = resample_frames(frames, 25.0, 16.0)
    assert out.shape[0] == 32  # 2 s at 16 fps
    np.testing.assert_allclose(out[:, 0], np.arange(32) * 25.0 / 16.0)  # linear: exact source times
    near = resample_frames(frames, 25.0, 24.0, mode="nearest")
    assert near.shape[0] == 48 and set(near[:, 0]) <= set(frames[:, 0])
    np.testing.assert_array_equal(resample_frames(frames, 25.0, 25.0), frames)


def test_fit_frames_and_audio():
    frames = np.arange(5)[:, None]
    np.testing.assert_array_equal(fit_frame_count(frames, 7)[:, 0], [0, 1, 2, 3, 4, 4, 4])
    np.testing.assert_array_equal(fit_frame_count(frames, 3)[:, 0], [0, 1, 2])
    audio = np.ones(16000, np.float32)
    assert fit_audio(audio, 16000, 81, 16.0).shape[0] == 81000
    assert fit_audio(audio, 16000, 8, 16.0).shape[0] == 8000


@pytest.mark.parametrize("name", ["14b", "5b"])
def test_prepare_for_wan_presets(name):
    preset = WAN_PRESETS[name]
    verts = np.random.default_rng(0).normal(size=(77, 10, 3)).astype(np.float32)  # 3.08 s at 25 fps
    audio = np.random.default_rng(1).uniform(-1, 1, 77 * 640).astype(np.float32)
    clip = prepare_for_wan(verts, 25.0, name, audio, 16000, min_length=preset.length)
    t = clip.frames.shape[0]
    assert t % 4 == 1 and t >= preset.length and clip.fps == preset.fps
    assert clip.audio.shape[0] == round(t / preset.fps * 16000)  # audio lasts exactly as long as the video
    # the motion part keeps its timing: audio sample k*sr/fps lines up with frame k
    motion_seconds = clip.source_frames / preset.fps
    assert abs(motion_seconds - 77 / 25.0) <= 1 / preset.fps
    np.testing.assert_array_equal(clip.audio[: audio.shape[0]], audio[: clip.audio.shape[0]])
    np.testing.assert_array_equal(clip.frames[-1], clip.frames[clip.source_frames - 1])  # held last frame
    np.testing.assert_array_equal(clip.frames[0], verts[0])
