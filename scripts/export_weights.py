"""Export a run's EMA weights for shipping: fp16 safetensors in the Hugging Face layout.

    python scripts/export_weights.py RUN OUT_DIR

fp16 halves the size and loads on every device (`TV2TVModel.from_pretrained(OUT_DIR)`
returns fp16 weights; call `.float()` on a CPU). Beside them goes `train_progress.json`
(step, elapsed time, the run's target steps and conditioning): what `tv2tv train
--init-from OUT_DIR` needs to continue an unfinished run on another machine, where only these
weights were kept (no optimizer state). Prints the file size.
"""
import json
import sys
from pathlib import Path

import torch

from model.mot import TV2TVModel
from model.train import find_checkpoint


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    run, out = Path(sys.argv[1]), Path(sys.argv[2])
    ckpt = find_checkpoint(run)
    src = ckpt / "model" if ckpt else run
    model = TV2TVModel.from_pretrained(src).half()
    model.save_pretrained(out)
    size = (out / "model.safetensors").stat().st_size
    if ckpt:
        state = torch.load(ckpt / "train_state.pt", map_location="cpu", weights_only=False)
        progress = {"step": state["step"], "elapsed_s": round(state["elapsed"], 1),
                    "max_steps": state["args"]["max_steps"], "max_minutes": state["args"]["max_minutes"],
                    "conditioning": state["config"]["conditioning"]}
        progress["finished"] = progress["step"] >= progress["max_steps"] or (
            progress["max_minutes"] is not None and state["elapsed"] >= 60 * progress["max_minutes"])
        (out / "train_progress.json").write_text(json.dumps(progress, indent=1) + "\n")
        print(f"{out}: step {progress['step']} of {progress['max_steps']}")
    print(f"{out}: {sum(p.numel() for p in model.parameters())} parameters, {size / 2**20:.2f} MiB")


if __name__ == "__main__":
    main()
