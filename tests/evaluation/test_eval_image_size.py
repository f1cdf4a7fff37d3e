"""An image whose pixel size differs from what its annotation records (replaced, or resized)
is skipped and counted by evaluation and by the training reader, never scored in the wrong
place."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np

from danet_edge.codec import HeatmapCodec


def _resized_copy(coco_sample, tmp_path):
    data = json.loads((coco_sample / "val4.json").read_text())
    images = tmp_path / "images"
    shutil.copytree(coco_sample / "images", images)
    info = data["images"][0]
    path = images / info["file_name"]
    image = cv2.imread(str(path))
    cv2.imwrite(str(path), cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2)))
    ann = tmp_path / "val4.json"
    ann.write_text(json.dumps(data))
    return ann, images, info


def test_evaluation_skips_an_image_of_another_size(coco_sample, tmp_path):
    from danet_edge.presets import list_presets, preset_file
    from danet_tf.evaluation import evaluate_topdown, load_eval_model

    ann, images, info = _resized_copy(coco_sample, tmp_path)
    m = load_eval_model(None, preset_file(list_presets()[0]))
    report = evaluate_topdown(m.predict_fn, ann, images, num_keypoints=17,
                              codec=m.codec,
                              progress=False)  # fmt: skip
    (path, why), = report.skipped_images.items()
    assert path.endswith(info["file_name"])
    w, h = info["width"], info["height"]
    assert why == f"image is {w // 2}x{h // 2}, the annotation file says {w}x{h}"
    assert report.skipped_persons >= 1


def test_training_reader_skips_and_counts_an_image_of_another_size(coco_sample, tmp_path):
    from danet_tf.data import load_coco
    from danet_tf.data.images import SkipCounter
    from danet_tf.data.loader import SampleLoader

    ann, images, info = _resized_copy(coco_sample, tmp_path)
    dataset = load_coco(ann, images)
    assert dataset.samples[0].image_size == (info["width"], info["height"])
    from danet_tf.data.augment import TopDownTransform

    counter = SkipCounter()
    transform = TopDownTransform(dataset.keypoint_info, HeatmapCodec.for_input((64, 48)))
    loader = SampleLoader(dataset, transform, False, counter, np.uint8, 0)
    index = next(i for i, s in enumerate(dataset.samples) if s.image_path.endswith(info["file_name"]))
    assert loader._plan_one(index, 0) is None
    assert any("the annotation file says" in r for r in counter.by_reason)


def test_one_compiled_predict_function_per_model():
    """Validation runs every epoch: a new tf.function per epoch was traced anew each time
    (TensorFlow's retracing warnings in the demo's third epoch)."""
    import danet_tf
    from danet_tf.evaluation.inference import keras_predict_fn

    model = danet_tf.build_model("danet_tiny", input_shape=(64, 64, 3))
    first = keras_predict_fn(model)
    assert keras_predict_fn(model) is first
    other = danet_tf.build_model("danet_tiny", input_shape=(64, 64, 3))
    assert keras_predict_fn(other) is not first
    assert first(np.zeros((2, 64, 64, 3), np.float32)).shape == (2, 16, 16, 17)
