"""CPU benchmark of Keras, TFLite and ONNX Runtime: ms per person and persons/s.

The ``danet-benchmark`` command (``python tools/benchmark.py --help``): danet_tools/benchmark.py holds it.
"""

import sys

from danet_tools.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
