"""A checkpoint ready to play: weights, VAE, tokenizer and start contexts behind one batched API.

`WorldModel` speaks strings and uint8 frames; the streaming sampler under it speaks token
ids and latents. The single env, the vector env, `tv2tv play`, `tv2tv speed` and the
benchmark all drive the model through this class, so they load and step it the same way.

A checkpoint is a directory in one of two layouts:

    CKPT/model/ CKPT/vae/ CKPT/tokenizer/ CKPT/contexts.npz        shipped (checkpoints/doom-small)
    RUN/ckpt/model/ RUN/vae/ RUN/tokenizer/ RUN/contexts.npz        a `tv2tv train` run directory
"""
from __future__ import annotations

import contextlib
import io
import json
import re
import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model import precision
from model.mot import TV2TVModel
from model.sampler import StreamingSampler
from model.tokenizer import load_tokenizer, special_ids
from model.vae import decode

from .contexts import CONTEXT_FILE, load_contexts
from .errors import UserError
from .paraphrase import game_module, recorded_words, training_paraphrases, words

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
DEFAULT_CHECKPOINT = {"doom": CHECKPOINTS / "doom-small", "crafter": CHECKPOINTS / "crafter-small"}

# What a command may contain: the recorded text is lower-case English, so letters, digits,
# spaces and common punctuation. Anything else (accents, other scripts, control characters)
# is refused up front with a clear error instead of becoming byte tokens the model never saw.
COMMAND_CHARSET = string.ascii_letters + string.digits + " .,;:!?'\"-+()/&"
MAX_COMMAND_LENGTH = 120


def normalize_command(text: str) -> str:
    """The form commands were recorded in: lower case, single spaces, no outer spaces."""
    return re.sub(r"\s+", " ", text).strip().lower()


def check_command(text, max_length: int = MAX_COMMAND_LENGTH) -> str:
    """Refuse what the model cannot read, naming the problem and the fix."""
    if not isinstance(text, str):
        raise TypeError(f"a TV2TV action is a string (a command such as 'turn left', or '' to let the model "
                        f"decide), not {type(text).__name__}; for integer actions wrap the env in "
                        f"tv2tv_env.DiscreteTextActions")
    if len(text) > max_length:
        raise ValueError(f"the command is {len(text)} characters long; at most {max_length} are allowed: "
                         f"say one thing per step (e.g. 'turn left and shoot')")
    bad = sorted(set(text) - set(COMMAND_CHARSET))
    if bad:
        raise ValueError(f"the command {text!r} has characters outside the action charset: {''.join(bad)!r}. "
                         f"The model was trained on English game commands in plain ASCII letters, digits "
                         f"and punctuation ({COMMAND_CHARSET[62:]!r}); rephrase with those")
    return text


@dataclass
class CheckpointPaths:
    root: Path
    model: Path
    vae: Path
    tokenizer: Path
    contexts: Path


def resolve_checkpoint(checkpoint=None, game: str = "doom") -> CheckpointPaths:
    """Find the parts of a checkpoint directory (either layout), or say what is missing."""
    if checkpoint is None:
        root = DEFAULT_CHECKPOINT.get(game)
        if root is None or not root.is_dir():
            raise UserError(f"no default {game} model ships with this version; train one (`tv2tv train`) and "
                            f"pass checkpoint=RUN_DIR")
    else:
        root = Path(checkpoint)
        if not root.is_dir():
            raise UserError(f"checkpoint {root} does not exist (a directory made by `tv2tv train`, or a "
                            f"shipped one such as {DEFAULT_CHECKPOINT['doom']})")
    for model in [root / "model", root / "ckpt" / "model"]:
        if (model / "config.json").is_file():
            break
    else:
        raise UserError(f"{root} holds no model: expected model/config.json (shipped layout) or "
                        f"ckpt/model/config.json (a `tv2tv train` run)")
    paths = CheckpointPaths(root, model, root / "vae", root / "tokenizer", root / CONTEXT_FILE)
    for name, p, what in [("vae", paths.vae / "config.json", "the frame VAE"),
                          ("tokenizer", paths.tokenizer / "tokenizer.json", "the tokenizer")]:
        if not p.is_file():
            raise UserError(f"{root} lacks {what} ({p} is missing); a checkpoint carries the VAE and "
                            f"tokenizer it was trained with")
    return paths


