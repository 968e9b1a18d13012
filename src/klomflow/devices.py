"""Where the models run: the device, the CPU allocator's setting, mixed precision.

The trainer, the unlearning methods and the hub's checkpoint evaluation all
run a :class:`klomflow.stacking.ModelStack`; this module holds what they need
to know about the machine under it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

import torch

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else the CPU; otherwise the named device.

    A CUDA device this machine does not have is a ValueError naming config
    ``device``, not torch's traceback at the first tensor moved to it.
    """
    if name == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        reason = device_unavailable(name)
        if reason:
            raise ValueError(f"device: {reason}")
        device = torch.device(name)
    gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    # The record of where the models were trained: tables' provenance cannot know it.
    log.info("device: %s -> %s%s, torch %s", name, device, gpu, torch.__version__)
    return device


def device_unavailable(name: str) -> str | None:
    """Why this machine cannot run device ``name`` (``cuda``, ``cuda:1``), or None if it can."""
    if name in ("auto", "cpu"):
        return None
    device = torch.device(name)
    if device.type != "cuda":
        return None
    if not torch.cuda.is_available():
        return (
            f"{name}, but torch {torch.__version__} finds no CUDA device on this machine; "
            "use device: auto (CUDA where there is one, else the CPU) or cpu"
        )
    if device.index is not None and device.index >= torch.cuda.device_count():
        return f"{name}, but this machine has {torch.cuda.device_count()} CUDA devices"
    return None


@functools.cache
def keep_freed_memory() -> None:
    """Let glibc keep freed memory for reuse instead of returning it to the kernel.

    Every step of N stacked models allocates and frees activations of tens of
    megabytes; by default glibc maps each afresh and unmaps it when freed, and
    touching the new pages costs a page fault each. On the 2-core CPU this was a
    fifth of a digits retraining cell's time (1.26 million minor faults, 2.9 s
    of system time in 15 s); kept, 0.13 million and 0.4 s. Elsewhere than
    glibc, nothing changes.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024)  # glibc's largest: larger blocks are mapped
    mallopt(M_TRIM_THRESHOLD, 2**31 - 1)


def autocast(device: torch.device):
    # bf16 only on CUDA: on the CPU it is slow and would change the numbers the
    # tests pin down.
    use_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16)
