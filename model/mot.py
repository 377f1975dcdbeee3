"""The TV2TV world model: a Mixture-of-Transformers over one stream of text and video tokens.

Every layer has two sets of weights, one for text tokens and one for video tokens (norms,
QKV, output projection, MLP); attention is one global self-attention over the stream, with
the mask of `model/sequence.py`. Read top to bottom:

- `Rotary`: rotary positions over the stream order.
- `MoTBlock`: one layer. Text tokens: pre-norm residual block. Video tokens: the same, with
  adaLN-Zero modulation (DiT) from a condition vector = the hidden state of their chunk's
  <bof> token at this layer's input + the flow-time embedding. The <bof> state is where the
  text tower has just read the chunk's command, so this is a direct path from the words to
  every video layer, beside the shared attention (an action-modulated conv model learned
  turn direction where attention alone did not, MEASURED.md).
- `LatentConv`: with `video_conv` > 0, a residual 3x3 conv block on each chunk's latent grid
  before the patch embedding and another after the velocity head (off in the shipped models).
- `TV2TVModel`: embeddings, the blocks, and the heads: next-token logits (text tower),
  velocity (video tower), reward and episode end (at <eof>). With `command_dim` > 0 the
  frozen sentence vector of each chunk's command (the language prior,
  `model/command_encoder.py`) is projected and added to the chunk's <bof> embedding: the
  <bof> state is the video tower's condition, so the meaning of words the text tower never
  saw reaches every video layer.

Saved and loaded in the Hugging Face layout (config.json + model.safetensors) through
`huggingface_hub.PyTorchModelHubMixin`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin

from .config import TV2TVConfig
from .flow import patchify, unpatchify
from .sequence import CLEAN, NOISY, TEXT


class Rotary(nn.Module):
    def __init__(self, head_dim: int, max_positions: int, base: float = 10000.0):
        super().__init__()
        inv = 1.0 / base ** (torch.arange(0, head_dim, 2).float() / head_dim)
        ang = torch.arange(max_positions).float()[:, None] * inv[None]
        self.register_buffer("inv", inv, persistent=False)
        self.register_buffer("cos", ang.cos(), persistent=False)
        self.register_buffer("sin", ang.sin(), persistent=False)

    @staticmethod
    def _rotate(x, cos, sin):
        x1, x2 = x[..., 0::2], x[..., 1::2]
        return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1).flatten(-2)

    def forward(self, x, pos):
        """x: (B, H, L, D); pos: (B, L) long."""
        pos = pos.clamp(max=self.cos.shape[0] - 1)
        return self._rotate(x, self.cos[pos][:, None], self.sin[pos][:, None])

    def shift(self, x, by):
        """Move x (B, H, L, D), already rotated to its positions, by `by` (B, L) positions (may be
        negative): rotations compose, so shift(forward(x, p), b) == forward(x, p + b). Lets a
        cache move kept keys back when older tokens leave it (the streaming sampler's rolling mode)."""
        ang = by.float()[..., None] * self.inv  # (B, L, D/2)
        return self._rotate(x.float(), ang.cos()[:, None], ang.sin()[:, None]).to(x.dtype)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of flow time t in [0, 1] (scaled by 1000 as in DiT)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device).float() / half)
    args = t.float()[:, None] * 1000.0 * freqs[None]
    return torch.cat([args.cos(), args.sin()], -1)


def condition_groups(source: torch.Tensor, tlevel: torch.Tensor):
    """Video tokens whose condition is the same (the same <bof> state, `source`, and the same
    noise level: every token of one chunk copy) get the same adaLN modulation. Returns the
    first token of each group and each token's group, so that the modulation is computed once
    per group (a chunk's 16 tokens share one: a third of the video tower's matmuls otherwise)."""
    level_bits = tlevel.float().contiguous().view(torch.int32).long() & 0xFFFFFFFF  # exact, as an integer
    _, group = torch.unique((source.long() << 32) | level_bits, return_inverse=True)
    n_groups = int(group.max()) + 1 if len(group) else 0
    first = torch.full((n_groups,), len(group), device=group.device, dtype=torch.long)
    first = first.scatter_reduce(0, group, torch.arange(len(group), device=group.device), "amin")
    return first, group


def mlp(d: int, ratio: float) -> nn.Sequential:
    h = int(d * ratio)
    return nn.Sequential(nn.Linear(d, h), nn.GELU(approximate="tanh"), nn.Linear(h, d))


def merge(n: int, ti, a, vi, b):
    """Rows of two towers back into one (n, dim) tensor: a at rows ti, b at rows vi.
    Under autocast the towers may return different dtypes; the result takes the wider one."""
    dtype = torch.promote_types(a.dtype, b.dtype)
    return a.new_zeros(n, a.shape[-1], dtype=dtype).index_copy(0, ti, a.to(dtype)).index_copy(0, vi, b.to(dtype))


