"""The tiny training config the CLI tests train with (seconds on 2 cores): one hidden layer of
12 neurons with delays up to 6 on the built-in ``tempo`` task."""

from __future__ import annotations

from pathlib import Path

TINY_TRAINING = """
[model]
hidden = [12]
neuron = "{neuron}"
delays = "interp"
max_delay = 6
dropout = 0.0

[train]
epochs = 2
qat_epochs = 1
batch_size = 32
verify_samples = 24

[data]
dataset = "tempo"
train_samples = 48
valid_samples = 24
test_samples = 24
"""


def tiny_training_config(directory: Path, neuron: str = "ADLIF") -> Path:
    """Write the tiny config with ``neuron`` into ``directory``; its path."""
    path = Path(directory) / f"tiny_{neuron}.toml"
    path.write_text(TINY_TRAINING.format(neuron=neuron))
    return path
