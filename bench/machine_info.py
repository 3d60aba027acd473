"""The machine line every benchmark prints next to its results (CPU model, cores, Python)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def machine() -> str:
    """``"<cpu model>, <n> cores, Python <version>"`` (the CPU model from /proc/cpuinfo)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"