class MoTBlock(nn.Module):
    def __init__(self, cfg: TV2TVConfig):
        super().__init__()
        d = cfg.d_model
        self.n_heads = cfg.n_heads
        # text tower
        self.t_norm1, self.t_qkv, self.t_proj = nn.RMSNorm(d), nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.t_norm2, self.t_mlp = nn.RMSNorm(d), mlp(d, cfg.mlp_ratio)
        # video tower (norms without affine: the adaLN modulation provides scale and shift)
        self.v_norm1, self.v_qkv, self.v_proj = nn.LayerNorm(d, elementwise_affine=False), nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.v_norm2, self.v_mlp = nn.LayerNorm(d, elementwise_affine=False), mlp(d, cfg.mlp_ratio)
        self.v_ada = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))
        nn.init.zeros_(self.v_ada[1].weight), nn.init.zeros_(self.v_ada[1].bias)  # adaLN-Zero

    def forward(self, h, ti, vi, cvec, group, rope, pos, mask, past=None):
        """h: (B, L, d); ti/vi: flat indices of text/video tokens; cvec: (G, d) the condition of
        each group of video tokens, group: (len(vi),) each video token's group;
        mask: (B, L, Lpast + L); past: (k, v) of cached tokens or None.
        Returns the new h and this layer's (k, v) for the L new tokens."""
        B, L, d = h.shape
        H = self.n_heads
        flat = h.reshape(B * L, d)
        sh1, sc1, g1, sh2, sc2, g2 = self.v_ada(cvec)[group].chunk(6, -1)
        xt = self.t_qkv(self.t_norm1(flat[ti]))
        xv = self.v_qkv(self.v_norm1(flat[vi]) * (1 + sc1) + sh1)
        qkv = merge(B * L, ti, xt, vi, xv)
        q, k, v = qkv.view(B, L, 3, H, d // H).permute(2, 0, 3, 1, 4)
        q, k = rope(q, pos), rope(k, pos)
        new_kv = (k, v)
        if past is not None:
            k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None])
        o = o.transpose(1, 2).reshape(B * L, d)
        flat = flat + merge(B * L, ti, self.t_proj(o[ti]), vi, g1 * self.v_proj(o[vi]))
        mt = self.t_mlp(self.t_norm2(flat[ti]))
        mv = g2 * self.v_mlp(self.v_norm2(flat[vi]) * (1 + sc2) + sh2)
        flat = flat + merge(B * L, ti, mt, vi, mv)
        return flat.view(B, L, d), new_kv


