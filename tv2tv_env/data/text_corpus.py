"""Text to train the tokenizer on: what the describer of a game can write.

The corpus is every recorded phrase and event phrase of the game's card once, then the
describer itself (the engine adapter's `describer_samples`: `describe_doom`,
`describe_crafter`) run on random actions and random event dicts. The card's bench word
lists (`unseen_phrases` and the others) are never used: the benchmark tests wordings the
model (and its tokenizer) never saw.
"""
from __future__ import annotations

import numpy as np

from ..games import get_card


def describer_corpus(game: str, samples: int = 20000, seed: int = 0) -> list[str]:
    """Sentences the describer of `game` can produce: each paraphrase once, then `samples`
    random descriptions (with repeats, so common wordings count more in BPE training)."""
    card = get_card(game)
    rng = np.random.default_rng(seed)
    out = _all_phrases(card.phrases, card.event_phrases, card.event_example)
    return out + card.engine_class().describer_samples(samples, rng)


def _all_phrases(phrases: dict, events: dict, fill: dict) -> list[str]:
    out = [p for ps in phrases.values() for p in ps]
    for ps in events.values():
        out += [p.format(**fill) for p in ps]
    return out
