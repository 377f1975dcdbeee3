"""Random text agent: the game's commands in the recorded wordings, and now and then free phrasing.

Each step it picks one of: a recorded paraphrase of a random action (most of the time), a
combination of two ("turn left and shoot"), a free-form sentence built from a small word
list (words the model may never have seen), or "" (the model decides).

    python -m agents.random_agent [--steps N] [--video OUT.mp4] [--checkpoint RUN] [--seed S]
"""
from __future__ import annotations

import numpy as np

from tv2tv_env.games import DEFAULT_GAME, get_card

from .base import TextAgent

FREE_VERBS = ["quickly", "carefully", "now", "please", "again"]


def game_phrases(game: str) -> dict[str, list[str]]:
    """The recorded wordings of each action part; a card's wordings of events (Doom's "coast")
    are no command."""
    card = get_card(game)
    parts = set(card.parts())
    return {k: v for k, v in card.phrases.items() if k in parts}


class RandomTextAgent(TextAgent):
    def __init__(self, game: str = DEFAULT_GAME, seed: int = 0, p_combo: float = 0.2, p_free: float = 0.1,
                 p_empty: float = 0.05):
        self.phrases = game_phrases(game)
        self.actions = sorted(self.phrases)
        self.rng = np.random.default_rng(seed)
        self.p = (p_combo, p_free, p_empty)

    def _phrase(self) -> str:
        action = self.actions[self.rng.integers(len(self.actions))]
        options = self.phrases[action]
        return options[self.rng.integers(len(options))]

    def act(self, obs=None, info=None) -> str:
        u = self.rng.random()
        p_combo, p_free, p_empty = self.p
        if u < p_empty:
            return ""
        if u < p_empty + p_combo:
            return f"{self._phrase()} and {self._phrase()}"
        if u < p_empty + p_combo + p_free:
            return f"{FREE_VERBS[self.rng.integers(len(FREE_VERBS))]} {self._phrase()}"
        return self._phrase()


if __name__ == "__main__":
    from .runner import main

    main("random", lambda a: RandomTextAgent(a.game, a.seed))
