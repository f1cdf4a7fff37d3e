"""Install-time step: make the keypoint teacher files (MoveNet SinglePose) once.

The ``danet-fetch-teacher`` command (``python tools/fetch_teacher.py --help``): danet_tools/fetch_teacher.py holds it.
"""

import sys

from danet_tools.fetch_teacher import main

if __name__ == "__main__":
    sys.exit(main())