class LatentConv(nn.Module):
    """x + conv(silu(conv(x))) on a chunk's latent grid, frames stacked on channels (`video_conv`).
    Takes and gives video tokens (N, patch_dim) whose rows are whole chunks in spatial order."""

    def __init__(self, cfg: TV2TVConfig):
        super().__init__()
        self.cfg, ch = cfg, cfg.frames_per_chunk * cfg.latent_channels
        self.net = nn.Sequential(nn.Conv2d(ch, cfg.video_conv, 3, padding=1), nn.SiLU(),
                                 nn.Conv2d(cfg.video_conv, ch, 3, padding=1))
        nn.init.zeros_(self.net[-1].weight), nn.init.zeros_(self.net[-1].bias)

    def forward(self, tokens, spatial):
        c, n = self.cfg, self.cfg.tokens_per_chunk
        if spatial.numel() % n or not torch.equal(spatial.view(-1, n), torch.arange(n, device=spatial.device).expand(
                spatial.numel() // n, n)):
            raise ValueError("video_conv needs each chunk's video tokens whole and in spatial order")
        x = unpatchify(tokens.reshape(1, -1, n, c.patch_dim), c.frames_per_chunk,
                       c.latent_channels, c.latent_size, c.patch)[0]  # (n, F, C, h, w)
        grid = x.flatten(1, 2)
        grid = grid + self.net(grid)
        return patchify(grid.view_as(x)[None], c.patch).reshape(tokens.shape)


@dataclass
class Output:
    hidden: torch.Tensor  # (B, L, d) final hidden states (before the heads)
    velocity: torch.Tensor  # (B, L, patch_dim), meaningful at video positions
    kv: list  # per layer (k, v) of the input tokens, for the cache
    states: list | None  # per layer (B, n, d): inputs at `keep_states` positions (for <bof> conditions)


# What `save_pretrained` writes as the weights folder's README.md (the mixin's own default says
# the model "has been pushed to the Hub", which ours never are).
WEIGHTS_README = """
---
{{ card_data }}
---

Weights of a TV2TV world model (`config.json` + `model.safetensors`), trained by the TV2TV Gym
project's own code. Load them from this folder with `TV2TVModel.from_pretrained(FOLDER)`
(`model/mot.py`) or use the checkpoint folder above it (`gymnasium.make("TV2TV/Doom-v0",
checkpoint=...)`); nothing is fetched from a hub. How they were trained and how they score:
the checkpoint folder's README.md.
"""


class TV2TVModel(nn.Module, PyTorchModelHubMixin, model_card_template=WEIGHTS_README):
    def __init__(self, config: TV2TVConfig):
        super().__init__()
        if isinstance(config, dict):
            config = TV2TVConfig.from_dict(config)
        self.config = cfg = config
        d = cfg.d_model
        self.tok_emb = nn.Embedding(cfg.vocab_size, d)
        # the language prior's entry; zero at init, so a model starts as if it had none
        self.command_proj = nn.Linear(cfg.command_dim, d, bias=False) if cfg.command_dim else None
        self.conv_in = LatentConv(cfg) if cfg.video_conv else None
        self.conv_out = LatentConv(cfg) if cfg.video_conv else None
        self.patch_in = nn.Linear(cfg.patch_dim, d)
        self.spatial_emb = nn.Parameter(torch.zeros(cfg.tokens_per_chunk, d))
        self.time_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.blocks = nn.ModuleList(MoTBlock(cfg) for _ in range(cfg.n_layers))
        self.rope = Rotary(d // cfg.n_heads, cfg.max_positions)
        self.t_norm_f = nn.RMSNorm(d)
        self.lm_head = nn.Linear(d, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight  # tied, as in GPT-2 / nanoGPT
        self.v_norm_f = nn.LayerNorm(d, elementwise_affine=False)
        self.v_ada_f = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))
        self.v_out = nn.Linear(d, cfg.patch_dim)
        self.reward_head = nn.Linear(d, 1)
        self.end_head = nn.Linear(d, 1)
        self.apply(self._init)
        for m in (self.v_ada_f[1], self.v_out):
            nn.init.zeros_(m.weight), nn.init.zeros_(m.bias)
        if self.command_proj is not None:
            nn.init.zeros_(self.command_proj.weight)
        nn.init.normal_(self.spatial_emb, std=0.02)

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, ids, kind, order, spatial, video, tlevel, mask, cond=None, ext_cond=None,
                past=None, keep_states=None, command=None) -> Output:
        """ids, kind, order, spatial: (B, L) long; video: (B, L, patch_dim) values at video
        positions; tlevel: (B, L) noise level of video tokens; mask: (B, L, Lpast + L).
        command: (B, L, command_dim) sentence vectors at <bof> positions, zero elsewhere (and
        for chunks without a command); None: no command anywhere.
        The condition of a video token is the state of its chunk's <bof> at each layer's
        input: `cond` (B, L) gives the <bof>'s position in this input, or `ext_cond`
        (per layer (B, d), from an earlier call's `states`) gives it directly.
        keep_states: (B,) positions whose per-layer input states to return."""
        B, L = ids.shape
        d = self.config.d_model
        kf = kind.reshape(-1)
        ti = (kf == TEXT).nonzero().squeeze(1)
        vi = ((kf == CLEAN) | (kf == NOISY)).nonzero().squeeze(1)
        vb = vi // L  # batch row of each video token
        x_text = self.tok_emb(ids.reshape(-1)[ti])
        if self.command_proj is not None and command is not None:
            x_text = x_text + self.command_proj(command.reshape(B * L, -1)[ti].to(x_text.dtype))
        x_vid, sp = video.reshape(B * L, -1)[vi], spatial.reshape(-1)[vi]
        if self.conv_in is not None:
            x_vid = self.conv_in(x_vid, sp)
        x_vid = self.patch_in(x_vid) + self.spatial_emb[sp]
        h = merge(B * L, ti, x_text, vi, x_vid).view(B, L, d)
        if cond is None and ext_cond is None:
            if len(vi):
                raise ValueError("video tokens need their <bof> condition: pass cond or ext_cond")
            cond = torch.zeros_like(ids)  # text only: no video token reads it
        # each video token's condition source: its batch row's given state, or its <bof>'s position
        source = vb if ext_cond is not None else vb * L + cond.reshape(-1)[vi]
        tl = tlevel.reshape(-1)[vi]
        first, group = condition_groups(source, tl)  # computed once per group of tokens
        source, temb = source[first], self.time_mlp(timestep_embedding(tl[first], d))
        kv, states = [], ([] if keep_states is not None else None)
        for i, block in enumerate(self.blocks):
            if states is not None:
                states.append(h[torch.arange(B, device=h.device), keep_states])
            src = ext_cond[i][source] if ext_cond is not None else h.reshape(B * L, d)[source]
            h, layer_kv = block(h, ti, vi, src + temb, group, self.rope, order, mask,
                                None if past is None else past[i])
            kv.append(layer_kv)
        src = ext_cond[-1][source] if ext_cond is not None else h.reshape(B * L, d)[source]
        shift, scale = self.v_ada_f(src + temb)[group].chunk(2, -1)
        vel = self.v_out(self.v_norm_f(h.reshape(B * L, d)[vi]) * (1 + scale) + shift)
        if self.conv_out is not None:
            vel = self.conv_out(vel, sp)
        velocity = torch.zeros(B * L, self.config.patch_dim, device=h.device, dtype=vel.dtype).index_copy(0, vi, vel)
        if states is not None:
            states.append(h[torch.arange(B, device=h.device), keep_states])
        return Output(h, velocity.view(B, L, -1), kv, states)

    def text_logits(self, hidden):
        return self.lm_head(self.t_norm_f(hidden))

    def reward_end(self, hidden_at_eof):
        """(..., d) -> reward (...), end logit (...)."""
        x = self.t_norm_f(hidden_at_eof)
        return self.reward_head(x).squeeze(-1), self.end_head(x).squeeze(-1)
