"""The frame VAE: shapes, a real training signal, save/load, PSNR."""
import math
from dataclasses import replace

import pytest
import torch

from model.vae import VAEConfig, build_vae, decode, encode, psnr
from tv2tv_env.errors import UserError
from tv2tv_env.training.args import VAE_ARGS
from tv2tv_env.training.vae import heldout_psnr, train_vae

TINY = VAEConfig(block_out_channels=(16, 32), layers_per_block=1, latent_channels=4, norm_num_groups=8)


def steps(n, **kw):
    """The VAE's training settings for `n` steps on the CPU in fp32 (repeatable)."""
    return replace(VAE_ARGS, max_steps=n, device="cpu", precision="fp32", **kw)


def test_psnr():
    a = torch.randint(0, 256, (2, 8, 8, 3), dtype=torch.uint8)
    assert math.isinf(psnr(a, a))
    b = a.clone()
    b[:, 0, 0, 0] ^= 1
    assert 50 < psnr(a, b) < math.inf


def test_encode_decode_shapes():
    vae = build_vae(TINY)
    x = torch.randint(0, 256, (3, 32, 32, 3), dtype=torch.uint8)
    z = encode(vae, x)
    assert z.shape == (3, 4, 16, 16)
    assert decode(vae, z).shape == x.shape and decode(vae, z).dtype == torch.uint8


@pytest.mark.slow
def test_training_improves_and_reloads(doom_data, tmp_path):
    from diffusers import AutoencoderKL

    from tv2tv_env.data.dataset import load_frames

    frames = torch.from_numpy(load_frames(doom_data, "all"))[:, ::2, ::2].contiguous()  # 32x32 for speed
    train, held = frames[:96], frames[96:128]
    out = tmp_path / "vae"
    s = train_vae(train, held, out, TINY, steps(120, batch_size=16, lr=2e-3, eval_every=60), progress=False)
    vae0 = build_vae(TINY)
    assert s["heldout_psnr"] > heldout_psnr(vae0, held) + 3
    vae = AutoencoderKL.from_pretrained(out)
    assert abs(heldout_psnr(vae, held) - s["heldout_psnr"]) < 1e-3
    z = encode(vae, train[:64])
    assert abs(z.mean().item()) < 0.2 and 0.7 < z.std().item() < 1.3  # calibrated latent scale

    # --init: training goes on from that VAE, in its shape (the cfg passed is not used), not from scratch
    s0 = train_vae(train, held, tmp_path / "same", VAEConfig(), steps(0), init=out, progress=False)
    assert s0["init"] == str(out) and s0["config"]["latent_channels"] == TINY.latent_channels
    assert abs(s0["heldout_psnr"] - s["heldout_psnr"]) < 0.1
    s1 = train_vae(train, held, tmp_path / "tuned", VAEConfig(), steps(20, batch_size=16, lr=2e-4), init=out,
                   progress=False)
    assert s1["heldout_psnr"] > heldout_psnr(vae0, held) + 3
    with pytest.raises(UserError, match="config.json missing"):
        train_vae(train, held, tmp_path / "x", TINY, steps(1), init=tmp_path / "none", progress=False)


def test_train_vae_names_a_missing_init(doom_data, tmp_path, capsys):
    from tv2tv_cli import main

    assert main(["train-vae", "--data", str(doom_data), "--out", str(tmp_path / "vae"), "--init",
                 str(tmp_path / "none"), "--quiet"]) == 2
    assert "no VAE there (config.json missing)" in capsys.readouterr().err
