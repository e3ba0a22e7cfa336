"""EMOCA v2 encoders: the published folder layout and key layout (a tiny random model saved like the real
download), checkpoint choice as EMOCA's loader makes it, and EMOCA's test-loader crop."""

import numpy as np
import pytest
import torch

from x3dtalker_core.errors import InvalidFileError
from x3dtalker_core.reconstruct.emoca import (EmocaConfig, EmocaEncoder, emoca_input, find_emoca_checkpoint,
                                              load_emoca)
from x3dtalker_core.reconstruct.fitter import emoca_crop

# Where the published EMOCA_v2_lr_mse_20 keeps its weights: Lightning's "val_loss/dataloader_idx_0" metric
# name puts a "/" in the file name, which becomes a sub-folder.
REAL_CKPT = "detail/checkpoints/deca-epoch=10-val_loss/dataloader_idx_0=3.25521111.ckpt"

TINY = dict(resnet_blocks=(1, 1, 1, 1), resnet_width=4, hidden=16)


class LightningHyperParams:  # stands in for the OmegaConf/Lightning objects a real .ckpt pickles
    def __init__(self):
        self.cfg = {"model": "emoca"}


def save_official_layout(folder, config, extra=True):
    torch.manual_seed(0)
    model = EmocaEncoder(config)
    state = {f"deca.{k}": v for k, v in model.state_dict().items()}
    if extra:  # what else the real file holds and the loader must skip
        state["deca.D_detail.conv.weight"] = torch.zeros(2, 2)
        state["deca.flame.shapedirs"] = torch.zeros(3)
    ckpt = folder / REAL_CKPT
    ckpt.parent.mkdir(parents=True)
    torch.save({"state_dict": state, "epoch": 10, "hyper_parameters": LightningHyperParams()}, ckpt)
    (folder / "cfg.yaml").write_text(
        "detail:\n  model:\n    n_shape: 100\n    n_exp: 50\n    n_detail: 128\n    exp_deca_jaw_pose: true\n"
        "    exp_deca_global_pose: false\n"
    )
    return model


def test_official_layout_loads_and_decodes(tmp_path):
    config = EmocaConfig(**TINY)
    ref = save_official_layout(tmp_path / "EMOCA_v2_lr_mse_20", config)
    model = load_emoca(tmp_path / "EMOCA_v2_lr_mse_20", config=config)
    for k, v in ref.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    image = np.random.default_rng(0).integers(0, 255, (300, 260, 3), dtype=np.uint8)
    x = emoca_input(image, np.array([20.0, 30.0, 200.0]))
    assert x.shape == (1, 3, 224, 224) and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    codes = model(x)
    assert codes.shape.shape == (1, 100) and codes.exp.shape == (1, 50) and codes.pose.shape == (1, 6)
    assert codes.cam.shape == (1, 3) and codes.detail.shape == (1, 128) and codes.light.shape == (1, 9, 3)
    # jaw comes from the expression encoder, global pose from the coarse one (exp_deca_jaw_pose)
    ref.eval()
    with torch.no_grad():
        flame = ref.E_flame(x)[0]
        expr = ref.E_expression(x)[0]
    assert np.allclose(codes.pose[0, :3], flame[200:203].numpy(), atol=1e-5)
    assert np.allclose(codes.pose[0, 3:], expr[50:53].numpy(), atol=1e-5)
    assert np.allclose(codes.exp[0], expr[:50].numpy(), atol=1e-5)


def test_full_size_architecture_matches_resnet50():
    enc = EmocaEncoder(EmocaConfig())
    sd = enc.state_dict()
    assert sd["E_flame.encoder.layer4.2.conv3.weight"].shape == (2048, 512, 1, 1)
    assert sd["E_flame.layers.0.weight"].shape == (1024, 2048)
    assert sd["E_flame.layers.2.weight"].shape == (236, 1024)
    assert sd["E_expression.layers.2.weight"].shape == (53, 1024)
    assert sd["E_detail.layers.2.weight"].shape == (128, 1024)
    assert "E_flame.encoder.layer1.0.downsample.0.weight" in sd


def test_config_from_yaml(tmp_path):
    save_official_layout(tmp_path / "m", EmocaConfig(**TINY))
    cfg = EmocaConfig.from_yaml(tmp_path / "m" / "cfg.yaml")
    assert cfg.exp_deca_jaw_pose and not cfg.exp_deca_global_pose and cfg.n_exp_code == 53


