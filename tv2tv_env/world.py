"""A checkpoint ready to play: weights, VAE, tokenizer and start contexts behind one batched API.

`WorldModel` speaks strings and uint8 frames; the streaming sampler under it speaks token
ids and latents. The single env, the vector env, `tv2tv play`, `tv2tv speed` and the
benchmark all drive the model through this class, so they load and step it the same way.

A checkpoint is a directory in one of two layouts:

    CKPT/model/ CKPT/vae/ CKPT/tokenizer/ CKPT/contexts.npz        shipped (checkpoints/doom-small)
    RUN/ckpt/model/ RUN/vae/ RUN/tokenizer/ RUN/contexts.npz        a `tv2tv train` run directory

and either may hold `tiny_decoder/` (`tv2tv train-tiny-decoder`): a few conv blocks distilled
from the VAE's decoder that turn latents into frames at a fraction of its cost; frames are
decoded with it where it is there (`decoder="auto"`), the full decoder stays `decoder="full"`.
"""
from __future__ import annotations

import contextlib
import functools
import io
import json
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from model import precision
from model.mot import TV2TVModel
from model.sampler import CACHE_MODES, DEFAULT_CACHE, StreamingSampler
from model.tiny_decoder import tiny_decode
from model.tokenizer import load_tokenizer, special_ids
from model.vae import decode, encode

from .commands import EVENT_TAIL, MAX_COMMAND_LENGTH, check_command, normalize_command
from .data.contexts import CONTEXT_FILE, Contexts, load_contexts
from .errors import UserError
from .games import CARD_FILE, CARDS, DEFAULT_GAME, env_id, get_card, register_card_file
from .paraphrase import NearestWording

DECODERS = ("auto", "tiny", "full")  # what turns latents into frames (WorldOptions.decoder)
TINY_DECODER_DIR = "tiny_decoder"  # CKPT/tiny_decoder/: `tv2tv train-tiny-decoder`'s output

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
# Each game card names its shipped model's directory under checkpoints/ (whether it ships is checked on load).
DEFAULT_CHECKPOINT = {name: CHECKPOINTS / card.checkpoint for name, card in CARDS.items() if card.checkpoint}

@dataclass
class CheckpointPaths:
    root: Path
    model: Path
    vae: Path
    tokenizer: Path
    contexts: Path


def resolve_checkpoint(checkpoint=None, game: str | None = DEFAULT_GAME) -> CheckpointPaths:
    """Find the parts of a checkpoint directory (either layout), or say what is missing. A world of
    a recorded Gymnasium env carries its game card (`card.json`): it is registered here."""
    if checkpoint is None:
        if game is None:
            raise UserError(f"{env_id(None)} plays a world you trained: pass checkpoint=RUN_DIR (a `tv2tv train` "
                            "run or an exported checkpoint)")
        root = DEFAULT_CHECKPOINT.get(game)
        if root is None or not root.is_dir():
            raise UserError(f"no default {game} model ships with this version; train one (`tv2tv train`) and "
                            f"pass checkpoint=RUN_DIR")
    else:
        root = Path(checkpoint)
        if not root.is_dir():
            raise UserError(f"checkpoint {root} does not exist (a directory made by `tv2tv train`, or a "
                            f"shipped one such as {DEFAULT_CHECKPOINT[DEFAULT_GAME]})")
    for model in [root / "model", root / "ckpt" / "model"]:
        if (model / "config.json").is_file():
            break
    else:
        raise UserError(f"{root} holds no model: expected model/config.json (shipped layout) or "
                        f"ckpt/model/config.json (a `tv2tv train` run)")
    paths = CheckpointPaths(root, model, root / "vae", root / "tokenizer", root / CONTEXT_FILE)
    if (root / CARD_FILE).is_file():
        register_card_file(root / CARD_FILE)
    for name, p, what in [("vae", paths.vae / "config.json", "the frame VAE"),
                          ("tokenizer", paths.tokenizer / "tokenizer.json", "the tokenizer")]:
        if not p.is_file():
            raise UserError(f"{root} lacks {what} ({p} is missing); a checkpoint carries the VAE and "
                            f"tokenizer it was trained with")
    check_checkpoint_files(paths)
    return paths


