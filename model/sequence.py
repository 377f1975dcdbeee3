"""The token stream of a clip and who may attend to whom.

A clip of K chunks becomes one stream (DESIGN.md, "The sequence"):

    <bos> [prompt] | text_1 <bof> V_1 <eof> | text_2 <bof> V_2 <eof> | ...

plus a noisy copy of every chunk that is a flow target, appended after the stream. Every
token gets a stream `order`: text tokens count up one by one; all video tokens of a chunk,
clean or noisy, share one order (their place in the grid comes from a spatial embedding).
With that, the attention rules become two comparisons:

- a clean or text token sees every clean or text token whose order is <= its own (causal,
  and both ways inside a clean chunk, whose tokens share an order);
- a noisy token sees clean and text tokens strictly before its chunk (all earlier text
  and clean chunks, its own chunk's text and <bof>), and the noisy tokens of its own chunk;
- nobody else sees a noisy token.

`order` doubles as the rotary position.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

PAD, TEXT, CLEAN, NOISY = 0, 1, 2, 3


@dataclass
class Layout:
    """A padded batch of streams. All tensors are (B, L) unless noted."""

    ids: torch.Tensor  # token id for text tokens (pad id elsewhere)
    kind: torch.Tensor  # PAD, TEXT, CLEAN or NOISY
    order: torch.Tensor  # stream order = rotary position
    chunk: torch.Tensor  # chunk index of video tokens, -1 elsewhere
    spatial: torch.Tensor  # patch index inside the chunk grid for video tokens, 0 elsewhere
    cond: torch.Tensor  # for video tokens: position (in L) of their chunk's <bof>; 0 elsewhere
    target: torch.Tensor  # next-token target at text positions, -100 where there is none
    eof: torch.Tensor  # (B, K) position of each chunk's <eof>
    bof: torch.Tensor  # (B, K) position of each chunk's <bof>

    def to(self, device):
        return Layout(**{k: v.to(device) for k, v in self.__dict__.items()})


def build_layout(texts: list[list[list[int]]], tokens_per_chunk: int, special: dict,
                 targets: list[list[bool]], prompts: list[list[int]] | None = None) -> Layout:
    """texts[b][k]: token ids of chunk k's text (may be empty: dropped text);
    targets[b][k]: whether chunk k gets a noisy copy (a flow target);
    special: ids of pad, bos, bof, eof."""
    B, K, n = len(texts), len(texts[0]), tokens_per_chunk
    rows = []
    for b in range(B):
        ids, kind, order, chunk, spatial, cond, target = [], [], [], [], [], [], []
        eofs, bofs = [], []

        def text_token(t, o):
            ids.append(t), kind.append(TEXT), order.append(o), chunk.append(-1), spatial.append(0), cond.append(0)

        o = 0
        for t in [special["bos"]] + list(prompts[b] if prompts else []):
            text_token(t, o)
            o += 1
        for k in range(K):
            for t in list(texts[b][k]) + [special["bof"]]:
                text_token(t, o)
                o += 1
            bofs.append(len(ids) - 1)
            for s in range(n):
                ids.append(special["pad"]), kind.append(CLEAN), order.append(o), chunk.append(k)
                spatial.append(s), cond.append(bofs[-1])
            o += 1
            text_token(special["eof"], o)
            eofs.append(len(ids) - 1)
            o += 1
        # next-token targets: each text token predicts the next text token of the stream
        # (chunk text, <bof>, the next chunk's first word after <eof>); video tokens predict nothing
        text_pos = [i for i, kd in enumerate(kind) if kd == TEXT]
        target = [-100] * len(ids)
        for a, c in zip(text_pos[:-1], text_pos[1:]):
            if ids[a] != special["bof"]:  # what follows <bof> is video, not text
                target[a] = ids[c]
        for k in range(K):
            if targets[b][k]:
                for s in range(n):
                    ids.append(special["pad"]), kind.append(NOISY), order.append(order[bofs[k] + 1])
                    chunk.append(k), spatial.append(s), cond.append(bofs[k]), target.append(-100)
        rows.append((ids, kind, order, chunk, spatial, cond, target, eofs, bofs))
    L = max(len(r[0]) for r in rows)

    def pad(i, value):
        return torch.tensor([r[i] + [value] * (L - len(r[i])) for r in rows], dtype=torch.long)

    big = 1 << 30  # pads sort after everything
    return Layout(ids=pad(0, special["pad"]), kind=pad(1, PAD), order=pad(2, big), chunk=pad(3, -1),
                  spatial=pad(4, 0), cond=pad(5, 0), target=pad(6, -100),
                  eof=torch.tensor([r[7] for r in rows]), bof=torch.tensor([r[8] for r in rows]))


def attention_mask(kind: torch.Tensor, order: torch.Tensor, chunk: torch.Tensor,
                   k_kind: torch.Tensor | None = None, k_order: torch.Tensor | None = None,
                   k_chunk: torch.Tensor | None = None) -> torch.Tensor:
    """(B, Lq, Lk) bool, True where query may attend to key. Keys default to the queries
    (a full stream); pass the cache's key attributes to mask new tokens against a cache."""
    if k_kind is None:
        k_kind, k_order, k_chunk = kind, order, chunk
    qk, qo, qc = kind[:, :, None], order[:, :, None], chunk[:, :, None]
    kk, ko, kc = k_kind[:, None, :], k_order[:, None, :], k_chunk[:, None, :]
    key_stream = (kk == TEXT) | (kk == CLEAN)
    q_noisy = qk == NOISY
    see = torch.where(q_noisy,
                      (key_stream & (ko < qo)) | ((kk == NOISY) & (kc == qc)),
                      key_stream & (ko <= qo))
    return see  # padding queries (order 1<<30) see the whole stream: no all-False rows
