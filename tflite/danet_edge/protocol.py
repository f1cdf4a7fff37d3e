"""The test protocol of top-down pose estimation, chosen once: where a person's crop region
lies, how the crop is cut, how heatmaps become image keypoints and their scores, and how an
image file is read.

:class:`Ours` is this project's (the codec's crop geometry, padding and decoders);
:class:`Authors` is the DANet authors' test code (:mod:`danet_edge.codec.authors`: their
extended box, mean-coloured border, decode and ``heatmap / heat_range + 1`` scores), for
reproducing their published numbers. :func:`make_protocol` picks one by name
(``PROTOCOLS``); the top-down predictor, evaluation and the commands hold the object, not the
name, so no other module branches on it. Results shaping (the person score and OKS-NMS of
COCO results) is evaluation's, keyed on :attr:`Ours.name`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from danet_edge.choices import PROTOCOLS
from danet_edge.codec import (
    HeatmapCodec,
    affine_points,
    authors,
    box_to_center_scale,
    crop_person,
    get_affine_transform,
)

__all__ = ["PROTOCOLS", "Authors", "Ours", "make_protocol"]


class Ours:
    """This project's protocol: box -> region by the codec's padding, affine crop, the codec's
    decoder (``decode_mode``), raw heatmap maxima as keypoint scores."""

    name = "danet_tf"

    def __init__(self, codec: HeatmapCodec) -> None:
        self.codec = codec

    def with_codec(self, codec: HeatmapCodec) -> Ours:
        """The same protocol around another codec (e.g. the flip test switched off)."""
        return type(self)(codec)

    @property
    def aspect(self) -> float:
        h, w = self.codec.input_size
        return w / h

    def region(self, box: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Crop region ``center`` (x, y), ``scale`` (w, h) of a box x, y, w, h."""
        return box_to_center_scale(box, self.aspect, self.codec.padding)

    def crop(self, image_rgb: np.ndarray, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """The float32 (H, W, 3) network input for one region of an RGB image."""
        return crop_person(image_rgb, center, scale, self.codec.input_size).astype(
            np.float32, copy=False
        )

    def decode(
        self, heatmaps: np.ndarray, centers: Sequence[np.ndarray], scales: Sequence[np.ndarray]
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Heatmaps (N, h, w, K) of N regions -> keypoints per region (K, 2) in image pixels
        and scores (N, K)."""
        coords, scores = self.codec.decode(heatmaps)
        size = self.codec.input_size
        points = [
            affine_points(xy, get_affine_transform(c, s, 0.0, size, inverse=True))
            for xy, c, s in zip(coords, centers, scales, strict=True)
        ]
        return points, scores

    def read_rgb(self, path: str | Path) -> tuple[np.ndarray | None, str | None]:
        """(uint8 RGB image, None) or (None, why): the data readers' decoding (stored pixels,
        EXIF orientation not applied, truncated and corrupt files refused)."""
        from danet_edge.images import read_image

        return read_image(path, rgb=True)

    def describe(self) -> dict:
        return {"protocol": self.name}


class Authors(Ours):
    """The DANet authors' test code: their box extension and region, a crop whose outside is
    ``crop_border`` (the model's input mean, RGB), their decode, and keypoint scores
    ``heatmap / heat_range + 1``; images read as their ``cv2.imread`` reads them."""

    name = "authors"

    def __init__(
        self,
        codec: HeatmapCodec,
        crop_border: float | Sequence[float] = 0.0,
        heat_range: float = authors.HEAT_RANGE,
    ) -> None:
        super().__init__(codec)
        self.crop_border = crop_border
        self.heat_range = heat_range

    def with_codec(self, codec: HeatmapCodec) -> Authors:
        return type(self)(codec, self.crop_border, self.heat_range)

    def region(self, box: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return authors.box_to_region(box, self.aspect)

    def crop(self, image_rgb: np.ndarray, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
        return authors.crop(image_rgb, center, scale, self.codec.input_size, self.crop_border)

    def decode(
        self, heatmaps: np.ndarray, centers: Sequence[np.ndarray], scales: Sequence[np.ndarray]
    ) -> tuple[list[np.ndarray], np.ndarray]:
        cells, scores = authors.decode(heatmaps, self.heat_range)
        codec = self.codec
        points = [
            authors.cells_to_image(xy, c, s, codec.input_size, codec.heatmap_size)
            for xy, c, s in zip(cells, centers, scales, strict=True)
        ]
        return points, scores

    def read_rgb(self, path: str | Path) -> tuple[np.ndarray | None, str | None]:
        """float32 RGB as the authors' ``cv2.imread(path, IMREAD_COLOR)`` reads it.

        Unlike the data readers, that applies a JPEG's EXIF orientation, so an image stored
        rotated is cropped rotated (and its annotations, made on the stored pixels, miss).
        """
        from danet_edge.images import check_bytes, read_bytes

        data, why = read_bytes(path)
        if data is None:
            return None, why
        if why := check_bytes(data):
            return None, why
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None or image.size == 0:
            return None, "not a decodable image"
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(np.float32), None

    def describe(self) -> dict:
        return {"protocol": self.name, "crop_border": self.crop_border,
                "heat_range": self.heat_range}  # fmt: skip


def make_protocol(
    name: str,
    codec: HeatmapCodec,
    *,
    crop_border: float | Sequence[float] | None = None,
    heat_range: float | None = None,
) -> Ours:
    """The protocol ``name`` (``danet_tf`` or ``authors``) around ``codec``; ``crop_border``
    and ``heat_range`` belong to ``authors`` only (ValueError naming them otherwise)."""
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; known: {', '.join(PROTOCOLS)}")
    if name == Ours.name:
        if crop_border is not None or heat_range is not None:
            raise ValueError(
                f"crop_border ({crop_border!r}) and heat_range ({heat_range!r}) belong to "
                "protocol 'authors'"
            )
        return Ours(codec)
    return Authors(codec, 0.0 if crop_border is None else crop_border,
                   authors.HEAT_RANGE if heat_range is None else heat_range)  # fmt: skip
