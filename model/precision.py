"""Pick the compute dtype at run time: bf16 only where the device runs it natively.

On an AVX2-only CPU bf16 is emulated and 15-60x slower than fp32 (MEASURED.md), so CPUs
get bf16 only when they report AVX512_BF16 or AMX. Every benchmark writes the choice down.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import torch


def cpu_capability() -> str:
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except Exception:  # noqa: BLE001 - older torch
        return "unknown"


def cpu_has_native_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """None means plain fp32. precision: "auto", "bf16" or "fp32"."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if cpu_has_native_bf16() else None


def autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def describe(device: torch.device, dtype: torch.dtype | None) -> dict:
    out = {"device": str(device), "dtype": "bf16" if dtype == torch.bfloat16 else "fp32",
           "cpu_capability": cpu_capability(), "threads": torch.get_num_threads()}
    if device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(device)
    return out
