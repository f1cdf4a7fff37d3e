"""Training without TensorFlow: a pre-cut crop pack, numpy augmentation, Keras 3 on any backend.

For an accelerator machine that has JAX (or PyTorch) but no TensorFlow and no registry: the
crops travel as one ``.npz`` (WebP-compressed, a few tens of MiB for ten thousand persons),
the augmentation and the Gaussian targets are numpy and OpenCV with the shared codec
(:mod:`danet_edge.codec`), the model is :func:`danet_tf.build_model` (``keras.ops`` only) and
the loop is ``model.fit``, stopped by a wall-clock deadline. The result is float16 weights
keyed by variable path, which :func:`load_weights_npz` puts back into a model here.

    # here (TensorFlow machine): cut the pack once
    python tools/train_portable.py pack --data labels/train.json --images DATA --output pack.npz
    # there (KERAS_BACKEND=jax): train until the deadline
    python tools/train_portable.py train --pack pack.npz --model danet72 --minutes 8 --output w.npz

Nothing here imports TensorFlow (a test imports this module with TensorFlow blocked).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from danet_edge.choices import DEFAULT_INPUT_SIZE
from danet_edge.codec import COCO_FLIP_PAIRS, HeatmapCodec
from danet_edge.codec.geometry import affine_points, box_to_center_scale, get_affine_transform

LEVELS = ("heatmaps_s32", "heatmaps_s16", "heatmaps_s8", "heatmaps")
PACK_PADDING = 1.6  # the pack's region over the box: room for scale 1.35 x 1.25 and rotation


@dataclass
class Pack:
    """Person crops (WebP bytes) of ``size`` (h, w) and their keypoints in crop pixels."""

    blobs: list[bytes]
    keypoints: np.ndarray  # (N, K, 3)
    size: tuple[int, int]
    padding: float

    def __len__(self) -> int:
        return len(self.blobs)

    def image(self, i: int) -> np.ndarray:
        out = cv2.imdecode(np.frombuffer(self.blobs[i], np.uint8), cv2.IMREAD_COLOR_RGB
                           if hasattr(cv2, "IMREAD_COLOR_RGB") else cv2.IMREAD_COLOR)  # fmt: skip
        if out is None:
            raise ValueError(f"pack crop {i} does not decode")
        return out if hasattr(cv2, "IMREAD_COLOR_RGB") else out[..., ::-1]

    def save(self, path: str | Path) -> None:
        offsets = np.cumsum([0] + [len(b) for b in self.blobs]).astype(np.int64)
        np.savez(path, data=np.frombuffer(b"".join(self.blobs), np.uint8), offsets=offsets,
                 keypoints=self.keypoints.astype(np.float32),
                 meta=np.frombuffer(json.dumps({"size": list(self.size),
                                                "padding": self.padding}).encode(), np.uint8))  # fmt: skip

    @classmethod
    def load(cls, path: str | Path) -> Pack:
        with np.load(path, allow_pickle=False) as z:
            data, offsets = z["data"].tobytes(), z["offsets"]
            meta = json.loads(z["meta"].tobytes())
            blobs = [data[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
            return cls(blobs, z["keypoints"], tuple(meta["size"]), float(meta["padding"]))


def make_pack(annotations: str | Path, images: str | Path, size=DEFAULT_INPUT_SIZE, quality: int = 70,
              limit: int | None = None) -> Pack:
    """Cut every labelled person of a COCO keypoint json into a WebP crop of ``size``."""
    from danet_edge.images import read_image

    data = json.loads(Path(annotations).read_text())
    files = {im["id"]: im["file_name"] for im in data["images"]}
    blobs, kpts = [], []
    cache: tuple[int | None, np.ndarray | None] = (None, None)
    for ann in sorted(data["annotations"], key=lambda a: (a["image_id"], a["id"]))[:limit]:
        if ann.get("num_keypoints", 1) == 0 or ann.get("iscrowd"):
            continue
        if cache[0] != ann["image_id"]:
            cache = (ann["image_id"], read_image(Path(images) / files[ann["image_id"]], rgb=True)[0])
        if cache[1] is None:
            continue
        center, scale = box_to_center_scale(ann["bbox"], size[1] / size[0], PACK_PADDING)
        matrix = get_affine_transform(center, scale, 0.0, size)
        crop = cv2.warpAffine(cache[1], matrix, (size[1], size[0]), flags=cv2.INTER_LINEAR)
        k = np.asarray(ann["keypoints"], np.float32).reshape(-1, 3)
        k[:, :2] = affine_points(k[:, :2], matrix)
        ok, buf = cv2.imencode(".webp", crop[..., ::-1], [cv2.IMWRITE_WEBP_QUALITY, quality])
        if ok:
            blobs.append(buf.tobytes())
            kpts.append(k)
    return Pack(blobs, np.stack(kpts) if kpts else np.zeros((0, 17, 3), np.float32),
                tuple(size), PACK_PADDING)


class Augmenter:
    """A pack crop -> an augmented network input and per-level targets, numpy only: scale
    0.7-1.35, rotation +-45 deg with p 0.6, horizontal flip (the authors' recipe), then the
    shared codec's Gaussians (one sigma per level of ``codec.level_sigmas``), cropped at the
    codec's padding."""

    def __init__(self, pack: Pack, codec: HeatmapCodec, seed: int = 0,
                 flip_pairs=COCO_FLIP_PAIRS) -> None:
        self.pack, self.input_size, self.padding = pack, codec.input_size, codec.padding
        self.rng = np.random.default_rng(seed)
        self.codecs = {lvl: codec.for_level(lvl) for lvl in LEVELS}
        k = pack.keypoints.shape[1]
        self.perm = np.arange(k)
        for a, b in flip_pairs:
            self.perm[a], self.perm[b] = b, a

    def sample(self, i: int) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        ph, pw = self.pack.size
        image, kpts = self.pack.image(i), self.pack.keypoints[i].copy()
        # The pack crop is the box region x PACK_PADDING: the box region x `padding` is
        # its central padding / PACK_PADDING part.
        base = np.array([pw, ph], np.float64) * self.padding / self.pack.padding
        scale = base * self.rng.uniform(0.7, 1.35)
        rot = self.rng.uniform(-45, 45) if self.rng.random() < 0.6 else 0.0
        center = np.array([(pw - 1) / 2, (ph - 1) / 2])
        if self.rng.random() < 0.5:
            image = image[:, ::-1]
            kpts = kpts[self.perm]
            kpts[:, 0] = pw - 1 - kpts[:, 0]
        matrix = get_affine_transform(center, scale, rot, self.input_size)
        crop = cv2.warpAffine(np.ascontiguousarray(image), matrix,
                              (self.input_size[1], self.input_size[0]), flags=cv2.INTER_LINEAR)  # fmt: skip
        kpts[:, :2] = affine_points(kpts[:, :2], matrix)
        targets, weights = {}, None
        for lvl, codec in self.codecs.items():
            targets[lvl], weights = codec.encode(kpts)
        return crop.astype(np.float32), targets, weights


def _batches(aug: Augmenter, batch: int, target_scale: float):
    import keras

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return max(1, len(aug.pack) // batch)

        def __getitem__(self, index):
            idx = aug.rng.integers(0, len(aug.pack), batch)
            samples = [aug.sample(int(i)) for i in idx]
            x = np.stack([s[0] for s in samples])
            w = np.stack([s[2] for s in samples])
            y = {lvl: np.concatenate([np.stack([s[1][lvl] for s in samples]) * target_scale,
                                      np.broadcast_to(w[:, None, None, :], (batch,) + samples[0][1][lvl].shape)],
                                     axis=-1) for lvl in LEVELS}  # fmt: skip
            return x, y

    return Batches()


def heatmap_loss(ohkm_ratio: float = 0.5):
    """Per-level loss on targets ``concat(heatmaps, weights broadcast)``: joint-weighted MSE
    plus OHKM (the hardest ``ohkm_ratio`` of the joints), keras.ops only."""
    from keras import ops

    def loss(y_true, y_pred):
        k = ops.shape(y_pred)[-1]
        target, weight = y_true[..., :k], y_true[..., k:]
        per_joint = ops.mean(weight * ops.square(ops.cast(y_pred, "float32") - target), axis=(1, 2))
        top = ops.top_k(per_joint, max(1, int(round(int(k) * ohkm_ratio))))[0]
        return ops.mean(per_joint, axis=-1) + ops.mean(top, axis=-1)

    return loss


class Deadline:
    """A Keras callback: stop after ``seconds`` of wall time (checked every batch)."""

    def __new__(cls, seconds: float):
        import keras

        class _Deadline(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.end = time.monotonic() + seconds
                self.steps = 0

            def on_train_batch_end(self, batch, logs=None):
                self.steps += 1
                if time.monotonic() >= self.end:
                    self.model.stop_training = True

        return _Deadline()


def train(pack_path: str | Path, output: str | Path, *, model_name: str = "danet72",
          input_size=DEFAULT_INPUT_SIZE, batch: int = 32, minutes: float = 8.0, lr: float = 1e-3,
          target_scale: float = 255.0, seed: int = 0, max_steps: int | None = None) -> dict:
    """Train ``model_name`` on the pack until ``minutes`` pass (or ``max_steps``); write
    float16 weights by variable path and a json beside them; returns the record."""
    import keras

    import danet_tf

    keras.utils.set_random_seed(seed)
    pack = Pack.load(pack_path)
    aug = Augmenter(pack, HeatmapCodec.for_input(tuple(input_size)), seed=seed)
    model = danet_tf.build_model(model_name, input_shape=(*input_size, 3), num_keypoints=17,
                                 multi_scale=True)
    steps_cap = max_steps or 10**9
    schedule = keras.optimizers.schedules.PolynomialDecay(lr, max(1, min(steps_cap, 10**6)), 0.0)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss={lvl: heatmap_loss() for lvl in LEVELS},
                  loss_weights={lvl: (1.0 if lvl == "heatmaps" else 0.25) for lvl in LEVELS})
    deadline = Deadline(minutes * 60)
    data = _batches(aug, batch, target_scale)
    started = time.perf_counter()
    epochs = max(1, math.ceil(steps_cap / len(data))) if max_steps else 10**6
    steps = min(steps_cap, len(data))
    history = model.fit(data, epochs=epochs, steps_per_epoch=steps, callbacks=[deadline],
                        verbose=0)
    seconds = time.perf_counter() - started
    inference = danet_tf.models.inference_model(model)
    weights = {w.path: np.asarray(keras.ops.convert_to_numpy(w)).astype(np.float16)
               for w in inference.weights}
    record = {"model": model_name, "input_size": list(input_size), "steps": deadline.steps,
              "samples": deadline.steps * batch, "seconds": round(seconds, 1),
              "samples_per_s": round(deadline.steps * batch / max(seconds, 1e-9), 2),
              "target_scale": target_scale, "backend": keras.backend.backend(),
              "loss": [round(float(v), 4) for v in history.history.get("loss", [])][-20:]}
    np.savez(output, **{k.replace("/", "|"): v for k, v in weights.items()})
    Path(str(output) + ".json").write_text(json.dumps(record, indent=1))
    return record


def load_weights_npz(path: str | Path, model) -> int:
    """Set ``model``'s (an inference model of the trained row) weights from :func:`train`'s
    npz by variable path; returns the training record (its ``target_scale`` is still in the
    heads: divide it out, e.g. ``danet_tf.training.final.unscaled_inference_model``). A
    missing or misshaped variable raises naming it."""
    record = json.loads(Path(str(path) + ".json").read_text())
    with np.load(path, allow_pickle=False) as z:
        stored = {k.replace("|", "/"): z[k] for k in z.files}
    for w in model.weights:
        if w.path not in stored:
            raise ValueError(f"{path}: no weights for {w.path}")
        value = stored[w.path].astype(np.float32)
        if tuple(value.shape) != tuple(w.shape):
            raise ValueError(f"{path}: {w.path} has shape {value.shape}, the model {tuple(w.shape)}")
        w.assign(value)
    return record


__all__ = ["Augmenter", "Deadline", "Pack", "heatmap_loss", "load_weights_npz", "make_pack",
           "train"]


def to_keras(weights_npz: str | Path, output: str | Path) -> Path:
    """The npz of :func:`train` as a ``.keras`` inference model (TensorFlow side): heads'
    target scale divided out, the run's codec embedded, as ``final.keras`` of a run."""
    from danet_tf.config import Config
    from danet_tf.training.final import write_final
    from danet_tf.training.trainer import default_model_builder, run_codec

    record = json.loads(Path(str(weights_npz) + ".json").read_text())
    cfg = Config()
    cfg.model.name = record["model"]
    cfg.model.input_size = tuple(record["input_size"])
    cfg.train.target_scale = float(record["target_scale"])
    model = default_model_builder(cfg, 17)
    from danet_tf.models import inference_model

    load_weights_npz(weights_npz, inference_model(model))
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    written = write_final(cfg, run_codec(cfg), model, default_model_builder, inference_model, 17,
                          output.parent, name=output.name)
    return written
