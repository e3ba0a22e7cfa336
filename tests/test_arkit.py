"""ARKit shapes on FLAME topology, expression spaces, ARKit -> model conversion and the ARKit-52 solve."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import shared_models_dir
from x3dtalker_core.errors import X3DError
from x3dtalker_core.flame import FlameModel, flame_data_from_arrays, read_flame_arrays
from x3dtalker_core.flame.arkit import (
    ARKIT52_NAMES,
    ARKIT_EXPRESSION_NAMES,
    ASSET_PATH,
    arkit_to_model,
    convert_expression,
    derive_arkit_shapes_asset,
    expression_space_of,
    flame_displacements,
    load_arkit_shapes,
    mirror_name,
    solve_arkit,
    symmetric_pairs,
)

LAM_FILE = "flame/found/lam_arkit51_blendshapes_flame_topology/lam_p2-1_arkit51_flame5023.npz"
NAMED = [ARKIT52_NAMES.index(n) for n in ARKIT_EXPRESSION_NAMES]


def smooth_weights(frames: int, seed: int = 0, columns: int = 50) -> np.ndarray:
    """(frames, columns) ARKit-space expression: smooth curves in [0, 1] on the 47 named columns."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / 25.0
    w = np.zeros((frames, columns), np.float32)
    n = len(ARKIT_EXPRESSION_NAMES)
    w[:, :n] = np.clip(0.3 + 0.3 * np.sin(t * rng.uniform(1, 6, n) + rng.uniform(0, 6, n)), 0, 1)
    return w


def test_names_and_shapes():
    assert len(ARKIT52_NAMES) == len(set(ARKIT52_NAMES)) == 52
    assert ARKIT52_NAMES[0] == "eyeBlinkLeft" and ARKIT52_NAMES[-1] == "tongueOut"
    assert len(ARKIT_EXPRESSION_NAMES) == 47 and "jawOpen" not in ARKIT_EXPRESSION_NAMES
    assert mirror_name("mouthSmileLeft") == "mouthSmileRight" and mirror_name("jawOpen") == "jawOpen"
    assert len(symmetric_pairs(ARKIT52_NAMES)) == 16  # 20 mirror pairs less 4 sideways ones
    assert (ARKIT52_NAMES.index("mouthLeft"), ARKIT52_NAMES.index("mouthRight")) not in symmetric_pairs(ARKIT52_NAMES)

    shapes = load_arkit_shapes()
    assert shapes.deltas.shape == (51, 5023, 3) and "tongueOut" not in shapes.names
    assert list(shapes.names) == [n for n in ARKIT52_NAMES if n in shapes.names]  # enum order
    size_mm = {n: np.linalg.norm(d, axis=1).max() * 1000 for n, d in zip(shapes.names, shapes.deltas)}
    assert 45 < size_mm["jawOpen"] < 55 and 30 < size_mm["mouthClose"] < 36
    smile = shapes.select(["mouthSmileLeft"])[0]
    moved = np.linalg.norm(smile, axis=1) > 1e-3
    template_x = read_flame_arrays(shared_models_dir() / "flame/flame_dev.npz")["v_template"][:, 0] \
        if shared_models_dir() else None
    if template_x is not None:
        assert template_x[moved].mean() > 0.01  # the subject's left is +x
    assert smile[moved, 1].mean() > 0  # a smile lifts the corner
    assert not shapes.select(["tongueOut"]).any()
    with pytest.raises(X3DError, match="not ARKit"):
        shapes.select(["smile"])


def test_shipped_asset_is_the_derived_form(tmp_path):
    models = shared_models_dir()
    if models is None or not (models / LAM_FILE).is_file():
        pytest.skip("the LAM source file is in the project's shared model folder only")
    derived = derive_arkit_shapes_asset(models / LAM_FILE, tmp_path / "a.npz")
    load_arkit_shapes.cache_clear()
    np.testing.assert_array_equal(load_arkit_shapes(derived).deltas, load_arkit_shapes(ASSET_PATH).deltas)
    with np.load(models / LAM_FILE) as src:
        names = [str(n) for n in src["names"]]
        err = np.abs(load_arkit_shapes().select(names) - src["deltas"]).max()
    assert err <= 1.01e-6  # 2 um steps