def _damaged(f: Path, e: Exception) -> UserError:
    return UserError(f"{f} is damaged ({type(e).__name__}: {e}); restore it from where it came from "
                     f"(a shipped checkpoint: `git checkout -- {f}`, or reinstall the package)")


def check_folder_files(folder: Path):
    """Every JSON file of `folder` parses and every safetensors header covers its file."""
    from safetensors import safe_open

    for f in sorted(folder.glob("*.json")):
        try:
            json.loads(f.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise _damaged(f, e) from None
    for f in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(f), "pt") as st:
                st.keys()
        except Exception as e:  # SafetensorError and OSError: any unreadable header
            raise _damaged(f, e) from None


def check_checkpoint_files(paths: CheckpointPaths):
    """Read every file of a checkpoint far enough to know it is whole (JSON parses, safetensors
    headers cover their files, the tokenizer builds), so that a damaged file is named with what
    to do, not met later as a raw library error. Headers only: milliseconds."""
    from tokenizers import Tokenizer

    for folder in (paths.model, paths.vae, paths.tokenizer):
        check_folder_files(folder)
    try:
        Tokenizer.from_file(str(paths.tokenizer / "tokenizer.json"))
    except Exception as e:  # tokenizers raises a bare Exception for JSON it cannot build from
        raise _damaged(paths.tokenizer / "tokenizer.json", e) from None


@dataclass
class ChunkBatch:
    frames: np.ndarray  # (B, F, H, W, 3) uint8
    texts: list  # the text that drove each stream's chunk
    thought: list  # True where the model wrote it
    reward: np.ndarray  # (B,) predicted reward
    end_prob: np.ndarray  # (B,) predicted probability that the episode ends
    read_as: list  # how each command was read (`CommandReading.read_as`)


def trained_end_oversampling(paths: CheckpointPaths) -> float:
    """How many times as often training drew windows holding an episode end (`--oversample-ends`):
    from an exported model's train_progress.json, or a run's sampling.json; 1 where neither says."""
    for f, key in [(paths.model / "train_progress.json", "sampling"), (paths.root / "sampling.json", None)]:
        if f.is_file():
            try:
                drawn = json.loads(f.read_text())
            except json.JSONDecodeError as e:
                raise _damaged(f, e) from None
            drawn = drawn.get(key, {}) if key else drawn
            if "oversample_ends" in drawn:
                return float(drawn["oversample_ends"])
    return 1.0


def says_died(text: str, game: str) -> bool:
    """Whether a chunk's text reports the player's death in the game's recorded words ("strafe
    left; you are killed"): one of the card's "died" event phrases after the event tail."""
    events = text.split(EVENT_TAIL[0], 1)[1] if EVENT_TAIL[0] in text else ""
    return any(phrase in events for phrase in get_card(game).event_phrases.get("died", ()))


class CommandReading(NamedTuple):
    """What the model reads for one command (`WorldModel.interpret_command`)."""

    text_ids: list | None  # the chunk's token ids; None: the model writes them; []: hidden (read by meaning)
    command_vector: object  # the language prior's sentence vector (a tensor), or None: made from text_ids
    read_as: str  # "words", "nearest", "meaning", "unplaced" or "thought" (info["read_as"])
    text: str  # the wording that drives the chunk: the nearest recorded one, or the command as typed


# A command whose sentence vector is at most this similar (cosine) to every wording the model
# was trained on is off-topic ("what is the weather"): the model cannot place it, so it decides
# the chunk itself rather than draw from a meaning it never saw. Measured with MiniLM against
# Doom's trained wordings (2026-12-03): the benchmark's new wordings score 0.39-0.97 (only
# "freeze" and "sidle right" fall below 0.4), off-topic text 0.18-0.64 ("dance" 0.48, "what is
# the weather" 0.18), so 0.4 leaves out the clearly off-topic and lets the model try the rest.
UNPLACED_SIMILARITY = 0.4
# How a command with a word recording never used is read (`WorldModel.interpret_command`).
UNKNOWN_WORDS = ("nearest", "meaning")
# What ends an episode (`WorldOptions.end_from`): the end head's probability, the model's own text
# saying the player died (one of the card's "died" event phrases), or either.
END_FROM = ("head", "text", "either")


