"""File formats ⇄ IR: netx HDF5 (lava-dl's format), with validation."""

from .atomic import atomic_path
from .netx_hdf5 import NetFileError, netx_differences, read_netx, write_netx

__all__ = ["NetFileError", "atomic_path", "netx_differences", "read_netx", "write_netx"]
