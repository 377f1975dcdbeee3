"""How each model of the benchmark is told what happens: the training batch and the rollout.

The TV2TV model reads each chunk's own text just before the chunk. The baselines see the
same recorded data, changed only in where the information sits (`TV2TVConfig.conditioning`):

    text       TV2TV: "turn left" V1 "shoot" V2 ...
    prompt     T2V: "turn left, then shoot, then ..." up front (given, no text loss), chunks bare
    plan       Think2V: the same plan up front, but the model learns to write it (text loss)
    action_id  one learned token per discrete action before each chunk (no language)

Action tokens reuse the first ids after the four special tokens: an action-id model never
sees language, so those embeddings are free to learn one action each.
"""
from __future__ import annotations

ACTION_TOKEN_BASE = 4  # ids 0..3 are pad, bos, bof, eof
PLAN_SEPARATOR = ", then "


def action_token(action_id: int) -> int:
    return ACTION_TOKEN_BASE + int(action_id)


def plan_prompt(texts: list[list[int]], sep: list[int]) -> list[int]:
    """Token ids of the chunks' texts joined into one plan."""
    out = []
    for k, t in enumerate(texts):
        out += (sep if k else []) + list(t)
    return out


def condition_batch(batch: dict, conditioning: str, sep: list[int]) -> dict:
    """A training batch (texts per chunk, actions per chunk) as `conditioning` wants it."""
    if conditioning == "text":
        return batch
    B, K = batch["latents"].shape[:2]
    out = dict(batch)
    if conditioning in ("prompt", "plan"):
        out["prompts"] = [plan_prompt(batch["texts"][b], sep) for b in range(B)]
        out["texts"] = [[[] for _ in range(K)] for _ in range(B)]
    elif conditioning == "action_id":
        out["texts"] = [[[action_token(a)] for a in batch["actions"][b].tolist()] for b in range(B)]
    else:
        raise ValueError(f"unknown conditioning {conditioning!r}")
    return out