@dataclass
class ChunkBatch:
    frames: np.ndarray  # (B, F, H, W, 3) uint8
    texts: list  # the text that drove each stream's chunk
    thought: list  # True where the model wrote it
    reward: np.ndarray  # (B,) predicted reward
    end_prob: np.ndarray  # (B,) predicted probability that the episode ends
    read_as: list  # how each command was read: "words", "meaning", "unplaced" or "thought" (see `read_command`)


# A command whose sentence vector is at most this similar (cosine) to every wording the model
# was trained on is off-topic ("what is the weather"): the model cannot place it, so it decides
# the chunk itself rather than draw from a meaning it never saw. Measured with MiniLM against
# Doom's trained wordings (2026-12-03): the benchmark's new wordings score 0.39-0.97 (only
# "freeze" and "sidle right" fall below 0.4), off-topic text 0.18-0.64 ("dance" 0.48, "what is
# the weather" 0.18), so 0.4 leaves out the clearly off-topic and lets the model try the rest.
UNPLACED_SIMILARITY = 0.4


class WorldModel:
    def __init__(self, checkpoint=None, game: str = "doom", device: str = "auto", guidance: float | None = None,
                 sampling_steps: int | None = None, context_chunks: int | None = None, precision_mode: str = "auto",
                 temperature: float = 1.0):
        self.paths = resolve_checkpoint(checkpoint, game)
        cfg = json.loads((self.paths.model / "config.json").read_text())
        if cfg.get("game", game) != game:
            raise UserError(f"checkpoint {self.paths.root} was trained on {cfg['game']}, not {game}; use "
                            f"TV2TV/{cfg['game'].capitalize()}-v0 or another checkpoint")
        self.game = game
        self.device = precision.resolve_device(device)
        self.dtype = precision.autocast_dtype(self.device, precision_mode)
        with contextlib.redirect_stdout(io.StringIO()):  # huggingface_hub prints a line on every load
            self.model = TV2TVModel.from_pretrained(self.paths.model).float().to(self.device).eval()
        from diffusers import AutoencoderKL  # heavy import, only once a model is really loaded

        self.vae = AutoencoderKL.from_pretrained(self.paths.vae, torch_dtype=torch.float32,
                                                 low_cpu_mem_usage=False).to(self.device).eval()
        self.tokenizer = load_tokenizer(self.paths.tokenizer)
        if len(self.tokenizer) > self.model.config.vocab_size:
            raise UserError(f"the tokenizer in {self.paths.tokenizer} has {len(self.tokenizer)} tokens but the model "
                            f"only {self.model.config.vocab_size}: they come from different runs")
        self.contexts = load_contexts(self.paths.contexts)
        if self.contexts.game != game:
            raise UserError(f"{self.paths.contexts} holds {self.contexts.game} contexts, not {game}")
        ctx_shape = self.contexts.latents.shape[2:]
        c = self.model.config
        want = (c.frames_per_chunk, c.latent_channels, c.latent_size, c.latent_size)
        if tuple(ctx_shape) != want:
            raise UserError(f"{self.paths.contexts} holds latents shaped {tuple(ctx_shape)} but the model expects "
                            f"{want}; make the contexts again with this checkpoint's VAE")
        self.frame_shape = tuple(self.contexts.frames.shape[2:])  # (H, W, 3)
        self.frames_per_chunk = c.frames_per_chunk
        self.encoder = self.known_words = self.bank = None
        command_fn = None
        if c.command_dim:  # the language prior: a frozen sentence encoder from a pinned package
            from model.command_encoder import EncoderFilesError, shared_encoder, token_command_fn

            try:
                self.encoder = shared_encoder()
            except EncoderFilesError as e:
                raise UserError(str(e)) from None
            self.known_words = recorded_words(game)
            wordings = sorted({p for a in game_module(game).ACTION_NAMES for p in training_paraphrases(game, a)})
            self.bank = self.encoder.encode(wordings)
            command_fn = token_command_fn(self.tokenizer, self.encoder)
        self.sampler = StreamingSampler(self.model, special_ids(self.tokenizer), steps=sampling_steps,
                                        guidance=guidance, context_chunks=context_chunks, temperature=temperature,
                                        command_fn=command_fn)
        self._context_ids = [[self.encode_text(t) for t in row] for row in self.contexts.texts]

    def __len__(self):
        return len(self.contexts)

    def encode_text(self, text: str) -> list[int]:
        return self.tokenizer.encode(normalize_command(text), add_special_tokens=False)

    def read_command(self, command: str):
        """How a (checked) command reaches the model: (token ids or None, vector or None, how).

        - "thought": "" lets the model write the text itself;
        - "words": every word was recorded: its tokens (and, with a language prior, its vector);
        - "meaning": a word the recorder never used ("spin left"): with a language prior the
          tokens are hidden and only the sentence vector is given, as training hides tokens;
        - "unplaced": its vector is far from every trained wording ("what is the weather"):
          the model decides the chunk, as for "" (a new word must not end the episode).
        Without a language prior every non-empty command is read as "words"."""
        text = normalize_command(command)
        if not text:
            return None, None, "thought"
        if self.encoder is None:
            return self.encode_text(text), None, "words"
        vec = self.encoder.encode([text])[0]
        if all(w in self.known_words for w in words(text)):
            return self.encode_text(text), vec, "words"
        if float((self.bank @ vec).max()) <= UNPLACED_SIMILARITY:
            return None, None, "unplaced"
        return [], vec, "meaning"

    def describe(self) -> dict:
        c = self.model.config
        return {"checkpoint": str(self.paths.root), "config": {"d_model": c.d_model, "n_layers": c.n_layers},
                "sampling_steps": self.sampler.steps, "guidance": self.sampler.guidance,
                "context_chunks": self.sampler.context_chunks, **precision.describe(self.device, self.dtype)}

    # --- batched streams ------------------------------------------------------------------
    def _context(self, starts: list[int], prompts: list[str] | None):
        for s in starts:
            if not 0 <= s < len(self):
                raise ValueError(f"start context {s} does not exist; this checkpoint has {len(self)} (0..{len(self) - 1})")
        lat = torch.from_numpy(self.contexts.latents[starts].astype(np.float32))
        texts = [self._context_ids[s] for s in starts]
        # prompts are checked here, once for every env; None: no prompt for that stream
        prompt_ids = [self.encode_text(check_command(p, max_length=4 * MAX_COMMAND_LENGTH)) if p is not None else []
                      for p in prompts] if prompts else None
        return lat, texts, prompt_ids

    def reset(self, starts: list[int], prompts: list[str] | None = None) -> np.ndarray:
        """Start one stream per entry of `starts` (context indices). Returns the real frames
        of each context's last chunk, (B, F, H, W, 3) uint8."""
        lat, texts, prompt_ids = self._context(starts, prompts)
        with precision.autocast(self.device, self.dtype):
            self.sampler.reset(lat, texts, prompt_ids)
        return self.contexts.frames[starts]

    def replace_rows(self, rows: list[int], starts: list[int], prompts: list[str] | None = None) -> np.ndarray:
        """Restart `rows` from new contexts at the next `step` (which rebuilds the cache once)."""
        lat, texts, prompt_ids = self._context(starts, prompts)
        self.sampler.replace_rows(rows, lat, texts, prompt_ids)
        return self.contexts.frames[starts]

    def rebuild(self):
        """Run every stream's history into a fresh cache (after `replace_rows` with no `step`)."""
        with precision.autocast(self.device, self.dtype):
            self.sampler.rebuild()

    @torch.no_grad()
    def step(self, commands: list[str], generators: list[torch.Generator], rows: list[int] | None = None) -> ChunkBatch:
        """One chunk for each stream (or each of `rows`); '' lets the model write the text."""
        reads = [self.read_command(check_command(c)) for c in commands]
        ids = [r[0] for r in reads]  # None: the model writes it
        vecs = [r[1] for r in reads]
        with precision.autocast(self.device, self.dtype):
            res = self.sampler.step(ids, generators, rows=rows, commands=vecs if self.encoder is not None else None)
            B, F = res.latents.shape[:2]
            frames = decode(self.vae, res.latents.flatten(0, 1)).view(B, F, *self.frame_shape)
        # a command read by meaning drove the chunk as typed; the model's own text otherwise
        texts = [normalize_command(c) if how == "meaning" else self.tokenizer.decode(t)
                 for c, (_, _, how), t in zip(commands, reads, res.text_ids)]
        return ChunkBatch(frames.cpu().numpy(), texts, list(res.thought), res.reward.cpu().numpy(),
                          res.end_prob.cpu().numpy(), [how for _, _, how in reads])
