"""Intel's measured Loihi 2 PilotNet runs against ranvier's estimate, side by side.

The measurements are the outputs kept in lava-dl's benchmark notebooks
(hw_models/calibration.py transcribes them): the compiler's per-core table, frames per second,
power split and energy per inference of PilotNet LIF (the run the ``loihi2`` profile is fitted
to) and PilotNet SDNN (not fitted to: the check). ranvier runs the same network files
(tests/equivalence/data) on its simulator under the notebooks' conditions:

- LIF: one frame held on the input neurons, 16 steps per frame with netx's
  ``reset_interval=16, reset_offset=3``, as benchmark.ipynb (which repeats one frame to avoid
  host input). The frame: Intel's test frame shipped with lava-dl (``image.npy``, already
  through the input transform; the notebook's frame 100 of the driving dataset cannot be
  fetched). Sensitivity: ``zero`` (no image: what the notebook's ``neuron.bias = image``
  amounts to in lava-nc 0.10.0, where ``bias`` is not a Var) and ``random`` (seeded uniform
  pixels through the transform).
- SDNN: one frame per step (the notebook streams the dataset's consecutive frames, host-bound at
  16.87 fps); stand-ins: Intel's test frame panned one column per frame, and the same frame
  held still (a delta network then sends nothing after the first frame).

    .venv/bin/python bench/loihi2_calibration.py [--json]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from machine_info import machine  # bench/ is on sys.path when run as a script
from ranvier.convert import read_netx
from ranvier.hw_models.calibration import (
    PILOTNET_LIF,
    PILOTNET_SDNN,
    Measurement,
    fit_loihi2,
    ops_per_inference,
    predict,
)
from ranvier.hw_models.energy import LOIHI2
from ranvier.hw_models.resources import estimate_resources

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "equivalence" / "data"
LIF_RESET = (16, 3)  # benchmark.ipynb: netx.hdf5.Network(reset_interval=16, reset_offset=3)


def intel_frame_pixels() -> np.ndarray:
    """Intel's test frame as pixels in [0, 1], ``(200, 66, 3)``: ``image.npy`` holds
    ``2 w x - w + b`` with the LIF file's transform ``w = 40, b = 36``, rounded."""
    image = np.load(DATA / "intel_pilotnet_lif_image.npy").astype(np.float64)
    return np.clip((image + 40 - 36) / 80, 0.0, 1.0)


def transformed(network, pixels: np.ndarray) -> np.ndarray:
    """Pixels through the file's input transform (``2 w x - w + b``, int32), flat."""
    t = network.meta.get("input_transform", {"weight": 64, "bias": 0})
    return (2 * t["weight"] * pixels - t["weight"] + t["bias"]).astype(np.int32).reshape(-1)


def compiler_table(measured: Measurement, network) -> list[dict]:
    """The compiler's rows next to ranvier's, layer by layer (network order)."""
    res = estimate_resources(network, skip_layers=measured.skip_layers)
    rows = []
    for row, layer in zip(measured.rows, res.layers, strict=True):
        ours = {
            "axons_in": layer.axons_in,
            "neuron_groups": layer.neuron_groups,
            "neurons": layer.neurons_per_core,
            "synapses": layer.synapse_words,
            "axon_map": layer.axon_map,
            "axon_mem": layer.axon_mem,
            "cores": layer.cores,
        }
        rows.append({"layer": layer.name, "compiler": asdict(row), "ranvier": ours})
    return rows


def lif_scenarios(network, seeds: int) -> dict[str, list]:
    """Operations per inference of PilotNet LIF for each input scenario."""
    pixels = intel_frame_pixels()
    drives = {"intel_frame": transformed(network, pixels), "zero": np.zeros(network.n_in)}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        drives[f"random_{seed}"] = transformed(network, rng.random(pixels.shape))
    out = {}
    for name, drive in drives.items():
        d = np.asarray(drive, dtype=np.int64)
        out[name] = ops_per_inference(
            network, lambda k, d=d: np.repeat(d[:, None], 16 * k, axis=1), (2, 3), 16, LIF_RESET
        )
    return out


