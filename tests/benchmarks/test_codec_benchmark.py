"""The codec benchmark measures every decode mode."""

from danet_tf.benchmarks.codec import benchmark_codec
from danet_tf.codec import DECODE_MODES, HeatmapCodec


def test_benchmark_reports_each_mode_per_person():
    rows = benchmark_codec(HeatmapCodec((128, 96), (32, 24)), batch_sizes=(1, 3), repeats=2)
    ops = {(r["op"], r["batch"]) for r in rows}
    assert ("encode", 1) in ops
    assert {(f"decode {m}", b) for m in DECODE_MODES for b in (1, 3)} <= ops
    assert all(0 < r["ms_per_person"] < 1000 for r in rows)
