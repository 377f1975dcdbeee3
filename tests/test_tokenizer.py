"""The text tokenizer: specials, save/load, lossless round trips, short describer text."""
import json

import numpy as np
import pytest

from model.tokenizer import SPECIAL_TOKENS, load_tokenizer, special_ids, train_tokenizer
from tv2tv_env.games import CARDS, get_card
from tv2tv_env.data.text_corpus import describer_corpus


@pytest.fixture(scope="module")
def doom_tok():
    return train_tokenizer(describer_corpus("doom"), vocab_size=512)


def test_special_ids_distinct_and_stable(doom_tok, tmp_path):
    ids = special_ids(doom_tok)
    assert set(ids) == {"pad", "bos", "bof", "eof"}
    assert len(set(ids.values())) == 4 and ids["pad"] == 0
    assert doom_tok.pad_token_id == ids["pad"] and doom_tok.bos_token_id == ids["bos"]
    assert len(doom_tok) <= 512
    doom_tok.save_pretrained(tmp_path / "tok")
    again = load_tokenizer(tmp_path / "tok")
    assert special_ids(again) == ids and len(again) == len(doom_tok)
    s = "sidestep left and fire; an enemy dies"
    assert again.encode(s) == doom_tok.encode(s)


def test_encode_adds_no_specials(doom_tok):
    sp = set(special_ids(doom_tok).values())
    assert not sp & set(doom_tok.encode("move forward and shoot"))
    assert not sp & set(doom_tok("move forward")["input_ids"])
    assert doom_tok.encode("") == []
    # the literal marker typed in a sentence is text, not the marker
    ids = doom_tok.encode("draw <bof> now <eof>")
    assert not sp & set(ids) and doom_tok.decode(ids) == "draw <bof> now <eof>"


@pytest.mark.parametrize("text", [
    "move forward and shoot; an enemy dies",  # seen wordings
    "walk forward but a wall is in the way",
    "pivot left and blast away",  # UNSEEN_PHRASES: never in the training text
    "proceed forwards, then sidle right!",
    "café, naïve 漢字 ☃ 🎮",  # non-ASCII
    "  leading spaces, double  spaces and a tab\there\n",
    "a , b . c ?",  # no clean-up of spaces before punctuation
    "1234567890 !@#$%^&*()_+-=[]{}|;':\",./<>?`~\\",
])
def test_round_trip(doom_tok, text):
    ids = doom_tok.encode(text)
    assert doom_tok.unk_token_id is None or doom_tok.unk_token_id not in ids
    assert doom_tok.decode(ids) == text


def test_round_trip_random_bytes(doom_tok):
    rng = np.random.default_rng(0)
    for _ in range(20):
        text = "".join(chr(int(c)) for c in rng.integers(1, 0x3000, size=int(rng.integers(1, 40))))
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        assert doom_tok.decode(doom_tok.encode(text)) == text


def test_describer_text_is_short(doom_tok):
    for s in ["sidestep left and fire; an enemy dies", "walk forward but a wall is in the way",
              "turn to the left and shoot; the shot hits", "coast to a stop", "stand still; you get hurt"]:
        assert len(doom_tok.encode(s)) <= 16, (s, doom_tok.tokenize(s))
    corpus = describer_corpus("doom", samples=2000, seed=1)
    counts = [len(ids) for ids in doom_tok(corpus, add_special_tokens=False)["input_ids"]]
    assert np.mean(counts) <= 10


@pytest.mark.parametrize("game", list(CARDS))
def test_corpus_covers_phrases_but_no_unseen_ones(game):
    card = get_card(game)
    corpus = describer_corpus(game)
    assert len(corpus) > 20000
    text = "\n".join(corpus)
    for phrases in card.phrases.values():
        for p in phrases:
            assert p in text
    for phrases in [*card.unseen_phrases.values(), *card.everyday_phrases.values()]:
        for p in phrases:
            assert p not in text, p
    assert describer_corpus(game) == corpus  # deterministic


@pytest.mark.parametrize("game", list(CARDS))
def test_recombined_phrases_are_new_sentences_of_known_words(game):
    """The benchmark's rewording test: each phrase never occurs in what recording writes,
    but each of its words does (unlike UNSEEN_PHRASES, whose words are new)."""
    import re

    card = get_card(game)
    text = "\n".join(describer_corpus(game))
    words = set(re.findall(r"[a-z']+", text))
    assert set(card.recombined_phrases) <= set(card.action_names)
    for phrases in card.recombined_phrases.values():
        for p in phrases:
            assert not re.search(rf"\b{re.escape(p)}\b", text), p
            assert set(p.split()) <= words, p


def test_small_vocab_refused():
    with pytest.raises(ValueError):
        train_tokenizer(["a b"], vocab_size=100)
    with pytest.raises(FileNotFoundError):
        load_tokenizer("/nonexistent/tokenizer")


def test_cli_tokenizer(tmp_path, capsys):
    from tv2tv_cli import main

    assert main(["tokenizer", "--game", "doom", "--out", str(tmp_path / "tok"), "--vocab-size", "400"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["vocab_size"] <= 400 and out["tokens_per_text"]["of"] == "corpus"
    tok = load_tokenizer(tmp_path / "tok")
    assert special_ids(tok) == out["special_ids"]
    assert [tok.convert_ids_to_tokens(i) for i in range(4)] == SPECIAL_TOKENS
    assert main(["tokenizer", "--game", "quake", "--out", str(tmp_path / "x")]) == 2
