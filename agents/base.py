"""What every agent is: something that reads an observation and answers with a command string."""
from __future__ import annotations

import numpy as np


class TextAgent:
    """`reset` at the start of an episode, then `act` once per env step ('' lets the model decide)."""

    def reset(self, obs: np.ndarray, info: dict) -> None:
        pass

    def act(self, obs: np.ndarray, info: dict) -> str:
        raise NotImplementedError
