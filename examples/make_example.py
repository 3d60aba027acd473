"""Regenerate the shipped example network and input with the tests' generator (make example).

examples/shd_like.net: 140-128-128-20 CUBA network, SLAYER-style 8-bit weights, per-synapse
delays 0..25, thresholds calibrated to ~5% activity; examples/shd_like_input.npy: 4 samples of
random input spikes (140 channels, 125 steps, density 3%).
"""

from pathlib import Path

import numpy as np
from ranvier.testing.random_netx import random_spikes, shd_like_spec, write_spec

HERE = Path(__file__).parent

if __name__ == "__main__":
    rng = np.random.default_rng(2026)
    spec, _ = shd_like_spec(rng)
    write_spec(spec, HERE / "shd_like.net")
    x = random_spikes(rng, 140, 125, 0.03, samples=4)
    np.save(HERE / "shd_like_input.npy", x)
    print(f"wrote {HERE / 'shd_like.net'} and {HERE / 'shd_like_input.npy'} {x.shape}")
