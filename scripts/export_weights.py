"""Export a run's EMA weights for shipping: fp16 safetensors in the Hugging Face layout.

    python scripts/export_weights.py RUN OUT_DIR

fp16 halves the size and loads on every device (`TV2TVModel.from_pretrained(OUT_DIR)`
returns fp16 weights; call `.float()` on a CPU). Prints the file size.
"""
import sys
from pathlib import Path

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
    print(f"{out}: {sum(p.numel() for p in model.parameters())} parameters, {size / 2**20:.2f} MiB")


if __name__ == "__main__":
    main()
