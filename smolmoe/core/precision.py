"""The number format matrix products run in: float32, or bfloat16 where the hardware is fast at it.

"auto" (the default everywhere) picks bf16 on a GPU that supports it and on a CPU with AMX or
AVX512-BF16, and float32 elsewhere. Measured on this project's 2-core Xeon (AMX): a 576x1536
GEMM ran 6.8x faster in bf16; SmolLM2-135M trained (MLP-only, 4x256 tokens) 4.5x faster and its
forward ran 3x faster under bf16 autocast. Autocast keeps float32 master weights, so saved
models stay float32 and the parity checks (run in float32) are unaffected.
"""
from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Literal, get_args

Precision = Literal["auto", "no", "bf16", "fp16"]
CHOICES = get_args(Precision)


@functools.lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True on x86 CPUs with AMX-BF16 or AVX512-BF16 (read from /proc/cpuinfo on Linux)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
            break
    return bool({"amx_bf16", "avx512_bf16"} & flags)


def resolve(precision: str, device: str | None = None) -> str:
    """'auto' -> 'bf16' or 'no' for this device (cuda when available, else cpu); others as given."""
    import torch

    if precision != "auto":
        return precision
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_bf16_supported() else "no"
    return "bf16" if cpu_has_fast_bf16() else "no"


def autocast(precision: str, device="cpu"):
    """A context that runs the model's products in `precision` (a no-op for 'no')."""
    import torch

    device_type = torch.device(device).type
    resolved = resolve(precision, device_type)
    if resolved == "no":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if resolved == "bf16" else torch.float16
    return torch.autocast(device_type=device_type, dtype=dtype)


# Generation holds the weights themselves in bf16 rather than autocasting: autocast recasts
# every float32 weight at each forward, which made decoding 3-4x slower here, while bf16
# weights halve the bytes a decode step reads (measured in docs/serving.md). int8: int8
# weights with bf16 activations (quant.py), so it needs what bf16 needs.
DTYPES = ("float32", "bf16", "int8", "auto")


def generation_dtype(choice: str, device: str | None = None):
    """'float32' | 'bf16' | 'int8' | 'auto' -> the torch dtype to generate in (int8: bf16, the
    activations' type); bf16 and int8 where the device is not fast at bf16 are refused ('auto'
    falls back to float32 there)."""
    import torch

    from .errors import ConfigError
    if choice not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {choice!r}")
    if choice == "float32":
        return torch.float32
    if resolve("auto", device) == "bf16":
        return torch.bfloat16
    if choice == "auto":
        return torch.float32
    raise ConfigError(("int8 runs its activations in bf16, and " if choice == "int8" else "") +
                      "bf16 is not supported here: this CPU has neither AMX nor AVX512-BF16 "
                      "(and no bf16 GPU is in use); use --dtype float32 or auto")
