"""'landmarks' backend end to end on rendered FLAME heads (needs the MediaPipe face models).

Test faces are the dev FLAME head rendered with known parameters, skin-shaded (MediaPipe does not
find a flat grey mesh), so the recovered head pose and jaw can be checked against the truth.
"""

import os

import numpy as np
import pytest
import torch

from x3dtalker_core.assets import try_find_asset
from x3dtalker_core.errors import X3DError
from x3dtalker_core.flame import load_flame_model, load_masks
from x3dtalker_core.reconstruct import LandmarkReconstructor, reconstruct_reference
from x3dtalker_core.reconstruct.fitter import head_angles_deg
from x3dtalker_core.reconstruct.overlay import render_head

pytestmark = pytest.mark.skipif(
    try_find_asset("mediapipe_face_mesh") is None or try_find_asset("mediapipe_face_detector") is None,
    reason="MediaPipe face models not installed (python -m x3dtalker_core assets install-mediapipe)",
)


@pytest.fixture(scope="module")
def rec():
    return LandmarkReconstructor()


@pytest.fixture(scope="module")
def masks():
    return load_masks()


def render(rec, masks, pose, size=384, scale=4.5, centre=(0.0, 0.0), background=None, height=None, width=None):
    p = torch.tensor(pose, dtype=torch.float32)[None]
    with torch.no_grad():
        v = rec.model(pose=p)[0].numpy()
    h, w = height or size, width or size
    crop = np.array([centre[0], centre[1], size], np.float64)
    return render_head(v, rec.model.faces.numpy(), np.array([scale, 0.0, 0.0]), crop, h, w, masks, background)


def test_rendered_head_pose_and_jaw(rec, masks):
    pose = [0.1, 0.35, 0.05, 0.2, 0.0, 0.0]
    img = render(rec, masks, pose)
    r = reconstruct_reference(img, reconstructor=rec)
    truth = head_angles_deg(np.array(pose))
    assert r.num_faces == 1 and r.backend == "landmarks"
    assert r.residual_px < 3.0
    assert abs(r.head_angles[1] - truth[1]) < 6.0  # yaw (MediaPipe's points, not the embedding's exact ones)
    assert abs(r.head_angles[2] - truth[2]) < 6.0
    assert abs(np.degrees(r.params.jaw_pose[0]) - np.degrees(pose[3])) < 6.0
    assert r.params.cam is not None and 0.0 < r.confidence <= 1.0
    assert np.all(r.params.detail == 0)


def test_several_faces_largest_first(rec, masks):
    big = render(rec, masks, [0, 0.1, 0, 0.0, 0, 0], size=300, height=320, width=640)
    both = render(rec, masks, [0, -0.1, 0, 0.25, 0, 0], size=200, centre=(400.0, 40.0),
                  background=big, height=320, width=640)
    r0 = reconstruct_reference(both, reconstructor=rec)
    r1 = reconstruct_reference(both, reconstructor=rec, face_index=1)
    assert r0.num_faces == 2
    assert r0.bbox[0] < 320 < r1.bbox[0]  # the big face is on the left
    assert np.degrees(r1.params.jaw_pose[0]) > np.degrees(r0.params.jaw_pose[0]) + 5
    with pytest.raises(X3DError, match="out of range"):
        reconstruct_reference(both, reconstructor=rec, face_index=5)


def test_no_face(rec):
    with pytest.raises(X3DError, match="no face found"):
        reconstruct_reference(np.full((256, 256, 3), 128, np.uint8), reconstructor=rec)


def test_tiny_face_is_refused(rec, masks):
    small = render(rec, masks, [0, 0, 0, 0, 0, 0], size=60)
    img = np.full((512, 512, 3), 120, np.uint8)
    img[200:260, 200:260] = small
    with pytest.raises(X3DError, match="too small|no face found"):
        reconstruct_reference(img, reconstructor=rec)


PORTRAIT = os.path.join(os.path.dirname(__file__), "..", "example_workflows", "media", "x3dtalker_portrait.png")


def _portrait():
    from x3dtalker_core.reconstruct.image import load_image

    return load_image(PORTRAIT)


