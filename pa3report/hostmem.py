"""Keep freed host memory inside the process while training on the CPU.

PyTorch's CPU tensors come from the C library's malloc. With glibc's defaults, blocks of
activations and gradients (megabytes each) are returned to the kernel when freed and
page-faulted back in on the next step: hundreds of thousands of page faults per epoch
at batch 100, millions at batch 500. Telling malloc to keep that memory makes a training
step touch pages that are already mapped. Numbers are unchanged bit for bit; only the
time spent in the kernel goes away. The cost is that the process keeps its peak heap
until it exits, which is what a training run needs anyway.
"""

from __future__ import annotations

import ctypes
import sys

# mallopt() parameters from glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3

# 1 GiB: no tensor of these runs gets a mapping of its own. A glibc that refuses so high
# a threshold gets 32 MiB, its traditional maximum on 64-bit machines.
_MMAP_THRESHOLDS = (1 << 30, 32 << 20)
_SETTINGS = ((M_TRIM_THRESHOLD, 1 << 30), (M_TOP_PAD, 64 << 20))


def keep_freed_memory() -> bool:
    """Ask glibc to stop unmapping freed memory; False where there is no glibc to ask."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this Python runs on
    except (OSError, AttributeError):  # a C library without mallopt
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # Without the threshold, the other two would make things worse: they switch off glibc's
    # own adjustment of it and every large block would be mapped and unmapped again.
    mapped = any(mallopt(M_MMAP_THRESHOLD, value) == 1 for value in _MMAP_THRESHOLDS)
    return mapped and all(mallopt(param, value) == 1 for param, value in _SETTINGS)
