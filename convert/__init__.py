"""File formats ⇄ IR: netx HDF5 (lava-dl's format), with validation."""

from .atomic import atomic_path
from .netx_hdf5 import NetFileError, expand_delay, netx_differences, read_netx, write_netx

__all__ = [
    "NetFileError",
    "atomic_path",
    "expand_delay",
    "netx_differences",
    "read_netx",
    "write_netx",
]
