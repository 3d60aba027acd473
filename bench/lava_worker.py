"""Run samples through lava-nc (inside .venv-lava) for bench/sim_throughput.py.

Usage: .venv-lava/bin/python bench/lava_worker.py NET INPUT.npy OUT.npz [RESET OFFSET]
(RESET OFFSET: netx's reset_interval and reset_offset.)
Writes every layer's spikes to OUT.npz (layer_0 …) and prints one JSON line with the wall
time of run_lava (network build, compile, run, read-out and teardown: what a user pays per
sample) and, separately, the import time of lava.
"""

import json
import sys
import time

import numpy as np


def main() -> None:
    net, inp, out = sys.argv[1:4]
    reset = (int(sys.argv[4]), int(sys.argv[5])) if len(sys.argv) > 5 else None
    t0 = time.perf_counter()
    from ranvier.deploy import lava as lava_backend

    lava_backend.import_lava()
    t_import = time.perf_counter() - t0
    x = np.load(inp)
    t1 = time.perf_counter()
    layers = lava_backend.run_lava(net, x, reset=reset)
    wall = time.perf_counter() - t1
    np.savez(out, **{f"layer_{i}": a for i, a in enumerate(layers)})
    print(json.dumps({"samples": int(x.shape[0]), "wall_s": wall, "import_s": t_import}))


if __name__ == "__main__":
    main()
