"""pa3report: run the CNN colourization / super-resolution practical and report on it."""

import os

__version__ = "0.1.0"

# Read by PyTorch once, when it loads, so it is set before any module of ours imports torch:
# on Apple's mps an operator the backend lacks then runs on the CPU with a warning naming it,
# instead of stopping the run (pa3report/devices.py says so when mps is picked).
os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")
