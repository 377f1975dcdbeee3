"""Drawing generated frames for people: upscaled, with the text that drove them as a caption."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CAPTION_HEIGHT = 22


def upscale(frame: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upscaling: keeps the pixels crisp, as game frames should look."""
    return frame.repeat(scale, 0).repeat(scale, 1)


def captioned(frame: np.ndarray, text: str | None, scale: int = 4, thought: bool = False) -> np.ndarray:
    """(H, W, 3) uint8 -> (H*scale [+ caption], W*scale, 3) uint8. Model-written text is
    shown in brackets and another colour, so a viewer tells it from a command."""
    big = upscale(frame, scale)
    if text is None:
        return big
    img = Image.new("RGB", (big.shape[1], big.shape[0] + CAPTION_HEIGHT), (16, 16, 16))
    img.paste(Image.fromarray(big), (0, 0))
    draw = ImageDraw.Draw(img)
    label = f"[{text}]" if thought else (text or "(no text)")
    color = (150, 200, 255) if thought else (255, 255, 255)
    draw.text((4, big.shape[0] + 4), label[: big.shape[1] // 6], fill=color, font=ImageFont.load_default())
    return np.asarray(img)


class Window:
    """A pygame window that shows frames at a steady rate (`render_mode="human"`)."""

    def __init__(self, title: str = "TV2TV Gym", fps: float = 16):
        import pygame  # optional until a window is wanted

        self.pg, self.fps = pygame, fps
        pygame.init()
        pygame.display.set_caption(title)
        self.screen, self.clock = None, pygame.time.Clock()

    def show(self, image: np.ndarray):
        pg = self.pg
        if self.screen is None or self.screen.get_size() != (image.shape[1], image.shape[0]):
            self.screen = pg.display.set_mode((image.shape[1], image.shape[0]))
        pg.event.pump()  # keep the window responsive
        pg.surfarray.blit_array(self.screen, image.transpose(1, 0, 2))
        pg.display.flip()
        self.clock.tick(self.fps)

    def close(self):
        self.pg.display.quit()
