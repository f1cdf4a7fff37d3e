"""Train without TensorFlow (an accelerator machine with JAX or PyTorch): cut a crop pack
here, train there until a deadline, bring float16 weights back as a .keras.

    python tools/train_portable.py pack --data labels/train.json --images DATA --output pack.npz
    KERAS_BACKEND=jax python tools/train_portable.py train --pack pack.npz --model danet72 \\
        --minutes 8 --output danet72.npz
    python tools/train_portable.py to-keras danet72.npz --output danet72.keras
"""

from __future__ import annotations

import argparse
import json
import sys

from danet_edge.choices import DEFAULT_INPUT_SIZE
from danet_tools.choices import size_arg


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="train_portable", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    pk = sub.add_parser("pack", help="cut the crops of a COCO keypoint json into one .npz")
    pk.add_argument("--data", required=True)
    pk.add_argument("--images", required=True)
    pk.add_argument("--output", required=True)
    pk.add_argument("--size", type=size_arg, default=DEFAULT_INPUT_SIZE, help="crop HxW (default 256x192)")
    pk.add_argument("--quality", type=int, default=70, help="WebP quality (default 70)")
    pk.add_argument("--limit", type=int)
    tr = sub.add_parser("train", help="train on a pack until the deadline (any Keras backend)")
    tr.add_argument("--pack", required=True)
    tr.add_argument("--model", default="danet72")
    tr.add_argument("--input-size", type=size_arg, default=DEFAULT_INPUT_SIZE, help="HxW (default 256x192)")
    tr.add_argument("--batch-size", type=int, default=32)
    tr.add_argument("--minutes", type=float, default=8.0, help="wall-clock deadline")
    tr.add_argument("--max-steps", type=int)
    tr.add_argument("--lr", type=float, default=1e-3)
    tr.add_argument("--output", required=True, help="float16 weights (.npz, json beside)")
    tk = sub.add_parser("to-keras", help="the weights as a .keras model (needs TensorFlow)")
    tk.add_argument("weights")
    tk.add_argument("--output", required=True)
    args = p.parse_args(argv)

    from danet_tf import portable

    if args.command == "pack":
        pack = portable.make_pack(args.data, args.images, args.size, args.quality,
                                  args.limit)  # fmt: skip
        pack.save(args.output)
        print(f"wrote {args.output}: {len(pack)} crops of {args.size}")
    elif args.command == "train":
        record = portable.train(args.pack, args.output, model_name=args.model,
                                input_size=args.input_size, batch=args.batch_size,
                                minutes=args.minutes, lr=args.lr, max_steps=args.max_steps)  # fmt: skip
        print(json.dumps(record, indent=1))
    else:
        print(f"wrote {portable.to_keras(args.weights, args.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
