"""ranvier: spiking networks from training to Loihi 2.

Stages are subpackages: ``ranvier.hw_models`` (fixed point, IR, simulator),
``ranvier.convert`` (netx HDF5), ``ranvier.deploy`` (run on a backend). The command line is
``ranvier`` (``ranvier.cli``).
"""

__version__ = "0.1.0"
