"""How each model of the benchmark is told what happens: the training batch and the rollout
(both halves here, so that a model is sampled the way it was trained).

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


# --- the sampling half: what a model reads in a rollout -------------------------------------
def blank(rows: list) -> list:
    """The same layout with every chunk's text empty (T2V and Think2V chunks are bare)."""
    return [[[] for _ in row] for row in rows]


def commanded_inputs(conditioning: str, context_ids: list, step_ids: list, context_actions, actions, sep: list[int]):
    """A rollout under given commands, as `conditioning` reads it: (context ids, step ids,
    prompts or None), each per stream and chunk. `context_ids`/`step_ids` are the token ids of
    the context's recorded text and of the commands; `context_actions`/`actions` their action ids.
    TV2TV reads each command before its chunk; T2V and Think2V get them all as one plan up
    front (context texts first); an action-id model reads action tokens."""
    if conditioning == "text":
        return context_ids, step_ids, None
    if conditioning in ("prompt", "plan"):
        prompts = [plan_prompt(c + s, sep) for c, s in zip(context_ids, step_ids)]
        return blank(context_ids), blank(step_ids), prompts
    if conditioning == "action_id":
        tokens = lambda rows: [[[action_token(a)] for a in row] for row in rows]  # noqa: E731
        return tokens(context_actions), tokens(actions), None
    raise ValueError(f"unknown conditioning {conditioning!r}")


def own_text_inputs(conditioning: str, context_ids: list, sep: list[int], write_plan):
    """A rollout in which the model supplies its own text the way it was trained: (context ids,
    step ids, prompts). TV2TV writes each chunk's text (step ids None), Think2V writes its plan
    up front (`write_plan()` -> one prompt per stream), T2V has only a prompt made of the
    context's recorded text. An action-id model has no text of its own: ValueError."""
    if conditioning == "text":
        return context_ids, None, None
    if conditioning == "prompt":
        return blank(context_ids), [], [plan_prompt(row, sep) for row in context_ids]
    if conditioning == "plan":
        return blank(context_ids), [], write_plan()
    raise ValueError(f"an {conditioning} model writes no text of its own")
