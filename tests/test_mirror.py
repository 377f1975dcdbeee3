"""Left-right mirroring (games/mirror.py): the labels and text of a mirrored chunk, the mirrored
latent cache (`tv2tv encode --mirror`) and mirrored training windows (`tv2tv train --mirror`)."""
import json
import shutil

import h5py
import numpy as np
import pytest
import torch

from conftest import SHIPPED
from model.tokenizer import load_tokenizer
from tv2tv_env.data.dataset import episode_paths, read_episode
from tv2tv_env.data.latents import cache_dir, encode_dataset
from tv2tv_env.data.training_data import LatentWindows
from tv2tv_env.errors import UserError
from tv2tv_env.games import get_card
from tv2tv_env.games.mirror import mirror_name, mirror_permutation, mirror_text

VAE = SHIPPED / "vae"


def test_mirror_text_swaps_whole_side_words_only():
    assert mirror_text("sidestep left, you kill an enemy") == "sidestep right, you kill an enemy"
    assert mirror_text("turn right and strafe left") == "turn left and strafe right"
    assert mirror_text("turn clockwise, look leftward") == "turn counterclockwise, look rightward"
    assert mirror_text("the leftover ammo, bright light") == "the leftover ammo, bright light"
    assert mirror_text(mirror_text("step to the left and shoot")) == "step to the left and shoot"
    assert mirror_name("strafe_left+shoot") == "strafe_right+shoot" and mirror_name("forward") == "forward"


def test_doom_card_is_mirror_closed():
    """Every recorded wording of a Doom action, mirrored, is a recorded wording of the mirrored
    action: mirrored training text is text the tokenizer and the model already know."""
    card = get_card("doom")
    assert card.mirror_symmetric and not get_card("crafter").mirror_symmetric
    perm = mirror_permutation(card.action_names)
    assert sorted(perm.tolist()) == list(range(len(card.action_names)))  # a permutation
    assert (perm[perm] == np.arange(len(perm))).all()  # its own inverse
    for part, words in card.phrases.items():
        twin = mirror_name(part)
        assert sorted(mirror_text(w) for w in words) == sorted(card.phrases[twin]), part


@pytest.fixture(scope="module")
def mirrored_data(doom_latent_data, tmp_path_factory):
    """A copy of the encoded Doom fixture with its mirrored cache too (the shipped VAE)."""
    data = tmp_path_factory.mktemp("mirror") / "data"
    shutil.copytree(doom_latent_data, data)
    summary = encode_dataset(data, VAE, progress=False, mirror=True)
    return data, summary


def test_mirrored_cache_holds_the_latents_of_flipped_frames(mirrored_data):
    from diffusers import AutoencoderKL

    from model import precision
    from model.vae import encode

    data, summary = mirrored_data
    assert summary["cache"] == str(cache_dir(data, VAE, mirror=True)) and summary["cache"].endswith("-mirror")
    assert json.loads((cache_dir(data, VAE, mirror=True) / "cache.json").read_text())["mirrored"] is True
    vae = AutoencoderKL.from_pretrained(VAE, torch_dtype=torch.float32, low_cpu_mem_usage=False).eval()
    dev = torch.device("cpu")
    path = episode_paths(data)[0]
    ep = read_episode(path)
    with h5py.File(cache_dir(data, VAE, mirror=True) / path.name) as f:
        mirrored = f["chunks"][()]
    with h5py.File(cache_dir(data, VAE) / path.name) as f:
        plain = f["chunks"][()]
    frames = torch.from_numpy(np.ascontiguousarray(ep.frames[:2, :, :, ::-1]).reshape(-1, *ep.frames.shape[2:]))
    with torch.no_grad(), precision.autocast(dev, precision.autocast_dtype(dev, "auto")):
        want = encode(vae, frames).float().numpy().reshape(mirrored[:2].shape)
    np.testing.assert_allclose(mirrored[:2].astype(np.float32), want, atol=0.05)
    assert np.abs(mirrored.astype(np.float32) - plain.astype(np.float32)).mean() > 0.05  # not the plain latents


def test_mirror_is_refused_for_a_game_that_is_not_symmetric(crafter_data, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(crafter_data, data)
    with pytest.raises(UserError, match="mirror_symmetric"):
        encode_dataset(data, VAE, progress=False, mirror=True)


def test_mirrored_windows(mirrored_data, doom_latent_data):
    data, _ = mirrored_data
    tok = load_tokenizer(SHIPPED / "tokenizer")
    card = get_card("doom")
    perm = torch.from_numpy(mirror_permutation(card.action_names))
    windows = LatentWindows(data, VAE, tok, 3, "train", mirror=True)
    rows = list(range(min(6, len(windows))))
    plain, twin = windows.get(rows), windows.get(rows, [True] * len(rows))
    assert torch.equal(twin["actions"], perm[plain["actions"]])
    assert torch.equal(twin["reward"], plain["reward"]) and torch.equal(twin["terminated"], plain["terminated"])
    for (e, s), texts in zip((windows.index[r] for r in rows), twin["texts"]):
        assert texts == [tok.encode(mirror_text(t)) for t in windows.strings[e][s:s + 3]]
    assert not torch.equal(twin["latents"], plain["latents"])
    # a share of each batch is mirrored, drawn from the step: the same step gives the same batch
    fn = windows.batch_fn(16, seed=3, mirror=0.5)
    a, b = fn(2), fn(2)
    assert torch.equal(a["latents"], b["latents"]) and a["texts"] == b["texts"]
    unmirrored = windows.batch_fn(16, seed=3)(2)
    same = [torch.equal(x, y) for x, y in zip(a["latents"], unmirrored["latents"])]
    assert 0 < sum(same) < 16  # some windows mirrored, some not, the rows themselves unchanged
    with pytest.raises(UserError, match="--mirror"):
        windows.batch_fn(4, mirror=1.5)
    # without the mirrored cache: a clear error naming the command that makes it
    with pytest.raises(UserError, match="encode .*--mirror"):
        LatentWindows(doom_latent_data, VAE, tok, 3, "train", mirror=True)


def test_train_with_mirror_records_it_and_resume_keeps_it(mirrored_data, tmp_path):
    from conftest import train_world

    data, _ = mirrored_data
    run = tmp_path / "run"
    out = train_world(data, run, config="tiny", max_steps=2, batch_size=4, eval_every=1000, samples=False,
                      mirror=0.5, language_prior=False)
    assert out["mirror"] == 0.5
    assert json.loads((run / "sampling.json").read_text()) == {"balance_actions": 0.0, "mirror": 0.5,
                                                                   "oversample_ends": 1.0}
    with pytest.raises(UserError, match="--mirror 0.5"):
        train_world(data, run, config="tiny", max_steps=4, batch_size=4, eval_every=1000, samples=False,
                    resume=True, language_prior=False)
