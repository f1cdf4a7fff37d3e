"""Heatmap codec shared by training, evaluation and the edge runtime (numpy + OpenCV only).

This package must never import TensorFlow: the TensorFlow-free edge runtime imports it.

Conventions (one set, used by every function here and tested in ``tests/codec``):

- **Axes.** Heatmaps are channels-last: one person ``(H, W, K)``, a batch ``(N, H, W, K)``.
  Sizes are always given ``(height, width)``: ``input_size=(256, 192)``,
  ``heatmap_size=(64, 48)``, ``output_size=(h, w)``.
- **Points** are ``(x, y)`` (column, row), in pixels, as the last axis: ``(..., 2)``; keypoint
  arrays are ``(K, 3)`` ``x, y, visibility`` (COCO: 0 unlabelled, 1 occluded, 2 visible).
- **Pixel centres.** Integer coordinates are pixel *centres*: pixel ``i`` covers
  ``[i - 0.5, i + 0.5)``; an image of width ``W`` spans ``[-0.5, W - 0.5]``. This is OpenCV's
  ``warpAffine`` convention, so crops and coordinates agree without half-pixel fix-ups.
- **Stride.** ``stride = input_size / heatmap_size`` per axis (4 for 256x192 -> 64x48). Heatmap
  cell ``u`` covers input pixels ``[u * stride - 0.5, (u + 1) * stride - 0.5)``; its centre is
  input pixel ``x = (u + 0.5) * stride - 0.5`` and, inversely, ``u = (x + 0.5) / stride - 0.5``.
  Both are exact affine maps, so a horizontal flip of the crop is exactly a flip of the heatmap
  array (no one-pixel shift is needed, see :func:`flip_heatmaps`).
- **Encoding.** An unnormalised Gaussian (peak 1 at the exact sub-pixel joint location, not
  rounded to a cell, not truncated). A joint with visibility 0, or whose location falls outside
  the crop, gets an all-zero heatmap and weight 0; every other joint gets weight 1.
- **Crop geometry.** A person box becomes a ``center`` and a ``scale`` = the (w, h) in image
  pixels of the region that fills the network input (aspect ratio fixed, 1.25 padding). The
  affine maps that region's edges onto the crop's edges; ``inverse=True`` maps crop pixels back
  to image pixels. Positive rotation turns the image content counter-clockwise in the crop.

:mod:`danet_edge.codec.authors` holds the DANet authors' test-time protocol, whose conventions
differ from these in places (its docstring lists where); it exists to reproduce their numbers.
"""

from danet_edge.codec import authors
from danet_edge.codec.flip import flip_heatmaps, flip_keypoints, fuse_flip
from danet_edge.codec.geometry import (
    affine_points,
    box_to_center_scale,
    crop_person,
    get_affine_transform,
)
from danet_edge.codec.heatmap import (
    DECODE_MODES,
    DEFAULT_LEVEL_SIGMAS,
    DEFAULT_STRIDE,
    HeatmapCodec,
)
from danet_edge.codec.keypoints import (
    COCO_FLIP_PAIRS,
    COCO_KEYPOINTS,
    COCO_SIGMAS,
    COCO_SKELETON,
    LSP_KEYPOINTS,
    MPII_KEYPOINTS,
    KeypointInfo,
    flip_pairs_from_names,
)

__all__ = [
    "COCO_FLIP_PAIRS",
    "COCO_KEYPOINTS",
    "COCO_SIGMAS",
    "COCO_SKELETON",
    "DECODE_MODES",
    "DEFAULT_LEVEL_SIGMAS",
    "DEFAULT_STRIDE",
    "LSP_KEYPOINTS",
    "MPII_KEYPOINTS",
    "HeatmapCodec",
    "authors",
    "KeypointInfo",
    "affine_points",
    "box_to_center_scale",
    "crop_person",
    "flip_heatmaps",
    "flip_keypoints",
    "flip_pairs_from_names",
    "fuse_flip",
    "get_affine_transform",
]
