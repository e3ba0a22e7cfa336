"""render_to_files streaming: progress is monotone and reaches its total; cancel mid-clip leaves no file."""

import numpy as np
import pytest

from x3dtalker_core.params import FlameSequence
from x3dtalker_core.render import RenderCancelled
from x3dtalker_core.render.files import RenderSettings, render_to_files

pytest.importorskip("av")
pytest.importorskip("moderngl")


def nodding(frames: int) -> FlameSequence:
    pose = np.zeros((frames, 6), np.float32)
    pose[:, 3] = np.linspace(0.0, 0.3, frames)
    pose[:, 0] = 0.1 * np.sin(np.arange(frames) / 4)
    cam = np.tile(np.array([8.0, 0.0, 0.02], np.float32), (frames, 1))
    return FlameSequence.from_groups(np.zeros((frames, 100)), np.zeros((frames, 50)), pose, cam=cam)


def test_progress_monotone_and_only_switched_on_outputs(tmp_path, dev_flame):
    calls = []
    settings = RenderSettings(width=48, height=48, preview=False, normals=True, glb=False)
    report = render_to_files(nodding(12), tmp_path, settings, show_progress=False,
                             progress=lambda done, total: calls.append((done, total)))
    done = [d for d, _ in calls]
    assert done == sorted(done) and calls[-1][0] == calls[-1][1] == 12
    assert set(report["outputs"]) == {"depth", "normals"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["depth.mp4", "normals.mp4", "render.json"]


@pytest.mark.parametrize("how", ["returns_true", "raises"])
def test_cancel_mid_clip_leaves_no_file(tmp_path, dev_flame, how):
    calls = []

    def should_stop() -> bool:
        if len(calls) >= 5:
            if how == "raises":
                raise KeyboardInterrupt("user pressed cancel")
            return True
        return False

    error = KeyboardInterrupt if how == "raises" else RenderCancelled
    with pytest.raises(error):
        render_to_files(nodding(40), tmp_path, RenderSettings(width=48, height=48, mask=True), show_progress=False,
                        progress=lambda done, total: calls.append(done), should_stop=should_stop)
    assert 5 <= len(calls) < 40
    assert list(tmp_path.iterdir()) == []  # no mp4, no temporary file, no render.json


def test_sequence_meshes_decode_on_demand_like_the_whole_clip(dev_flame):
    from x3dtalker_core.render import SequenceMeshes, flame_vertices

    seq = nodding(21)
    whole, faces = flame_vertices(seq, model=dev_flame)
    lazy = SequenceMeshes(seq, model=dev_flame, batch_size=8)
    assert lazy.shape == whole.shape and len(lazy) == 21 and np.array_equal(lazy.faces, faces)
    np.testing.assert_allclose(lazy[13], whole[13], atol=1e-6)
    np.testing.assert_allclose(lazy[-1], whole[-1], atol=1e-6)
    np.testing.assert_allclose(lazy[::5], whole[::5], atol=1e-6)
    np.testing.assert_allclose(lazy[3:9, :100], whole[3:9, :100], atol=1e-6)
    np.testing.assert_allclose(np.asarray(lazy), whole, atol=1e-6)
    with pytest.raises(IndexError):
        lazy[21]


def test_render_decodes_each_frame_once_and_never_the_whole_clip(tmp_path, dev_flame, monkeypatch):
    """Memory flat in clip length: render_to_files decodes frames a chunk at a time as it renders them."""
    from x3dtalker_core.render import mesh

    decoded = []
    original = mesh.SequenceMeshes.decode

    def counting(self, params):
        decoded.append(len(params))
        return original(self, params)

    monkeypatch.setattr(mesh.SequenceMeshes, "decode", counting)
    monkeypatch.setattr(mesh.SequenceMeshes, "decode_all", lambda *_: pytest.fail("decoded the whole clip"))
    frames = 150
    render_to_files(nodding(frames), tmp_path, RenderSettings(width=32, height=32, glb=True), show_progress=False,
                    flame_model=dev_flame)
    from x3dtalker_core.render.files import DEPTH_RANGE_FRAMES

    # The depth range is measured on at most DEPTH_RANGE_FRAMES spread frames, then the render pass
    # decodes every frame once, 64 at a time.
    assert decoded[-3:] == [64, 64, frames - 128], decoded
    assert all(n <= DEPTH_RANGE_FRAMES for n in decoded) and sum(decoded) <= frames + DEPTH_RANGE_FRAMES
