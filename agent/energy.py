"""Energy per 1k tokens, with the method stated next to every figure.

- `nvml`: the GPU's own energy counter (nvmlDeviceGetTotalEnergyConsumption, mJ, Volta and
  newer), summed over visible GPUs, read before and after a model call. Needs `nvidia-ml-py`
  and the model server on this machine.
- `rapl`: the CPU package energy counter (/sys/class/powercap/intel-rapl:*/energy_uj).
- `estimate`: wall time x an assumed average draw (`watts`, default 15 W per busy core of
  the CPU server), clearly marked as an estimate. Used when neither counter is readable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

RAPL = Path("/sys/class/powercap")


class EnergyMeter(Protocol):
    method: str

    def read_joules(self) -> float | None: ...


class NvmlMeter:
    method = "nvml"

    def __init__(self, nvml: Any) -> None:
        self._nvml = nvml
        count = nvml.nvmlDeviceGetCount()
        self._handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]

    def read_joules(self) -> float | None:
        total_mj = sum(
            int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(h)) for h in self._handles
        )
        return total_mj / 1000.0


class RaplMeter:
    method = "rapl"

    def __init__(self, files: list[Path]) -> None:
        self._files = files

    def read_joules(self) -> float | None:
        return sum(int(f.read_text()) for f in self._files) / 1e6


class EstimateMeter:
    def __init__(self, watts: float) -> None:
        self.watts = watts
        self.method = f"estimate ({watts:.0f} W assumed x wall time)"

    def read_joules(self) -> float | None:
        return None


def _nvml_meter() -> NvmlMeter | None:
    try:
        import pynvml  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        return NvmlMeter(pynvml)
    except pynvml.NVMLError:  # no driver, no GPU, or no energy counter on this GPU
        return None


def open_meter(watts_estimate: float | None = None) -> EnergyMeter:
    """The best meter this machine offers: NVML, then RAPL, then an estimate."""
    nvml = _nvml_meter()
    if nvml is not None:
        return nvml
    files = sorted(RAPL.glob("intel-rapl:*/energy_uj")) if RAPL.exists() else []
    readable = [f for f in files if os.access(f, os.R_OK)]
    if readable:
        return RaplMeter(readable)
    return EstimateMeter(watts_estimate or 15.0 * (os.cpu_count() or 1))


def joules_per_1k(
    meter: EnergyMeter, before: float | None, seconds: float, tokens: int
) -> float | None:
    """Joules per 1,000 tokens processed (prompt + completion) by one model call."""
    if tokens <= 0:
        return None
    after = meter.read_joules()
    if before is not None and after is not None:
        joules = after - before
    elif isinstance(meter, EstimateMeter):
        joules = meter.watts * seconds
    else:
        return None
    return joules * 1000.0 / tokens
