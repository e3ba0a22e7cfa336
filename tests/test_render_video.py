"""mp4 writing through PyAV: H.264 yuv420p, audio muxed with matching duration, frames read back."""

import numpy as np
import pytest

pytest.importorskip("av")

from x3dtalker_core.errors import X3DError  # noqa: E402
from x3dtalker_core.render.video import Mp4Writer, probe_video, read_video_frames, write_mp4  # noqa: E402


def ramp_frames(t: int, h: int, w: int) -> np.ndarray:
    """Frames whose brightness encodes the frame index (flat colour: survives compression)."""
    levels = np.linspace(0.1, 0.9, t, dtype=np.float32)
    return np.broadcast_to(levels[:, None, None, None], (t, h, w, 3)).copy()


@pytest.mark.parametrize("fps,frames", [(25.0, 30), (16.0, 21)])
def test_mp4_with_audio_durations_match(tmp_path, fps, frames):
    audio = (0.3 * np.sin(np.arange(int(frames / fps * 16000) - 500) * 0.05)).astype(np.float32)  # a bit short
    path = write_mp4(tmp_path / "a.mp4", ramp_frames(frames, 48, 64), fps, audio, 16000)
    info = probe_video(path)
    assert (info.frames, info.width, info.height) == (frames, 64, 48)
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert info.fps == pytest.approx(fps)
    assert abs(info.audio_seconds - info.video_seconds) <= 1.0 / fps
    back = read_video_frames(path)
    np.testing.assert_allclose(back[:, 24, 32, 0] / 255.0, np.linspace(0.1, 0.9, frames), atol=0.03)


def test_streaming_writer_grey_odd_size_and_no_audio(tmp_path):
    with Mp4Writer(tmp_path / "b.mp4", 25.0) as writer:
        writer.write(np.full((3, 31, 33), 0.5, np.float32))  # grey (T, H, W), odd size
        writer.write((np.full((2, 31, 33, 3), 128, np.uint8)))
    info = probe_video(tmp_path / "b.mp4")
    assert (info.frames, info.width, info.height, info.audio_seconds) == (5, 34, 32, None)


def test_failed_write_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError):
        with Mp4Writer(tmp_path / "c.mp4", 25.0) as writer:
            writer.write(ramp_frames(2, 16, 16))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(X3DError):
        write_mp4(tmp_path / "d.mp4", np.zeros((2, 16, 16, 5)), 25.0)
