"""``ranvier run --backend lava`` through the CLI, in a real process: lava-dl's import-time
warnings and netx's ``optimize_weight_bits`` prints go to stderr, so ``--json`` stays a
parseable document, and its counts equal the simulator's."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from ranvier.deploy import lava as lava_backend

pytestmark = pytest.mark.equivalence

if not lava_backend.lava_available():  # pragma: no cover - depends on the environment
    pytest.skip("lava-nc/lava-dl not installed: run `make equivalence`", allow_module_level=True)


def _run(*args: str) -> subprocess.CompletedProcess:
    code = "import sys; from ranvier.cli import main; sys.argv[0] = 'ranvier'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600
    )


def test_lava_backend_json_is_clean_and_equals_the_simulator(example_net, example_input):
    common = ["run", str(example_net), "--input", str(example_input), "--json"]
    lava = _run(*common, "--backend", "lava")
    assert lava.returncode == 0, lava.stderr[-2000:]
    ours = _run(*common)
    assert ours.returncode == 0, ours.stderr[-2000:]
    theirs, mine = json.loads(lava.stdout), json.loads(ours.stdout)
    assert theirs["backend"] == "lava"
    assert sum(layer["spikes"] for layer in mine["layers"]) > 0
    for a, b in zip(theirs["layers"], mine["layers"], strict=True):
        assert (a["spikes"], a["synaptic_events"]) == (b["spikes"], b["synaptic_events"])
