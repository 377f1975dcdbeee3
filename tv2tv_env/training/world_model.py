"""The world model as a training task: the loss of a step is model/flow.py's `training_loss` on
the step's batch; the loop is `loop.fit`.

`batch_fn(step)` returns the global batch of a step (a dict with `latents` (B, K, F, C, h, w),
`texts` (B lists of K token-id lists), `reward` and `terminated` (B, K)); the data of a step is
a function of the step, so `--resume` continues exactly, and a run on N processes (torchrun,
DDP) sees the same global batch as a run on one.

A run directory: `RUN/ckpt/model/` (EMA weights in the Hugging Face layout), `RUN/ckpt/
train_state.pt` (for `--resume`), `RUN/metrics.jsonl`, `RUN/config.json`, `RUN/train_args.json`.

A run that must outlive its machine without its optimizer state (a repo keeps only the weights
exported by `tv2tv export`) continues with `init_from=`: those weights become the raw and EMA
weights, the step comes from `train_progress.json` beside them, and a fresh AdamW warms up again
so that its empty moments do not jolt the weights.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch

from model.config import TRAINING_ONLY_FIELDS
from model.flow import draw_randomness, training_loss
from model.grow import deepen_weights
from model.mot import TV2TVModel

from ..errors import UserError
from .args import WORLD_MODEL_ARGS, TrainArgs
from .loop import Task, find_checkpoint, fit, step_generator

PRIOR_FIELDS = ("command_dim", "text_hide", "paraphrase")  # the language prior's config (model/command_encoder.py)


def run_checkpoint(run) -> Path | None:
    """The last complete checkpoint of a world-model run directory (RUN/ckpt or RUN/ckpt.old)."""
    return find_checkpoint(Path(run) / "ckpt")


def _rows(batch: dict, rows: slice) -> dict:
    return {k: (v[rows] if not isinstance(v, torch.Tensor) or v.dim() else v) for k, v in batch.items()}


class WorldModelTask(Task):
    name = "train"

    def __init__(self, cfg, batch_fn: Callable[[int], dict], special: dict, eval_batches: list | None = None,
                 sample_fn: Callable | None = None, init_from=None, seed: int = 0, action_reader=None):
        torch.manual_seed(seed)  # the initial weights
        self.cfg, self.batch_fn, self.special, self.action_reader = cfg, batch_fn, special, action_reader
        self.eval_batches, self.sample_fn, self.init_from, self.seed = eval_batches, sample_fn, init_from, seed
        self.model = TV2TVModel(cfg)
        self._step = None

    def loss(self, net, step, gen, rows):
        if self._step != step:  # the whole step's batch and randomness, once; micro-batches slice them
            self._batch = self.batch_fn(step)
            B, K = self._batch["latents"].shape[:2]
            self._rand, self._step = draw_randomness(self.cfg, B, K, gen), step
        mb, mr = _rows(self._batch, rows), _rows(self._rand, rows)
        loss, parts = training_loss(net, mb["latents"].to(self.device), mb["texts"], mb["reward"].to(self.device),
                                    mb["terminated"].to(self.device), self.special, rand=mr, prompts=mb.get("prompts"),
                                    prompt_loss=self.cfg.conditioning != "prompt", commands=mb.get("commands"),
                                    action_reader=self._reader(), actions=mb.get("actions"))
        parts["chunks"] = parts.pop("predicted_chunks")  # logged as chunks_per_s: the figure the budget counts
        return loss, parts

    def _reader(self):
        if self.action_reader is not None and next(self.action_reader.parameters()).device != self.device:
            self.action_reader.to(self.device)
        return self.action_reader

    def config(self):
        return asdict(self.cfg)

    def save_weights(self, weights, directory):
        weights.save_pretrained(directory / "model")  # config.json + model.safetensors

    def evaluate(self, weights, step):
        if not self.eval_batches:
            return {}
        out = heldout_losses(weights, self.eval_batches, self.special, self.device, self.dtype, self.seed,
                             self._reader())
        if self.sample_fn:
            self.sample_fn(weights, step)
        return out

    def start(self, model, ema):
        if self.init_from is None:
            return None
        return load_exported_weights(Path(self.init_from), self.cfg, model, ema)


def train_world_model(cfg, batch_fn: Callable[[int], dict], run, special: dict, args: TrainArgs = WORLD_MODEL_ARGS,
                      resume: bool = False, eval_batches: list | None = None, sample_fn: Callable | None = None,
                      on_step: Callable | None = None, progress: bool = True, init_from=None,
                      action_reader=None) -> dict:
    """Train a world model of config `cfg` on `batch_fn` into run directory `run`; `action_reader`
    (frozen, model/action_reader.py) with `cfg.loss_action` > 0 adds the action-consistency loss."""
    task = WorldModelTask(cfg, batch_fn, special, eval_batches, sample_fn, init_from, args.seed, action_reader)
    run = Path(run)
    if not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0:
        run.mkdir(parents=True, exist_ok=True)
        (run / "config.json").write_text(cfg.to_json())
        (run / "train_args.json").write_text(json.dumps(asdict(args), indent=2))
    return fit(task, args, run / "ckpt", run / "metrics.jsonl", resume=resume, progress=progress, on_step=on_step)


@torch.no_grad()
def heldout_losses(model, batches: list, special: dict, dev, dtype, seed: int, action_reader=None) -> dict:
    """Held-out losses with fixed randomness, so that numbers compare across steps and runs."""
    from model import precision

    was = model.training
    model.eval()
    sums, n = {}, 0
    for i, b in enumerate(batches):
        B, K = b["latents"].shape[:2]
        rand = draw_randomness(model.config, B, K, step_generator(seed + 7, i))
        rand["drop"] = torch.zeros_like(rand["drop"])  # judge the conditional model
        rand["flip"] = torch.zeros_like(rand["flip"])  # on clean contexts, comparable across runs
        rand.pop("own", None)  # recorded contexts: no own drafts either
        with precision.autocast(dev, dtype):
            loss, parts = training_loss(model, b["latents"].to(dev), b["texts"], b["reward"].to(dev),
                                        b["terminated"].to(dev), special, rand=rand, prompts=b.get("prompts"),
                                        prompt_loss=model.config.conditioning != "prompt",
                                        commands=b.get("commands"), action_reader=action_reader,
                                        actions=b.get("actions"))
        parts["loss"] = loss.item()
        for k, v in parts.items():
            if k.startswith("loss"):
                sums[k] = sums.get(k, 0) + v
        n += 1
    model.train(was)
    return {f"heldout_{k}": v / n for k, v in sums.items()}


# The weights a config field adds when it grows (besides the blocks of more n_layers): taken from
# the fresh model, whose init makes them add nothing. Any other missing weight stays an error.
NEW_PARTS = {"command_dim": ("command_proj.",), "video_conv": ("conv_in.", "conv_out.")}


def _grown_fields(was: dict, want: dict) -> set:
    """The config fields by which `want` adds parts to `was` that start as nothing, so the model
    starts as it was (a language prior: its projection starts at zero; more layers: identity
    blocks; video_conv: its last convolutions start at zero); empty if it differs otherwise."""
    grown = set()
    if not was["command_dim"] and want["command_dim"]:
        grown |= set(PRIOR_FIELDS)
    if was["n_layers"] < want["n_layers"]:
        grown.add("n_layers")
    if not was.get("video_conv") and want.get("video_conv"):
        grown.add("video_conv")
    same = all(was.get(k) == v for k, v in want.items() if k not in grown)
    return grown if same else set()


def load_exported_weights(src: Path, cfg, model, ema) -> tuple[int, float]:
    """Start from exported weights (`tv2tv export`): returns (step, elapsed_s).
    A config may add to the weights parts that start as nothing (`_grown_fields`: a language
    prior, more layers, conv blocks around the video tower), so the model starts as it was.
    Fields that only shape the training objective (`TRAINING_ONLY_FIELDS`) may differ."""
    if not (src / "model.safetensors").is_file():
        raise UserError(f"{src} holds no exported weights (model.safetensors); make them with `tv2tv export-weights RUN {src}`")
    loaded = TV2TVModel.from_pretrained(src)
    was = {k: v for k, v in asdict(loaded.config).items() if k not in TRAINING_ONLY_FIELDS}
    want = {k: v for k, v in asdict(cfg).items() if k not in TRAINING_ONLY_FIELDS}
    grown = _grown_fields(was, want)
    if was != want and not grown:
        diff = ", ".join(f"{k} {was.get(k)} -> {v}" for k, v in want.items() if was.get(k) != v)
        raise UserError(f"the weights in {src} were trained with another config ({diff}); use the same --config "
                        f"and data (a config may only add a language prior, more n_layers or video_conv)")
    weights = {k: v.float() for k, v in loaded.state_dict().items()}
    if "n_layers" in grown:  # identity blocks between the trained ones (model/grow.py)
        weights = deepen_weights(weights, model, was["n_layers"])
    fresh = model.state_dict()
    for field, prefixes in NEW_PARTS.items():  # as initialised: they start at zero
        if field in grown:
            weights.update({k: v.detach().clone() for k, v in fresh.items() if k.startswith(prefixes)})
    model.load_state_dict(weights)
    if ema is not None:
        ema.load_state_dict(weights)
    progress = src / "train_progress.json"
    info = json.loads(progress.read_text()) if progress.is_file() else {}
    return int(info.get("step", 0)), float(info.get("elapsed_s", 0.0))
