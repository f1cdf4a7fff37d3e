"""Evaluation: COCO OKS AP (pycocotools), OKS-NMS and rescoring, MPII PCKh, LSP PCK,
batched top-down inference with flip test; this project's protocol or the DANet authors'
(``protocol="authors"``). See docs/evaluation.md."""

from danet_tf.evaluation.coco_eval import (
    STAT_NAMES,
    coco_keypoint_eval,
    ground_truth_as_results,
    make_result,
    write_coco_results,
)
from danet_tf.evaluation.evaluate import METRICS, EvalReport, evaluate_topdown
from danet_tf.evaluation.inference import (
    PROTOCOLS,
    Predictions,
    keras_predict_fn,
    predict_persons,
)
from danet_tf.evaluation.model_io import (
    EvalModel,
    load_eval_model,
    load_pose_model,
    model_io_shapes,
    parse_size,
)
from danet_tf.evaluation.nms import oks_iou, oks_nms, rescore
from danet_tf.evaluation.pck import PCKResult, lsp_pck, mpii_head_sizes, mpii_pckh, pck, torso_sizes
from danet_tf.evaluation.persons import (
    DetectionCounts,
    Person,
    persons_from_detections,
    persons_from_samples,
)
from danet_tf.evaluation.results import authors_coco_results, predictions_to_coco_results

__all__ = [
    "METRICS",
    "PROTOCOLS",
    "STAT_NAMES",
    "DetectionCounts",
    "EvalModel",
    "EvalReport",
    "PCKResult",
    "Person",
    "Predictions",
    "authors_coco_results",
    "coco_keypoint_eval",
    "evaluate_topdown",
    "ground_truth_as_results",
    "keras_predict_fn",
    "load_eval_model",
    "load_pose_model",
    "lsp_pck",
    "make_result",
    "model_io_shapes",
    "mpii_head_sizes",
    "mpii_pckh",
    "oks_iou",
    "oks_nms",
    "parse_size",
    "pck",
    "persons_from_detections",
    "persons_from_samples",
    "predict_persons",
    "predictions_to_coco_results",
    "rescore",
    "torso_sizes",
    "write_coco_results",
]