def test_upside_down_photo_is_refused_with_the_fix(rec):
    photo = _portrait()
    assert reconstruct_reference(photo, reconstructor=rec).confidence > 0.5
    with pytest.raises(X3DError, match="upside down.*rotate the photo 180 degrees"):
        reconstruct_reference(np.ascontiguousarray(photo[::-1, ::-1]), reconstructor=rec)


@pytest.mark.parametrize("canvas", [1024, 2048, 4096])
def test_60px_face_on_a_big_canvas_gets_the_size_message(rec, canvas):
    """A small face in a big photo is found (tiles at full resolution) and refused by its real size;
    at 90 px it is found and fitted."""
    from x3dtalker_core.reconstruct.image import resize_area

    photo = _portrait()
    face_px = rec.detector.detect(photo)[0].size
    for target, ok in ((60, False), (90, True)):
        small = resize_area(photo, target / face_px)
        img = np.full((canvas, canvas, 3), 128, np.uint8)
        img[canvas // 2: canvas // 2 + small.shape[0], canvas // 3: canvas // 3 + small.shape[1]] = small
        if ok:
            box = reconstruct_reference(img, reconstructor=rec).bbox
            assert abs(max(box[2] - box[0], box[3] - box[1]) - target) < 0.25 * target
        else:
            with pytest.raises(X3DError, match=r"too small \(\d+ px, need at least 64 px\)"):
                reconstruct_reference(img, reconstructor=rec)


def test_huge_8k_photo(rec, masks):
    face = render(rec, masks, [0.0, 0.2, 0.0, 0.1, 0, 0], size=270, height=270, width=480)
    huge = np.repeat(np.repeat(face, 16, axis=0), 16, axis=1)  # 7680 x 4320
    r = reconstruct_reference(huge, reconstructor=rec)
    assert r.image_size == (4320, 7680)
    assert r.residual_px < 3.0 * 16
    assert abs(r.head_angles[1] - head_angles_deg(np.array([0.0, 0.2, 0.0]))[1]) < 6.0


def test_astronaut_photo(rec):
    skimage = pytest.importorskip("skimage")
    path = os.path.join(os.path.dirname(skimage.__file__), "data", "astronaut.png")
    r = reconstruct_reference(path, reconstructor=rec)
    assert r.image_size == (512, 512)
    assert r.residual_px < 3.0


def test_mesh_ibug68_points_match_flames_68_landmarks(rec, masks):
    """The face-mesh stand-ins for the 68 iBUG landmarks (EMOCA's crop) sit where FLAME's own 68-point
    embedding projects on a rendered head, and EMOCA's crop from them matches the crop from the truth."""
    from x3dtalker_core.reconstruct.detector import MESH_TO_IBUG68
    from x3dtalker_core.reconstruct.fitter import emoca_crop
    from x3dtalker_core.reconstruct.overlay import project_orthographic

    assert len(set(MESH_TO_IBUG68.tolist())) == 68 and MESH_TO_IBUG68.max() < 468
    pose = [0.05, 0.15, 0.0, 0.1, 0.0, 0.0]
    img = render(rec, masks, pose)
    faces = rec.detector.detect(img)
    mesh = rec.detector.face_mesh(img, faces[0])
    with torch.no_grad():
        v = rec.model(pose=torch.tensor(pose, dtype=torch.float32)[None])
        truth = rec.model.landmarks68(v)[0].numpy()
    truth = project_orthographic(truth, np.array([4.5, 0.0, 0.0]), np.array([0.0, 0.0, 384.0]))[:, :2]
    ours = mesh.ibug68
    face = emoca_crop(truth)[2]
    inner = np.linalg.norm(ours[17:] - truth[17:], axis=1) / face  # brows, nose, eyes, lips
    assert np.median(inner) < 0.02 and inner.max() < 0.06, inner.round(3)
    jaw = np.linalg.norm(ours[:17] - truth[:17], axis=1) / face
    assert np.median(jaw) < 0.04 and jaw.max() < 0.08, jaw.round(3)
    crop, crop_truth = emoca_crop(ours), emoca_crop(truth)
    assert abs(crop[2] - crop_truth[2]) / face < 0.06
    assert np.abs(crop[:2] + crop[2] / 2 - crop_truth[:2] - crop_truth[2] / 2).max() / face < 0.05
    # the 468-point box reaches the forehead: a different, taller box than EMOCA's
    assert emoca_crop(mesh.points)[2] > crop[2] * 1.05