def test_tiny_model_is_pca_and_refused_for_arkit(tiny_flame):
    assert expression_space_of(tiny_flame) == "flame-pca"
    with pytest.raises(X3DError, match="5023 vertices"):
        arkit_to_model(tiny_flame, ("mouthSmileLeft",))
    exp, jaw = convert_expression(np.ones((3, 50)), np.zeros((3, 3)), "flame-pca", tiny_flame)
    assert exp.shape == (3, 50) and (exp == 1).all()
    with pytest.raises(X3DError, match="unknown expression space"):
        convert_expression(np.ones((3, 50)), np.zeros((3, 3)), "facs", tiny_flame)


def test_dev_head_speaks_arkit_and_passes_through(dev_flame):
    assert dev_flame.expression_names[:47] == ARKIT_EXPRESSION_NAMES
    assert expression_space_of(dev_flame) == "arkit"
    w = smooth_weights(10)
    jaw = np.random.default_rng(1).uniform(0, 0.3, (10, 3)).astype(np.float32)
    exp, jaw_out = convert_expression(w, jaw, "arkit", dev_flame)
    np.testing.assert_array_equal(exp, w)
    np.testing.assert_array_equal(jaw_out, jaw)
    # The fitted map reproduces the dev head's own named columns (up to the asset's 1 um rounding).
    rows = arkit_to_model(dev_flame, ARKIT_EXPRESSION_NAMES)
    np.testing.assert_allclose(rows[:, :47], np.eye(47), atol=1e-3)
    assert np.abs(rows[:, 47:]).max() < 1e-3  # no jaw, no unused columns
    assert arkit_to_model(dev_flame, ARKIT_EXPRESSION_NAMES) is rows  # cached


def mixed_dev_head(seed: int = 0) -> tuple[FlameModel, np.ndarray]:
    """The dev head with its 50 expression columns mixed by a random orthogonal matrix (a FLAME-PCA-like file)."""
    arrays = read_flame_arrays(shared_models_dir() / "flame/flame_dev.npz")
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(50, 50)))
    dirs = arrays["shapedirs"][:, :, :350].astype(np.float64)
    dirs[:, :, 300:] = dirs[:, :, 300:] @ q
    mixed = {k: v for k, v in arrays.items() if not k.startswith("x3d_")}
    mixed["shapedirs"] = dirs.astype(np.float32)
    return FlameModel(flame_data_from_arrays(mixed, "mixed")), q


def test_arkit_weights_on_a_mixed_basis_give_the_same_lips(dev_flame, dev_masks):
    mixed, q = mixed_dev_head()
    assert expression_space_of(mixed) == "flame-pca"
    w = smooth_weights(16, seed=2)
    jaw = np.zeros((16, 3), np.float32)
    jaw[:, 0] = np.linspace(0.0, 0.3, 16)
    exp, jaw_out = convert_expression(w, jaw, "arkit", mixed)
    assert exp.shape == (16, 50)
    np.testing.assert_allclose(exp, w @ q, atol=2e-3)  # the inverse mix, found from vertices alone
    lips = dev_masks["lips"]
    ref = flame_displacements(dev_flame, w, jaw)[:, lips]
    got = flame_displacements(mixed, exp, jaw_out)[:, lips]
    err_mm = np.linalg.norm(ref - got, axis=-1).max() * 1000
    assert err_mm < 0.02, f"lip vertices differ by {err_mm:.4f} mm"


def test_jaw_open_is_a_jaw_rotation(dev_flame):
    (row,) = arkit_to_model(dev_flame, ("jawOpen",))
    assert 0.2 < row[-3] < 0.5  # radians of opening, the jaw's own degree of freedom
    assert abs(row[-2]) < 0.02 and abs(row[-1]) < 0.02
    shape = load_arkit_shapes().select(["jawOpen"])[0]
    fitted = flame_displacements(dev_flame, row[None, :-3], row[None, -3:])[0]
    rms = lambda d: np.sqrt((np.linalg.norm(d, axis=1) ** 2).mean()) * 1000  # noqa: E731
    assert rms(fitted - shape) < 0.35 * rms(shape)


