"""Image conversion and the 'params' backend (no face models needed)."""

import numpy as np
import pytest
from PIL import Image

from x3dtalker_core.errors import X3DError
from x3dtalker_core.params import FlameParams, FlameSequence
from x3dtalker_core.reconstruct import load_reference_params, reconstruct_reference
from x3dtalker_core.reconstruct.image import load_image, to_rgb_uint8


def test_grayscale_and_single_channel():
    g = (np.arange(12, dtype=np.uint8) * 20).reshape(3, 4)
    out = to_rgb_uint8(g)
    assert out.shape == (3, 4, 3) and out.dtype == np.uint8
    assert (out[..., 0] == g).all() and (out[..., 2] == g).all()
    assert to_rgb_uint8(g[:, :, None]).shape == (3, 4, 3)


def test_rgba_composited_on_white():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red
    out = to_rgb_uint8(rgba)
    assert tuple(out[0, 0]) == (255, 0, 0)
    assert tuple(out[1, 1]) == (255, 255, 255)  # transparent -> white


def test_16_bit_and_float_inputs():
    img16 = np.full((4, 4, 3), 65535 // 2, np.uint16)
    assert abs(int(to_rgb_uint8(img16)[0, 0, 0]) - 128) <= 1
    comfy = np.full((1, 4, 4, 3), 0.5, np.float32)  # ComfyUI IMAGE batch of one
    assert to_rgb_uint8(comfy).shape == (4, 4, 3)
    assert to_rgb_uint8(np.full((4, 4, 3), 200.0, np.float32))[0, 0, 0] == 200  # float 0..255


def test_bad_images_are_clear_errors(tmp_path):
    with pytest.raises(X3DError, match="batch of 2"):
        to_rgb_uint8(np.zeros((2, 4, 4, 3), np.float32))
    with pytest.raises(X3DError, match="shape"):
        to_rgb_uint8(np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(X3DError, match="NaN"):
        to_rgb_uint8(np.full((4, 4, 3), np.nan, np.float32))
    with pytest.raises(X3DError, match="expected"):
        to_rgb_uint8(np.full((4, 4, 3), -3.0, np.float32))
    with pytest.raises(X3DError, match="not found"):
        load_image(tmp_path / "missing.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(X3DError, match="cannot read"):
        load_image(bad)


def test_image_files(tmp_path):
    rgba = np.zeros((6, 5, 4), np.uint8)
    rgba[..., 1] = 255
    rgba[..., 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    Image.fromarray(np.full((6, 5), 40000, np.uint16)).save(tmp_path / "b.png")
    a = load_image(tmp_path / "a.png")
    assert a.shape == (6, 5, 3) and tuple(a[0, 0]) == (0, 255, 0)
    b = load_image(tmp_path / "b.png")
    assert b.shape == (6, 5, 3) and abs(int(b[0, 0, 0]) - round(40000 / 65535 * 255)) <= 1


def _params(seed=0):
    rng = np.random.default_rng(seed)
    return FlameParams.from_vector(rng.normal(size=284).astype(np.float32), cam=np.array([5.0, 0.0, 0.1]))


def test_params_backend_sources(tmp_path):
    p = _params()
    seq = FlameSequence.from_frames([p, _params(1)])
    seq.save(tmp_path / "seq.npz")
    assert np.allclose(load_reference_params(tmp_path / "seq.npz").to_vector(), p.to_vector())
    assert load_reference_params(seq).to_vector()[0] == p.to_vector()[0]
    folder = tmp_path / "clip"
    folder.mkdir()
    for name, arr in [("shapecode", seq.shape), ("expcode", seq.exp), ("posecode", seq.pose),
                      ("detailcode", seq.detail), ("cam", seq.cam)]:
        np.save(folder / f"{name}.npy", arr)
    r = reconstruct_reference(folder, backend="params")
    assert r.backend == "params" and np.allclose(r.params.to_vector(), p.to_vector())
    assert np.allclose(r.params.cam, p.cam)


def test_params_backend_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(X3DError, match="missing shapecode"):
        load_reference_params(tmp_path / "empty")
    with pytest.raises(X3DError):
        load_reference_params(tmp_path / "nope.npz")
    with pytest.raises(X3DError, match="unknown reconstruction backend"):
        reconstruct_reference(np.zeros((8, 8, 3), np.uint8), backend="magic")
