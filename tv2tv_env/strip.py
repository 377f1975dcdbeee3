"""A picture of recorded (or generated) play: each row is one chunk's frames and its text."""
from __future__ import annotations

import textwrap

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def frame_strip(chunks: np.ndarray, texts: list[str], scale: int = 2, text_width: int = 260,
                title: str | None = None) -> Image.Image:
    """chunks: (N, F, H, W, 3) uint8; texts: N lines. Returns an RGB image."""
    n, f, h, w, _ = chunks.shape
    font = ImageFont.load_default(size=13)
    pad, head = 4, (22 if title else 0)
    row_h = h * scale + pad
    img = Image.new("RGB", (f * (w * scale + pad) + text_width + pad, head + n * row_h + pad), (18, 18, 22))
    draw = ImageDraw.Draw(img)
    if title:
        draw.text((pad, 4), title, fill=(235, 235, 235), font=font)
    for i in range(n):
        y = head + pad + i * row_h
        for j in range(f):
            tile = Image.fromarray(chunks[i, j]).resize((w * scale, h * scale), Image.NEAREST)
            img.paste(tile, (pad + j * (w * scale + pad), y))
        x = pad + f * (w * scale + pad)
        lines = textwrap.wrap(f"{i + 1}. {texts[i]}", width=max(10, text_width // 7))[:6]
        draw.multiline_text((x, y + 2), "\n".join(lines), fill=(235, 235, 150), font=font, spacing=2)
    return img