def test_solve_recovers_arkit_weights(dev_flame):
    w = smooth_weights(40, seed=3)
    jaw = np.zeros((40, 3), np.float32)
    solve = solve_arkit(dev_flame, w, jaw, temporal=0.0, symmetry=0.0, ridge=0.0, tolerance=1e-7, max_iterations=3000)
    assert solve.weights.shape == (40, 52) and solve.weights.min() >= 0 and solve.weights.max() <= 1
    assert solve.rmse_mm.mean() < 0.02, solve.summary()
    assert np.abs(solve.weights[:, NAMED] - w[:, :47]).mean() < 0.01
    assert not solve.weights[:, ARKIT52_NAMES.index("tongueOut")].any()


def test_solve_jaw_and_regularisers(dev_flame):
    t = 50
    w = smooth_weights(t, seed=4)
    for a, b in symmetric_pairs(ARKIT_EXPRESSION_NAMES):
        w[:, b] = w[:, a]  # a symmetric face
    jaw = np.zeros((t, 3), np.float32)
    jaw[:, 0] = 0.15 + 0.12 * np.sin(np.arange(t) / 4.0)
    rough = solve_arkit(dev_flame, w, jaw, temporal=0.0, symmetry=0.0)
    smooth = solve_arkit(dev_flame, w, jaw, temporal=1.0, symmetry=1.0)
    jaw_open = ARKIT52_NAMES.index("jawOpen")
    assert np.corrcoef(rough.weights[:, jaw_open], jaw[:, 0])[0, 1] > 0.95
    jitter = lambda x: np.abs(np.diff(x, axis=0)).mean()  # noqa: E731
    assert jitter(smooth.weights) < jitter(rough.weights)
    pairs = symmetric_pairs(ARKIT52_NAMES)
    asym = lambda x: np.mean([np.abs(x[:, a] - x[:, b]).mean() for a, b in pairs])  # noqa: E731
    assert asym(smooth.weights) <= asym(rough.weights)
    assert smooth.rmse_mm.mean() >= rough.rmse_mm.mean() - 1e-4  # regularisation trades accuracy

    # ARKit-speaking sequences keep their named weights; only the jaw shapes are solved.
    passed = solve_arkit(dev_flame, w, jaw, from_space="arkit")
    np.testing.assert_allclose(passed.weights[:, NAMED], w[:, :47], atol=1e-6)
    assert np.corrcoef(passed.weights[:, jaw_open], jaw[:, 0])[0, 1] > 0.95
    with pytest.raises(X3DError, match="jaw"):
        solve_arkit(dev_flame, w, jaw[:3])


def mixed_basis_model(seed: int = 5) -> tuple[FlameModel, np.ndarray]:
    """The dev head with its expression basis rotated and rescaled (0.3-3x per new coefficient): a
    FLAME-format file whose coefficients are PCA-like, not ARKit. Returns the model and the (50, 50) mix."""
    arrays = read_flame_arrays(shared_models_dir() / "flame/flame_dev.npz")
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(50, 50)))
    mix = q * rng.uniform(0.3, 3.0, 50)[None]  # rotation, then a different scale per new coefficient
    dirs = arrays["shapedirs"][:, :, :350].astype(np.float64)
    dirs[:, :, 300:] = dirs[:, :, 300:] @ mix
    mixed_arrays = {k: v for k, v in arrays.items() if not k.startswith("x3d_")}
    mixed_arrays["shapedirs"] = dirs.astype(np.float32)
    mixed = FlameModel(flame_data_from_arrays(mixed_arrays, "mixed-scaled"))
    assert expression_space_of(mixed) == "flame-pca"
    return mixed, mix


