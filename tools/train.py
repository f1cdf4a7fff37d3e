"""Train a DANet pose model (the ``danet-train`` command; danet_tools/train.py holds it).

    python tools/train.py --model danet88 --data ANN.json --images DIR
"""

import sys

from danet_tools.train import main, parse_args  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
