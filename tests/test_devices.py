"""The device choice: cuda, then mps, then the CPU; PA3_DEVICE overrides, with an error when absent."""

import pytest
import torch

from pa3report import devices
from pa3report.errors import UserError


@pytest.fixture
def machine(monkeypatch):
    """Pretend which accelerators PyTorch sees: machine({'cuda': False, 'mps': True})."""
    def set_present(present: dict[str, bool]) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: present.get("cuda", False))
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: present.get("mps", False))
    return set_present


@pytest.mark.parametrize("present, picked", [
    ({"cuda": True, "mps": True}, "cuda"),
    ({"cuda": False, "mps": True}, "mps"),
    ({}, "cpu"),
])
def test_automatic_choice_prefers_cuda_then_mps_then_cpu(machine, present, picked):
    machine(present)
    assert devices.pick_device({}).type == picked


def test_pa3_device_overrides_the_automatic_choice(machine):
    machine({"cuda": True, "mps": True})
    assert devices.pick_device({"PA3_DEVICE": "cpu"}).type == "cpu"
    assert devices.pick_device({"PA3_DEVICE": " MPS "}).type == "mps"


def test_an_absent_device_is_a_clear_error(machine):
    machine({"mps": True})
    with pytest.raises(UserError, match=r"PA3_DEVICE=cuda but PyTorch .* sees no cuda device here "
                                        r"\(present: mps, cpu\)"):
        devices.pick_device({"PA3_DEVICE": "cuda"})


def test_an_unknown_device_name_lists_the_choices(machine):
    machine({})
    with pytest.raises(UserError, match="'tpu' is not a device: use one of cuda, mps, cpu"):
        devices.pick_device({"PA3_DEVICE": "tpu"})


def test_mps_states_its_fallback_and_cpu_needs_none():
    assert "runs on the CPU instead" in devices.fallback_note(torch.device("mps"))
    assert devices.fallback_note(torch.device("cpu")) is None
    assert devices.device_name(torch.device("mps")) == "mps (Apple GPU)"
    assert devices.kind("cuda (NVIDIA H200)") == "cuda" and devices.kind("cpu (2 threads)") == "cpu"


def test_the_mps_fallback_is_switched_on_before_torch_loads():
    import subprocess
    import sys

    code = ("import os; os.environ.pop('PYTORCH_ENABLE_MPS_FALLBACK', None); import pa3report, sys; "
            "print(os.environ.get('PYTORCH_ENABLE_MPS_FALLBACK'), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["1", "False"]


def test_runs_on_an_unavailable_device_stop_before_anything_trains(tiny_experiments, monkeypatch, capsys):
    from pa3report.cli import main

    monkeypatch.setenv("PA3_DEVICE", "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["--root", str(tiny_experiments), "run", "tiny_reg"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: PA3_DEVICE=cuda but")
    assert not (tiny_experiments / "build" / "runs").exists()


def test_a_page_of_runs_from_several_devices_says_so():
    from types import SimpleNamespace

    from pa3report.page_context import mixed_devices
    from pa3report.store import RunMeta

    def result(device):
        return SimpleNamespace(meta=RunMeta(device=device))

    same = [result("cpu (AMD EPYC, 2 threads)")] * 3
    assert mixed_devices(same) == []
    mixed = same + [result("cuda (NVIDIA H200)")] * 2
    assert mixed_devices(mixed) == [{"device": "cpu (AMD EPYC, 2 threads)", "runs": 3},
                                    {"device": "cuda (NVIDIA H200)", "runs": 2}]