def sdnn_scenarios(network, frames: int) -> dict[str, list]:
    """Operations per frame of PilotNet SDNN (one step per frame) for each stand-in."""
    pixels = intel_frame_pixels()

    def pan(k: int) -> np.ndarray:
        return np.stack(
            [transformed(network, np.roll(pixels, i, axis=0)) for i in range(k)], axis=1
        ).astype(np.int64)

    def still(k: int) -> np.ndarray:
        return np.repeat(transformed(network, pixels)[:, None], k, axis=1).astype(np.int64)

    return {
        name: ops_per_inference(network, drive, (frames, 2 * frames), 1, skip_layers=1)
        for name, drive in (("pan", pan), ("still", still))
    }


def error(ours: float, measured: float) -> float | None:
    """Relative error; None where the measurement is not positive (the SDNN run's dynamic
    power, -6 mW, is within the power meter's noise: compare absolute values there)."""
    return (ours - measured) / measured if measured > 0 else None


def compare(prediction, measured: Measurement) -> dict:
    """ranvier's prediction next to the measurement, with relative errors."""
    keys = {
        "fps": "fps",
        "total_power_w": "total_power_w",
        "static_power_w": "static_power_w",
        "dynamic_power_w": "dynamic_power_w",
        "energy_per_inference_j": "energy_per_inference_j",
        "dynamic_energy_per_inference_j": "dynamic_energy_per_inference_j",
    }
    return {
        key: {
            "measured": getattr(measured, m),
            "ranvier": getattr(prediction, key),
            "error": error(getattr(prediction, key), getattr(measured, m)),
        }
        for key, m in keys.items()
    }


