"""`tv2tv bench`: does the generated world do what the text said, better than the alternatives?

Every model (TV2TV and its baselines) starts from the same real held-out contexts with the
same seeds, and an inverse-dynamics judge trained on real frames reads what happened:

- action accuracy: K chunks under one command; the judge names the action of each chunk
  (per-action confusion matrix), with the recorded wordings, with new words never used in
  recording ("spin left"; the game card's `unseen_phrases`, or the user's `--commands FILE`), and
  with new phrasings of recorded words ("look to the left"; `recombined_phrases`);
- text intervention: two chunks of one command, then a switch ("turn left" -> "turn
  right"); does the first chunk after the switch follow the new command;
- frame quality: teacher-forced PSNR/SSIM of the next chunk (real context every time) and
  rollout PSNR/SSIM at horizons 1, 4, 16 against the real continuation under its recorded text;
- delta-PSNR (Genie): rollout PSNR with the real text minus with text shuffled across starts;
- everyday wordings (`everyday_phrases`: "face left", "dodge right"), a second new-word list;
- off-topic text ("dance", "what is the weather"): over ~200 steps, how often the episode-end
  head fires, next to the same starts under recorded commands (unknown words must never read
  as death), and how far the chunks drift from real play (Frechet distance, below);
- empty thoughts: of ~500 chunks where the model writes its own text, how many have none;
- reward and episode-end heads against the real game: from real held-out contexts, the next
  chunk under its recorded command (events stripped: the engine decides them), the predicted
  reward and end probability against what the engine gave (the recording; a replay of it in
  `TV2TV/RealDoom-v0` gives back the same, tests/test_real_env.py): reward correlation and
  error on random chunks, recall of every reward event (a kill: reward > `REWARD_EVENT`) and
  episode end, false alarms on random chunks without one, and precision at the real rate;
- long rollouts (the TV2TV paper's headline): 256 chunks (64 s) from each start in which each
  model supplies its own text the way it was trained (TV2TV thinks chunk by chunk, Think2V
  writes a plan up front, T2V has the context's text as a prompt), scored by the Frechet
  distance between generated and real held-out chunks in the judge's feature space, overall
  and per stretch of horizon;
- speed: generated frames per second during the benchmark.

The judge's own accuracy on the same real frames, and on their VAE reconstructions (the
ceiling for any model drawing through that VAE), is printed next to every score.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..commands import command_part
from ..data.dataset import iter_episodes, read_meta
from ..errors import UserError
from ..games import get_card
from ..world import DEFAULT_CACHE
from .contestants import Contestant, CopyLastFrame, StartContexts, WorldContestant
from .judge import evaluate_judge, load_judge, trust_note
from .metrics import confusion_matrix, frechet_distance, psnr, ssim
from .plots import frames_per_chunk, plot_accuracy, plot_long_frechet, plot_psnr, video_grid

# The actions probed one at a time, the switches and the off-topic text are the game card's
# (`probe`, `switches`, `off_topic`).
HORIZONS = (1, 4, 16)
END_THRESHOLD = 0.5  # the env's default: end_prob above it terminates the episode
REWARD_EVENT = 0.5  # a chunk reward above this is an event: a kill in Doom, an achievement in Crafter
LONG_BINS = ((1, 16), (17, 64), (65, 128), (129, 256))  # stretches of the long rollout, in chunks
NAMES = {"text": "TV2TV", "prompt": "T2V", "plan": "Think2V", "action_id": "action-id", "none": "copy-last-frame"}


def game_vocabulary(game: str):
    """(action names, recorded phrases, phrases of new words, new phrasings of recorded words,
    everyday wordings with new words), from the game's card."""
    card = get_card(game)
    return (list(card.action_names), card.phrases, card.unseen_phrases, card.recombined_phrases,
            card.everyday_phrases)


