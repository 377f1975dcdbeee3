"""Deepen a trained world model: its blocks spread among new ones that start as the identity.

A capacity lever that does not throw away hours of training: a 4-layer model's weights start a
6-layer run (`tv2tv train --init-from OLD --n-layers 6`) that computes exactly what
the old model did at its first step. Each new block's outputs into the residual stream start at
zero (the text tower's attention projection and last MLP layer; the video tower's adaLN gates
are zero from init, adaLN-Zero), so it adds nothing until training moves those weights; its
other weights keep the fresh init, which gives the zeroed layers a gradient at once.
"""
from __future__ import annotations

import torch


def old_block_positions(old_layers: int, new_layers: int) -> list[int]:
    """Where each old block goes in the deeper stack: spread evenly, in order, the first kept
    first (4 -> 6: 0, 1, 3, 4; the new ones at 2 and 5), so new capacity sits at every depth."""
    if not 0 < old_layers <= new_layers:
        raise ValueError(f"cannot grow {old_layers} layers into {new_layers}")
    return [(i * new_layers) // old_layers for i in range(old_layers)]


def zero_block_outputs(block) -> None:
    """Make a fresh MoTBlock the identity: everything it adds to the residual stream is zero."""
    for layer in (block.t_proj, block.t_mlp[-1], block.v_ada[-1]):
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)


def deepen_weights(weights: dict, model, old_layers: int) -> dict:
    """`weights` of an `old_layers`-deep model -> a state dict for `model` (deeper, otherwise the
    same config): old blocks moved to `old_block_positions`, identity blocks between them."""
    positions = old_block_positions(old_layers, len(model.blocks))
    out = {k: v for k, v in weights.items() if not k.startswith("blocks.")}
    for j, block in enumerate(model.blocks):
        if j in positions:
            prefix = f"blocks.{positions.index(j)}."
            out.update({f"blocks.{j}.{k[len(prefix):]}": v for k, v in weights.items() if k.startswith(prefix)})
        else:
            zero_block_outputs(block)
            out.update({f"blocks.{j}.{k}": v.detach().clone().float() for k, v in block.state_dict().items()})
    return out
