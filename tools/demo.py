"""Draw DANet skeletons and keypoint scores on an image or on every frame of a video.

The ``danet-demo`` command (``python tools/demo.py --help``): danet_tools/demo.py holds it.
"""

import sys

from danet_tools.demo import main

if __name__ == "__main__":
    sys.exit(main())