def read_commands_file(path, action_names) -> dict[str, list[str]]:
    """`action_label<TAB>text` per line -> {label: [texts]}; names the bad line."""
    out: dict[str, list[str]] = {}
    for n, raw in enumerate(Path(path).read_text().splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        if "\t" not in raw:
            raise UserError(f"{path}:{n}: expected `action_label<TAB>text`, got {raw!r}")
        label, text = (x.strip() for x in raw.split("\t", 1))
        if label not in action_names:
            raise UserError(f"{path}:{n}: unknown action label {label!r}; use one of {', '.join(action_names)}")
        out.setdefault(label, []).append(text)
    if not out:
        raise UserError(f"{path} holds no commands")
    return out


# --- real starts ------------------------------------------------------------------------------
def load_starts(data_dir, episodes: int, context_chunks: int, horizon: int, per_episode: int = 2,
                seed: int = 0, skip_after=()) -> StartContexts:
    """`per_episode` random starts in each of the first `episodes` held-out episodes long enough
    for a context and `horizon` real chunks after it. `skip_after`: action ids after which no
    start is taken (their context's last chunk is one of them): states where the engine ignores
    commands, such as Crafter's player asleep, where no model can follow one."""
    rng = np.random.default_rng(seed)
    rows = {k: [] for k in ["frames", "texts", "actions", "next_frames", "next_texts", "next_actions", "source"]}
    used = 0
    for path, ep in iter_episodes(data_dir, "heldout"):
        span = context_chunks + horizon
        if len(ep) < span:
            continue
        starts = np.arange(len(ep) - span + 1)  # drawn from as from range(n): the same starts when none is left out
        if len(skip_after):
            starts = starts[~np.isin(ep.action[starts + context_chunks - 1], list(skip_after))]
            if not len(starts):
                continue
        for s in sorted(rng.choice(starts, size=min(per_episode, len(starts)), replace=False)):
            c, n = slice(s, s + context_chunks), slice(s + context_chunks, s + span)
            rows["frames"].append(ep.frames[c])
            rows["texts"].append(list(ep.text[c]))
            rows["actions"].append(ep.action[c].astype(np.int64))
            rows["next_frames"].append(ep.frames[n])
            rows["next_texts"].append(list(ep.text[n]))
            rows["next_actions"].append(ep.action[n].astype(np.int64))
            rows["source"].append(f"{path.name}:{s}")
        used += 1
        if used == episodes:
            break
    if not rows["frames"]:
        raise UserError(f"no held-out episode of {data_dir} has {context_chunks + horizon} chunks (context + "
                        f"--horizon); record longer episodes or lower --horizon")
    arr = {k: (np.stack(v) if k in ("frames", "actions", "next_frames", "next_actions") else v) for k, v in rows.items()}
    return StartContexts(**arr)


def shifted(ctx: StartContexts, j: int, keep: int = 1) -> StartContexts:
    """The starts moved j chunks later (context: real chunks j..j+Kc-1 of context and
    continuation), keeping `keep` real chunks after it."""
    Kc = ctx.frames.shape[1]
    frames = np.concatenate([ctx.frames, ctx.next_frames], 1)
    acts = np.concatenate([ctx.actions, ctx.next_actions], 1)
    texts = [a + b for a, b in zip(ctx.texts, ctx.next_texts)]
    c, n = slice(j, j + Kc), slice(j + Kc, j + Kc + keep)
    return StartContexts(frames[:, c], [t[c] for t in texts], acts[:, c], frames[:, n], [t[n] for t in texts],
                         acts[:, n], [f"{s}+{j}" for s in ctx.source])


def concat_starts(parts: list[StartContexts]) -> StartContexts:
    out = {}
    for f in StartContexts.__dataclass_fields__:
        vals = [getattr(p, f) for p in parts]
        out[f] = np.concatenate(vals, 0) if isinstance(vals[0], np.ndarray) else sum(vals, [])
    return StartContexts(**out)


def load_outcome_starts(data_dir, context_chunks: int, random_chunks: int = 256, seed: int = 0):
    """Held-out chunks to check the reward and end heads on, each after its real context: every
    chunk with a reward event or an episode end, then `random_chunks` drawn from all chunks.
    Returns (starts with that one chunk as continuation, its real reward, its real termination,
    whether it is in the random draw, the share of events and of ends among all chunks)."""
    picks, reward, term, eps = [], [], [], []
    n_all = n_event = n_end = 0
    for path, ep in iter_episodes(data_dir, "heldout"):
        e = len(eps)
        eps.append((path, ep))
        for i in range(context_chunks, len(ep)):
            n_all += 1
            ev, end = ep.reward[i] > REWARD_EVENT, bool(ep.terminated[i])
            n_event, n_end = n_event + ev, n_end + end
            if ev or end:
                picks.append((e, i))
    if not n_all:
        raise UserError(f"no held-out episode of {data_dir} is longer than {context_chunks} chunks")
    rng = np.random.default_rng(seed)
    everything = [(e, i) for e, (_, ep) in enumerate(eps) for i in range(context_chunks, len(ep))]
    chosen = rng.choice(len(everything), size=min(random_chunks, len(everything)), replace=False)
    random_draw = [False] * len(picks) + [True] * len(chosen)
    picks += [everything[j] for j in sorted(chosen)]
    for e, i in picks:
        reward.append(float(eps[e][1].reward[i])), term.append(bool(eps[e][1].terminated[i]))
    ctx = starts_at([(*eps[e], i) for e, i in picks], context_chunks)
    return (ctx, np.array(reward, np.float32), np.array(term), np.array(random_draw),
            {"event": n_event / n_all, "end": n_end / n_all, "chunks": n_all})


def starts_at(picks, context_chunks: int) -> StartContexts:
    """One start per (episode path, episode, chunk i): the `context_chunks` real chunks before
    chunk i as context, chunk i as the one real chunk that follows."""
    rows = {k: [] for k in ["frames", "texts", "actions", "next_frames", "next_texts", "next_actions", "source"]}
    for path, ep, i in picks:
        c, n = slice(i - context_chunks, i), slice(i, i + 1)
        rows["frames"].append(ep.frames[c]), rows["texts"].append(list(ep.text[c]))
        rows["actions"].append(ep.action[c].astype(np.int64)), rows["next_frames"].append(ep.frames[n])
        rows["next_texts"].append(list(ep.text[n])), rows["next_actions"].append(ep.action[n].astype(np.int64))
        rows["source"].append(f"{path.name}:{i}")
    arr = {k: (np.stack(v) if k in ("frames", "actions", "next_frames", "next_actions") else v) for k, v in rows.items()}
    return StartContexts(**arr)


def starts_to_skip(card, names=None) -> tuple[list[str], list[int]]:
    """The actions after which no start is taken, and their ids for `load_starts`: `names`
    (`--skip-starts-after`), or the card's `unresponsive_actions` when None. An unknown name is a
    UserError naming where it came from."""
    source = "--skip-starts-after" if names is not None else f"the {card.name} card's unresponsive_actions"
    names = list(card.unresponsive_actions if names is None else names)
    actions = list(card.action_names)
    unknown = [a for a in names if a not in actions]
    if unknown:
        raise UserError(f"{source}: {', '.join(unknown)} is not an action of {card.name}; its actions: "
                        f"{', '.join(actions)}")
    return names, [actions.index(a) for a in names]


# --- metrics ------------------------------------------------------------------------------------
def unreadable_actions(judge_per_action: dict, actions, floor: float = 0.5) -> dict[str, str]:
    """The actions among `actions` that the judge does not read in real held-out play (below
    `floor`, or no held-out chunk of it to tell), each with why: a model's chunk under such a
    command cannot be scored right however well it is drawn (Crafter's noop: nothing visibly
    happens, as after a `do` at grass or a move into a wall the player already faces)."""
    out = {}
    for a in actions:
        got = judge_per_action.get(a, {})
        if not got.get("samples"):
            out[a] = "no held-out chunk of it"
        elif got["accuracy"] < floor:
            out[a] = f"{got['accuracy']:.0%} of {got['samples']} held-out chunks"
    return out


def judge_chunks(judge, last_frames: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Action ids (B, H) the judge reads from each chunk and the chunk before it."""
    return judge.predict_actions(*_pairs(last_frames, frames)).reshape(frames.shape[:2])


def action_accuracy(judge, who: Contestant, ctx: StartContexts, wordings: dict, action_names, chunks: int,
                    seed: int) -> dict:
    """Every start x every probed action: `chunks` chunks under the command, each judged with
    the chunk before it. The first chunk is not scored: the judge would see it next to the real
    context, whose motion came from another action."""
    labels = list(wordings)
    rows = [b for b in range(len(ctx)) for _ in labels]
    lab = [label for _ in range(len(ctx)) for label in labels]
    # each start alternates through a label's wordings (indexing by row would give every start
    # the same one whenever the number of labels is a multiple of the number of wordings)
    texts = [[wordings[label][b % len(wordings[label])]] * chunks for b, label in zip(rows, lab)]
    want = np.array([[action_names.index(label)] * chunks for label in lab])
    sub = ctx.take(rows)
    got = judge_chunks(judge, sub.last_frames, who.rollout(sub, texts, want, seed))[:, 1:]
    want = want[:, 1:]
    hit = got == want
    cm = confusion_matrix(want.ravel(), got.ravel(), len(action_names))
    per = {label: float(hit[[i for i, x in enumerate(lab) if x == label]].mean()) for label in labels}
    return {"accuracy": float(hit.mean()), "per_action": per, "n": int(hit.size),
            "confusion": {"rows": labels, "columns": list(action_names),
                          "counts": cm[[action_names.index(x) for x in labels]].tolist()}}


def intervention_accuracy(judge, who: Contestant, ctx: StartContexts, switches, phrases, action_names, seed: int,
                          before: int = 2) -> dict:
    rows = [b for b in range(len(ctx)) for _ in switches]
    pairs = [p for _ in range(len(ctx)) for p in switches]
    texts = [[phrases[a][0]] * before + [phrases[b][0]] * 2 for a, b in pairs]
    acts = np.array([[action_names.index(a)] * before + [action_names.index(b)] * 2 for a, b in pairs])
    sub = ctx.take(rows)
    got = judge_chunks(judge, sub.last_frames, who.rollout(sub, texts, acts, seed))
    first = got[:, before] == acts[:, before]
    within2 = first | (got[:, before + 1] == acts[:, before + 1])
    per = {f"{a}->{b}": float(first[[i for i, p in enumerate(pairs) if p == (a, b)]].mean()) for a, b in switches}
    return {"accuracy": float(first.mean()), "within_two_chunks": float(within2.mean()), "per_switch": per,
            "n": int(first.size)}


def off_topic_ends(judge, who: WorldContestant, ctx: StartContexts, commands: list[str], real_features: np.ndarray,
                   steps: int = 200, seed: int = 0) -> dict:
    """About `steps` chunks under off-topic `commands` and as many under the recorded commands
    of the same starts: the share of steps whose end probability crosses `END_THRESHOLD`, and
    the Frechet distance of each set of chunks to real play (a view that melts drifts away)."""
    B = len(ctx)
    H = max(1, -(-steps // B))
    acts = np.zeros((B, H), np.int64)
    out = {}
    for name, texts in [("off_topic", [[commands[(b + h) % len(commands)] for h in range(H)] for b in range(B)]),
                        ("recorded", [[ctx.next_texts[b][h % len(ctx.next_texts[b])] for h in range(H)]
                                      for b in range(B)])]:
        frames = who.rollout(ctx, texts, acts, seed)
        end = who.trace["end_prob"]
        feats = judge.features(*_pairs(ctx.last_frames, frames))
        out[name] = {"end_rate": float((end > END_THRESHOLD).mean()), "mean_end_prob": float(end.mean()),
                     "frechet": frechet_distance(feats, real_features), "n": int(end.size)}
        if name == "off_topic" and who.trace.get("read_as"):
            reads = [r for row in who.trace["read_as"] for r in row]
            out[name]["read_as"] = {k: reads.count(k) for k in sorted(set(reads))}
    rec = out["recorded"]["end_rate"]
    out["end_rate_ratio"] = out["off_topic"]["end_rate"] / rec if rec > 0 else (
        0.0 if out["off_topic"]["end_rate"] == 0 else float("inf"))
    return out


def _detection(score: np.ndarray, threshold: float, real: np.ndarray, random_draw: np.ndarray, rate: float) -> dict:
    """How a head's `score` finds real events: recall at `threshold` on the event chunks (each
    once: those outside the random draw), false alarms on random chunks without one, the
    precision those give at the events' real `rate` among all chunks (the sample holds more
    events than play does), and the threshold-free AUROC of events against quiet chunks."""
    events, quiet = real & ~random_draw, random_draw & ~real
    pred = score > threshold
    recall = float(pred[events].mean()) if events.any() else float("nan")
    false_alarm = float(pred[quiet].mean()) if quiet.any() else float("nan")
    hit, miss = recall * rate, false_alarm * (1 - rate)
    auroc = float("nan")
    if events.any() and quiet.any():  # chance that an event chunk outscores a quiet one (ties: half)
        e, q = score[events][:, None], score[quiet][None, :]
        auroc = float((e > q).mean() + 0.5 * (e == q).mean())
    return {"recall": recall, "false_alarm": false_alarm, "events": int(events.sum()), "quiet_chunks": int(quiet.sum()),
            "precision_at_real_rate": hit / (hit + miss) if hit + miss > 0 else float("nan"), "auroc": auroc,
            "mean_score_events": float(score[events].mean()) if events.any() else float("nan"),
            "mean_score_quiet": float(score[quiet].mean()) if quiet.any() else float("nan")}


def reward_end_agreement(who: WorldContestant, data_dir, random_chunks: int = 256, seed: int = 0,
                         batch: int = 64, keep_events: bool = False) -> dict:
    """The next chunk after real held-out contexts under its recorded command (events stripped;
    `keep_events`: the recorded text whole, which no player can give): predicted reward and
    end probability against the real ones (`load_outcome_starts`)."""
    command_of = (lambda text: text) if keep_events else command_part
    ctx, real_r, real_end, random_draw, rates = load_outcome_starts(
        data_dir, who.world.context_chunks, random_chunks, seed)
    pred_r, pred_end = np.zeros(len(ctx), np.float32), np.zeros(len(ctx), np.float32)
    for lo in range(0, len(ctx), batch):
        part = ctx.take(range(lo, min(lo + batch, len(ctx))))
        who.rollout(part, [[command_of(t[0])] for t in part.next_texts], part.next_actions, seed)
        pred_r[lo:lo + len(part)] = who.trace["reward"][:, 0]
        pred_end[lo:lo + len(part)] = who.trace["end_prob"][:, 0]
    r, p = real_r[random_draw], pred_r[random_draw]
    corr = float(np.corrcoef(r, p)[0, 1]) if r.std() > 0 and p.std() > 0 else float("nan")
    return {"reward_correlation": corr, "reward_mae": float(np.abs(r - p).mean()),
            "reward_event": _detection(pred_r, REWARD_EVENT, real_r > REWARD_EVENT, random_draw, rates["event"]),
            "episode_end": _detection(pred_end, END_THRESHOLD, real_end, random_draw, rates["end"]),
            "random_chunks": int(random_draw.sum()), "heldout_chunks": rates["chunks"],
            "real_rates": {"event": rates["event"], "end": rates["end"]}}


def empty_thoughts(who: WorldContestant, ctx: StartContexts, steps: int = 500, seed: int = 0) -> dict:
    """Let the model write the text of about `steps` chunks ("" as the command): how many are empty."""
    B = len(ctx)
    H = max(1, -(-steps // B))
    who.rollout(ctx, [[""] * H for _ in range(B)], np.zeros((B, H), np.int64), seed)
    texts = [t for row in who.trace["texts"] for t in row]
    return {"empty": sum(1 for t in texts if not t.strip()), "n": len(texts), "examples": texts[:8]}


def long_rollout_quality(judge, who: WorldContestant, ctx: StartContexts, real_features: np.ndarray,
                         horizon: int = 256, seed: int = 0) -> dict:
    """Chunks 1..horizon with the model's own text: Frechet distance to real play, overall
    and per `LONG_BINS` stretch, in the judge's feature space."""
    feats, prev = [], ctx.last_frames
    for h, frames in who.own_text_rollout(ctx, horizon, seed):
        feats.append(judge.features(prev, frames))
        prev = frames
    feats = np.stack(feats)  # (H, B, d)
    bins = {f"{a}-{b}": frechet_distance(feats[a - 1:b].reshape(-1, feats.shape[-1]), real_features)
            for a, b in LONG_BINS if b <= horizon}
    texts = [t for row in who.trace["texts"] for t in row]
    return {"frechet": frechet_distance(feats.reshape(-1, feats.shape[-1]), real_features), "per_stretch": bins,
            "horizon": horizon, "n": int(feats.shape[0] * feats.shape[1]),
            "empty_texts": sum(1 for t in texts if t is not None and not t.strip()) if who.conditioning == "text" else None,
            "prompts": (who.trace.get("prompts") or [None])[:2]}


