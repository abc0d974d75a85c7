"""The helper module beside the tests (seismo_fdsn_server) is imported by name."""

import sys
from pathlib import Path

HERE = str(Path(__file__).parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