def _pct(err: float | None) -> str:
    return "(   n/a)" if err is None else f"({err:+.1%})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3, help="random stand-in frames (LIF)")
    ap.add_argument("--frames", type=int, default=8, help="SDNN frames per run")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    lif = read_netx(DATA / PILOTNET_LIF.network_file)
    sdnn = read_netx(DATA / PILOTNET_SDNN.network_file)
    lif_ops = lif_scenarios(lif, args.seeds)
    sdnn_ops = sdnn_scenarios(sdnn, args.frames)
    fit = fit_loihi2(lif_ops["intel_frame"], PILOTNET_LIF)
    report: dict = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": machine(),
        "profile": LOIHI2.name,
        "fit": asdict(fit),
        "fits_by_scenario": {
            name: asdict(fit_loihi2(ops, PILOTNET_LIF)) for name, ops in lif_ops.items()
        },
        "lif": {
            "table": compiler_table(PILOTNET_LIF, lif),
            "cores": {
                "measured": PILOTNET_LIF.cores,
                "ranvier": estimate_resources(lif).cores,
            },
            "scenarios": {
                name: {
                    "ops": [asdict(o) for o in ops],
                    "compare": compare(
                        predict(LOIHI2, ops, PILOTNET_LIF.steps_per_inference), PILOTNET_LIF
                    ),
                }
                for name, ops in lif_ops.items()
            },
        },
        "sdnn": {
            "table": compiler_table(PILOTNET_SDNN, sdnn),
            "cores": {
                "measured": PILOTNET_SDNN.cores,
                "ranvier": estimate_resources(sdnn, skip_layers=1).cores,
            },
            "scenarios": {
                name: {
                    "ops": [asdict(o) for o in ops],
                    "compare": compare(
                        predict(LOIHI2, ops, 1, fps=PILOTNET_SDNN.fps), PILOTNET_SDNN
                    ),
                }
                for name, ops in sdnn_ops.items()
            },
        },
    }
    tables_equal = all(
        r["compiler"]["cores"] == r["ranvier"]["cores"]
        for net in ("lif", "sdnn")
        for r in report[net]["table"]
    )
    report["cores_per_layer_equal"] = tables_equal
    if args.json:
        print(json.dumps(report, indent=2))
        return 0 if tables_equal else 1
    print(f"loihi2_calibration  {report['date']}  {report['machine']}")
    cols = ("axons_in", "neuron_groups", "neurons", "synapses", "axon_map", "axon_mem", "cores")
    heads = ("AxonIn", "NeuronGr", "Neurons", "Synapses", "AxonMap", "AxonMem", "Cores")
    for net, measured in (("lif", PILOTNET_LIF), ("sdnn", PILOTNET_SDNN)):
        print(f"\n{measured.name}: compiler's per-core table (measured / ranvier)")
        print(f"{'layer':<9}" + "".join(f"{h:>14}" for h in heads))
        for r in report[net]["table"]:
            cells = []
            for c in cols:
                ours = r["ranvier"][c]
                cells.append(f"{r['compiler'][c]}/{'-' if ours is None else ours}")
            print(f"{r['layer']:<9}" + "".join(f"{c:>14}" for c in cells))
        cores = report[net]["cores"]
        print(f"{'total':<9}{'':>84}{cores['measured']:>8}/{cores['ranvier']}")
    for net, measured, scenario in (
        ("lif", PILOTNET_LIF, "intel_frame"),
        ("sdnn", PILOTNET_SDNN, "pan"),
    ):
        kind = "graded messages" if net == "sdnn" else "spikes"
        print(f"\n{measured.name}: operations per frame ({scenario}), per layer on the chip")
        print(f"{'layer':<9}{'synaptic events':>17}{'neuron updates':>16}{kind:>17}{'cores':>7}")
        names = [r["layer"] for r in report[net]["table"]]
        for name, o in zip(names, report[net]["scenarios"][scenario]["ops"], strict=True):
            print(
                f"{name:<9}{o['synaptic_events']:>17,.0f}{o['neuron_updates']:>16,.0f}"
                f"{o['spikes']:>17,.0f}{o['cores']:>7}"
            )
    print(
        f"\nfit (Intel's frame): dynamic scale {fit.dynamic_scale:.4f}, time scale "
        f"{fit.time_scale:.4f}, static chip power {fit.static_chip_w:.6f} W; by scenario: "
        + ", ".join(
            f"{k} {v['dynamic_scale']:.3f}/{v['time_scale']:.3f}"
            for k, v in report["fits_by_scenario"].items()
        )
    )
    rows = (
        ("fps", "fps", 1.0, ".2f"),
        ("total power W", "total_power_w", 1.0, ".4f"),
        ("static power W", "static_power_w", 1.0, ".4f"),
        ("dynamic power W", "dynamic_power_w", 1.0, ".4f"),
        ("energy/inf mJ", "energy_per_inference_j", 1e3, ".4f"),
        ("dyn energy/inf mJ", "dynamic_energy_per_inference_j", 1e3, ".4f"),
    )
    for net, measured in (("lif", PILOTNET_LIF), ("sdnn", PILOTNET_SDNN)):
        scen = report[net]["scenarios"]
        bound = " (fps host-bound: measured fps used)" if measured.host_bound else ""
        print(f"\n{measured.name}: measured vs ranvier (profile {LOIHI2.name}){bound}")
        print(f"{'quantity':<20}{'measured':>11}" + "".join(f"{k:>22}" for k in scen))
        for label, key, scale, fmt in rows:
            m = scen[next(iter(scen))]["compare"][key]["measured"] * scale
            cells = "".join(
                f"{s['compare'][key]['ranvier'] * scale:>13{fmt}} "
                f"{_pct(s['compare'][key]['error'])}"
                for s in scen.values()
            )
            print(f"{label:<20}{m:>11{fmt}}{cells}")
    return 0 if tables_equal else 1


if __name__ == "__main__":
    raise SystemExit(main())