def copy_frame_long_quality(judge, ctx: StartContexts, real_features: np.ndarray, horizon: int) -> dict:
    """The long-rollout distance of a world that never moves (the last real frame held)."""
    still = np.repeat(ctx.last_frames[:, -1:], ctx.last_frames.shape[1], 1)
    one = judge.features(still, still)
    feats = np.repeat(one[None], horizon, 0)
    return {"frechet": frechet_distance(feats.reshape(-1, feats.shape[-1]), real_features), "horizon": horizon,
            "n": int(feats.shape[0] * feats.shape[1])}


def real_chunk_features(judge, data_dir, max_chunks: int = 8192, seed: int = 0) -> np.ndarray:
    """Judge features of real chunk pairs from every held-out episode (at most `max_chunks`)."""
    from .judge import previous_chunks

    feats = []
    for _, ep in iter_episodes(data_dir, "heldout"):
        frames = np.asarray(ep.frames)
        feats.append(judge.features(previous_chunks(frames[0][0], frames), frames))
    feats = np.concatenate(feats)
    if len(feats) > max_chunks:
        feats = feats[np.sort(np.random.default_rng(seed).choice(len(feats), max_chunks, replace=False))]
    return feats


def _pairs(last_frames: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B, H, F, ...) chunks -> flat (B*H, F, ...) pairs of (chunk before, chunk)."""
    B, H = frames.shape[:2]
    prev = np.concatenate([last_frames[:, None], frames[:, :-1]], 1)
    return prev.reshape(B * H, *frames.shape[2:]), frames.reshape(B * H, *frames.shape[2:])


def chunk_quality(gen: np.ndarray, real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-chunk PSNR and SSIM (B, H), each the mean over the chunk's frames."""
    return psnr(gen, real).mean(-1), ssim(gen.reshape(-1, *gen.shape[-3:]), real.reshape(-1, *real.shape[-3:])
                                           ).reshape(gen.shape[:3]).mean(-1)