def test_wrong_checkpoint_is_a_clear_error(tmp_path):
    save_official_layout(tmp_path / "m", EmocaConfig(**TINY))
    with pytest.raises(InvalidFileError, match="shape"):
        load_emoca(tmp_path / "m", config=EmocaConfig(resnet_blocks=(1, 1, 1, 1), resnet_width=8, hidden=16))
    (tmp_path / "other" / "detail" / "checkpoints").mkdir(parents=True)
    torch.save({"state_dict": {"model.x": torch.zeros(1)}}, tmp_path / "other" / "detail" / "checkpoints" / "a.ckpt")
    with pytest.raises(InvalidFileError, match="not an EMOCA"):
        load_emoca(tmp_path / "other", config=EmocaConfig(**TINY))


def test_real_download_layout_is_found(tmp_path):
    folder = tmp_path / "EMOCA_v2_lr_mse_20"
    save_official_layout(folder, EmocaConfig(**TINY))
    assert find_emoca_checkpoint(folder) == folder / REAL_CKPT


def test_best_checkpoint_is_the_lowest_loss_as_emoca_picks(tmp_path):
    folder = tmp_path / "m"
    save_official_layout(folder, EmocaConfig(**TINY))
    ckpts = folder / "detail" / "checkpoints"
    for name in ("deca-epoch=11-val_loss/dataloader_idx_0=3.40000000.ckpt", "last.ckpt", "weird.ckpt"):
        (ckpts / name).parent.mkdir(parents=True, exist_ok=True)
        (ckpts / name).write_bytes(b"")
    # lower loss than the real one, but only in the coarse stage: the detail stage wins
    (folder / "coarse" / "checkpoints").mkdir(parents=True)
    (folder / "coarse" / "checkpoints" / "deca-epoch=01-val_loss=1.0.ckpt").write_bytes(b"")
    assert find_emoca_checkpoint(folder) == folder / REAL_CKPT
    (ckpts / "deca-epoch=12-val_loss/dataloader_idx_0=3.10000000.ckpt").parent.mkdir(exist_ok=True)
    (ckpts / "deca-epoch=12-val_loss/dataloader_idx_0=3.10000000.ckpt").write_bytes(b"")
    assert find_emoca_checkpoint(folder).name == "dataloader_idx_0=3.10000000.ckpt"
    # no detail stage: the coarse stage's best
    import shutil

    shutil.rmtree(folder / "detail")
    assert find_emoca_checkpoint(folder).name == "deca-epoch=01-val_loss=1.0.ckpt"


def test_crop_and_resampling_match_emocas_test_loader():
    """EMOCA's TestData: kpt68 box (mean side x 1.1), x 1.25 truncated to int, then skimage's similarity
    warp of the crop corners onto pixels 0 and 223 (bilinear, black outside)."""
    from skimage.transform import estimate_transform, warp

    rng = np.random.default_rng(3)
    image = rng.integers(0, 255, (300, 260, 3), dtype=np.uint8)
    lmk = rng.uniform([40, 60], [200, 280], (68, 2))  # detector coordinates: pixel centres at +0.5
    crop = emoca_crop(lmk)
    # EMOCA's arithmetic on the same landmarks in array-index coordinates (centres at 0)
    idx = lmk - 0.5
    left, top = idx.min(0)
    right, bottom = idx.max(0)
    old_size = (right - left + bottom - top) / 2 * 1.1
    centre = np.array([right - (right - left) / 2.0, bottom - (bottom - top) / 2.0])
    size = int(old_size * 1.25)
    assert crop[2] == size
    assert np.allclose(crop[:2] - 0.5, centre - size / 2)
    src = np.array([[centre[0] - size / 2, centre[1] - size / 2], [centre[0] - size / 2, centre[1] + size / 2],
                    [centre[0] + size / 2, centre[1] - size / 2]])
    dst = np.array([[0, 0], [0, 223], [223, 0]])
    tform = estimate_transform("similarity", src, dst)
    expected = warp(image / 255.0, tform.inverse, output_shape=(224, 224)).transpose(2, 0, 1)
    ours = emoca_input(image, crop)[0].numpy()
    assert ours.shape == (3, 224, 224)
    assert np.abs(ours - expected).max() < 1e-5
