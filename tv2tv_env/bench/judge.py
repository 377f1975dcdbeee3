"""The inverse-dynamics judge: which action was held during a chunk, read from its frames.

The benchmark cannot ask the game engine what a generated rollout did, so it asks a small
CNN trained on REAL recorded play. Input: the previous chunk's F frames and this chunk's F
frames (2F frames of H x W RGB, uint8); the previous chunk is there because Doom has
momentum, so this chunk's motion alone mixes in the last action. Before chunk 0 the
"previous chunk" is the episode's start frame repeated F times (`previous_chunks`), so
every chunk is judged, the first one included.

Targets follow the game card's `judge_labels` (tv2tv_env/games/card.py):
- Doom: multi-label over the 7 buttons (BCE). The judged action is the exact button set,
  mapped to an id of ACTION_NAMES; a set that is no action maps to the nearest one by
  Hamming distance (`buttons_to_action`).
- Crafter: the action id, one of 17 classes (cross-entropy).

A judge is only as good as its accuracy on real held-out play: below TRUST_THRESHOLD the
benchmark prints `trust_note(acc)` next to every score that uses it.
"""
from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from model import precision
from model.atomic import atomic_dir

from ..data.dataset import BadEpisode, iter_episodes, read_episode, read_meta
from ..errors import UserError
from ..games import get_card
from ..games.mirror import mirror_permutation
from ..training.args import JUDGE_ARGS, TrainArgs
from ..training.loop import STATE_FILE, Task
from ..training.loop import fit as fit_task
from . import metrics

TRUST_THRESHOLD = 0.85
CONFIG_FILE, WEIGHTS_FILE, REPORT_FILE = "config.json", "model.safetensors", "report.json"


def trust_note(acc: float) -> str | None:
    """None when the judge is good enough to trust, else a sentence saying why it is not."""
    if acc is not None and acc >= TRUST_THRESHOLD:
        return None
    return (f"The judge is too weak to trust: its action accuracy on real held-out play is "
            f"{acc:.1%}, below {TRUST_THRESHOLD:.0%}, so it often misreads even real frames and "
            f"any score computed with it (action or text-intervention accuracy) is unreliable.")


# --- the model ------------------------------------------------------------------------------
@dataclass
class JudgeConfig:
    game: str
    action_names: list[str]
    button_names: list[str] = field(default_factory=list)  # empty: the judge predicts action ids
    frames_per_chunk: int = 4
    height: int = 64
    width: int = 64
    channels: int = 32  # width of the first conv layer; later layers use 2x and 4x
    # Read every chunk pair twice, as seen and mirrored left-right (with left/right outputs swapped
    # back), and average the logits: a turn left is a mirrored turn right, so two views of one
    # pair cost one more forward and remove the judge's left/right bias.
    mirror_average: bool = False

    @property
    def multi_label(self) -> bool:
        return bool(self.button_names)

    @property
    def n_outputs(self) -> int:
        return len(self.button_names) if self.multi_label else len(self.action_names)


def action_button_table(action_names: list[str], button_names: list[str]) -> np.ndarray:
    """(A, B) multi-hot: the buttons each action holds ("+"-joined names, "idle" = none)."""
    table = np.zeros((len(action_names), len(button_names)), np.uint8)
    for a, name in enumerate(action_names):
        for part in name.split("+"):
            if part != "idle":
                table[a, button_names.index(part)] = 1
    return table


def buttons_to_action(buttons, table: np.ndarray) -> np.ndarray:
    """Map button sets (N, B) to action ids (N,): the action whose set is nearest.

    On 0/1 input the distance is the Hamming distance; ties go to the lowest action id.
    Probabilities are accepted too: the L1 distance then picks the thresholded set whenever
    it is an action, and otherwise breaks Hamming ties by the predicted confidence.
    """
    b = np.asarray(buttons, np.float64)
    dist = np.abs(b[:, None, :] - table[None, :, :]).sum(-1)  # (N, A)
    return dist.argmin(1)  # argmin returns the first minimum: the lowest id on ties


def _norm(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(8, c), c)  # 8 groups when the width allows, fewer for tiny test models


