"""Wan 2.2 Fun-Control windows: back-to-back 4n+1 windows of a long clip, each with its audio stretch."""

from __future__ import annotations

import numpy as np
import pytest

from x3dtalker_core.errors import X3DError
from x3dtalker_core.render.wan import prepare_for_wan, prepare_wan_window, wan_windows


@pytest.fixture(scope="module")
def clip():
    rng = np.random.default_rng(0)
    return rng.random((250, 5, 3)).astype(np.float32), rng.random(160000).astype(np.float32)  # 10 s at 25 fps


def test_windows_tile_the_whole_clip_exactly(clip):
    frames, audio = clip
    whole = prepare_for_wan(frames, 25, "14b", audio, 16000, 1, "pad")     # 160 frames with motion at 16 fps
    assert wan_windows(160, 81) == (81, 2) and wan_windows(160, 80) == (81, 2) and wan_windows(1, 81) == (81, 1)
    for index in range(2):
        part, win = prepare_wan_window(frames, 25, "14b", audio, 16000, 81, index)
        assert (win.index, win.count, win.length) == (index, 2, 81) and part.frames.shape == (81, 5, 3)
        n = part.source_frames
        np.testing.assert_allclose(part.frames[:n], whole.frames[win.start:win.start + n], atol=1e-6)
        a0 = round(win.start_s * 16000)
        np.testing.assert_array_equal(part.audio[:16000], audio[a0:a0 + 16000])
        assert part.audio.shape == (81 * 1000,)                              # exactly 81 / 16 s
    last, win = prepare_wan_window(frames, 25, "14b", audio, 16000, 81, 1)
    assert last.source_frames == 160 - 81 and np.array_equal(last.frames[-1], last.frames[last.source_frames - 1])


def test_trim_cuts_the_last_window_to_its_motion(clip):
    frames, audio = clip
    last, win = prepare_wan_window(frames, 25, "14b", audio, 16000, 81, 1, "trim")
    assert last.frames.shape[0] == 77 and (last.frames.shape[0] - 1) % 4 == 0 and win.length == 77
    first, _ = prepare_wan_window(frames, 25, "14b", audio, 16000, 81, 0, "trim")
    assert first.frames.shape[0] == 81                                       # full windows are never cut


def test_a_window_past_the_end_names_the_count(clip):
    frames, _ = clip
    with pytest.raises(X3DError, match=r"2 window\(s\) of 81 frames"):
        prepare_wan_window(frames, 25, "14b", None, 16000, 81, 2)
    part, win = prepare_wan_window(frames, 25, "5b", None, 16000, 121, 0)
    assert win.fps == 24.0 and win.count == 2 and part.audio is None


def test_windows_continue_the_clip_camera_and_decode_lazily(dev_flame):
    """Window k of a moving-camera clip carries on where window k-1 ended (one camera for the whole clip,
    not one restarted per window), and a lazily decoded clip is resampled without decoding it whole."""
    pytest.importorskip("moderngl")
    from x3dtalker_core.params import FlameSequence
    from x3dtalker_core.render import SequenceMeshes
    from x3dtalker_core.render.files import RenderSettings, render_window
    from x3dtalker_core.render.wan import ResampledFrames, prepare_for_wan

    frames = 100  # 4 s at 25 fps -> 64 frames at 16 fps
    seq = FlameSequence.from_groups(np.zeros((frames, 100)), np.zeros((frames, 50)), np.zeros((frames, 6)))
    settings = RenderSettings(width=48, height=48, camera="orbit", wan="14b", wan_length=1)
    first = render_window(seq, 0, 17, settings, flame_model=dev_flame).frames.depth
    second = render_window(seq, 17, 17, settings, flame_model=dev_flame).frames.depth
    across = np.abs(first[-1] - second[0]).mean()      # neighbouring frames of one orbit
    restarted = np.abs(first[0] - second[0]).mean()     # what a per-window camera would give
    assert across < 0.5 * restarted, (across, restarted)

    lazy = prepare_for_wan(SequenceMeshes(seq, model=dev_flame), 25.0, "14b")
    eager = prepare_for_wan(np.asarray(SequenceMeshes(seq, model=dev_flame)), 25.0, "14b")
    assert isinstance(lazy.frames, ResampledFrames) and lazy.frames.shape == eager.frames.shape
    np.testing.assert_allclose(lazy.frames[10:20], eager.frames[10:20], atol=1e-6)
    np.testing.assert_allclose(lazy.frames[::7], eager.frames[::7], atol=1e-6)
    np.testing.assert_allclose(lazy.frames[-1], eager.frames[-1], atol=1e-6)
