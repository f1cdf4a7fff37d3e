"""Batched top-down inference over a dataset's persons, with the one top-down predictor.

Reading images (and skipping unreadable ones) and batching crops across images happen here;
cropping, the model call with its flip test, decoding and un-cropping are
:class:`danet_edge.topdown.TopDownPredictor`'s, the same code the edge runtime, the demo and
the benchmark run. Two protocols: ``danet_tf`` (the codec's crop geometry and decoders) and
``authors`` (the DANet authors' test code, :mod:`danet_tf.codec.authors`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from danet_edge.codec import HeatmapCodec, KeypointInfo
from danet_edge.protocol import PROTOCOLS, Ours
from danet_edge.topdown import TopDownPredictor
from danet_tf.data.dataset import size_mismatch
from danet_tf.evaluation.persons import Person

# float32 RGB 0-255 (B, H, W, 3) -> heatmaps (B, h, w, K)
PredictFn = Callable[[np.ndarray], np.ndarray]
__all__ = ["PROTOCOLS", "Predictions", "keras_predict_fn", "predict_persons"]


def keras_predict_fn(model) -> PredictFn:
    """Wrap a Keras model (single output or a dict with ``heatmaps``) as a compiled function.

    A ``tf.function`` avoids ``model.predict``'s per-call overhead (100-250 ms on this CPU).
    One function per model, made once: training validates every epoch, and a new
    ``tf.function`` each time was traced anew (TensorFlow's "triggered tf.function
    retracing" warnings from the third epoch of the demo on).
    """
    import tensorflow as tf

    cached = getattr(model, "_danet_predict_fn", None)
    if cached is not None:
        return cached

    @tf.function(reduce_retracing=True)
    def run(x):
        out = model(x, training=False)
        return out["heatmaps"] if isinstance(out, dict) else out

    def predict(batch):
        return run(tf.convert_to_tensor(batch, tf.float32)).numpy()

    # Kept on the model itself (lives and dies with it), past Keras's attribute tracking.
    object.__setattr__(model, "_danet_predict_fn", predict)
    return predict


@dataclass
class Predictions:
    """Keypoints (P, K, 3) x, y, score in image pixels for the persons that ran."""

    persons: list[Person]
    keypoints: np.ndarray
    skipped_images: dict[str, str] = field(default_factory=dict)
    skipped_persons: int = 0
    seconds: float = 0.0  # wall time of the loop: reading, cropping, network, decoding


def predict_persons(
    persons: Sequence[Person],
    predict_fn: PredictFn,
    codec: HeatmapCodec,
    *,
    num_keypoints: int,
    flip_pairs: Sequence[Sequence[int]] = (),
    flip: bool | None = None,
    decode: str | None = None,
    batch_size: int = 32,
    progress: bool = True,
    protocol: str | Ours = "danet_tf",
    crop_border: float | Sequence[float] | None = None,
    heat_range: float | None = None,
) -> Predictions:
    """Run ``predict_fn`` over every person's crop; images that cannot be read are skipped
    (all their persons) and reported in ``skipped_images``. ``flip`` and ``decode`` default
    to the codec's ``flip_test`` and ``decode_mode``.

    ``protocol`` (a :mod:`danet_edge.protocol` object, or its name with ``crop_border`` and
    ``heat_range`` for ``authors``) reads the images, crops, decodes and un-crops; with ``authors`` (the DANet authors' test code) ``decode`` is not
    used and the persons' regions must come from its ``region``. The keypoint scores are the
    protocol's: raw heatmap maxima (``danet_tf``) or ``heatmap / heat_range + 1``
    (``authors``).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    names = tuple(f"keypoint_{i}" for i in range(num_keypoints))
    predictor = TopDownPredictor(
        predict_fn,
        codec.replace(
            flip_test=codec.flip_test if flip is None else bool(flip),
            decode_mode=codec.decode_mode if decode is None else decode,
        ),
        KeypointInfo(names, tuple(tuple(p) for p in flip_pairs)),
        protocol=protocol,
        crop_border=crop_border,
        heat_range=heat_range,
    )
    read = predictor.protocol.read_rgb
    done: list[Person] = []
    outputs: list[np.ndarray] = []
    skipped: dict[str, str] = {}
    cache: tuple[str, np.ndarray | None] = ("", None)
    pending: list[tuple[Person, np.ndarray]] = []

    def flush() -> None:
        heatmaps = predictor.heatmaps(np.stack([c for _, c in pending]))
        group = [p for p, _ in pending]
        xy, scores = predictor.decode(heatmaps, [p.center for p in group], [p.scale for p in group])
        outputs.extend(np.concatenate([xy, scores[..., None]], axis=-1))
        done.extend(group)
        pending.clear()

    skipped_persons = 0
    start = time.perf_counter()
    for person in tqdm(persons, desc="persons", unit="person", disable=not progress):
        if person.image_path in skipped:
            skipped_persons += 1
            continue
        if cache[0] != person.image_path:
            image, why = read(person.image_path)
            if image is not None:
                why = size_mismatch(person.image_size, image.shape)
                image = None if why else image
            if image is None:
                skipped[person.image_path] = why or "unreadable"
                skipped_persons += 1
                continue
            cache = (person.image_path, image)
        pending.append((person, predictor.crop(cache[1], person.center, person.scale)))
        if len(pending) == batch_size:
            flush()
    if pending:
        flush()
    keypoints = np.stack(outputs) if outputs else np.zeros((0, num_keypoints, 3), np.float32)
    seconds = time.perf_counter() - start
    return Predictions(done, keypoints.astype(np.float32), skipped, skipped_persons, seconds)
