"""The benchmark's pictures: accuracy per action, PSNR against horizon, and a side-by-side video."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def plot_accuracy(report: dict, path):
    plt = _pyplot()
    models = list(report["models"])
    labels = list(next(iter(report["models"].values()))["action"]["per_action"])
    x, w = np.arange(len(labels)), 0.8 / max(1, len(models))
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(labels)), 4.2))
    for i, m in enumerate(models):
        acc = [report["models"][m]["action"]["per_action"][a] for a in labels]
        ax.bar(x + i * w - 0.4 + w / 2, acc, w, label=m)
    ax.axhline(report["judge"]["accuracy"], color="k", ls="--", lw=1, label="judge on real frames")
    ax.set_xticks(x, labels, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("judge agrees with the command")
    ax.set_title("Action accuracy per commanded action")
    ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.3))  # below: bars stay visible
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def frames_per_chunk(report: dict) -> int:
    """A bench report's frames per chunk (reports written before it was recorded: every game had 4)."""
    return report.get("frames_per_chunk", 4)


def plot_long_frechet(report: dict, path):
    """Frechet distance to real play per stretch of the long rollouts, one line per model."""
    series = {m: (list(per), list(per.values())) for m, r in report["models"].items()
              if (per := (r.get("long_rollout") or {}).get("per_stretch"))}
    still = report.get("long_horizon", {}).get("copy-last-frame")
    _line_plot(series, f"chunks after the start ({frames_per_chunk(report)} frames each)", "Frechet distance to real play",
               "Long rollouts, each model writing its own text", path,
               hline=("copy-last-frame", still["frechet"]) if still else None)


def plot_psnr(report: dict, path):
    series = {m: (np.arange(1, len(p) + 1), p) for m, r in report["models"].items()
              if (p := r["quality"]["rollout_psnr_per_chunk"])}
    _line_plot(series, "rollout horizon (chunks)", "PSNR vs real continuation (dB)",
               "Rollout PSNR under the recorded text", path, marker=".")


def _line_plot(series: dict, xlabel: str, ylabel: str, title: str, path, hline=None, marker="o"):
    """One line per model: series[name] = (x, y); hline = (label, y) for a dashed reference."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for m, (x, y) in series.items():
        ax.plot(x, y, marker=marker, label=m)
    if hline:
        ax.axhline(hline[1], color="k", ls="--", lw=1, label=hline[0])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def video_grid(videos: dict, texts: list[str], path, scale: int = 3, fps: int = 8):
    """videos[name]: (1, H, F, h, w, 3); one column per model, the real continuation first,
    the model's name above and the chunk's text below. Written at half speed to be readable."""
    import imageio

    names = list(videos)
    H, F, h, w = videos[names[0]].shape[1:5]
    font = ImageFont.load_default()
    cw, top, bottom = w * scale, 16, 16
    writer = imageio.get_writer(path, fps=fps, macro_block_size=1)
    for k in range(H):
        for f in range(F):
            img = Image.new("RGB", (cw * len(names), h * scale + top + bottom), (20, 20, 20))
            draw = ImageDraw.Draw(img)
            for i, n in enumerate(names):
                frame = videos[n][0, k, f].repeat(scale, 0).repeat(scale, 1)
                img.paste(Image.fromarray(frame), (i * cw, top))
                draw.text((i * cw + 3, 2), n[: cw // 6], fill=(255, 255, 255), font=font)
            draw.text((3, top + h * scale + 2), f"chunk {k + 1}: {texts[k]}"[: len(names) * cw // 6],
                      fill=(255, 220, 120), font=font)
            writer.append_data(np.asarray(img))
    writer.close()
