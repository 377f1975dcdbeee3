"""Training objective: flow matching on noisy chunks + next-token text + reward/end heads.

Time convention (the one `diffusers.FlowMatchEulerDiscreteScheduler` uses): sigma 1 is pure
noise, 0 is data; x_sigma = sigma * noise + (1 - sigma) * x0; the model predicts the
velocity noise - x0. Flow times are drawn logit-normal (SD3). Clean context chunks get a
small noise level too (context-noise augmentation, from GameNGen/DIAMOND), with the level
given to the model, so long rollouts drift less.

Own drafts (`config.own_context`): in a share of the windows, the clean copies that later chunks
read are not the recorded chunks but the model's own drafts of them, drawn as the sampler draws
(Euler steps from noise, no gradient) from the recorded chunks before each, while every flow
target stays recorded. A rollout reads its own drafts as context from its second chunk on; this
teaches the model to go on from them (what the command asks, from where the draft left off)
instead of from recorded chunks only (exposure bias; Self Forcing and Diffusion Forcing train
on the model's own outputs for this reason).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .euler import flow_scheduler, guided_euler
from .sequence import CLEAN, NOISY, Layout, attention_mask, build_layout


def patchify(lat: torch.Tensor, p: int) -> torch.Tensor:
    """(B, K, F, C, h, w) -> (B, K, (h/p)*(w/p), F*C*p*p): a chunk's frames stacked on channels."""
    B, K, Fr, C, h, w = lat.shape
    x = lat.reshape(B, K, Fr * C, h // p, p, w // p, p)
    return x.permute(0, 1, 3, 5, 2, 4, 6).reshape(B, K, (h // p) * (w // p), Fr * C * p * p)


def unpatchify(x: torch.Tensor, frames: int, channels: int, size: int, p: int) -> torch.Tensor:
    """Inverse of `patchify`: (B, K, n, P) -> (B, K, F, C, h, w)."""
    B, K = x.shape[:2]
    g = size // p
    x = x.reshape(B, K, g, g, frames * channels, p, p).permute(0, 1, 4, 2, 5, 3, 6)
    return x.reshape(B, K, frames, channels, size, size)


def scatter_video(layout, chunk_values: torch.Tensor) -> torch.Tensor:
    """(B, K, n, P) per-chunk patch values -> (B, L, P) at the layout's video positions."""
    B, K, n, P = chunk_values.shape
    idx = (layout.chunk.clamp(min=0) * n + layout.spatial).unsqueeze(-1).expand(-1, -1, P)
    return chunk_values.reshape(B, K * n, P).gather(1, idx)


def scatter_chunk_scalar(layout, values: torch.Tensor) -> torch.Tensor:
    """(B, K) per-chunk scalar -> (B, L) at video positions (0 elsewhere)."""
    return values.gather(1, layout.chunk.clamp(min=0)) * (layout.chunk >= 0)


def scatter_commands(layout, commands: torch.Tensor) -> torch.Tensor:
    """(B, K, D) per-chunk command vectors -> (B, L, D), placed at each chunk's <bof>."""
    B, K, D = commands.shape
    out = commands.new_zeros(B, layout.ids.shape[1], D)
    return out.scatter(1, layout.bof.unsqueeze(-1).expand(B, K, D), commands)


def no_loss_before_empty_text(layout, texts: list, prompts: list | None = None) -> None:
    """A chunk without text (dropped for guidance, hidden, or given none) teaches nothing about
    what to write: the token before its <bof> (the last <eof>, or <bos>) gets no target.
    Otherwise the text tower learns that chunks often have no text, and a model asked to think
    writes nothing (one "model decides" step in five did). The end of a prompt keeps its
    target: a plan-writing model (Think2V) must learn to close its plan with <bof>."""
    for b, row in enumerate(texts):
        for k, t in enumerate(row):
            if not t and not (k == 0 and prompts is not None and len(prompts[b])):
                layout.target[b, layout.bof[b, k] - 1] = -100


def draw_randomness(cfg, B: int, K: int, gen: torch.Generator) -> dict:
    """Every random number of a training step for a batch of B windows of K chunks: text
    dropout, context-noise level, logit-normal flow time, the two noises and the clean-copy
    flips. Drawn for the global batch and sliced by rows, so that any split of the batch sees
    the same numbers. The flips come last, so that a config without them draws the rest as before."""
    shape = (B, K, cfg.tokens_per_chunk, cfg.patch_dim)
    rand = {"drop": torch.rand(B, K, generator=gen) < cfg.text_dropout,
            "s": torch.rand(B, K, generator=gen) * cfg.context_noise_max,
            "t": torch.sigmoid(torch.randn(B, K, generator=gen)),
            "n_clean": torch.randn(shape, generator=gen), "n_flow": torch.randn(shape, generator=gen)}
    flip = torch.zeros(B, K, dtype=torch.bool)
    if cfg.clean_flip > 0:
        flip = torch.rand(B, K, generator=gen) < cfg.clean_flip
        flip[:, :cfg.first_target_chunk] = False  # only chunks with a noisy copy can swap it in
    rand["flip"] = flip
    if cfg.own_context > 0:  # drawn after the rest: a config without own drafts draws as before
        rand["own"] = torch.rand(B, generator=gen) < cfg.own_context
        rand["n_own"] = torch.randn(shape, generator=gen)
    return rand


@torch.no_grad()
def own_drafts(model, lay, x_clean: torch.Tensor, s: torch.Tensor, command, noise: torch.Tensor,
               steps: int) -> torch.Tensor:
    """The model's drafts of every target chunk of the windows of layout `lay` (R windows), each
    drawn from the clean chunks before it (`x_clean` (R, K, n, P) at context noise levels `s`
    (R, K)), as the sampler draws a chunk: `steps` Euler steps of the flow ODE from `noise`
    (R, K, n, P), no guidance. All target chunks are drawn at once: a noisy copy sees only
    clean chunks before its own. Returns (R, K - first_target_chunk, n, P)."""
    f = model.config.first_target_chunk
    noisy = lay.kind == NOISY
    mask = attention_mask(lay.kind, lay.order, lay.chunk)
    clean_video = scatter_video(lay, x_clean)
    clean_level = scatter_chunk_scalar(lay, s) * (lay.kind == CLEAN)

    def velocity(x, t):  # x: (R, K - f, n, P) target chunks at flow time t/1000
        full = torch.cat([noise[:, :f], x], 1)  # context-only chunks have no noisy copy: any values
        video = torch.where(noisy[..., None], scatter_video(lay, full), clean_video)
        tl = torch.where(noisy, (t / 1000.0).to(x.device).float(), clean_level)
        out = model(lay.ids, lay.kind, lay.order, lay.spatial, video, tl, mask, cond=lay.cond, command=command)
        return out.velocity[noisy].view_as(x).to(x.dtype)

    return guided_euler(velocity, noise[:, f:].clone(), flow_scheduler(), steps, 1.0)


def training_loss(model, latents: torch.Tensor, texts: list[list[list[int]]], reward: torch.Tensor,
                  terminated: torch.Tensor, special: dict, gen: torch.Generator | None = None,
                  rand: dict | None = None, prompts: list | None = None, prompt_loss: bool = True,
                  commands: torch.Tensor | None = None, action_reader=None, actions: torch.Tensor | None = None):
    """latents: (B, K, F, C, h, w) normalised VAE latents; texts[b][k]: token ids;
    commands: (B, K, command_dim) sentence vectors of the chunks' commands (a dropped chunk
    loses its vector with its text), or None.
    prompts[b]: token ids before the first chunk (baselines); `prompt_loss=False` gives the
    prompt no next-token loss (it is given, not written). `action_reader` (model/action_reader.py)
    with `actions` (B, K) recorded action ids adds `config.loss_action` x `action_consistency`.
    Returns (loss, dict of float parts). The random parts (text dropout `drop`, context noise
    level `s`, flow time `t`, noises `n_clean`, `n_flow`, clean-copy flips `flip`) come from
    `rand`, or are drawn from `gen`."""
    cfg = model.module.config if hasattr(model, "module") else model.config
    core = model.module if hasattr(model, "module") else model
    dev = latents.device
    B, K = latents.shape[:2]
    x0 = patchify(latents, cfg.patch)
    if rand is None:
        g = gen if gen is not None else torch.Generator().manual_seed(torch.seed() % 2**63)
        rand = draw_randomness(cfg, B, K, g)
    drop = rand["drop"].tolist()
    texts = [[[] if drop[b][k] else list(texts[b][k]) for k in range(K)] for b in range(B)]
    targets = [[k >= cfg.first_target_chunk for k in range(K)] for _ in range(B)]
    lay = build_layout(texts, cfg.tokens_per_chunk, special, targets, prompts=prompts).to(dev)
    no_loss_before_empty_text(lay, texts, prompts)
    if prompts is not None and not prompt_loss:  # <bos> and prompt tokens predict nothing
        for b, p in enumerate(prompts):
            lay.target[b, :len(p) + 1] = -100
    command = None
    if commands is not None and cfg.command_dim:
        keep = ~rand["drop"].to(dev)
        command = scatter_commands(lay, commands.to(dev).float() * keep[..., None])

    s, t = rand["s"].to(dev), rand["t"].to(dev)  # context noise level; logit-normal flow time
    n_clean, n_flow = rand["n_clean"].to(dev), rand["n_flow"].to(dev)
    x_clean = s[..., None, None] * n_clean + (1 - s[..., None, None]) * x0
    x_t = t[..., None, None] * n_flow + (1 - t[..., None, None]) * x0
    if "own" in rand and bool(rand["own"].any()):  # own drafts stand in for the target chunks' clean copies
        rows, f = rand["own"].to(dev).nonzero().squeeze(1), cfg.first_target_chunk
        sub = Layout(**{k: v[rows] for k, v in lay.__dict__.items()})
        drafts = own_drafts(core, sub, x_clean[rows], s[rows], None if command is None else command[rows],
                            rand["n_own"].to(dev)[rows], cfg.own_context_steps).to(x_clean.dtype)
        s_rows = s[rows, f:, None, None]
        x_clean = x_clean.clone()
        x_clean[rows, f:] = s_rows * n_clean[rows, f:] + (1 - s_rows) * drafts
    if "flip" in rand:  # clean-copy flip (config.clean_flip): later chunks see the noisy copy, at its level
        flip = rand["flip"].to(dev)
        x_clean = torch.where(flip[..., None, None], x_t, x_clean)
        s = torch.where(flip, t, s)
    v_target = n_flow - x0

    noisy = lay.kind == NOISY
    video = torch.where(noisy[..., None], scatter_video(lay, x_t), scatter_video(lay, x_clean))
    tlevel = torch.where(noisy, scatter_chunk_scalar(lay, t), scatter_chunk_scalar(lay, s))
    tlevel = tlevel * ((lay.kind == CLEAN) | noisy)
    mask = attention_mask(lay.kind, lay.order, lay.chunk)
    out = model(lay.ids, lay.kind, lay.order, lay.spatial, video, tlevel, mask, cond=lay.cond, command=command)

    loss_flow = F.mse_loss(out.velocity[noisy].float(), scatter_video(lay, v_target)[noisy].float())
    tpos = lay.target != -100
    logits = core.text_logits(out.hidden[tpos]).float()
    loss_text = F.cross_entropy(logits, lay.target[tpos]) if tpos.any() else logits.sum() * 0
    h_eof = out.hidden.gather(1, lay.eof.unsqueeze(-1).expand(-1, -1, out.hidden.shape[-1]))
    r_pred, e_logit = core.reward_end(h_eof)
    loss_reward = F.mse_loss(r_pred.float(), reward.float())
    loss_end = F.binary_cross_entropy_with_logits(e_logit.float(), terminated.float())
    loss = (cfg.loss_flow * loss_flow + cfg.loss_text * loss_text + cfg.loss_reward * loss_reward
            + cfg.loss_end * loss_end)
    more = {}
    if action_reader is not None and cfg.loss_action > 0:
        loss_action = action_consistency(cfg, lay, out.velocity, x_t, t, latents, actions.to(dev), action_reader)
        loss = loss + cfg.loss_action * loss_action
        more["loss_action"] = loss_action.item()
    parts = {"loss_flow": loss_flow.item(), "loss_text": loss_text.item(),
             "loss_reward": loss_reward.item(), "loss_end": loss_end.item(), **more,
             "tokens": int((lay.kind != 0).sum()), "predicted_chunks": int(noisy.sum()) // cfg.tokens_per_chunk}
    return loss, parts


def predicted_clean_chunks(cfg, lay, velocity: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The clean target chunks the model's velocity points to, x0 = x_t - t * v, as latents
    (B, K - first_target_chunk, F, C, h, w). Noisy tokens come in the sequence's order: window by
    window, chunk by chunk, token by token, as the flow loss pairs them with their targets."""
    noisy = lay.kind == NOISY
    B, K = x_t.shape[:2]
    x0 = scatter_video(lay, x_t)[noisy].float() - scatter_chunk_scalar(lay, t)[noisy][:, None] * velocity[noisy].float()
    x0 = x0.view(B, K - cfg.first_target_chunk, cfg.tokens_per_chunk, cfg.patch_dim)
    return unpatchify(x0, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_size, cfg.patch)


def action_consistency(cfg, lay, velocity, x_t, t, latents, actions, reader) -> torch.Tensor:
    """Cross-entropy of each target chunk's recorded action as `reader` reads it from the model's
    predicted clean chunk beside the real chunk before it, weighted by (1 - t) ** loss_action_power
    (from pure noise a prediction is the average chunk and says little). The gradient reaches the
    world model through its velocity; the reader is frozen."""
    f = cfg.first_target_chunk
    if f < 1:
        raise ValueError("the action reader reads a chunk beside the one before it: first_target_chunk must be >= 1")
    pred = predicted_clean_chunks(cfg, lay, velocity, x_t, t)
    prev = latents[:, f - 1:-1].to(pred.dtype)
    logits = reader(prev.flatten(0, 1), pred.flatten(0, 1)).float()
    ce = F.cross_entropy(logits, actions[:, f:].flatten(), reduction="none")
    return ((1 - t[:, f:].flatten().float()) ** cfg.loss_action_power * ce).mean()
