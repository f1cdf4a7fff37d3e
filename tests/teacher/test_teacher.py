"""The MoveNet teacher: tfjs fused ops split exactly, the converted file's accuracy, crops."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest


def _fused_graph(op: str, fused: list[bytes]):
    """x -> op(x, w) + b (+ activation) as tfjs writes it; the weights."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    if op == "FusedDepthwiseConv2dNative":
        w = rng.normal(size=(3, 3, 4, 1)).astype(np.float32)
        b = rng.normal(size=(4,)).astype(np.float32)
    else:
        w = rng.normal(size=(3, 3, 4, 6)).astype(np.float32)
        b = rng.normal(size=(6,)).astype(np.float32)
    g = tf.compat.v1.GraphDef()
    x = g.node.add(name="x", op="Placeholder")
    x.attr["dtype"].type = tf.float32.as_datatype_enum
    for name, value in (("w", w), ("b", b)):
        c = g.node.add(name=name, op="Const")
        c.attr["dtype"].type = tf.float32.as_datatype_enum
        c.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
    n = g.node.add(name="y", op=op, input=["x", "w", "b"])
    n.attr["T"].type = tf.float32.as_datatype_enum
    n.attr["strides"].list.i.extend([1, 2, 2, 1])
    n.attr["padding"].s = b"SAME"
    n.attr["dilations"].list.i.extend([1, 1, 1, 1])
    n.attr["data_format"].s = b"NHWC"
    n.attr["num_args"].i = 1
    n.attr["fused_ops"].list.s.extend(fused)
    out = g.node.add(name="out", op="Identity", input=["y"])
    out.attr["T"].type = tf.float32.as_datatype_enum
    return g, w, b


@pytest.mark.parametrize("op", ["_FusedConv2D", "FusedDepthwiseConv2dNative"])
@pytest.mark.parametrize("fused", [[b"BiasAdd"], [b"BiasAdd", b"Relu6"], [b"BiasAdd", b"Relu"]])
def test_split_fused_ops_computes_the_fused_op(op, fused):
    import tensorflow as tf

    from danet_tf.detector.convert_tfjs import graph_function, split_fused_ops

    g, w, b = _fused_graph(op, fused)
    split = split_fused_ops(g)
    assert not {n.op for n in split.node} & {"_FusedConv2D", "FusedDepthwiseConv2dNative"}
    assert [n.name for n in split.node if n.name == "y"] == ["y"]  # consumers keep their input
    x = np.random.default_rng(1).normal(size=(1, 9, 7, 4)).astype(np.float32)
    got = graph_function(split, ["x:0"], ["out:0"])(tf.constant(x))[0].numpy()
    conv = tf.nn.depthwise_conv2d if op.startswith("Fused") else tf.nn.conv2d
    want = conv(x, w, [1, 2, 2, 1], "SAME") + b
    if len(fused) == 2:
        want = {b"Relu6": tf.nn.relu6, b"Relu": tf.nn.relu}[fused[1]](want)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-5)


def test_split_fused_ops_refuses_an_unknown_fusion():
    from danet_tf.detector.convert_tfjs import split_fused_ops

    g, _, _ = _fused_graph("_FusedConv2D", [b"BiasAdd", b"LeakyRelu"])
    with pytest.raises(ValueError, match="y: fusion"):
        split_fused_ops(g)


def test_square_crop_refuses_a_degenerate_box():
    from danet_tf.teacher.movenet import square_crop

    assert square_crop([10, 20, 40, 80], 1.25) == (-20.0, 10.0, 100.0)
    for bad in ([0, 0, 0, 10], [0, 0, float("nan"), 10], [0, 0, -5, 10]):
        with pytest.raises(ValueError, match="box"):
            square_crop(bad, 1.25)


def test_missing_teacher_names_the_command(tmp_path):
    from danet_tf.teacher import MoveNet, TeacherNotFoundError

    with pytest.raises(TeacherNotFoundError, match="danet-fetch-teacher"):
        MoveNet(model_path=tmp_path / "none.tflite")


def test_teacher_ap_on_coco_val4_with_ground_truth_boxes(teacher_file, coco_sample):
    """MoveNet Thunder as converted here: OKS AP 0.774 on the 12 val4 persons (measured); a
    broken conversion (a wrong op split, colour order, crop mapping) lands far below."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from danet_edge.images import load_image
    from danet_tf.teacher import MoveNet

    teacher = MoveNet(model_path=teacher_file)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(coco_sample / "val4.json"))
    results = []
    for ann in gt.loadAnns(gt.getAnnIds()):
        if ann.get("iscrowd") or not ann.get("num_keypoints"):
            continue
        info = gt.loadImgs(ann["image_id"])[0]
        image = load_image(coco_sample / "images" / info["file_name"], rgb=True)
        pose = teacher(image, ann["bbox"])
        kpts = np.concatenate([pose.xy, pose.score[:, None]], axis=1)
        results.append({"image_id": ann["image_id"], "category_id": 1,
                        "keypoints": kpts.ravel().tolist(), "score": float(pose.score.mean())})
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(gt, gt.loadRes(results), "keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert len(results) == 12
    assert ev.stats[0] == pytest.approx(0.774, abs=0.03)


def test_teacher_provenance_beside_the_file(teacher_file):
    from danet_tf.detector.fetch import sha256_file

    provenance = json.loads(teacher_file.with_name(teacher_file.name + ".provenance.json").read_text())
    assert provenance["sha256"] == sha256_file(teacher_file)
    assert "Apache-2.0" in provenance["licences"]["weights"]
    assert (teacher_file.parent / "NOTICE.movenet_thunder").is_file()
