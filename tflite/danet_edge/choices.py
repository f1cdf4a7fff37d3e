"""Names the command lines offer as choices, importable without numpy or OpenCV (fast --help).

Declared here once; the codec and the top-down predictor import them from this module.
"""

DECODE_MODES = ("shift", "blur_shift", "dark")
PROTOCOLS = ("danet_tf", "authors")
