"""Which device trains: an NVIDIA GPU (cuda), then Apple silicon's GPU (mps), then the CPU.

PA3_DEVICE=cpu|cuda|mps overrides the choice. Runs keep the device's name in their meta, so
the report can say when its numbers come from devices that do not compute bit for bit alike.
"""

from __future__ import annotations

import os
from typing import Mapping

import torch

from .errors import UserError

KINDS = ("cuda", "mps", "cpu")  # the automatic choice takes the first one present
ENV = "PA3_DEVICE"

# What a device lacks and what the project does instead: said when such a device is picked.
# mps: PyTorch runs an operator mps lacks on the CPU when PYTORCH_ENABLE_MPS_FALLBACK=1 is set
# before torch loads (pa3report/__init__.py sets it) and warns once per operator, naming it.
FALLBACKS = {
    "mps": "an operator Apple's mps backend lacks runs on the CPU instead, and PyTorch names it in a warning",
}


def available(kind: str) -> bool:
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        backend = getattr(torch.backends, "mps", None)
        return bool(backend is not None and backend.is_available())
    return kind == "cpu"


def present() -> list[str]:
    return [k for k in KINDS if available(k)]


def pick_device(env: Mapping[str, str] | None = None) -> torch.device:
    """The asked device (PA3_DEVICE) when present, else the first of KINDS that is."""
    env = os.environ if env is None else env
    asked = env.get(ENV, "").strip().lower()
    if not asked:
        return torch.device(present()[0])
    if asked not in KINDS:
        raise UserError(f"{ENV}={asked!r} is not a device: use one of {', '.join(KINDS)} "
                        f"(or leave it unset to pick {present()[0]}).")
    if not available(asked):
        raise UserError(f"{ENV}={asked} but PyTorch {torch.__version__} sees no {asked} device here "
                        f"(present: {', '.join(present())}); unset {ENV} or pick one of those.")
    return torch.device(asked)


def device_name(device: torch.device) -> str:
    """The name a run records: the kind first, then what tells two of a kind apart."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({cpu_model()}, {torch.get_num_threads()} threads)"


def cpu_model() -> str:
    """The processor's name ('AMD EPYC'), so two machines' CPU runs are not taken for one device."""
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8", errors="replace"):
            if line.lower().startswith(("model name", "hardware", "processor\t: ")) and ":" in line:
                name = line.split(":", 1)[1].strip()
                if name and not name.isdigit():
                    return " ".join(name.split())
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "unknown"


def kind(name: str) -> str:
    """'cuda (NVIDIA H200)' -> 'cuda': runs of one kind compute alike, across kinds they do not."""
    return name.split(" ", 1)[0]


def fallback_note(device: torch.device) -> str | None:
    """One line for the user when the picked device needs a fallback, else None."""
    what = FALLBACKS.get(device.type)
    return f"note: training on {device_name(device)}; {what}." if what else None
