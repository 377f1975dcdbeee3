"""Export a world-model run's EMA weights for shipping: fp16 safetensors in the Hugging Face layout.

fp16 halves the size and loads on every device (`TV2TVModel.from_pretrained(OUT)` returns fp16
weights; call `.float()` on a CPU). Beside them goes `train_progress.json` (step, elapsed time,
the run's target steps and conditioning, and how its training windows were drawn): what `tv2tv train --init-from OUT` needs to continue
an unfinished run on another machine, where only these weights were kept (no optimizer state).
`tv2tv export-weights RUN OUT` runs it; `tv2tv build-world` does in its export stage.
"""
from __future__ import annotations

import json
from pathlib import Path

from model.mot import TV2TVModel

from ..errors import UserError
from .loop import load_state
from .world_model import run_checkpoint


def export_weights(run, out) -> dict:
    """RUN (a `tv2tv train` run, or a model directory) -> OUT/model.safetensors + config.json."""
    run, out = Path(run), Path(out)
    ckpt = run_checkpoint(run)
    source = ckpt / "model" if ckpt else run
    if not (source / "model.safetensors").is_file():
        raise UserError(f"{run} is neither a `tv2tv train` run (no ckpt/) nor a model directory (no "
                        f"model.safetensors)")
    model = TV2TVModel.from_pretrained(source).half()
    model.save_pretrained(out)
    info = {"out": str(out), "params": sum(p.numel() for p in model.parameters()),
            "mib": round((out / "model.safetensors").stat().st_size / 2**20, 2)}
    if ckpt:
        state = load_state(ckpt, "cpu")
        progress = {"step": state["step"], "elapsed_s": round(state["elapsed"], 1),
                    "max_steps": state["args"]["max_steps"], "max_minutes": state["args"]["max_minutes"],
                    "conditioning": state["config"]["conditioning"]}
        progress["finished"] = progress["step"] >= progress["max_steps"] or (
            progress["max_minutes"] is not None and state["elapsed"] >= 60 * progress["max_minutes"])
        if (run / "sampling.json").is_file():  # how windows were drawn (--oversample-ends): the world undoes it
            progress["sampling"] = json.loads((run / "sampling.json").read_text())
        (out / "train_progress.json").write_text(json.dumps(progress, indent=1) + "\n")
        info.update(step=progress["step"], max_steps=progress["max_steps"])
    return info
