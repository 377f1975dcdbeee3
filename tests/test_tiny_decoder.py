"""The tiny frame decoder: shapes, cost, training against the VAE decoder, and the world decoding
with it where a checkpoint ships one (and with the full decoder one option away)."""
import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import SHIPPED
from model.tiny_decoder import TinyDecoder, tiny_decode
from tv2tv_env.errors import UserError
from tv2tv_env.training.args import TINY_DECODER_ARGS
from tv2tv_env.training.tiny_decoder import train_tiny_decoder

VAE = SHIPPED / "vae"


def steps(n, **kw):
    return replace(TINY_DECODER_ARGS, max_minutes=None, max_steps=n, device="cpu", precision="fp32", **kw)


def test_shapes_range_and_cost():
    dec = TinyDecoder(latent_channels=8, width=32, blocks=1, upscale=8)
    frames = tiny_decode(dec, torch.randn(5, 8, 8, 8))
    assert frames.shape == (5, 64, 64, 3) and frames.dtype == torch.uint8
    assert dec(torch.randn(2, 8, 8, 8)).abs().max() <= 1  # the VAE decoder's range, before to_uint8
    assert TinyDecoder(latent_channels=4, upscale=4)(torch.randn(1, 4, 16, 16)).shape == (1, 3, 64, 64)
    with pytest.raises(ValueError, match="power of two"):
        TinyDecoder(upscale=6)
    # the default is sized to cost a small share of the full decoder: count multiply-adds of each conv
    from diffusers import AutoencoderKL

    def macs(module, z):
        total = []

        def hook(m, inp, out):
            total.append(m.weight.numel() * out.shape[-1] * out.shape[-2])
        handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
        with torch.no_grad():
            module(z)
        for h in handles:
            h.remove()
        return sum(total)

    vae = AutoencoderKL.from_pretrained(VAE)
    z = torch.randn(1, 8, 8, 8)
    share = macs(TinyDecoder(), z) / macs(vae.decoder, z)
    assert share < 0.1, share  # the bar: at most a tenth of the full decoder's cost


@pytest.mark.slow
def test_training_learns_the_vae_decoder_and_the_world_decodes_with_it(doom_latent_data, tiny_run, tmp_path):
    out = tmp_path / "tiny_decoder"
    s = train_tiny_decoder(VAE, doom_latent_data, out, steps(100, batch_size=16, eval_every=1000), width=32,
                           blocks=1, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "diffusion_pytorch_model.safetensors",
                                                     "training.json"]  # no training state once finished
    assert json.loads((out / "training.json").read_text())["psnr_vs_full_decoder"] == s["psnr_vs_full_decoder"]
    from diffusers import AutoencoderKL

    from model.vae import psnr
    from tv2tv_env.training.tiny_decoder import heldout_figures, load_pairs, teacher_frames

    untrained = TinyDecoder(latent_channels=8, width=32, blocks=1)
    lat, real = load_pairs(doom_latent_data, VAE, "heldout", 256)
    teacher = teacher_frames(AutoencoderKL.from_pretrained(VAE), lat, torch.device("cpu"), None)
    before = heldout_figures(untrained, {"latents": lat, "teacher": teacher, "real": real,
                                         "full_vs_real": psnr(teacher, real)})
    assert s["psnr_vs_full_decoder"] > before["psnr_vs_full_decoder"] + 5, (s, before)

    # a checkpoint that ships it decodes with it by default; "full" keeps the VAE's decoder
    from tv2tv_env.world import WorldModel

    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_run, ckpt)
    with pytest.raises(UserError, match="train-tiny-decoder"):
        WorldModel(ckpt, precision="fp32", decoder="tiny")
    shutil.copytree(out, ckpt / "tiny_decoder")
    tiny, full = WorldModel(ckpt, precision="fp32"), WorldModel(ckpt, precision="fp32", decoder="full")
    assert tiny.describe()["decoder"] == "tiny" and full.describe()["decoder"] == "full"
    z = torch.from_numpy(tiny.contexts.latents[0, :1].astype(np.float32))  # (1, F, C, h, w)
    assert np.array_equal(tiny.decode_latents(z), tiny_decode(tiny.tiny_decoder, z[0]).numpy()[None])
    assert not np.array_equal(tiny.decode_latents(z), full.decode_latents(z))
    with pytest.raises(UserError, match="decoder="):
        WorldModel(ckpt, decoder="fast")

    # `tv2tv speed`'s decoder figures: each decoder's cost and the tiny one's PSNR, computed as said
    from model.vae import decode
    from tv2tv_env.bench.speed import judge_through_decoders, measure_decoders

    d = measure_decoders(tiny, repeats=1)
    last = torch.from_numpy(tiny.contexts.latents[:, -1].astype(np.float32)).flatten(0, 1)
    by_hand = psnr(tiny_decode(tiny.tiny_decoder, last), decode(tiny.vae, last))
    assert d["tiny_decoder_psnr_vs_full"] == round(by_hand, 2) and d["frames_compared"] == len(last)
    assert 0 < d["tiny_decoder_ms_per_frame"] and 0 < d["tiny_cost_share"]
    j = judge_through_decoders(tiny, SHIPPED / "judge", doom_latent_data, max_pairs=16)
    assert j["pairs"] == 16 and all(0 <= j[k] <= 1 for k in ("real", "full_decoder", "tiny_decoder"))
    assert tiny.tiny_decoder is not None  # put back after the full decoder's turn


def test_a_stopped_run_is_not_overwritten(doom_latent_data, tmp_path):
    out = tmp_path / "td"
    out.mkdir()
    (out / "train_state.pt").write_bytes(b"")
    with pytest.raises(UserError, match="--resume"):
        train_tiny_decoder(VAE, doom_latent_data, out, steps(1), progress=False)
    with pytest.raises(UserError, match="no VAE"):
        train_tiny_decoder(tmp_path / "nothing", doom_latent_data, tmp_path / "x", steps(1), progress=False)
