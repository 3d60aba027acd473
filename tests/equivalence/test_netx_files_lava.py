"""Every real netx file of the lava-dl repository, on ranvier and on lava, every layer exact.

The files (tests/equivalence/data/README.md lists their sources) run through ``read_netx`` +
``simulate`` and through lava-dl's own netx ``Network`` under lava-nc's fixed_pt models
(``ranvier.deploy.lava.run_lava``: a RingBuffer source into the first layer -- the input
neurons' ``a_in`` for an input layer with neurons, as Intel's tests and tutorials drive it --
and a sink on every layer). Inputs are the files' own where lava-dl ships them (PilotNet's
frame, the tiny net's input image), else seeded random ones. Zero differing entries on every
layer (spikes, and graded payloads for sigma-delta layers) is the only pass.

``RANVIER_NETX_STEPS`` sets the steps per run (default 10; PilotNet on lava costs ~8 s per
step on 2 cores); a summary line per file is printed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from ranvier.convert import read_netx
from ranvier.deploy import lava as lava_backend
from ranvier.hw_models import simulate

pytestmark = pytest.mark.equivalence

if not lava_backend.lava_available():  # pragma: no cover - depends on the environment
    pytest.skip("lava-nc/lava-dl not installed: run `make equivalence`", allow_module_level=True)

DATA = Path(__file__).parent / "data"
STEPS = int(os.environ.get("RANVIER_NETX_STEPS", "10"))


def _image_input(network, image: np.ndarray, steps: int) -> np.ndarray:
    """One sample: the network's input shape held for ``steps`` steps, flat ``(1, C, T)``."""
    assert image.shape == network.input_shape, (image.shape, network.input_shape)
    flat = image.reshape(-1).astype(np.int64)
    return np.repeat(flat[None, :, None], steps, axis=2)


def _transformed_images(network, samples: int, steps: int, seed: int) -> np.ndarray:
    """Seeded stand-in images through netx's input transform (``2 w x - w + b``, int32), as
    Intel's data loaders feed the input neurons; ``(N, C, T)``."""
    rng = np.random.default_rng(seed)
    transform = network.meta.get("input_transform", {"weight": 64, "bias": 0})
    pixels = rng.random((samples, network.n_in, 1))
    w, b = transform["weight"], transform["bias"]
    values = (2 * w * pixels - w + b).astype(np.int32).astype(np.int64)
    return np.repeat(values, steps, axis=2)


def _compare(path: Path, x: np.ndarray, reset: tuple[int, int] | None = None) -> dict:
    network = read_netx(path)
    ours = simulate(network, x, reset=reset)
    theirs = lava_backend.run_lava(path, x, reset=reset)
    assert len(theirs) == len(ours.layers)
    rows = []
    for i, (mine, ref) in enumerate(zip(ours.layers, theirs, strict=True)):
        assert mine.spikes.shape == ref.shape, (i, mine.spikes.shape, ref.shape)
        assert mine.spikes.dtype == ref.dtype, (i, mine.spikes.dtype, ref.dtype)
        diff = int(np.count_nonzero(mine.spikes != ref))
        rows.append((i, int(np.count_nonzero(ref)), int(ref.size), diff))
    total = sum(r[3] for r in rows)
    active = sum(1 for r in rows if r[1])
    print(
        f"\n{path.name}: {len(rows)} layers ({active} active), "
        f"{sum(r[2] for r in rows):,} entries, {sum(r[1] for r in rows):,} non-zero, "
        f"{total} differing"
    )
    detail = [f"layer {i}: {d} of {n} entries differ" for i, _, n, d in rows if d]
    assert total == 0, "; ".join(detail)
    return {"layers": len(rows), "active": active}


def test_pilotnet_lif_on_its_own_frame():
    """PilotNet LIF (input neurons, 5 conv, flatten, 4 dense) on the frame lava-dl ships with
    its test ground truth, held on the input neurons' a_in."""
    path = DATA / "intel_pilotnet_lif.net"
    network = read_netx(path)
    image = np.load(DATA / "intel_pilotnet_lif_image.npy")
    result = _compare(path, _image_input(network, image, STEPS))
    assert result["active"] >= 8  # the spikes reach deep into the network


def test_pilotnet_lif_streamed_with_reset():
    """Two stand-in frames of 6 steps streamed back to back with netx's reset_interval (the
    tutorial's setting, pipelined per layer), one sample of 12 steps."""
    path = DATA / "intel_pilotnet_lif.net"
    network = read_netx(path)
    frames = _transformed_images(network, 2, 6, seed=3)
    x = np.concatenate([frames[0], frames[1]], axis=1)[None]
    _compare(path, x, reset=(6, 1))


def test_tiny_conv_net():
    """lava-dl's tiny conv net (tests/lava/lib/dl/netx/tiny.net): input neurons, two strided
    5x5 convs; its ground-truth input image (input_bias.npy) held on the input neurons."""
    path = DATA / "intel_tiny.net"
    network = read_netx(path)
    image = np.load(DATA / "intel_tiny_input_bias.npy").astype(np.int64)
    _compare(path, _image_input(network, image, 3 * STEPS))


def test_tiny_conv_net_seeded_batch_with_reset():
    path = DATA / "intel_tiny.net"
    network = read_netx(path)
    _compare(path, _transformed_images(network, 2, 2 * STEPS, seed=5), reset=(8, 3))


def test_bootstrap_mnist():
    """The bootstrap MNIST tutorial's network: CUBA input neurons, dense 784-512-512-10 with a
    default (neuron-less) read-out layer."""
    path = DATA / "intel_bootstrap_mnist.net"
    network = read_netx(path)
    assert network.blocks[-1].default_neurons
    _compare(path, _transformed_images(network, 3, 2 * STEPS, seed=7))


@pytest.mark.parametrize("name", ["intel_mnist.net", "intel_oxford.net"])
def test_dense_tutorial_nets(name):
    """The netx MNIST and Oxford tutorial networks (dense CUBA, unary input)."""
    path = DATA / name
    network = read_netx(path)
    rng = np.random.default_rng(11)
    x = (rng.random((2, network.n_in, 3 * STEPS)) < 0.1).astype(np.int64)
    _compare(path, x)


def test_pilotnet_sdnn_on_its_own_input():
    """PilotNet SDNN (Delta input encoder, SigmaDelta conv/dense, Sigma decoder; 16-bit graded
    payloads) on the input lava-dl's test ships, held for the run as Intel's test does."""
    path = DATA / "intel_pilotnet_sdnn.net"
    network = read_netx(path)
    image = np.load(DATA / "intel_pilotnet_sdnn_input.npy")[..., 0]
    result = _compare(path, _image_input(network, image, STEPS))
    assert result["active"] == result["layers"]


@pytest.mark.parametrize(
    "name",
    [
        "intel_pilotnet_sdnn_square.net",
        "intel_pilotnet_sdnn_tutorial.net",
        "intel_slayer_pilotnet_sdnn.net",
    ],
)
def test_other_pilotnet_sdnn_files(name):
    """The other sigma-delta PilotNets of lava-dl (square input, the netx tutorial's, the
    SLAYER tutorial's): seeded frames that change every 4 steps, so deltas keep flowing."""
    path = DATA / name
    network = read_netx(path)
    rng = np.random.default_rng(13)
    frames = rng.integers(-60, 70, size=(1, network.n_in, -(-STEPS // 4)))
    x = np.repeat(frames, 4, axis=2)[:, :, :STEPS]
    _compare(path, x)
