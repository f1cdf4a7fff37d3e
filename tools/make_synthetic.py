"""Render the embedded synthetic dataset (COCO layout) into a directory.

python tools/make_synthetic.py OUT_DIR [--train 400] [--val 100] [--seed 0] [--size 240x320]
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--train", type=int, default=400, help="training images")
    parser.add_argument("--val", type=int, default=100, help="validation images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", default="240x320", help="image HxW")
    parser.add_argument("--max-persons", type=int, default=3)
    args = parser.parse_args()

    from danet_tf.data.synthetic import generate

    h, w = (int(v) for v in args.size.lower().split("x"))
    paths = generate(args.out_dir, num_train=args.train, num_val=args.val, seed=args.seed,
                     image_size=(h, w), max_persons=args.max_persons)  # fmt: skip
    for name, path in paths.items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
