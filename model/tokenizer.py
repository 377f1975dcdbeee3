"""The text tokenizer: a small byte-level BPE trained from scratch on the describer's text.

Trained with `tokenizers` (ByteLevel pre-tokenizer without a prefix space, BPE, ByteLevel
decoder) and wrapped as a `transformers.PreTrainedTokenizerFast`, so it saves and loads in
the Hugging Face layout (`save_pretrained` / `load_tokenizer`). All 256 byte symbols are in
the vocabulary, so any string, unseen words and non-ASCII included, encodes without an
unknown token and decodes back to itself.

Special tokens (DESIGN.md, "The sequence"): `<pad>` (id 0), `<bos>` (start of a stream),
`<bof>` / `<eof>` (begin / end of a chunk's frames). Encoding adds none of them, and the
literal string "<bof>" in a sentence encodes as plain bytes: the sequence builder places
the markers itself, by id (`special_ids`).

This module knows only strings and token ids; the corpus of describer text to train on is
built by `tv2tv_env.data.text_corpus`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

PAD, BOS, BOF, EOF = "<pad>", "<bos>", "<bof>", "<eof>"
SPECIAL_TOKENS = [PAD, BOS, BOF, EOF]  # ids 0..3, in this order


def train_tokenizer(texts: Iterable[str], vocab_size: int = 512, min_frequency: int = 2) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on `texts`; `vocab_size` counts the specials and 256 bytes."""
    base = 256 + len(SPECIAL_TOKENS)
    if vocab_size < base:
        raise ValueError(f"vocab_size {vocab_size} is below {base} (256 byte symbols + {len(SPECIAL_TOKENS)} specials)")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator((t for t in texts), trainer=trainer)
    return _wrap(tok)


def _wrap(tok: Tokenizer) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=PAD, bos_token=BOS, additional_special_tokens=[BOF, EOF],
        clean_up_tokenization_spaces=False,  # decode must give back exactly what was encoded
        split_special_tokens=True,  # "<bof>" typed in a sentence is text, never the marker itself
        model_max_length=1 << 30)


def load_tokenizer(path) -> PreTrainedTokenizerFast:
    """Load a tokenizer saved with `save_pretrained` (local files only, never a hub)."""
    path = Path(path)
    if not (path / "tokenizer.json").is_file():
        raise FileNotFoundError(f"no tokenizer at {path}: tokenizer.json is missing (train one with `tv2tv tokenizer`)")
    tok = PreTrainedTokenizerFast.from_pretrained(str(path), local_files_only=True)
    special_ids(tok)  # fail now if the specials are not there
    return tok


def special_ids(tok: PreTrainedTokenizerFast) -> dict:
    """{"pad", "bos", "bof", "eof"} -> token id."""
    vocab = tok.get_vocab()
    missing = [t for t in SPECIAL_TOKENS if t not in vocab]
    if missing:
        raise ValueError(f"tokenizer lacks special tokens {missing}; it was not made by train_tokenizer")
    return {"pad": vocab[PAD], "bos": vocab[BOS], "bof": vocab[BOF], "eof": vocab[EOF]}