def test_generation_on_a_mixed_basis_matches_the_dev_head(dev_flame):
    """End to end on a PCA-like model: the photo's expression (a smile with parted lips, here in the mixed
    basis' own coefficients) is handed to the ARKit-speaking bundled checkpoint as ARKit weights, and its
    ARKit motion comes back in the model's coefficients: the lips move as on the dev head, in mm."""
    pytest.importorskip("hama")
    from pathlib import Path

    from x3dtalker_core.audio import extract_features, load_audio
    from x3dtalker_core.eval.lipsync import inner_lip_gap
    from x3dtalker_core.flame import vertices_for_sequence
    from x3dtalker_core.flame.arkit import expression_in_space
    from x3dtalker_core.model import load_generator
    from x3dtalker_core.params import FlameParams
    from x3dtalker_core.pipeline import generate_motion

    mixed, mix = mixed_basis_model()
    weights = np.zeros(50, np.float32)
    for name, w in (("mouthSmileLeft", 0.6), ("mouthSmileRight", 0.6), ("mouthRollLower", 0.2)):
        weights[ARKIT_EXPRESSION_NAMES.index(name)] = w
    # The same face in the mixed model's coefficients: dirs_mixed @ e == dirs_dev @ weights.
    own = np.linalg.solve(mix, weights.astype(np.float64)).astype(np.float32)
    recovered = expression_in_space(own[None], "arkit", mixed)[0]  # what the network is given on `mixed`
    np.testing.assert_allclose(recovered, weights, atol=1e-3)

    speech = Path(__file__).resolve().parents[1] / "example_workflows" / "media" / "x3dtalker_speech.wav"
    gen = load_generator(None, "cpu")
    assert gen.config.expression_space == "arkit"
    feats = extract_features(load_audio(str(speech)), linguistic="ppg", emotion="prosody")
    gaps = {}
    # The dev head gets the recovered weights as well: the network amplifies even 1e-4 differences of its
    # reference into tenths of a mm, and this test is about the two conversions, not that sensitivity.
    for name, model, exp in (("dev", dev_flame, recovered), ("mixed", mixed, own)):
        ref = FlameParams(shape=np.zeros(100), exp=exp, pose=np.zeros(6), detail=np.zeros(128))
        seq = generate_motion(gen, ref, feats, steps=8, seed=0, flame_model=model)
        gaps[name] = inner_lip_gap(vertices_for_sequence(model, seq.params))
    assert np.ptp(gaps["dev"]) > 5.0  # the lips really move
    err = np.abs(gaps["dev"] - gaps["mixed"]).max()
    assert err < 0.02, f"inner-lip gap differs by up to {err:.4f} mm"


def test_speech_lips_match_on_a_mixed_basis_in_mm(dev_flame):
    """A fixed ARKit-space speech motion (the corpus teacher on a phrase with p/b/m, open and rounded vowels,
    pauses) on a FLAME file whose expression basis is the dev head's rotated *and* rescaled: the inner-lip gap
    after the conversion generation uses (pipeline.expression_for_model) matches the dev head's within 0.02 mm."""
    from x3dtalker_core.data.synth.face import lip_tracks
    from x3dtalker_core.data.synth.tts import Phone
    from x3dtalker_core.data.synth.visemes import jaw_track
    from x3dtalker_core.eval.lipsync import inner_lip_gap
    from x3dtalker_core.flame import vertices_for_sequence
    from x3dtalker_core.params import EXP, JAW_POSE, PARAM_DIM, FlameSequence
    from x3dtalker_core.pipeline import expression_for_model

    mixed, _ = mixed_basis_model()

    words = [("pau", 0.3), ("m", 0.08), ("aa", 0.18), ("p", 0.07), ("ow", 0.2), ("b", 0.06), ("iy", 0.15),
             ("pau", 0.45), ("f", 0.09), ("ae", 0.2), ("m", 0.1), ("uw", 0.2), ("pau", 0.4)]
    phones, t = [], 0.0
    for name, d in words:
        phones.append(Phone(name, t, t + d))
        t += d
    frames = int(round(t * 25))
    jaw = jaw_track(phones, frames)
    params = np.zeros((frames, PARAM_DIM), np.float32)
    params[:, JAW_POSE.start] = jaw
    params[:, EXP][:, :len(ARKIT_EXPRESSION_NAMES)] = lip_tracks(phones, frames, jaw)
    seq = FlameSequence(params, 25.0, metadata={})
    base = np.zeros((1, PARAM_DIM), np.float32)

    on_dev = expression_for_model(seq, base, "arkit", dev_flame)  # the dev head speaks ARKit: passes through
    on_mixed = expression_for_model(seq, base, "arkit", mixed)
    assert on_mixed.metadata["expression_converted_from"] == "arkit"
    gap_dev = inner_lip_gap(vertices_for_sequence(dev_flame, on_dev.params))
    gap_mixed = inner_lip_gap(vertices_for_sequence(mixed, on_mixed.params))
    assert gap_dev.min() < 1.5 and gap_dev.max() > 12.0  # the motion really closes and opens the lips
    err = np.abs(gap_dev - gap_mixed).max()
    assert err < 0.02, f"inner-lip gap differs by up to {err:.4f} mm"
