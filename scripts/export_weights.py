"""Export a run's EMA weights for shipping: fp16 safetensors in the Hugging Face layout
(model/export.py says what goes beside them; `tv2tv build-world` does this in its export stage).

    python scripts/export_weights.py RUN OUT_DIR
"""
import sys

from model.export import export_weights


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    info = export_weights(sys.argv[1], sys.argv[2])
    if "step" in info:
        print(f"{info['out']}: step {info['step']} of {info['max_steps']}")
    print(f"{info['out']}: {info['params']} parameters, {info['mib']:.2f} MiB")


if __name__ == "__main__":
    main()
