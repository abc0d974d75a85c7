"""d4p-threadpool: an example third-party d4p mapping (see :mod:`d4p_threadpool.mapping`)."""

from .__about__ import __version__
from .mapping import ThreadPoolMapping

__all__ = ["ThreadPoolMapping", "__version__"]