class Judge(nn.Module):
    """(B, 2F, H, W, 3) uint8 -> (B, n_outputs) logits.

    The conv stack sees the 2F frames and their 2F-1 consecutive differences as channels:
    actions are motion, and differences make it visible to the first layer. Four stride-2
    convs (64 -> 4 px), a stride-1 conv, global average pooling, a linear head.
    """

    def __init__(self, cfg: JudgeConfig):
        super().__init__()
        self.cfg = cfg
        n = 2 * cfg.frames_per_chunk
        c = cfg.channels
        widths = [(n + n - 1) * 3, c, 2 * c, 4 * c, 4 * c]
        layers = []
        for cin, cout in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), _norm(cout), nn.ReLU()]
        layers += [nn.Conv2d(4 * c, 4 * c, 3, padding=1), _norm(4 * c), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(4 * c, cfg.n_outputs)
        if cfg.multi_label:
            self.register_buffer("table", torch.from_numpy(action_button_table(cfg.action_names, cfg.button_names)),
                                 persistent=False)
        self.register_buffer("mirror_perm", torch.from_numpy(
            mirror_permutation(cfg.button_names if cfg.multi_label else cfg.action_names)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pooled(x))

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 2F, H, W, 3) uint8 -> (B, 4 * channels): the features the head reads."""
        B, N, H, W, C = x.shape
        x = x.float().div(255).permute(0, 1, 4, 2, 3)  # (B, N, 3, H, W) in [0, 1]
        diff = (x[:, 1:] - x[:, :-1]) * 4  # differences are small; scale them towards the frames' range
        x = torch.cat([x - 0.5, diff], 1).reshape(B, -1, H, W)
        return self.body(x).mean(dim=(2, 3))

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @torch.no_grad()
    def _over_pairs(self, prev_frames, frames, fn, width: int, batch: int = 256) -> torch.Tensor:
        """fn applied in eval mode to batches of chunk pairs (B, F, H, W, 3) uint8, numpy or
        torch, stacked on the CPU: (B, width)."""
        prev, cur = torch.as_tensor(np.asarray(prev_frames)), torch.as_tensor(np.asarray(frames))
        want = (self.cfg.frames_per_chunk, self.cfg.height, self.cfg.width, 3)
        if prev.shape != cur.shape or prev.ndim != 5 or tuple(prev.shape[1:]) != want:
            raise ValueError(f"expected two (B, {', '.join(map(str, want))}) uint8 arrays, "
                             f"got {tuple(prev.shape)} and {tuple(cur.shape)}")
        was_training = self.training
        self.eval()
        out = [fn(torch.cat([prev[i:i + batch], cur[i:i + batch]], 1).to(self.device)).cpu()
               for i in range(0, len(cur), batch)]
        self.train(was_training)
        return torch.cat(out) if out else torch.zeros(0, width)

    def logits(self, prev_frames, frames, batch: int = 256) -> torch.Tensor:
        """Logits (B, n_outputs) on the CPU for chunk pairs (B, F, H, W, 3) uint8, numpy or torch."""
        def fn(x):
            z = self(x).float()
            if self.cfg.mirror_average:  # the mirrored pair's outputs, swapped back to this side
                z = (z + self(x.flip(-2)).float()[:, self.mirror_perm]) / 2  # (B, 2F, H, W, 3): W is dim -2
            return z

        return self._over_pairs(prev_frames, frames, fn, self.cfg.n_outputs, batch)

    def features(self, prev_frames, frames, batch: int = 256) -> np.ndarray:
        """(B, 4 * channels) float64: the pooled conv features the head reads, for chunk pairs
        (B, F, H, W, 3) uint8. The space of the benchmark's Frechet distance: it holds what
        the judge needs to tell actions apart, and it is trained on this game's real frames."""
        return self._over_pairs(prev_frames, frames, lambda x: self.pooled(x).double(), 4 * self.cfg.channels,
                                batch).numpy()

    def predict_buttons(self, prev_frames, frames) -> np.ndarray:
        """(B, n_buttons) uint8: the buttons judged held (probability > 0.5). Doom only."""
        if not self.cfg.multi_label:
            raise ValueError(f"the {self.cfg.game} judge predicts action ids, not buttons")
        return (self.logits(prev_frames, frames) > 0).numpy().astype(np.uint8)

    def predict_actions(self, prev_frames, frames) -> np.ndarray:
        """(B,) int64 action ids judged held during each chunk."""
        z = self.logits(prev_frames, frames)
        if self.cfg.multi_label:
            return buttons_to_action(torch.sigmoid(z).numpy(), self.table.cpu().numpy())
        return z.argmax(1).numpy()


# --- data -----------------------------------------------------------------------------------
def previous_chunks(start_frame: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """(T, F, H, W, 3): the chunk before each of `frames`' T chunks; before chunk 0 the start
    frame repeated F times."""
    first = np.broadcast_to(start_frame, frames.shape[1:])[None]
    return np.concatenate([first, frames[:-1]], 0)


@dataclass
class ChunkPairs:
    """Labelled chunk pairs in memory, stored once: `chunks` holds each episode's start frame
    (repeated F times) followed by its chunks, so sample i is rows[i] - 1 and rows[i]."""

    chunks: np.ndarray  # (R, F, H, W, 3) uint8
    rows: np.ndarray  # (N,) row of each sample's chunk in `chunks`
    targets: np.ndarray  # (N, B) float32 buttons, or (N,) int64 action ids
    actions: np.ndarray  # (N,) int64 action ids
    episodes: int = 0

    def __len__(self):
        return len(self.rows)

    def subset(self, idx) -> "ChunkPairs":
        return ChunkPairs(self.chunks, self.rows[idx], self.targets[idx], self.actions[idx], self.episodes)

    def batch(self, idx) -> tuple[torch.Tensor, torch.Tensor]:
        r = self.rows[idx]
        x = np.concatenate([self.chunks[r - 1], self.chunks[r]], 1)  # (B, 2F, H, W, 3)
        return torch.from_numpy(x), torch.from_numpy(self.targets[idx])


def _listing(data_dir, split: str) -> list[tuple[Path, int]]:
    """(path, chunks) of a split's usable episodes, read without their frames."""
    return [(p, len(ep)) for p, ep in iter_episodes(data_dir, split, frames=False)]


def load_pairs(data_dir, split: str = "train", max_episodes: int | None = None, seed: int = 0,
               progress: bool = False) -> ChunkPairs:
    """Every chunk pair of (at most `max_episodes`, drawn from `seed`) episodes of a split."""
    meta = read_meta(data_dir)
    listing = _listing(data_dir, split)
    if not listing:
        raise UserError(f"no usable {split} episodes in {data_dir}")
    if max_episodes is not None and len(listing) > max_episodes:
        pick = np.random.default_rng(seed).choice(len(listing), max_episodes, replace=False)
        listing = [listing[i] for i in sorted(pick)]
    F_, H, W = meta["frames_per_chunk"], meta["height"], meta["width"]
    # allocate once: at 64x64 a 200-chunk episode is 10 MB, and a list plus a concatenate would double the peak
    chunks = np.empty((sum(T + 1 for _, T in listing), F_, H, W, 3), np.uint8)
    rows, buttons, actions, r, n_eps = [], [], [], 0, 0
    for path, T in tqdm(listing, desc=f"load {split}", unit="ep", disable=not progress, file=sys.stderr):
        try:
            ep = read_episode(path, meta, verify=False)
        except BadEpisode:  # iter_episodes has already logged unreadable files; frames can still fail here
            continue
        chunks[r] = ep.start_frame
        chunks[r + 1:r + 1 + T] = ep.frames
        rows.append(np.arange(r + 1, r + 1 + T))
        buttons.append(ep.buttons)
        actions.append(ep.action.astype(np.int64))
        r, n_eps = r + T + 1, n_eps + 1
    if not rows:
        raise UserError(f"no readable {split} episodes in {data_dir}")
    actions = np.concatenate(actions)
    multi = get_card(meta["game"]).judge_labels == "buttons"
    targets = np.concatenate(buttons).astype(np.float32) if multi else actions
    return ChunkPairs(chunks[:r], np.concatenate(rows), targets, actions, n_eps)


def config_for(data_dir, channels: int = 32) -> JudgeConfig:
    meta = read_meta(data_dir)
    multi = get_card(meta["game"]).judge_labels == "buttons"
    return JudgeConfig(game=meta["game"], action_names=list(meta["action_names"]),
                       button_names=list(meta["button_names"]) if multi else [],
                       frames_per_chunk=meta["frames_per_chunk"], height=meta["height"], width=meta["width"],
                       channels=channels)


# --- training -------------------------------------------------------------------------------
def mirror(x: torch.Tensor, y: torch.Tensor, perm: np.ndarray, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip the frames of `rows` left-right and swap their left/right labels: a mirrored
    turn is a real turn the other way, so the judge sees twice the situations (it overfits
    the 270 training episodes without this)."""
    if not len(rows):
        return x, y
    x, y = x.clone(), y.clone()
    x[rows] = x[rows].flip(-2)  # (B, 2F, H, W, 3): W is dim -2
    y[rows] = y[rows][:, perm] if y.dim() == 2 else torch.from_numpy(perm)[y[rows]]
    return x, y


class JudgeTask(Task):
    """The judge as a training task (tv2tv_env/training/loop.py runs it): random batches of real
    chunk pairs, mirrored left-right half of the time with the labels swapped."""
    name = "train judge"

    def __init__(self, judge: "Judge", pairs: "ChunkPairs", batch_size: int, augment: bool):
        self.model, self.pairs, self.augment = judge, pairs, augment
        self.batch_size = min(batch_size, len(pairs))
        self.loss_fn = F.binary_cross_entropy_with_logits if judge.cfg.multi_label else F.cross_entropy
        self.perm = judge.mirror_perm.cpu().numpy()

    def loss(self, net, step, gen, rows):
        rng = np.random.default_rng(int(torch.randint(2**62, (1,), generator=gen)))
        x, y = self.pairs.batch(rng.integers(len(self.pairs), size=self.batch_size)[rows])
        if self.augment:
            x, y = mirror(x, y, self.perm, np.flatnonzero(rng.random(len(x)) < 0.5))
        return self.loss_fn(net(x.to(self.device)).float(), y.to(self.device)), {}

    def config(self):
        return asdict(self.model.cfg)

    def save_weights(self, weights, directory):
        save_judge_files(weights, directory)


def fit(judge: Judge, pairs: ChunkPairs, args: TrainArgs = JUDGE_ARGS, checkpoint=None, resume: bool = False,
        progress: bool = True, augment: bool = True) -> dict:
    """Train `judge` in place on random batches of `pairs` under `args` (until `max_steps` or
    `max_minutes`, whichever comes first). With `checkpoint` (a directory), the weights and
    training state are saved there every `save_every_minutes` and at the end, and `resume`
    continues from it as if the run had never stopped (same batches, same schedule). Returns
    {"steps", "seconds", "loss_start", "loss_end", "dtype", ...}: losses are means over the
    first and last 10 steps."""
    task = JudgeTask(judge, pairs, args.batch_size, augment)
    metrics = None if checkpoint is None else Path(checkpoint).with_suffix(".metrics.jsonl")
    r = fit_task(task, args, checkpoint, metrics, resume=resume, progress=progress)
    return {"steps": r["step"], "seconds": round(r["elapsed_s"], 1), "loss_start": r["loss_first"],
            "loss_end": r["loss_last"], "stopped_by_signal": r["stopped_by_signal"],
            **{k: r[k] for k in ("device", "dtype", "cpu_capability", "threads")}}


def _score(cfg: JudgeConfig, true_actions, pred_actions, true_buttons=None, pred_buttons=None,
           previous=None) -> dict:
    """Accuracy figures for the report; per-class entries are None for absent classes.
    `previous` holds each chunk's previous action (-1 where unknown): chunks whose action differs
    from it are the real-play analogue of the benchmark's text intervention, and their accuracy,
    overall and per switch ("turn_left->turn_right"), its ceiling (momentum carries over a switch)."""
    n = len(cfg.action_names)
    cm = metrics.confusion_matrix(true_actions, pred_actions, n)
    per = metrics.per_class_accuracy(cm)
    acc = metrics.accuracy(true_actions, pred_actions)
    out = {"samples": int(len(true_actions)), "accuracy": acc,
           "per_action": {name: {"samples": int(cm[i].sum()), "accuracy": None if np.isnan(per[i]) else float(per[i])}
                          for i, name in enumerate(cfg.action_names)},
           "action_names": list(cfg.action_names), "confusion": cm.tolist()}
    if cfg.multi_label and true_buttons is not None:
        hit = (np.asarray(true_buttons) == np.asarray(pred_buttons)).mean(0)
        out["per_button_accuracy"] = {name: float(h) for name, h in zip(cfg.button_names, hit)}
    if previous is not None:
        true, prev = np.asarray(true_actions), np.asarray(previous)
        changed = (prev >= 0) & (prev != true)
        if changed.any():
            ok = true == np.asarray(pred_actions)
            names = cfg.action_names
            pairs = sorted(set(zip(prev[changed].tolist(), true[changed].tolist())))
            per_switch = {}
            for a, b in pairs:
                sel = changed & (prev == a) & (true == b)
                per_switch[f"{names[a]}->{names[b]}"] = {"samples": int(sel.sum()), "accuracy": float(ok[sel].mean())}
            out["after_change"] = {"samples": int(changed.sum()), "accuracy": float(ok[changed].mean()),
                                   "per_switch": per_switch}
    out["trust_note"] = trust_note(acc)
    return out


def _predict_all(judge: Judge, prev, cur) -> tuple[np.ndarray, np.ndarray | None]:
    """(action ids, buttons or None) from one pass of the judge."""
    z = judge.logits(prev, cur)
    if not judge.cfg.multi_label:
        return z.argmax(1).numpy(), None
    return buttons_to_action(torch.sigmoid(z).numpy(), judge.table.cpu().numpy()), (z > 0).numpy().astype(np.uint8)


def _check_dataset(judge: Judge, data_dir) -> dict:
    meta = read_meta(data_dir)
    cfg = judge.cfg
    theirs = (meta["game"], meta["frames_per_chunk"], meta["height"], meta["width"], list(meta["action_names"]))
    ours = (cfg.game, cfg.frames_per_chunk, cfg.height, cfg.width, cfg.action_names)
    if theirs != ours:
        raise UserError(f"the judge was trained on {cfg.game} ({cfg.frames_per_chunk} frames per chunk at "
                        f"{cfg.height}x{cfg.width}) but {data_dir} is {meta['game']} ({meta['frames_per_chunk']} at "
                        f"{meta['height']}x{meta['width']}) or has other action names; train a judge on this data")
    return meta


def evaluate_judge(judge: Judge, data_dir, split: str = "heldout", max_episodes: int | None = None,
                   progress: bool = False) -> dict:
    """The judge's accuracy on real recorded frames, one episode at a time (bounded memory):
    exact action accuracy, per-action accuracy, confusion matrix (rows true, columns
    predicted), per-button accuracy for Doom, and `trust_note`."""
    meta = _check_dataset(judge, data_dir)
    listing = _listing(data_dir, split)[:max_episodes]
    if not listing:
        raise UserError(f"no usable {split} episodes in {data_dir} to evaluate the judge on")
    ta, pa, tb, pb, prev, eps = [], [], [], [], [], 0
    for path, _ in tqdm(listing, desc=f"judge {split}", unit="ep", disable=not progress, file=sys.stderr):
        try:
            ep = read_episode(path, meta, verify=False)
        except BadEpisode:
            continue
        actions, buttons = _predict_all(judge, previous_chunks(ep.start_frame, ep.frames), ep.frames)
        ta.append(ep.action.astype(np.int64))
        prev.append(np.r_[-1, ta[-1][:-1]])  # the first chunk's previous action is unknown
        pa.append(actions)
        tb.append(ep.buttons)
        pb.append(buttons)
        eps += 1
    if not eps:
        raise UserError(f"no readable {split} episodes in {data_dir} to evaluate the judge on")
    cat = lambda xs: np.concatenate(xs) if xs[0] is not None else None  # noqa: E731
    return {"split": split, "episodes": eps, **_score(judge.cfg, cat(ta), cat(pa), cat(tb), cat(pb), cat(prev))}


def evaluate_pairs(judge: Judge, pairs: ChunkPairs, max_samples: int = 4096, seed: int = 0) -> dict:
    """The same figures on (a random subset of) pairs already in memory, e.g. training data."""
    idx = np.random.default_rng(seed).permutation(len(pairs))[:max_samples]
    sub = pairs.subset(idx)
    r = sub.rows
    actions, buttons = _predict_all(judge, sub.chunks[r - 1], sub.chunks[r])
    true_buttons = sub.targets if judge.cfg.multi_label else None
    return _score(judge.cfg, sub.actions, actions, true_buttons, buttons)


def train_judge(data_dir, out_dir, args: TrainArgs = JUDGE_ARGS, max_episodes: int | None = 120, channels: int = 32,
                eval_data=None, mirror_average: bool = True, resume: bool = False, progress: bool = True) -> dict:
    """Train a judge on the "train" split of `data_dir` (at most `max_episodes` episodes in
    memory as uint8), evaluate it on every "heldout" episode of `eval_data` (default: the same
    directory), save it to `out_dir` (config.json, model.safetensors, report.json; written to a
    temporary directory and renamed). `eval_data` lets a judge learn from a recording of its
    own (recording is cheap, and the judge is data-limited) while it is measured on the held-out
    episodes of the world model's dataset, the ones the benchmark starts from.
    `args.max_minutes` bounds the training loop only (loading and evaluation come on top).
    While it trains, `out_dir` is its checkpoint (the weights so far and train_state.pt, every
    `args.save_every_minutes`); `resume` continues a stopped run from it; the finished judge
    replaces it. Returns the report."""
    t0 = time.perf_counter()
    torch.manual_seed(args.seed)
    out_dir = Path(out_dir)
    stopped_run = (out_dir / STATE_FILE).exists()
    if stopped_run and not resume:
        raise UserError(f"{out_dir / STATE_FILE} holds a stopped judge training run; pass --resume to continue it, "
                        f"or delete {out_dir} to start afresh")
    if resume and not stopped_run:
        raise UserError(f"nothing to resume: {out_dir / STATE_FILE} does not exist")
    eval_data = data_dir if eval_data is None else eval_data
    if not _listing(eval_data, "heldout"):  # fail before the long part, not after
        raise UserError(f"no usable heldout episodes in {eval_data}: the judge's accuracy must be measured on "
                        f"held-out play (record with --heldout > 0)")
    cfg = config_for(data_dir, channels)
    cfg.mirror_average = mirror_average
    judge = Judge(cfg).to(precision.resolve_device(args.device))
    _check_dataset(judge, eval_data)
    pairs = load_pairs(data_dir, "train", max_episodes, args.seed, progress)
    train = fit(judge, pairs, args, checkpoint=out_dir, resume=resume, progress=progress)
    if train["stopped_by_signal"]:
        raise UserError(f"stopped by a signal at step {train['steps']}; `--resume` continues it from {out_dir}")
    heldout = evaluate_judge(judge, eval_data, "heldout", progress=progress)
    train_eval = evaluate_pairs(judge, pairs, seed=args.seed)
    report = {"data": str(data_dir), "eval_data": str(eval_data), "train_episodes": pairs.episodes,
              "train_samples": len(pairs), "heldout_episodes": heldout["episodes"], "heldout_samples": heldout["samples"],
              "accuracy": heldout["accuracy"], "trust_note": heldout["trust_note"],
              "train_accuracy": train_eval["accuracy"],
              "training": {**train, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
                           "max_episodes": max_episodes},
              "heldout": heldout, "seconds_total": round(time.perf_counter() - t0, 1)}
    save_judge(judge, out_dir, report)  # the finished judge alone: no training state
    return report


# --- saving and loading ---------------------------------------------------------------------
def save_judge(judge: Judge, out_dir, report: dict | None = None):
    with atomic_dir(Path(out_dir)) as tmp:
        save_judge_files(judge, tmp, report)


def save_judge_files(judge: Judge, directory: Path, report: dict | None = None):
    """config.json, model.safetensors (and report.json) into `directory`."""
    from safetensors.torch import save_file

    (directory / CONFIG_FILE).write_text(json.dumps(asdict(judge.cfg), indent=2))
    save_file({k: v.detach().cpu().contiguous() for k, v in judge.state_dict().items()}, directory / WEIGHTS_FILE)
    if report is not None:
        (directory / REPORT_FILE).write_text(json.dumps(report, indent=2))


def load_judge(path, device: str = "cpu") -> Judge:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    missing = [f for f in (CONFIG_FILE, WEIGHTS_FILE) if not (path / f).is_file()]
    if missing:
        where = "does not exist" if not path.exists() else f"lacks {' and '.join(missing)}"
        raise UserError(f"no judge at {path}: the directory {where}; train one with "
                        f"tv2tv_env.bench.judge.train_judge on a recorded dataset")
    try:
        cfg = JudgeConfig(**json.loads((path / CONFIG_FILE).read_text()))
        judge = Judge(cfg)
        judge.load_state_dict(load_file(path / WEIGHTS_FILE))
    except (json.JSONDecodeError, TypeError, RuntimeError, OSError, SafetensorError) as e:
        raise UserError(f"the judge at {path} is corrupt or from another version ({type(e).__name__}: "
                        f"{str(e).splitlines()[0][:160]}); train it again") from None
    return judge.to(precision.resolve_device(device)).eval()
