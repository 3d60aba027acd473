"""Training: torch layers that emulate ``hw_models`` exactly, delay learning, data, the loop.

The only part of ranvier that imports torch. Everything here exports to the network IR
(``ranvier.hw_models.network``) so the trained network is the deployed one.
"""
