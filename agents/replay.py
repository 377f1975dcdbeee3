"""Replay agent: feeds the text of a recorded episode, chunk by chunk.

Started from a context of the same episode, the world model should retell the recording;
from another context, it shows how the same words play out elsewhere.

    python -m agents.replay --data DATA [--episode N] [--steps N] [--video OUT.mp4]
"""
from __future__ import annotations

from .base import TextAgent


class ReplayAgent(TextAgent):
    def __init__(self, texts: list[str], start: int = 0):
        if not texts:
            raise ValueError("the replayed episode has no text")
        self.texts, self.start = list(texts), start
        self.t = start

    @classmethod
    def from_dataset(cls, data_dir, episode: int = 0, start: int = 0) -> "ReplayAgent":
        from tv2tv_env.data.dataset import episode_paths, read_episode

        paths = episode_paths(data_dir)
        if not 0 <= episode < len(paths):
            raise ValueError(f"{data_dir} has {len(paths)} episodes; --episode must be in 0..{len(paths) - 1}")
        ep = read_episode(paths[episode], frames=False)
        return cls(ep.text, start)

    def reset(self, obs=None, info=None):
        self.t = self.start

    def act(self, obs=None, info=None) -> str:
        text = self.texts[min(self.t, len(self.texts) - 1)]  # past the end: the last command holds
        self.t += 1
        return text


if __name__ == "__main__":
    from .runner import main

    def add_arguments(p):
        p.add_argument("--data", required=True, help="a recorded dataset (tv2tv record)")
        p.add_argument("--episode", type=int, default=0)

    main("replay", lambda a: ReplayAgent.from_dataset(a.data, a.episode), add_arguments)