def frame_quality(who: Contestant, ctx: StartContexts, horizon: int, seed: int, tf_every: int = 4) -> dict:
    gen = who.rollout(ctx, ctx.next_texts, ctx.next_actions, seed)[:, :horizon]
    real = ctx.next_frames[:, :horizon]
    p, s = chunk_quality(gen, real)
    shuffled_texts = ctx.next_texts[1:] + ctx.next_texts[:1]  # each start gets another start's text
    shuf = who.rollout(ctx, shuffled_texts, np.roll(ctx.next_actions, -1, 0), seed)[:, :horizon]
    p_shuf, _ = chunk_quality(shuf, real)
    # teacher forcing: a real context every time, one chunk each, at several points of the continuation
    tf_ctx = concat_starts([shifted(ctx, j) for j in range(0, horizon, tf_every)])
    tf_p, tf_s = chunk_quality(who.rollout(tf_ctx, tf_ctx.next_texts, tf_ctx.next_actions, seed), tf_ctx.next_frames)
    at = {h: {"psnr": _mean(p[:, h - 1]), "ssim": _mean(s[:, h - 1])} for h in HORIZONS if h <= horizon}
    with np.errstate(invalid="ignore"):
        delta = p - p_shuf
    return {"teacher_forced": {"psnr": _mean(tf_p), "ssim": _mean(tf_s), "n": int(tf_p.size)},
            "rollout": {str(h): v for h, v in at.items()},
            "rollout_psnr_per_chunk": [_mean(p[:, h]) for h in range(p.shape[1])],
            "delta_psnr": _mean(delta), "psnr_shuffled_text": _mean(p_shuf), "video": gen[:1], "n": int(p.shape[0])}


