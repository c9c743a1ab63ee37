"""Search by a part of a photo: `glimpse similar PHOTO --region x,y,w,h`.

A region is given in fractions of the upright photo's width and height (so it
means the same at any size, and a front end can send what the user dragged on
its preview): x, y of the top-left corner, then width and height. The part is
cut from the photo decoded large enough that the cut still has the model's
input size, and encoded like any image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image

from glimpse.core.errors import QueryError

MAX_DECODE_SIDE = 4096  # a tiny region of a huge photo is cut from at most this (short side)


@dataclass(frozen=True)
class Region:
    x: float
    y: float
    w: float
    h: float

    def decode_side(self, model_side: int) -> int:
        """The short side to decode the photo at so the cut keeps `model_side` pixels."""
        return min(MAX_DECODE_SIDE, math.ceil(model_side / min(self.w, self.h)))

    def cut(self, image: Image.Image) -> Image.Image:
        width, height = image.size
        box = (round(self.x * width), round(self.y * height),
               round((self.x + self.w) * width), round((self.y + self.h) * height))
        if box[2] - box[0] < 1 or box[3] - box[1] < 1:
            raise QueryError("The region is smaller than one pixel of this photo.")
        return image.crop(box)

    def to_list(self) -> list[float]:
        return [self.x, self.y, self.w, self.h]


def parse(value: str | list | tuple) -> Region:
    """ "0.1,0.2,0.5,0.4" (or a list of four numbers) -> Region; QueryError if it is not one."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        x, y, w, h = (float(p) for p in parts)
    except (TypeError, ValueError):
        raise QueryError(
            f"The region {value!r} is not x,y,w,h: four fractions of the photo's width and "
            "height, e.g. 0.25,0.25,0.5,0.5 for the middle quarter.") from None
    eps = 1e-6
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        raise QueryError(f"The region {value!r} needs a width and height above 0.")
    if x < -eps or y < -eps or x + w > 1 + eps or y + h > 1 + eps:
        raise QueryError(f"The region {value!r} reaches outside the photo: x + w and y + h "
                         "must be at most 1 (fractions of its width and height).")
    return Region(max(x, 0.0), max(y, 0.0), min(w, 1.0 - max(x, 0.0)), min(h, 1.0 - max(y, 0.0)))
