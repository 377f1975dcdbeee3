"""The action reader as a training task (model/action_reader.py; `loop.fit` runs it).

Examples are consecutive chunk pairs of a recording's train split, as cached latents (`tv2tv
encode`), labelled with the recorded action of the second chunk. Pairs are drawn with weights
(frequency of their action) ** -0.5, so that the rare actions (Doom's strafes are 4-6% of the
chunks, shoot 2%) are seen about twice as often as their share, without the reader learning that
every action is equally likely. Held-out figures (accuracy, per action) come from the held-out
split of the same recording, which the world model's training never sees either.

`input_noise` S > 0 adds Gaussian noise of a standard deviation drawn from [0, S] to each pair:
while the world model trains, the reader reads predicted clean chunks (x0 = x_t - t * v), which
are rough, and a reader that has only seen clean latents gives gradients that fool it rather
than draw the action (randomised smoothing makes a classifier's gradients smoother and closer to
what the input shows).

OUT is the checkpoint while it trains and holds the finished reader with `training.json`.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F

from model.action_reader import ActionReader
from model.atomic import atomic_dir
from model.tokenizer import load_tokenizer

from ..data.dataset import read_meta
from ..data.training_data import LatentWindows
from ..errors import UserError
from .args import ACTION_READER_ARGS, TrainArgs
from .loop import STATE_FILE, Task, fit

BALANCE = 0.5  # pairs drawn in proportion to (frequency of their action) ** -BALANCE


def load_action_reader(path) -> ActionReader:
    """A trained reader, frozen (no gradients for its weights; gradients still flow through it)."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise UserError(f"no action reader at {path} (config.json missing); train one with "
                        f"`tv2tv train-action-reader --data DATA --out {path}`")
    reader = ActionReader.from_pretrained(path, low_cpu_mem_usage=False).float().eval()
    reader.requires_grad_(False)
    return reader


def chunk_pairs(windows: LatentWindows) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 2, F, C, h, w) latents of every consecutive chunk pair and (N,) the second one's action."""
    lat, act = [], []
    for e_lat, e_act in zip(windows.latents, windows.actions):
        if len(e_lat) >= 2:
            lat.append(torch.stack([e_lat[:-1], e_lat[1:]], 1))
            act.append(e_act[1:])
    if not lat:
        raise UserError("no episode of two chunks or more in this split")
    return torch.cat(lat).float(), torch.cat(act)


class ActionReaderTask(Task):
    name = "train action reader"

    def __init__(self, reader: ActionReader, pairs, actions, held: tuple, action_names: list[str], batch_size: int,
                 input_noise: float = 0.0):
        self.model, self.pairs, self.actions, self.held = reader, pairs, actions, held
        self.action_names, self.batch_size, self.input_noise = action_names, batch_size, input_noise
        counts = torch.bincount(actions, minlength=len(action_names)).float().clamp(min=1)
        self.draw_weights = counts[actions] ** -BALANCE  # (`weights` is fit's: the EMA)

    def loss(self, net, step, gen, rows):
        idx = torch.multinomial(self.draw_weights, self.batch_size, replacement=True, generator=gen)[rows]
        x = self.pairs[idx].to(self.device)
        if self.input_noise > 0:  # the whole step's noise, then this micro-batch's rows of it
            sd = torch.rand(self.batch_size, 2, 1, 1, 1, 1, generator=gen) * self.input_noise
            noise = sd * torch.randn((self.batch_size, *x.shape[1:]), generator=gen)
            x = x + noise[rows].to(x.device)
        loss = F.cross_entropy(net(x[:, 0], x[:, 1]).float(), self.actions[idx].to(self.device))
        return loss, {"loss_ce": loss.item()}

    def config(self):
        return dict(self.model.config)

    def evaluate(self, weights, step):
        return heldout_accuracy(weights, *self.held, self.action_names)


@torch.no_grad()
def heldout_accuracy(reader, pairs, actions, action_names: list[str]) -> dict:
    was = reader.training
    reader.eval()
    dev = next(reader.parameters()).device
    got = torch.cat([reader(p[:, 0].to(dev), p[:, 1].to(dev)).argmax(1).cpu() for p in pairs.split(512)])
    reader.train(was)
    hit = got == actions
    per = {a: round(float(hit[actions == i].float().mean()), 4) for i, a in enumerate(action_names)
           if (actions == i).any()}
    return {"heldout_accuracy": float(hit.float().mean()), "heldout_per_action": per}


def train_action_reader(data, out, vae_dir, tokenizer_dir, args: TrainArgs = ACTION_READER_ARGS, width: int = 128,
                        input_noise: float = 0.0, resume: bool = False, progress: bool = True) -> dict:
    """Train a reader on recording `data` (with a latent cache for the VAE in `vae_dir`) into OUT.
    Returns the summary written to OUT/training.json."""
    out = Path(out)
    if (out / STATE_FILE).is_file() and not resume:
        raise UserError(f"{out} holds a stopped action-reader run; pass --resume to continue it or choose another --out")
    meta = read_meta(data)
    tok = load_tokenizer(tokenizer_dir)
    train = LatentWindows(data, vae_dir, tok, 2, "train", progress=progress)
    held = LatentWindows(data, vae_dir, tok, 2, "heldout")
    pairs, actions = chunk_pairs(train)
    h_pairs, h_actions = chunk_pairs(held)
    _, _, F_, C, h, _ = pairs.shape
    torch.manual_seed(args.seed)
    reader = ActionReader(n_actions=len(meta["action_names"]), frames=F_, latent_channels=C, latent_size=h, width=width)
    task = ActionReaderTask(reader, pairs, actions, (h_pairs, h_actions), list(meta["action_names"]), args.batch_size,
                             input_noise)
    result = fit(task, args, out, out.with_suffix(".metrics.jsonl"), resume=resume, progress=progress)
    summary = {"data": str(data), "vae": str(vae_dir), "train_pairs": len(pairs), "heldout_pairs": len(h_pairs),
               "step": result["step"], "minutes": round(result["elapsed_s"] / 60, 1), "balance": BALANCE,
               "input_noise": input_noise,
               "params": sum(p.numel() for p in reader.parameters()),
               **{k: result[k] for k in ("heldout_accuracy", "heldout_per_action")},  # fit's last evaluation
               "device": result["device"], "dtype": result["dtype"], "cpu_capability": result["cpu_capability"]}
    if not result["stopped_by_signal"]:  # finished: OUT keeps the reader alone
        with atomic_dir(out) as tmp:
            task.weights.save_pretrained(tmp)
            (tmp / "training.json").write_text(json.dumps(summary, indent=2))
    return summary
