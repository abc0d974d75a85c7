"""``python -m d4p.compat TARGET MODULE [options]``: ``python -m dispel4py ...``
ported (see :func:`d4p.compat.new.processor.main`)."""

import sys

from .new.processor import main

sys.exit(main())
