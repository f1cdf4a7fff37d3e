"""Print training samples/s (model + loss + Adam step, no input pipeline) per model and size.

    python tools/benchmark_train.py                          # DANet-72 at 256x192 and 128x96
    python tools/benchmark_train.py --model danet72 --sizes 256x192 --threads 1

Threads must be fixed before TensorFlow starts, so run once per ``--threads`` value.
"""

from __future__ import annotations

import argparse
import platform
import sys


def _size(text: str) -> tuple[int, int]:
    h, _, w = text.partition("x")
    try:
        return int(h), int(w)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 256x192, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default="danet72")
    p.add_argument("--sizes", nargs="+", type=_size, default=[(256, 192), (128, 96)])
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=0, help="intra/inter-op threads (0: TF default)")
    p.add_argument("--mixed-precision", action="store_true")
    args = p.parse_args(argv)

    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from danet_tf.benchmarks.training import benchmark_train_step

    print(f"# {platform.processor() or platform.machine()}, TF {tf.__version__}, "
          f"threads={args.threads or 'default'}, batch {args.batch_size}")
    for h, w in args.sizes:
        r = benchmark_train_step(args.model, (h, w), args.batch_size, args.steps, args.warmup,
                                 mixed_precision=args.mixed_precision)
        print(f"{args.model} {h}x{w}: {r['samples_per_s']:.2f} samples/s "
              f"({r['ms_per_step']:.0f} ms/step at batch {args.batch_size})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
