"""Label real photos with human keypoints plus an offline teacher's (MoveNet) for training.

The ``danet-label`` command (``python tools/pseudo_label.py --help``): danet_tools/pseudo_label.py holds it.
"""

import sys

from danet_tools.pseudo_label import main

if __name__ == "__main__":
    sys.exit(main())