@dataclass(frozen=True)
class WorldOptions:
    """How a checkpoint is loaded and sampled: the keyword arguments of `WorldModel(checkpoint,
    **options)`, and those of `gymnasium.make("TV2TV/Doom-v0", **options)` and `make_vec` beside
    the envs' own (render_mode, end_threshold, frames, ...). One list, so that a new option is
    added once and reaches every env."""

    checkpoint: str | Path | None = None  # a checkpoint or `tv2tv train` run directory; None: the shipped one
    game: str | None = DEFAULT_GAME  # None: whichever game the checkpoint was trained on (TV2TV/World-v0)
    device: str = "auto"  # "auto", "cpu", "cuda", ...
    precision: str = "auto"  # "auto" (bf16 only where the device runs it natively), "fp32" or "bf16"
    guidance: float | None = None  # classifier-free guidance scale; None: the checkpoint's
    sampling_steps: int | None = None  # Euler steps per chunk; None: the checkpoint's
    context_chunks: int | None = None  # chunks of context kept; None: the checkpoint's
    temperature: float = 1.0  # of the text the model writes itself
    unknown_words: str = "nearest"  # how a command with words recording never used is read (UNKNOWN_WORDS)
    imagined_events: bool = False  # the model may write the events it expects after a command ("; an enemy dies")
    contexts: str | Path | None = None  # a contexts file (`tv2tv contexts --out FILE`) to start from instead
    cache: str = DEFAULT_CACHE  # "rolling" cuts the oldest chunk out of the KV cache; "exact" rebuilds it
    distilled: str | Path | None = None  # a student directory (`tv2tv distill`) that draws each chunk
    decoder: str = "auto"  # latents -> frames: "tiny" (CKPT/tiny_decoder/), "full" (the VAE's), "auto": tiny where shipped
    end_from: str = "head"  # what ends an episode (END_FROM): the end head, the model's text saying it died, either
    # the dream's hardness: scales the odds that the model writes a death and that its end head calls one;
    # None: 1 / the oversampling of episode ends the model was trained with (`--oversample-ends`), which undoes it
    death_odds: float | None = None

    def __post_init__(self):
        if self.cache not in CACHE_MODES:
            raise UserError(f"cache={self.cache!r}; choose one of {', '.join(CACHE_MODES)}")
        if self.unknown_words not in UNKNOWN_WORDS:
            raise UserError(f"unknown_words={self.unknown_words!r}; choose one of {', '.join(UNKNOWN_WORDS)}")
        if self.decoder not in DECODERS:
            raise UserError(f"decoder={self.decoder!r}; choose one of {', '.join(DECODERS)}")
        if self.end_from not in END_FROM:
            raise UserError(f"end_from={self.end_from!r}; choose one of {', '.join(END_FROM)}")
        if self.death_odds is not None and not self.death_odds > 0:
            raise UserError(f"death_odds={self.death_odds!r}; give a positive factor (1: as the model learned)")

    @classmethod
    def from_kwargs(cls, kwargs: dict, owner: str = "WorldModel", own_options=()) -> "WorldOptions":
        """The options in `kwargs`; a TypeError naming any unknown one and listing the known ones
        (`own_options`: the names `owner` takes itself, listed with them)."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(kwargs) - set(known))
        if unknown:
            own = f"; and its own: {', '.join(own_options)}" if own_options else ""
            raise TypeError(f"{owner} got unknown option(s) {', '.join(map(repr, unknown))}: the world options "
                            f"are {', '.join(known)}{own}")
        return cls(**kwargs)


def load_tiny_decoder(path: Path, decoder: str, device):
    """The tiny decoder at `path` (`tv2tv train-tiny-decoder`) for decoder "tiny", or "auto" where
    there is one; None: decode with the full VAE decoder."""
    if decoder == "full" or (decoder == "auto" and not (path / "config.json").is_file()):
        return None
    if not (path / "config.json").is_file():
        raise UserError(f"decoder='tiny' but {path} holds no tiny decoder; train one with `tv2tv train-tiny-decoder "
                        f"--checkpoint {path.parent} --data DATA`, or use decoder='full'")
    from model.tiny_decoder import TinyDecoder

    with contextlib.redirect_stdout(io.StringIO()):
        return TinyDecoder.from_pretrained(path).float().to(device).eval()


class WorldModel:
    def __init__(self, checkpoint=None, **options):
        """`options`: the fields of `WorldOptions` (a TypeError names any other).
        `distilled`: a student made by `tv2tv distill` (its `student/` directory) that draws
        each chunk in its few steps without guidance; the checkpoint's model still reads the
        text, thinks and predicts reward and episode end (model/distill.py).
        `cache`: "rolling" (the default) cuts the oldest chunk out of the context's KV cache when
        it leaves; "exact" rebuilds the cache from the kept chunks, as the model was trained
        (slower; the benchmark finds no difference; model/sampler.py).
        `imagined_events`: after a given command the model may write the events it expects
        ("; an enemy dies"), as recorded text reports them, before it draws the chunk; the
        reward and end heads read them there (model/sampler.py, "Events").
        `contexts`: a contexts file (`tv2tv contexts --out FILE`) to start episodes from
        instead of the checkpoint's own."""
        self.options = o = WorldOptions.from_kwargs({"checkpoint": checkpoint, **options})
        self.unknown_words = o.unknown_words
        self.paths = resolve_checkpoint(o.checkpoint, o.game)
        cfg = json.loads((self.paths.model / "config.json").read_text())
        game = o.game or cfg.get("game") or DEFAULT_GAME  # game=None: whichever game the checkpoint was trained on
        if cfg.get("game", game) != game:
            raise UserError(f"checkpoint {self.paths.root} was trained on {cfg['game']}, not {game}; use "
                            f"{env_id(cfg['game'])} or another checkpoint")
        self.game = game
        self.device = precision.resolve_device(o.device)
        self.dtype = precision.autocast_dtype(self.device, o.precision)
        with contextlib.redirect_stdout(io.StringIO()):  # huggingface_hub prints a line on every load
            self.model = TV2TVModel.from_pretrained(self.paths.model).float().to(self.device).eval()
        from diffusers import AutoencoderKL  # heavy import, only once a model is really loaded

        self.vae = AutoencoderKL.from_pretrained(self.paths.vae, torch_dtype=torch.float32,
                                                 low_cpu_mem_usage=False).to(self.device).eval()
        self.tiny_decoder = load_tiny_decoder(self.paths.root / TINY_DECODER_DIR, o.decoder, self.device)
        self.tokenizer = load_tokenizer(self.paths.tokenizer)
        if len(self.tokenizer) > self.model.config.vocab_size:
            raise UserError(f"the tokenizer in {self.paths.tokenizer} has {len(self.tokenizer)} tokens but the model "
                            f"only {self.model.config.vocab_size}: they come from different runs")
        c = self.model.config
        contexts = o.contexts or self.paths.contexts
        self.use_contexts(load_contexts(contexts), contexts)
        self.frames_per_chunk = c.frames_per_chunk
        self.encoder = self.nearest = None
        command_fn = None  # token ids -> the language prior's command vectors
        if c.command_dim:  # the language prior: a frozen sentence encoder from a pinned package
            from model.command_encoder import EncoderFilesError, shared_encoder, token_command_fn

            try:
                self.encoder = shared_encoder()
            except EncoderFilesError as e:
                raise UserError(str(e)) from None
            self.nearest = NearestWording(game, self.encoder, UNPLACED_SIMILARITY)
            command_fn = token_command_fn(self.tokenizer, self.encoder)
        self.conditioning = c.conditioning  # how it was trained to read text (tv2tv_env/conditioning.py)
        guidance = o.guidance
        if self.conditioning in ("prompt", "plan"):
            guidance = 1.0  # its chunks carry no text: the guided and unguided branches agree
        student = self._load_student(o.distilled) if o.distilled is not None else None
        self.sampler = StreamingSampler(self.model, special_ids(self.tokenizer), steps=o.sampling_steps,
                                        guidance=guidance, context_chunks=o.context_chunks, temperature=o.temperature,
                                        command_fn=command_fn, cache=o.cache, student=student,
                                        event_openers=self.event_openers() if o.imagined_events else None)
        self.trained_end_oversampling = trained_end_oversampling(self.paths)
        self._set_death_odds(o.death_odds)

    def use_contexts(self, contexts: Contexts, name="these contexts"):
        """Start episodes from `contexts` from now on (what `contexts=FILE` loads; or real chunks
        just played, encoded with `encode_frames`: agents/dream_vs_real.py). `name` names them in errors."""
        if contexts.game != self.game:
            raise UserError(f"{name} holds {contexts.game} contexts, not {self.game}")
        c = self.model.config
        want = (c.frames_per_chunk, c.latent_channels, c.latent_size, c.latent_size)
        if tuple(contexts.latents.shape[2:]) != want:
            raise UserError(f"{name} holds latents shaped {tuple(contexts.latents.shape[2:])} but the model expects "
                            f"{want}; make the contexts again with this checkpoint's VAE")
        self.contexts = contexts
        self.frame_shape = tuple(contexts.frames.shape[2:])  # (H, W, 3)
        self._context_ids = [[self.encode_text(t) for t in row] for row in contexts.texts]

    def __len__(self):
        return len(self.contexts)

    def _load_student(self, path):
        """A distilled sampler for this model: same config apart from its steps and guidance."""
        path = Path(path)
        if not (path / "config.json").is_file():
            raise UserError(f"distilled={path}: no student there (config.json missing); make one with "
                            f"`tv2tv distill --checkpoint {self.paths.root} --out RUN` and pass RUN/student")
        check_folder_files(path)
        with contextlib.redirect_stdout(io.StringIO()):
            student = TV2TVModel.from_pretrained(path).float().to(self.device).eval()
        same = ("d_model", "n_layers", "n_heads", "patch", "latent_channels", "latent_size", "frames_per_chunk",
                "vocab_size", "command_dim", "conditioning")
        differ = [k for k in same if getattr(student.config, k) != getattr(self.model.config, k)]
        if differ:
            raise UserError(f"distilled={path} was distilled from another model ({', '.join(differ)} differ "
                            f"from {self.paths.model}); distil this checkpoint")
        return student

    def event_openers(self) -> list[int]:
        """Token ids that open what recorded text says happened after a command (";", " but")."""
        ids = [self.tokenizer.encode(m, add_special_tokens=False) for m in EVENT_TAIL]
        return [t[0] for t in ids if len(t) == 1]

    def encode_text(self, text: str) -> list[int]:
        return self.tokenizer.encode(normalize_command(text), add_special_tokens=False)

    def interpret_command(self, command: str) -> CommandReading:
        """How a (checked) command reaches the model: its text ids, its command vector, how it
        was read (`read_as`) and the wording that drives the chunk (`CommandReading`).

        - "thought": "" lets the model write the text itself;
        - "words": every word was recorded: its tokens (and, with a language prior, its vector);
        - "nearest": a word the recorder never used ("spin left"): each such clause is read as
          the recorded wording nearest in meaning ("swing left", `NearestWording`), given by
          tokens and vector as in training;
        - "meaning" (with `unknown_words="meaning"` instead): the tokens are hidden and only the
          sentence vector is given, as training hides tokens;
        - "unplaced": its vector is far from every trained wording ("what is the weather"):
          the model decides the chunk, as for "" (a new word must not end the episode).
        Without a language prior every non-empty command is read as "words"."""
        text = normalize_command(command)
        model_decides = CommandReading(None, None, "unplaced", "")
        if not text:
            return CommandReading(None, None, "thought", "")
        if self.encoder is None:
            return CommandReading(self.encode_text(text), None, "words", text)
        vector = self.encoder.encode([text])[0]
        if self.nearest.known_words(text):
            return CommandReading(self.encode_text(text), vector, "words", text)
        if self.unknown_words == "meaning":
            return CommandReading([], vector, "meaning", text) if self.nearest.placed(vector) else model_decides
        read = self.nearest.read(text, vector)
        if read is None:  # near no trained wording, or no clause places: the model decides
            return model_decides
        wording = read[1]  # one of the game's actions, as the recorder words it
        return CommandReading(self.encode_text(wording), self.encoder.encode([wording])[0], "nearest", wording)

    def describe(self) -> dict:
        c = self.model.config
        return {"checkpoint": str(self.paths.root), "config": {"d_model": c.d_model, "n_layers": c.n_layers},
                "sampling_steps": self.sampler.steps, "guidance": self.sampler.guidance,
                "context_chunks": self.sampler.context_chunks, "cache": self.sampler.cache,
                "distilled_steps": self.sampler.student_steps,
                "decoder": "tiny" if self.tiny_decoder is not None else "full",
                "temperature": self.sampler.temperature, "end_from": self.options.end_from,
                "imagined_events": self.sampler.event_openers is not None, "death_odds": self.death_odds,
                **precision.describe(self.device, self.dtype)}

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
    def step(self, commands: list[str], generators: list[torch.Generator], rows: list[int] | None = None,
             last_frame_only: bool = False) -> ChunkBatch:
        """One chunk for each stream (or each of `rows`); '' lets the model write the text.
        `last_frame_only`: decode only each chunk's last frame (what an env observes; the VAE
        decodes frames one by one: the same frame, up to rounding), a quarter of the decode's work."""
        readings = [self.interpret_command(check_command(c)) for c in commands]
        batch = self.step_text_ids([r.text_ids for r in readings], generators, [r.command_vector for r in readings],
                                   rows, last_frame_only)
        # a command read by meaning drove the chunk as typed; the model's own text otherwise
        batch.texts = [r.text if r.read_as == "meaning" else t for r, t in zip(readings, batch.texts)]
        batch.read_as = [r.read_as for r in readings]
        return batch

    @torch.no_grad()
    def step_text_ids(self, text_ids: list, generators: list[torch.Generator], command_vectors: list | None = None,
                      rows: list[int] | None = None, last_frame_only: bool = False) -> ChunkBatch:
        """`step` for text already in the model's terms: token ids per stream (None: the model
        writes them; []: a chunk with no text, as T2V's are) and, with a language prior, each
        command's vector (None: made from the ids). The benchmark drives baselines this way."""
        with precision.autocast(self.device, self.dtype):
            res = self.sampler.step(text_ids, generators, rows=rows,
                                    command_vectors=command_vectors if self.encoder is not None else None)
            lat = res.latents[:, -1:] if last_frame_only else res.latents
            frames = self.decode_latents(lat)
        texts = [self.tokenizer.decode(t) for t in res.text_ids]
        return ChunkBatch(frames, texts, list(res.thought), res.reward.cpu().numpy(),
                          self.end_probability(res.end_prob.cpu().numpy(), texts), [None] * len(text_ids))

    def death_tokens(self) -> list[int]:
        """The token ids that only the card's "died" event phrases use (" killed", " die"): where
        the model writes one, it writes a death."""
        card = get_card(self.game)

        def tokens(phrases):
            return {t for ph in phrases for text in (ph, f"x; {ph}") for t in self.encode_text(text.replace("{n}", "0"))}

        died = tokens(card.event_phrases.get("died", ()))
        other = tokens([ph for name, phrases in card.event_phrases.items() if name != "died" for ph in phrases])
        return sorted(died - other - tokens([ph for phrases in card.phrases.values() for ph in phrases] + ["x"]))

    def _set_death_odds(self, odds: float | None):
        """`death_odds` (WorldOptions): the sampler's logit bias on the death tokens, and the factor
        on the end head's odds in `end_probability`."""
        self.death_odds = 1.0 / self.trained_end_oversampling if odds is None else float(odds)
        bias = float(np.log(self.death_odds))
        self.sampler.logit_bias = {t: bias for t in self.death_tokens()} if bias else {}

    def end_probability(self, head: np.ndarray, texts: list[str]) -> np.ndarray:
        """The probability that each stream's episode ended in its chunk, as `end_from` says: the
        end head's (its odds scaled by `death_odds`), 1 where the chunk's text says the player
        died (0 elsewhere), or the larger."""
        if self.death_odds != 1.0:
            head = head * self.death_odds / (head * self.death_odds + 1 - head)
        if self.options.end_from == "head":
            return head
        said = np.array([says_died(t, self.game) for t in texts], np.float32)
        return said if self.options.end_from == "text" else np.maximum(head, said)

    # --- real frames in, frames out (the benchmark starts from real held-out play) --------
    @property
    def context_chunks(self) -> int:
        return self.sampler.context_chunks

    def set_sampling(self, guidance: float | None = None, steps: int | None = None,
                     imagined_events: bool | None = None, cache: str | None = None, distilled=None,
                     end_from: str | None = None, temperature: float | None = None,
                     death_odds: float | None = None):
        """Change how chunks are drawn between rollouts (sweeps over guidance, Euler steps,
        cache modes, what ends an episode, the temperature of the text the model writes and the
        odds of a death).
        A new cache mode applies from the next time the oldest chunk drops out.
        `distilled`: a student directory to draw with from now on, or False to draw with the
        model's own steps and guidance again."""
        if distilled is not None:
            self.sampler.student = self._load_student(distilled) if distilled else None
        if cache is not None:
            if cache not in CACHE_MODES:
                raise UserError(f"cache={cache!r}; choose one of {', '.join(CACHE_MODES)}")
            self.sampler.cache = cache
        if guidance is not None:
            self.sampler.guidance = guidance
        if steps is not None:
            self.sampler.steps = steps
        if imagined_events is not None:
            self.sampler.event_openers = self.event_openers() if imagined_events else None
        given = {k: v for k, v in [("end_from", end_from), ("temperature", temperature), ("death_odds", death_odds)]
                 if v is not None}
        self.options = replace(self.options, **given)  # WorldOptions checks each
        if temperature is not None:
            self.sampler.temperature = temperature
        if death_odds is not None:
            self._set_death_odds(death_odds)

    @torch.no_grad()
    def encode_frames(self, frames: np.ndarray, batch: int = 256) -> torch.Tensor:
        """uint8 frames (..., H, W, 3) -> this checkpoint's normalised latents (..., C, h, w)."""
        flat = torch.from_numpy(np.ascontiguousarray(frames.reshape(-1, *frames.shape[-3:])))
        with precision.autocast(self.device, self.dtype):
            lat = torch.cat([encode(self.vae, flat[i:i + batch]).float() for i in range(0, len(flat), batch)])
        return lat.view(*frames.shape[:-3], *lat.shape[1:])

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor, batch: int = 256, full: bool = False) -> np.ndarray:
        """Latents (..., C, h, w) -> uint8 frames (..., H, W, 3), by the tiny decoder where there is
        one, or by the VAE's own decoder (there is none, or `full`)."""
        flat = latents.flatten(0, latents.dim() - 4)
        if self.tiny_decoder is not None and not full:
            draw = functools.partial(tiny_decode, self.tiny_decoder)
        else:
            draw = functools.partial(decode, self.vae)
        with precision.autocast(self.device, self.dtype):
            frames = torch.cat([draw(flat[i:i + batch]) for i in range(0, len(flat), batch)])
        return frames.view(*latents.shape[:-3], *self.frame_shape).cpu().numpy()

    def roundtrip(self, frames: np.ndarray) -> np.ndarray:
        """Frames through this checkpoint's VAE and back: what the best model could draw."""
        return self.decode_latents(self.encode_frames(frames))

    @torch.no_grad()
    def reset_to_frames(self, frames: np.ndarray, context_ids: list, prompt_ids: list | None = None):
        """Start one stream per row of real context chunks, frames (B, Kc, F, H, W, 3) uint8,
        with token ids per chunk (`context_ids[b][k]`) and per stream prompt ids, as
        `tv2tv_env/conditioning.py` lays them out for this model."""
        latents = self.encode_frames(frames)
        with precision.autocast(self.device, self.dtype):
            self.sampler.reset(latents, context_ids, prompt_ids)

    def write_plan(self, generators: list[torch.Generator]) -> list[list[int]]:
        """A plan-writing model (Think2V) writes its prompt: token ids per stream."""
        with precision.autocast(self.device, self.dtype):
            return self.sampler.write_prompt(generators)