def _mean(x) -> float:
    x = np.asarray(x, dtype=np.float64)
    if np.isinf(x).all() and (x > 0).all():
        return float("inf")  # identical frames everywhere (the real continuation itself)
    finite = x[np.isfinite(x)]
    return float(finite.mean()) if finite.size else float("nan")


# --- the whole benchmark ----------------------------------------------------------------------
@dataclass
class BenchPlan:
    """What every model is scored on, the same for all: the starts, the judge, the commands and
    the sizes of the optional sections (0 leaves a section out)."""
    judge: object
    data: Path
    ctx: StartContexts
    card: object
    action_names: list
    phrases: dict
    wordings: dict  # report key -> {action: its wordings}; "action" holds the recorded ones
    readable: list  # probe actions the judge reads in real play
    real_features: np.ndarray | None
    chunks: int
    seed: int
    horizon: int
    long_horizon: int
    off_topic_steps: int
    thought_steps: int
    outcome_chunks: int


def run_benchmark(checkpoint, data, judge_dir, out, baselines=(), episodes: int = 8, horizon: int = 16,
                  commands_file=None, chunks: int = 3, seed: int = 0, device: str = "auto", progress: bool = True,
                  contestants: list[Contestant] | None = None, long_horizon: int = 256, off_topic_steps: int = 200,
                  thought_steps: int = 500, outcome_chunks: int = 256, cache: str = DEFAULT_CACHE,
                  distilled=None, skip_starts_after=None, decoder: str = "full") -> dict:
    """The whole benchmark into `out` (report.json, report.md, plots, rollouts.mp4). The long
    rollouts start from the same starts and are compared with real held-out play at large, so
    they need no real continuation of `long_horizon` chunks; `long_horizon=0`,
    `off_topic_steps=0`, `thought_steps=0` and `outcome_chunks=0` (the reward and end heads'
    random chunks) leave those sections out. `cache`: how every model's sampler drops the
    oldest context chunk ("exact" rebuild or "rolling"; model/sampler.py). `distilled`: a student
    of `tv2tv distill`; the checkpoint drawing with it is benched as one more model.
    `skip_starts_after`: action names after which no start is taken (`load_starts`); None: the
    card's `unresponsive_actions`. `decoder`: what turns every model's latents into frames ("full":
    the VAE's, the same for every model and every earlier report; "auto": each checkpoint's tiny
    decoder where it ships one)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    meta = read_meta(data)
    game = meta["game"]
    card = get_card(game)
    skip_starts_after, skip_ids = starts_to_skip(card, skip_starts_after)
    wordings = bench_wordings(game, commands_file)  # a bad --commands file fails before the long part
    judge = load_judge(judge_dir)
    if contestants is None:
        contestants = default_contestants(checkpoint, baselines, game, device, cache, distilled, decoder)
    ctx_chunks = max([c.world.context_chunks for c in contestants if isinstance(c, WorldContestant)], default=1)
    ctx = load_starts(data, episodes, ctx_chunks, horizon, seed=seed, skip_after=skip_ids)
    first_world = next((c for c in contestants if isinstance(c, WorldContestant)), None)
    judge_info = judge_ceilings(judge, data, ctx, card, first_world)

    report = {"game": game, "data": str(data), "frames_per_chunk": int(meta["frames_per_chunk"]),
              "heldout_starts": len(ctx), "horizon": horizon, "probe_chunks": chunks,
              "seed": seed, "cache": cache, "skip_starts_after": list(skip_starts_after),
              "judge": {k: v for k, v in judge_info.items() if k != "heldout"},
              "judge_heldout": {k: judge_info["heldout"][k] for k in ("accuracy", "episodes", "samples")
                                if k in judge_info["heldout"]}, "models": {}}
    real_features = real_chunk_features(judge, data) if (long_horizon or off_topic_steps) else None
    if long_horizon:
        report["long_horizon"] = {"chunks": long_horizon, "real_chunks": int(len(real_features)),
                                  "copy-last-frame": copy_frame_long_quality(judge, ctx, real_features, long_horizon)}
    action_names, phrases, *_ = game_vocabulary(game)
    plan = BenchPlan(judge=judge, data=data, ctx=ctx, card=card, action_names=action_names, phrases=phrases,
                     wordings=wordings, readable=[a for a in card.probe if a not in judge_info["unreadable_probe"]],
                     real_features=real_features, chunks=chunks, seed=seed, horizon=horizon,
                     long_horizon=long_horizon, off_topic_steps=off_topic_steps, thought_steps=thought_steps,
                     outcome_chunks=outcome_chunks)
    videos = {"real": ctx.next_frames[:1, :horizon]}
    for who in tqdm(contestants, desc="bench", unit="model", disable=not progress):
        report["models"][who.name], videos[who.name] = score_contestant(who, plan)
    write_report_files(report, videos, ctx.next_texts[0][:horizon], out)
    return report


def default_contestants(checkpoint, baselines, game: str, device: str, cache: str, distilled,
                        decoder: str = "full") -> list[Contestant]:
    """The checkpoint, its distilled student (second, when given), each baseline and copy-last-frame,
    each named by its conditioning; two of a kind are told apart by their directory."""
    contestants = []
    for path in [checkpoint, *baselines]:
        c = WorldContestant("", path, game, device, cache=cache, decoder=decoder)
        c.name = NAMES[c.conditioning]
        if c.name in [x.name for x in contestants]:
            c.name = f"{c.name} ({Path(path).name})"
        c.name = _unique(c.name, [x.name for x in contestants])
        contestants.append(c)
    if distilled is not None:
        c = WorldContestant("", checkpoint, game, device, cache=cache, distilled=distilled, decoder=decoder)
        n = c.world.sampler.student_steps
        c.name = f"{NAMES[c.conditioning]}, distilled ({n} step{'s' if n != 1 else ''})"
        contestants.insert(1, c)
    contestants.append(CopyLastFrame())
    return contestants


def bench_wordings(game: str, commands_file=None) -> dict:
    """The probe actions' wordings per report key: the recorded ones, new words (the user's
    `--commands FILE` or the card's), new phrasings and everyday words. A card without a list
    (a Gymnasium env's generated card) leaves that key out."""
    action_names, phrases, unseen, recombined, everyday = game_vocabulary(game)
    probe = list(get_card(game).probe)
    unseen_words = read_commands_file(commands_file, action_names) if commands_file else \
        {a: unseen[a] for a in probe if a in unseen}
    lists = {"action": {a: phrases[a] for a in probe}, "action_unseen_wording": unseen_words,
             "action_new_phrasing": {a: recombined[a] for a in probe if a in recombined},
             "action_everyday_wording": {a: everyday[a] for a in probe if a in everyday}}
    return {k: v for k, v in lists.items() if v or k == "action"}


def judge_ceilings(judge, data, ctx: StartContexts, card, first_world: WorldContestant | None) -> dict:
    """The judge on every held-out episode, on the bench's own real chunks, after each of the
    bench's switches in real play, and on VAE reconstructions of the real chunks (the ceiling for
    any model drawing through that VAE): what each model's score is to be read against."""
    real_pred = judge_chunks(judge, ctx.last_frames, ctx.next_frames)
    info = {"heldout": evaluate_judge(judge, data, "heldout"),
            "on_bench_real_frames": float((real_pred == ctx.next_actions).mean())}
    after = info["heldout"].get("after_change", {})
    info["after_change"] = after.get("accuracy")
    info["after_switch"] = {f"{a}->{b}": after.get("per_switch", {}).get(f"{a}->{b}") for a, b in card.switches}
    known = [v["accuracy"] for v in info["after_switch"].values() if v]
    info["after_switch_mean"] = float(np.mean(known)) if known else None
    info["accuracy"] = info["heldout"]["accuracy"]
    info["unreadable_probe"] = unreadable_actions(info["heldout"].get("per_action", {}), list(card.probe))
    info["trust_note"] = trust_note(info["accuracy"])
    if first_world is not None:
        recon = first_world.world.roundtrip(ctx.next_frames)
        last = first_world.world.roundtrip(ctx.last_frames[:, None])[:, 0]
        info["on_vae_reconstructions"] = float((judge_chunks(judge, last, recon) == ctx.next_actions).mean())
    return info


def score_contestant(who: Contestant, plan: BenchPlan) -> tuple[dict, np.ndarray]:
    """One model's section of the report, and its first rollout for the video."""
    judge, ctx, seed = plan.judge, plan.ctx, plan.seed
    t0 = time.perf_counter()
    r = {"info": who.info, "conditioning": who.conditioning}
    for key, wordings in plan.wordings.items():
        r[key] = action_accuracy(judge, who, ctx, wordings, plan.action_names, plan.chunks, seed)
    r["action"]["readable_accuracy"] = _mean([r["action"]["per_action"][a] for a in plan.readable])
    if isinstance(who, WorldContestant):
        if plan.off_topic_steps:
            r["off_topic"] = off_topic_ends(judge, who, ctx, list(plan.card.off_topic), plan.real_features,
                                            plan.off_topic_steps, seed)
        if plan.thought_steps and who.conditioning == "text":
            r["thoughts"] = empty_thoughts(who, ctx, plan.thought_steps, seed)
        if plan.outcome_chunks:
            r["reward_end"] = reward_end_agreement(who, plan.data, plan.outcome_chunks, seed)
        if plan.long_horizon and who.conditioning != "action_id":
            r["long_rollout"] = long_rollout_quality(judge, who, ctx, plan.real_features, plan.long_horizon, seed)
    r["intervention"] = intervention_accuracy(judge, who, ctx, list(plan.card.switches), plan.phrases,
                                              plan.action_names, seed)
    r["quality"] = frame_quality(who, ctx, plan.horizon, seed)
    video = r["quality"].pop("video")
    r["seconds"] = round(time.perf_counter() - t0, 1)
    if isinstance(who, WorldContestant) and who.seconds:
        r["frames_per_s"] = round(who.frames / who.seconds, 1)
    return r, video


def write_report_files(report: dict, videos: dict, texts: list[str], out: Path):
    """report.json, report.md, the plots and rollouts.mp4 (the first start, each model side by side)."""
    (out / "report.json").write_text(json.dumps(report, indent=1, default=_json_default))
    (out / "report.md").write_text(report_markdown(report))
    plot_accuracy(report, out / "accuracy_per_action.png")
    plot_psnr(report, out / "psnr_vs_horizon.png")
    if "long_horizon" in report:
        plot_long_frechet(report, out / "frechet_vs_horizon.png")
    video_grid(videos, texts, out / "rollouts.mp4")


def print_result(result: dict, out=None):
    """A script's result: one JSON line on stdout and, given `out`, the same indented in that file."""
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


def _unique(name, taken):
    n, k = name, 2
    while n in taken:
        n, k = f"{name}-{k}", k + 1
    return n


def _json_default(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(type(x))


def _f(x, digits=1, pct=False):
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "-"
    if isinstance(x, float) and np.isinf(x):
        return "inf"
    return f"{100 * x:.{digits}f}%" if pct else f"{x:.{digits}f}"


def _switch_table(report: dict) -> list[str]:
    """Intervention accuracy per switch, next to the judge on real chunks after the same switch."""
    real = report["judge"].get("after_switch") or {}
    models = report["models"]
    if not real or not models:
        return []
    names = list(models)
    lines = ["", "Intervention per switch: the first chunk after the switch, judged; \"real play\" is the judge on real "
             "held-out chunks right after the same switch (their number in brackets), the ceiling of each row.", "",
             "| switch | real play | " + " | ".join(names) + " |", "|---" * (len(names) + 2) + "|"]
    for sw, r in real.items():
        cells = [f"{_f(r['accuracy'], 0, True)} ({r['samples']})" if r else "- (0)"]
        cells += [_f(models[n]["intervention"]["per_switch"].get(sw), 0, True) for n in names]
        lines.append(f"| {sw} | " + " | ".join(cells) + " |")
    mean = report["judge"].get("after_switch_mean")
    lines.append("| **mean** | " + " | ".join([_f(mean, 1, True)] + [_f(models[n]["intervention"]["accuracy"], 1, True)
                                              for n in names]) + " |")
    return lines


def _language_table(report: dict) -> list[str]:
    """Everyday wordings, off-topic text, empty thoughts and long rollouts, per model."""
    models = {n: r for n, r in report["models"].items() if "off_topic" in r or "long_rollout" in r}
    if not models:
        return []
    long = report.get("long_horizon", {})
    bins = [f"{a}-{b}" for a, b in LONG_BINS if b <= long.get("chunks", 0)]
    lines = ["", f"Words people type, text the model cannot place, and long rollouts (Frechet distance to real "
             f"held-out play in the judge's feature space, lower is better; {long.get('chunks', '-')} chunks = "
             f"{long.get('chunks', 0) * frames_per_chunk(report)} frames, each model writing its own text as trained):", "",
             "| model | everyday words | episode ends, off-topic / recorded | FD off-topic / recorded | empty thoughts | "
             "FD long | " + " | ".join(f"FD {b}" for b in bins) + " |", "|---" * (6 + len(bins)) + "|"]
    for name, r in models.items():
        ot, th, lr = r.get("off_topic"), r.get("thoughts"), r.get("long_rollout") or {}
        cells = [name, _f(r.get("action_everyday_wording", {}).get("accuracy"), 1, True),
                 f"{_f(ot['off_topic']['end_rate'], 1, True)} / {_f(ot['recorded']['end_rate'], 1, True)}" if ot else "-",
                 f"{_f(ot['off_topic']['frechet'], 1)} / {_f(ot['recorded']['frechet'], 1)}" if ot else "-",
                 f"{th['empty']} of {th['n']}" if th else "-", _f(lr.get("frechet"), 1)]
        cells += [_f(lr.get("per_stretch", {}).get(b), 1) for b in bins]
        lines.append("| " + " | ".join(cells) + " |")
    if "copy-last-frame" in long:
        lines.append(f"| copy-last-frame | - | - | - | - | {_f(long['copy-last-frame']['frechet'], 1)} | "
                     + " | ".join("-" for _ in bins) + " |")
    return lines


def _outcome_table(report: dict) -> list[str]:
    """Reward and episode-end heads against the real game, per model."""
    models = {n: r["reward_end"] for n, r in report["models"].items() if "reward_end" in r}
    if not models:
        return []
    any_r = next(iter(models.values()))
    ev, end = any_r["reward_event"], any_r["episode_end"]
    lines = ["", f"Reward and episode-end heads against the real game: the next chunk after a real held-out context "
             f"under its recorded command, predicted against what the engine gave. Reward correlation and error on "
             f"{any_r['random_chunks']} random chunks; recall on all {ev['events']} reward events (reward > "
             f"{REWARD_EVENT}) and {end['events']} episode ends of {any_r['heldout_chunks']} held-out chunks; "
             f"false alarms on the random chunks without one; precision at the real rate; AUROC: the chance that "
             f"an event chunk scores above a quiet one (0.5: the head cannot tell them apart) "
             f"({_f(any_r['real_rates']['event'], 1, True)} of chunks have an event, "
             f"{_f(any_r['real_rates']['end'], 2, True)} an end).", "",
             "| model | reward corr. | reward MAE | event recall | event false alarms | event precision | event AUROC | "
             "end recall | false ends | end precision | end AUROC |", "|---" * 11 + "|"]
    for name, r in models.items():
        e, d = r["reward_event"], r["episode_end"]
        lines.append("| " + " | ".join([name, _f(r["reward_correlation"], 2), _f(r["reward_mae"], 3),
                                        _f(e["recall"], 1, True), _f(e["false_alarm"], 1, True),
                                        _f(e["precision_at_real_rate"], 1, True), _f(e["auroc"], 2),
                                        _f(d["recall"], 1, True), _f(d["false_alarm"], 1, True),
                                        _f(d["precision_at_real_rate"], 1, True), _f(d["auroc"], 2)])
                     + " |")
    return lines


def report_markdown(report: dict) -> str:
    j = report["judge"]
    lines = [f"# tv2tv bench: {report['game']}", "",
             f"{report['heldout_starts']} held-out starts from {report['data']}, seed {report['seed']}, "
             f"rollout horizon {report['horizon']} chunks, {report.get('cache', 'exact')} KV cache"
             + (f"; no start right after {', '.join(report['skip_starts_after'])}" if report.get("skip_starts_after")
                else "") + ".", "",
             f"Judge accuracy on real held-out chunks: **{_f(j['accuracy'], 1, True)}** "
             f"({report['judge_heldout'].get('samples', '?')} chunks of {report['judge_heldout'].get('episodes', '?')} "
             f"held-out episodes) "
             f"(on this benchmark's real continuations {_f(j['on_bench_real_frames'], 1, True)}; on their VAE "
             f"reconstructions {_f(j.get('on_vae_reconstructions'), 1, True)}, the ceiling of a model that draws "
             f"through this VAE)."]
    if j.get("trust_note"):
        lines += ["", f"**Warning:** {j['trust_note']}"]
    if j.get("after_change") is not None:
        lines += ["", f"On real held-out chunks whose action differs from the chunk before (the real-play analogue "
                  f"of an intervention) the judge scores {_f(j['after_change'], 1, True)}."]
    if j.get("unreadable_probe"):
        lines += ["", "Probe actions the judge does not read in real play (or has no held-out chunk of): "
                  + "; ".join(f"`{a}` ({why})" for a, why in j["unreadable_probe"].items())
                  + ". No model's chunk under such a command can be scored right, so every action accuracy below "
                  "holds that share by construction. Over the other probe actions: "
                  + ", ".join(f"{name} {_f(r['action'].get('readable_accuracy'), 1, True)}"
                              for name, r in report["models"].items()) + "."]
    lines += _switch_table(report)
    lines += ["", "| model | action acc. | new phrasing | new words | intervention | TF PSNR | TF SSIM | PSNR@1 | "
              "PSNR@4 | PSNR@16 | delta-PSNR | frames/s | steps | train min |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in report["models"].items():
        q, ro = r["quality"], r["quality"]["rollout"]
        info = r["info"]
        lines.append("| " + " | ".join([
            name, _f(r["action"]["accuracy"], 1, True), _f(r.get("action_new_phrasing", {}).get("accuracy"), 1, True),
            _f(r.get("action_unseen_wording", {}).get("accuracy"), 1, True),
            _f(r["intervention"]["accuracy"], 1, True), _f(q["teacher_forced"]["psnr"], 2),
            _f(q["teacher_forced"]["ssim"], 3), *[_f(ro.get(str(h), {}).get("psnr"), 2) for h in HORIZONS],
            _f(q["delta_psnr"], 2), _f(r.get("frames_per_s")), str(info.get("steps", "-")),
            str(info.get("train_minutes", "-"))]) + " |")
    lines += _language_table(report)
    lines += _outcome_table(report)
    lines += ["", "Action accuracy: the judge reads each generated chunk under a command and agrees with it. New "
              "phrasing: the same with sentences never used in recording, made of words recording uses (\"look to "
              "the left\"). New words: with words never used in recording (\"spin left\"). Intervention: the "
              "first chunk after a command switch follows the new command. TF: teacher-forced next chunk. delta-PSNR: rollout PSNR "
              "with the real text minus with shuffled text (0 means the model ignores the text).", ""]
    return "\n".join(lines)
