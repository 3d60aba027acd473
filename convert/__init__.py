"""File formats ⇄ IR: netx HDF5 (lava-dl's format), with validation."""

from .atomic import OutputPathError, atomic_path, check_writable, check_writable_dir
from .netx_hdf5 import NetFileError, expand_delay, netx_differences, read_netx, write_netx

__all__ = [
    "NetFileError",
    "OutputPathError",
    "atomic_path",
    "check_writable",
    "check_writable_dir",
    "expand_delay",
    "netx_differences",
    "read_netx",
    "write_netx",
]
