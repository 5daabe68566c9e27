#!/usr/bin/env python3
"""Writes a deterministic photo-like 6000x4000 JPEG (24 MP) for the print benchmark:
smooth gradients and shapes, fine texture and sensor-like noise, saved at quality 92.

usage: make-bench-image.py OUT.jpg [WIDTH HEIGHT [SEED]]
"""
import random
import sys

from PIL import Image, ImageDraw, ImageFilter


def main(out: str, width: int = 6000, height: int = 4000, seed: int = 7) -> None:
    rng = random.Random(seed)
    # Sky-to-ground gradient.
    base = Image.linear_gradient("L").resize((width, height))
    img = Image.merge("RGB", (base, base.point(lambda v: 255 - v // 2), base.point(lambda v: 128 + v // 3)))
    draw = ImageDraw.Draw(img)
    # Shapes of different sizes and colours (edges the resampler must keep).
    for _ in range(400):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(10, 400)
        colour = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
        else:
            draw.rectangle((x - r, y - r // 2, x + r, y + r // 2), fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(1))
    # Texture and noise, like foliage and a real sensor.
    noise = Image.effect_noise((width, height), 48).convert("RGB")
    img = Image.blend(img, noise, 0.15)
    img.save(out, "JPEG", quality=92)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], *(int(a) for a in args[1:4]))
