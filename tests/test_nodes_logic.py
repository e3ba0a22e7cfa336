"""Node execute logic as plain functions (no ComfyUI): every node's work on tiny models and real files.

Everything comes from the pack's own namespace (``x3dtalker_pack.x3dtalker_core``) so the objects the
functions exchange are the classes they check against.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import tiny_generator
from pack_loader import pack_module

core = pack_module("x3dtalker_core")
flame = pack_module("x3dtalker_core.flame")
params_mod = pack_module("x3dtalker_core.params")
model_mod = pack_module("x3dtalker_core.model")
audio_logic = pack_module("nodes.logic.audio")
gen_logic = pack_module("nodes.logic.generate")
ctl_logic = pack_module("nodes.logic.control")
ren_logic = pack_module("nodes.logic.render")
ref_logic = pack_module("nodes.logic.reference")
files = pack_module("nodes.logic.files")
X3DError = pack_module("x3dtalker_core.errors").X3DError


def _have_flame() -> bool:
    return core.assets.try_find_asset("flame_model") is not None


@pytest.fixture(scope="module")
def dev_model():
    if not _have_flame():
        pytest.skip("X3DTALKER_MODELS does not point at a folder with flame/")
    return flame.load_flame_model()


@pytest.fixture(scope="module")
def speech():
    """2 s of a voiced, syllable-modulated tone as a ComfyUI AUDIO dict at 22.05 kHz."""
    sr = 22050
    t = np.arange(int(2.0 * sr)) / sr
    wave = 0.4 * np.sin(2 * np.pi * 140 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) ** 2
    return {"waveform": torch.from_numpy(wave.astype(np.float32)).reshape(1, 1, -1), "sample_rate": sr}


@pytest.fixture(scope="module")
def features(speech):
    calls = []
    feats = audio_logic.encode_audio(speech, "mel", "prosody", progress=lambda d, t: calls.append((d, t)))
    assert calls and calls[-1][0] == calls[-1][1]
    return feats


@pytest.fixture(scope="module")
def generator(features):
    return tiny_generator(model_mod, features)


@pytest.fixture(scope="module")
def reference():
    rng = np.random.default_rng(1)
    return params_mod.FlameParams(shape=rng.normal(size=100) * 0.5, exp=rng.normal(size=50) * 0.3,
                                  pose=np.zeros(6), detail=np.zeros(128), cam=np.array([9.0, 0.0, 0.01]))


def test_audio_features_match_clip_length(features):
    assert features.num_frames == 50 and features.linguistic_encoder == "mel"
    with pytest.raises(X3DError, match="AUDIO"):
        audio_logic.encode_audio("not an audio dict")


def test_audio_dict_roundtrip():
    d = audio_logic.audio_dict(np.linspace(-1, 1, 1600, dtype=np.float32))
    assert d["waveform"].shape == (1, 1, 1600) and d["sample_rate"] == 16000
    assert np.allclose(audio_logic.mono_16k(d), np.linspace(-1, 1, 1600), atol=1e-6)


def test_generate_is_seeded_and_controls_apply(generator, reference, features, dev_model):
    steps = []
    a = gen_logic.generate_motion(generator, reference, features, steps=2, seed=3,
                                  progress=lambda d, t: steps.append((d, t)))
    b = gen_logic.generate_motion(generator, reference, features, steps=2, seed=3)
    c = gen_logic.generate_motion(generator, reference, features, steps=2, seed=4)
    assert a.params.shape == (50, 284) and np.array_equal(a.params, b.params) and not np.array_equal(a.params, c.params)
    assert steps[-1][0] == steps[-1][1]
    assert a.cam is not None and np.allclose(a.cam[0], reference.cam)

    templates = ctl_logic.emotion_templates(dev_model)
    happy = ctl_logic.emotion_constant("happy", 1.0, templates)
    e = gen_logic.generate_motion(generator, reference, features, steps=2, seed=3, emotion=happy)
    # The emotion moves the expression, and the delta is the template blend (the model adds the same deltas).
    moved = e.exp - a.exp
    expected = ctl_logic.emotion_templates(dev_model).get("happy") - reference.exp
    assert np.corrcoef(moved.mean(0), expected)[0, 1] > 0.9
    assert e.metadata["emotion_control"]["keyframes"][0][1] == "happy"

    pose = ctl_logic.pose_from_preset("rhythmic_nods", features, seed=1, strength=1.5)
    p = gen_logic.generate_motion(generator, reference, features, steps=2, seed=3, head_pose=pose)
    assert np.array_equal(p.jaw_pose, a.jaw_pose) and not np.allclose(p.head_pose, a.head_pose)
    assert p.metadata["head_pose"]["preset"] == "rhythmic_nods"

    # an even window is what the core rounds up to the next odd one, not an error
    even = gen_logic.generate_motion(generator, reference, features, steps=1, smooth_window=6)
    odd = gen_logic.generate_motion(generator, reference, features, steps=1, smooth_window=7)
    assert np.allclose(even.params, odd.params)
    calls = []
    with pytest.raises(X3DError, match=r"smoothing window \(3\) must be larger"):  # the core's rule, before sampling
        gen_logic.generate_motion(generator, reference, features, steps=1, smooth_window=3, smooth_order=3,
                                  progress=lambda d, t: calls.append(d))
    assert calls == []


def test_generate_puts_motion_in_the_flame_models_expression_space(generator, reference, features, dev_model):
    """With the loaded FLAME model the node converts as the generate command does (pipeline.generate_motion)."""
    arkit = pack_module("x3dtalker_core.flame.arkit")
    pipeline = pack_module("x3dtalker_core.pipeline")

    own = generator.config.expression_space
    target = arkit.expression_space_of(dev_model)
    plain = gen_logic.generate_motion(generator, reference, features, steps=1, seed=2)
    seq = gen_logic.generate_motion(generator, reference, features, steps=1, seed=2, flame_model=dev_model)
    assert plain.metadata["expression_space"] == own
    assert seq.metadata["expression_space"] == target
    if target != own:
        assert seq.metadata["expression_converted_from"] == own
    cli = pipeline.generate_motion(generator, reference, features, steps=1, seed=2, smoothing=(7, 2),
                                   flame_model=dev_model)
    assert np.array_equal(seq.params, cli.params) and seq.metadata == cli.metadata


def test_generate_cancel_stops(generator, reference, features):
    class Stop(Exception):
        pass

    def cancel():
        raise Stop

    with pytest.raises(Stop):
        gen_logic.generate_motion(generator, reference, features, steps=2, cancel=cancel)


def test_emotion_keyframes_and_errors(dev_model):
    templates = ctl_logic.emotion_templates(dev_model)
    keys = ctl_logic.emotion_keyframes("0:neutral:0, 1:happy:1.5; 2:sad", templates, transition_s=0.5)
    assert [k.emotion for k in keys.keyframes] == ["neutral", "happy", "sad"]
    with pytest.raises(X3DError):
        ctl_logic.emotion_keyframes("1:happy, 0:sad", templates)
    assert set(ctl_logic.EMOTION_NAMES) <= set(templates.names)


def test_pose_preset_without_audio_and_plot():
    traj = ctl_logic.pose_from_preset("gentle_sway", None, duration_s=2.0, seed=0)
    assert traj.num_frames == 50
    img = ctl_logic.pose_plot(traj, 320, 120)
    assert img.shape == (1, 120, 320, 3) and 0.0 <= float(img.min()) and float(img.max()) <= 1.0
    assert "frames" in ctl_logic.pose_summary(traj)
    with pytest.raises(X3DError, match="preset"):
        ctl_logic.pose_from_preset("moonwalk", None)


def test_pose_llm_unreachable_falls_back():
    # Port 9 (discard) on localhost: connection refused at once; the node falls back to the preset.
    traj = ctl_logic.pose_from_llm("calm anchor", "http://127.0.0.1:9/v1", "m", duration_s=1.0,
                                   fallback_preset="calm", timeout_s=2.0)
    assert traj.metadata.get("preset") == "calm" and "warning" in traj.metadata
    with pytest.raises(X3DError):
        ctl_logic.pose_from_llm("   ", "http://127.0.0.1:9/v1", "m")


@pytest.fixture(scope="module")
def sequence(generator, reference, features):
    return gen_logic.generate_motion(generator, reference, features, steps=2, seed=0)


def _decode_video(path):
    import av

    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        has_audio = len(c.streams.audio) > 0
    return np.stack(frames), has_audio


def test_render_videos_are_files_with_audio(sequence, dev_model, speech, tmp_path):
    frames = []
    out = ren_logic.render_videos(sequence, dev_model, tmp_path / "a", 64, 48, "fitted", audio=speech,
                                  progress=lambda d, t: frames.append(d))
    assert set(out.files) == {"preview", "depth"} and out.fps == 25.0 and out.frames == 50
    assert not (tmp_path / "a" / "normals.mp4").exists()          # switched off: never rendered
    depth, has_audio = _decode_video(out.files["depth"])
    assert depth.shape == (50, 48, 64, 3) and has_audio
    assert depth.max() > 100 and depth[:, 0, 0].max() < 8          # head bright, background black
    assert frames[-1] == 50
    static = ren_logic.render_videos(sequence, dev_model, tmp_path / "b", 32, 32, "static", normals=True, mask=True)
    assert set(static.files) == {"preview", "depth", "normals", "mask"}
    assert _decode_video(static.files["normals"])[0].mean() > 1

    def stop():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ren_logic.render_videos(sequence, dev_model, tmp_path / "c", 32, 32, "static", cancel=stop)
    assert not list((tmp_path / "c").glob("*.mp4"))                # nothing half-written
    with pytest.raises(X3DError, match="colour"):
        ren_logic.parse_colour("blue")


def test_wan_windows(sequence, dev_model, speech):
    wan = ren_logic.render_for_wan(sequence, dev_model, "14b", 70, 50, length=33, audio=speech)
    assert wan.fps == 16.0 and wan.num_frames == 33 and (wan.width, wan.height) == (64, 48)
    assert wan.audio["waveform"].shape[-1] == round(33 / 16 * 16000) and (wan.window, wan.windows) == (0, 1)
    # 2 s at 16 fps = 32 frames: windows of 17 frames -> 2 windows; the second starts at 17/16 s.
    first = ren_logic.render_for_wan(sequence, dev_model, "14b", 64, 48, length=17, audio=speech, window=0)
    second = ren_logic.render_for_wan(sequence, dev_model, "14b", 64, 48, length=17, audio=speech, window=1)
    assert (first.windows, second.windows) == (2, 2) and second.num_frames == 17 and second.motion_frames == 15
    assert second.start_s == pytest.approx(17 / 16)
    cut = round(17 / 16 * 16000)
    wave = ren_logic.mono_16k(speech)
    assert np.allclose(second.audio["waveform"].reshape(-1).numpy()[:1000], wave[cut:cut + 1000], atol=1e-4)
    assert not torch.equal(first.depth[-1], second.depth[0])
    with pytest.raises(X3DError, match="2 window"):
        ren_logic.render_for_wan(sequence, dev_model, "14b", 64, 48, length=17, window=2)
    wan5 = ren_logic.render_for_wan(sequence, dev_model, "5b", 64, 64, length=121, trim=True)
    assert wan5.fps == 24.0 and wan5.num_frames == 45 and wan5.audio is None
    assert ren_logic.wan_length_warning(81) is None and "81" in ren_logic.wan_length_warning(401)


def test_exports_and_curves(sequence, dev_model, tmp_path):
    path, rel = files.next_output_path(tmp_path, "3dxtalker/head", ".glb")
    assert rel == "3dxtalker/head_00001_.glb"
    seen = []
    ren_logic.export_glb_file(sequence, dev_model, path, progress=lambda d, t: seen.append((d, t)))
    rig = pack_module("x3dtalker_core.export.rig_glb")
    rigged = rig.read_rigged_glb(path)  # the default: skin + named morph targets
    assert rigged.vertices.shape[0] == sequence.num_frames and seen[-1] == (1, 1)
    # The rig holds one identity (the clip's mean shape; this untrained generator's shape drifts per frame,
    # a trained one's does not): with the shape held, skin + morph targets reproduce FLAME (to a fraction of
    # a mm even at this generator's 1.7 rad head turns; test_export_glb pins 0.05 mm on talking motion).
    held = sequence.params.copy()
    held[:, params_mod.SHAPE] = held[:, params_mod.SHAPE].mean(0)
    held = params_mod.FlameSequence(held, sequence.fps, sequence.cam, sequence.metadata)
    ren_logic.export_glb_file(held, dev_model, tmp_path / "held.glb")
    assert rig.rig_error_mm(tmp_path / "held.glb", held, dev_model)["max_mm"] < 1.0
    exact_path = tmp_path / "exact.glb"
    seen.clear()
    ren_logic.export_glb_file(sequence, dev_model, exact_path, "exact", progress=lambda d, t: seen.append((d, t)))
    anim = pack_module("x3dtalker_core.render.export").read_glb_animation(exact_path)
    assert anim.vertices.shape[0] == sequence.num_frames
    assert seen[-1] == (sequence.num_frames + 1, sequence.num_frames + 1) and len(seen) >= 2
    # Cancel during the exact decode: the export stops and leaves no file.
    stopped = tmp_path / "stopped.glb"
    with pytest.raises(X3DError, match="cancelled"):
        ren_logic.export_glb_file(sequence, dev_model, stopped, "exact", cancel=lambda: True)
    assert not stopped.exists() and not list(tmp_path.glob("stopped*"))
    assert files.next_output_path(tmp_path, "3dxtalker/head", ".glb")[1] == "3dxtalker/head_00002_.glb"
    with pytest.raises(X3DError):
        files.next_output_path(tmp_path, "../escape", ".glb")

    npz, _ = files.next_output_path(tmp_path, "p", ".npz")
    ren_logic.save_params_file(sequence, npz)
    ref, seq = ref_logic.load_params(str(npz), frame=3)
    assert np.allclose(seq.params, sequence.params, atol=1e-6) and np.allclose(ref.to_vector(), sequence.params[3])

    curves = ren_logic.motion_curves(sequence, max_points=20)
    assert curves["frames"] == 50 and len(curves["time"]) == 20 == len(curves["series"]["jaw"])


def test_file_fingerprint_changes_with_content(tmp_path):
    f = tmp_path / "a.npz"
    f.write_bytes(b"1")
    one = files.file_fingerprint(f)
    f.write_bytes(b"22")
    assert files.file_fingerprint(f) != one and files.file_fingerprint(tmp_path / "nope").startswith("missing:")


def test_first_image_and_reconstruct(dev_model):
    img = torch.rand(2, 20, 30, 3)
    assert ref_logic.first_image_uint8(img).shape == (20, 30, 3)
    with pytest.raises(X3DError):
        ref_logic.first_image_uint8(torch.rand(20, 30))
    if core.assets.try_find_asset("mediapipe_face_mesh") is None:
        pytest.skip("MediaPipe face models not installed")
    from pack_loader import pack_module as pm

    overlay = pm("x3dtalker_core.reconstruct.overlay")
    masks = flame.load_masks()
    with torch.no_grad():
        v = dev_model(pose=torch.zeros(1, 6))[0].numpy()
    photo = overlay.render_head(v, dev_model.faces.numpy(), np.array([4.5, 0, 0]), np.array([0, 0, 384.0]),
                                384, 384, masks)
    fit = ref_logic.image_to_flame(torch.from_numpy(photo / 255.0).float()[None], dev_model)
    assert fit.overlay.shape == (1, 384, 384, 3) and fit.confidence > 0.3 and "landmarks" in fit.summary
    assert fit.params.cam is not None and "landmark error" in fit.summary
    blank = torch.full((1, 128, 128, 3), 0.5)
    with pytest.raises(X3DError):
        ref_logic.image_to_flame(blank, dev_model)

