"""The one config of the world model, and its named sizes (`tiny`, `small`, `base`).

A chunk is `frames_per_chunk` frames; each frame is a VAE latent of `latent_channels` x
`latent_size` x `latent_size`. The chunk's frame latents are stacked on channels and cut
into `patch` x `patch` patches: with the defaults a chunk is 16 video tokens of 128 values
(folding the chunk's frames into one token grid gave 4x the training throughput of one
grid per frame, MEASURED.md).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path


CONDITIONINGS = ("text", "prompt", "plan", "action_id")


@dataclass
class TV2TVConfig:
    game: str = "doom"
    # How the video is conditioned. "text": TV2TV, each chunk's own text before it. The
    # benchmark's baselines, trained by the same code: "prompt" (T2V: the whole window's text
    # as one prompt up front, chunks carry none), "plan" (Think2V: the same, but the model
    # also learns to write the plan), "action_id" (one learned token per discrete action, no
    # language, as DIAMOND and GameNGen condition).
    conditioning: str = "text"
    # data layout
    frames_per_chunk: int = 4
    latent_channels: int = 8
    latent_size: int = 8
    patch: int = 2
    vocab_size: int = 512
    max_positions: int = 2048  # stream positions (RoPE); a chunk's video tokens share one
    # The language prior (model/command_encoder.py): size of the frozen sentence vector of each
    # chunk's command, added through a learned projection at the chunk's <bof>. 0: none.
    command_dim: int = 0
    # model
    d_model: int = 192
    n_layers: int = 4
    n_heads: int = 4
    mlp_ratio: float = 4.0
    # Hidden channels of a residual 3x3 conv block on each chunk's latent grid (its frames stacked
    # on channels) before the patch embedding and after the velocity head: local, nonlinear
    # mixing at the latent's own resolution and across patch borders, which the linear patch
    # maps cannot do. 0: none. Its last convolutions start at zero, so a model gains it unchanged.
    video_conv: int = 0
    # training
    window_chunks: int = 4  # chunks per training sample
    first_target_chunk: int = 1  # chunks before this are context only (no flow target)
    text_dropout: float = 0.15  # chance a chunk's text is dropped (classifier-free guidance)
    # With a command vector: chance a chunk's text tokens are hidden and only its vector is
    # given (the model must read the meaning, as for words it never saw), and chance the vector
    # is that of a training paraphrase of the chunk's action (tokens then hidden too).
    text_hide: float = 0.0
    paraphrase: float = 0.0
    context_noise_max: float = 0.1  # clean context chunks get noise up to this level
    # The paper's clean-copy flip, against exposure bias: the chance that a target chunk's
    # clean copy (what later chunks see) is its noisy copy instead, at the flow time it was
    # drawn with, so the model learns to go on from a context as rough as its own drafts.
    clean_flip: float = 0.0
    # Own drafts against exposure bias (model/flow.py): the share of training windows whose
    # target chunks are seen by later chunks as the model's own drafts of them (drawn without
    # gradient in `own_context_steps` Euler steps from the recorded chunks before each), not as
    # the recorded chunks; the flow targets stay recorded.
    own_context: float = 0.0
    own_context_steps: int = 3
    loss_flow: float = 1.0
    loss_text: float = 0.1
    loss_reward: float = 0.1
    loss_end: float = 0.05
    # With an action reader (model/action_reader.py, `tv2tv train --action-reader`): the weight of
    # the cross-entropy of each target chunk's recorded action, read from the model's predicted
    # clean chunk beside the real chunk before it, weighted by (1 - flow time) ** loss_action_power:
    # a prediction from pure noise says little yet, and a larger power leaves the early, coarse
    # sampling steps more to the flow loss alone.
    loss_action: float = 0.0
    loss_action_power: float = 1.0
    # sampling
    sampling_steps: int = 6
    guidance: float = 3.0
    context_chunks: int = 4  # chunks kept in the streaming sampler's context

    def __post_init__(self):
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning {self.conditioning!r} is not one of {', '.join(CONDITIONINGS)}")

    @property
    def tokens_per_chunk(self) -> int:
        return (self.latent_size // self.patch) ** 2

    @property
    def patch_dim(self) -> int:
        return self.frames_per_chunk * self.latent_channels * self.patch**2

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, d: dict) -> "TV2TVConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        return cls(**d)


# Fields that only shape the training objective: weights trained with other values of these
# may start a run (`--init-from`) that changes them, since they change no weight's meaning.
TRAINING_ONLY_FIELDS = ("text_dropout", "context_noise_max", "clean_flip", "own_context", "own_context_steps",
                        "loss_flow", "loss_text", "loss_reward",
                        "loss_end", "loss_action", "loss_action_power")


CONFIGS = {
    # for tests: seconds on a CPU. Width stays >= patch_dim (128): narrower, the video tower
    # cannot carry a noisy patch through (d=64 could not even overfit one clip; d=128 could)
    "tiny": TV2TVConfig(d_model=128, n_layers=2, n_heads=2, mlp_ratio=2.0, vocab_size=512, window_chunks=3),
    # the shipped default: trainable on a 2-core CPU in hours (see DESIGN.md "Compute budget").
    # d=192 x 4 layers (4.7M parameters, 2.4M per tower) trained at 143 predicted chunks/s in
    # fp32 on the AVX-512 dev machine; d=256 x 4 managed 93, below the 100 the budget asks of
    # an AVX2 machine (scripts/bench_model.py)
    "small": TV2TVConfig(d_model=192, n_layers=4, n_heads=4),
    # for a GPU
    "base": TV2TVConfig(d_model=512, n_layers=8, n_heads=8, window_chunks=6),
}


def get_config(name_or_path: str, **overrides) -> TV2TVConfig:
    """A named config ("tiny", "small", "base") or a JSON file, with overrides."""
    if name_or_path in CONFIGS:
        cfg = CONFIGS[name_or_path]
    elif Path(name_or_path).is_file():
        cfg = TV2TVConfig.from_dict(json.loads(Path(name_or_path).read_text()))
    else:
        raise ValueError(f"unknown config {name_or_path!r}: use one of {', '.join(CONFIGS)} or a JSON file")
    return replace(cfg, **overrides)
