"""File formats ⇄ IR: netx HDF5 (lava-dl's format), with validation."""

from .netx_hdf5 import NetFileError, atomic_path, read_netx, write_netx

__all__ = ["NetFileError", "atomic_path", "read_netx", "write_netx"]
