import json

import keras
import pytest

import danet_tf
from danet_tf.models import count_complexity


def test_counting_rule_on_hand_computed_layers():
    x = keras.Input((10, 8, 4))
    a = keras.layers.Conv2D(6, 3, padding="same", use_bias=True)(x)  # 10*8*6*9*4
    b = keras.layers.DepthwiseConv2D(5, strides=2, padding="same")(a)  # 5*4*6*25
    c = keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same")(b)  # 5*4*6*3*16
    d = keras.layers.Dense(7)(keras.layers.GlobalAveragePooling2D()(c))  # 3*7
    e = keras.layers.BatchNormalization()(c)
    model = keras.Model(x, [d, e])
    result = count_complexity(model)
    assert result.macs == 10 * 8 * 6 * 9 * 4 + 5 * 4 * 6 * 25 + 5 * 4 * 6 * 3 * 16 + 3 * 7
    # trainable only: BN moving statistics excluded (PyTorch's parameters() convention)
    assert result.params == (9 * 4 * 6 + 6) + (25 * 6 + 6) + (16 * 6 * 3 + 3) + (3 * 7 + 7) + 6


def test_danet_counts_are_consistent_with_the_paper():
    # Params: Table I topology lands within 10 % of the paper's 5.3 M (at any input size:
    # one full build, at the cheaper 128x96).
    result = count_complexity(danet_tf.build_model("danet88", input_shape=(128, 96, 3)))
    assert abs(result.params_m / 5.3 - 1) < 0.10
    # Params do not depend on the input size, MACs scale with the pixels (same architecture,
    # the tiny row: two cheap builds instead of a second DANet-88).
    big = count_complexity(danet_tf.build_model("danet_tiny", input_shape=(256, 192, 3)))
    small = count_complexity(danet_tf.build_model("danet_tiny", input_shape=(128, 96, 3)))
    assert big.params == small.params
    assert abs(big.macs / small.macs - 4.0) < 0.05


@pytest.mark.slow
def test_complexity_tool_json(capsys):
    # In-process: the wrappers' process boundary is tests/tools/test_commands.py's business.
    from danet_tools.complexity import main

    assert main(["--models", "danet_tiny", "danet72", "--json", "--coarse-heads"]) == 0
    rows = {r["model"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["danet_tiny"]["paper_params_m"] is None and rows["danet_tiny"]["table"] is None
    d72 = rows["danet72"]
    assert (d72["table"], d72["row"], d72["paper_gflops"], d72["paper_params_m"]) == (
        "II", "DANet-72", 1.0, 3.4
    )
    assert d72["params_ratio"] == pytest.approx(d72["params_m"] / 3.4, abs=1e-3)
    # The paper convention leaves out the three 4x4/2 transposed convolutions (128 -> 128 at
    # 8x6, 16x12 and 32x24 inputs): 16 * 128 * 128 * (48 + 192 + 768) MACs.
    transposed = 16 * 128 * 128 * (48 + 192 + 768) / 1e9
    assert d72["gmacs"] - d72["gmacs_paper_convention"] == pytest.approx(transposed, abs=1e-3)
    assert d72["gmacs_ratio"] == pytest.approx(d72["gmacs_paper_convention"] / 1.0, abs=1e-3)
    # The ablation tables' rows are found by the same spec lookup, without a build.
    paper = danet_tf.models.get_spec("danet102_oab_v1").paper
    assert (paper.table, paper.row) == ("V", "Variant 1")
    assert d72["coarse_heads_params_m"] > 0 and d72["coarse_heads_gmacs"] > 0
