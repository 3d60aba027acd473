"""Datasets as binned spike arrays: SHD/SSC from the Zenke-lab HDF5 files, and ``tempo``.

Every dataset is a :class:`SpikeDataset`: ``x`` uint8 ``(N, C, T)`` (time last), binary by
default (Loihi input spikes are binary), ``y`` int64 ``(N,)``. numpy and h5py only, so the
data layer works without torch. Nothing here downloads: a missing file raises
:class:`DatasetMissingError` saying where the file should be and where to get it.
See docs/datasets.md for the file layout, the binning and the design of ``tempo``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

#: Cochlea-model channels of SHD and SSC.
HSD_UNITS = 700
SHD_CLASSES = 20
SSC_CLASSES = 35
SHD_SPLITS = ("train", "test")
SSC_SPLITS = ("train", "valid", "test")
ZENKE_URL = "https://zenkelab.org/datasets/"
#: Samples binned per chunk: bounds the temporary index arrays, not the result.
_CHUNK = 512
#: Where ``load_dataset`` looks for SHD/SSC files when no directory is given.
DATA_DIR_ENV = "RANVIER_DATA"


class DatasetMissingError(FileNotFoundError):
    """A dataset file is not where it should be (datasets are never downloaded)."""


class DatasetFormatError(ValueError):
    """A dataset file exists but lacks a key or holds values outside the expected layout."""


@dataclass(eq=False)
class SpikeDataset:
    """Binned spikes ``x`` uint8 ``(N, C, T)`` and labels ``y`` int64 ``(N,)``."""

    x: np.ndarray
    y: np.ndarray
    n_classes: int
    name: str

    def __post_init__(self) -> None:
        self.x = np.asarray(self.x)
        self.y = np.asarray(self.y)
        if self.x.dtype != np.uint8 or self.x.ndim != 3:
            raise ValueError(
                f"{self.name}: x must be uint8 (N, C, T), got {self.x.dtype} {self.x.shape}"
            )
        if self.y.dtype != np.int64 or self.y.shape != (self.x.shape[0],):
            raise ValueError(
                f"{self.name}: y must be int64 ({self.x.shape[0]},), got "
                f"{self.y.dtype} {self.y.shape}"
            )
        if self.y.size and not (0 <= self.y.min() and self.y.max() < self.n_classes):
            raise ValueError(f"{self.name}: labels outside 0..{self.n_classes - 1}")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def channels(self) -> int:
        return int(self.x.shape[1])

    @property
    def steps(self) -> int:
        return int(self.x.shape[2])

    def subset(self, index: np.ndarray | slice) -> SpikeDataset:
        """The samples at ``index`` (a slice gives views, an index array copies)."""
        return SpikeDataset(self.x[index], self.y[index], self.n_classes, self.name)

    def split(self, fraction: float, seed: int = 0) -> tuple[SpikeDataset, SpikeDataset]:
        """``(first, rest)``: a deterministic split, stratified by class; ``first`` holds
        ``round(fraction * n_c)`` samples of each class ``c`` (``train, valid = ds.split(0.9)``)."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"split fraction {fraction} is outside [0, 1]")
        rng = np.random.default_rng(seed)
        first = [np.zeros(0, dtype=np.int64)]
        for c in range(self.n_classes):
            idx = np.flatnonzero(self.y == c)
            first.append(rng.permutation(idx)[: round(fraction * idx.size)])
        mask = np.zeros(len(self), dtype=bool)
        mask[np.concatenate(first)] = True
        return self.subset(np.flatnonzero(mask)), self.subset(np.flatnonzero(~mask))

    def batches(
        self,
        batch_size: int,
        shuffle: bool = False,
        rng: np.random.Generator | int | None = None,
        drop_last: bool = False,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(x, y)`` batches; ``shuffle`` needs ``rng`` (a Generator, kept across epochs,
        or a seed) so that the order is reproducible and differs between epochs."""
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        n = len(self)
        if shuffle:
            if rng is None:
                raise ValueError("shuffle=True needs rng (a numpy Generator or a seed)")
            order = np.random.default_rng(rng).permutation(n)
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            end = min(start + batch_size, stop)
            if shuffle:
                idx = order[start:end]
                yield self.x[idx], self.y[idx]
            else:
                yield self.x[start:end], self.y[start:end]


# --- binning ----------------------------------------------------------------------------------


def _bin_chunk(
    out: np.ndarray,
    times: Sequence[np.ndarray],
    units: Sequence[np.ndarray],
    *,
    n_units: int,
    bin_ms: float,
    steps: int,
    binary: bool,
) -> None:
    """Bin one chunk of samples into ``out`` (uint8 ``(n, C, T_out)``, zeroed, contiguous)."""
    if not out.flags.c_contiguous:
        raise ValueError("_bin_chunk needs a C-contiguous output block")
    n, channels, t_out = out.shape
    lengths = np.fromiter((len(t) for t in times), dtype=np.int64, count=n)
    u_lengths = np.fromiter((len(u) for u in units), dtype=np.int64, count=n)
    if not np.array_equal(lengths, u_lengths):
        bad = int(np.flatnonzero(lengths != u_lengths)[0])
        raise DatasetFormatError(f"sample {bad}: {lengths[bad]} times but {u_lengths[bad]} units")
    if lengths.sum() == 0:
        return
    t = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in times])
    u = np.concatenate([np.asarray(a).ravel() for a in units]).astype(np.int64)
    if u.min() < 0 or u.max() >= n_units:
        raise DatasetFormatError(
            f"unit index outside 0..{n_units - 1} (found {u.min()}..{u.max()})"
        )
    sample = np.repeat(np.arange(n, dtype=np.int64), lengths)
    # Bins are half-open [k bin, (k+1) bin). Times are rounded to whole microseconds first,
    # so an event exactly on an edge (0.03 s with 10 ms bins) lands in the later bin instead
    # of wherever float rounding of 0.03 / 0.01 puts it.
    k = np.floor(np.rint(t * 1e6) / (bin_ms * 1e3)).astype(np.int64)
    keep = (k >= 0) & (k < steps)
    channel = u * channels // n_units  # adjacent units pooled: 700 -> 140 is unit // 5
    flat = ((sample * channels + channel) * t_out + k)[keep]
    if binary:
        out.reshape(-1)[flat] = 1
    else:
        counts = np.bincount(flat, minlength=out.size)
        out.reshape(-1)[:] = np.minimum(counts, np.iinfo(np.uint8).max)


def _check_binning(
    channels: int, bin_ms: float, steps: int, pad: int, n_units: int = HSD_UNITS
) -> None:
    if not 1 <= channels <= n_units:
        raise ValueError(f"channels must lie in 1..{n_units}, got {channels}")
    if not bin_ms > 0 or steps < 1 or pad < 0:
        raise ValueError(f"need bin_ms > 0, steps >= 1, pad >= 0 (got {bin_ms}, {steps}, {pad})")


def bin_spikes(
    times: Sequence[np.ndarray],
    units: Sequence[np.ndarray],
    *,
    n_units: int = HSD_UNITS,
    channels: int = 140,
    bin_ms: float = 10.0,
    steps: int = 100,
    pad: int = 0,
    binary: bool = True,
) -> np.ndarray:
    """Bin event lists (one array of times in seconds and one of unit indices per sample)
    into uint8 ``(N, channels, steps + pad)``.

    Unit ``u`` goes to channel ``u * channels // n_units``; an event at time ``t`` to bin
    ``floor(t / bin_ms)``; bins at or after ``steps`` (and negative times) are dropped; ``pad``
    zero steps are appended. ``binary`` clips counts to 1, otherwise counts saturate at 255.
    """
    _check_binning(channels, bin_ms, steps, pad, n_units)
    n = len(times)
    if len(units) != n:
        raise DatasetFormatError(f"{n} time arrays but {len(units)} unit arrays")
    out = np.zeros((n, channels, steps + pad), dtype=np.uint8)
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        _bin_chunk(
            out[start:stop],
            times[start:stop],
            units[start:stop],
            n_units=n_units,
            bin_ms=bin_ms,
            steps=steps,
            binary=binary,
        )
    return out


# --- SHD / SSC --------------------------------------------------------------------------------


def hsd_path(data_dir: str | Path, dataset: str, split: str) -> Path:
    """The expected file: ``DIR/shd_train.h5`` and so on."""
    return Path(data_dir) / f"{dataset}_{split}.h5"


def _require_file(path: Path) -> None:
    """DatasetMissingError (one line) unless ``path`` is a file."""
    if path.is_file():
        return
    gz = path.with_name(path.name + ".gz")
    if gz.is_file():
        raise DatasetMissingError(
            f"{path} not found, but {gz} is there: decompress it with `gunzip -k {gz}` "
            f"(ranvier reads only the uncompressed .h5 and never decompresses silently)"
        )
    raise DatasetMissingError(
        f"{path} not found (datasets are never downloaded): download {path.name}.gz from "
        f"{ZENKE_URL} and gunzip it into {path.parent}"
    )


def _load_hsd(
    dataset: str,
    data_dir: str | Path,
    split: str,
    splits: tuple[str, ...],
    n_classes: int,
    *,
    channels: int,
    bin_ms: float,
    steps: int,
    pad: int,
    limit: int | None,
    binary: bool,
) -> SpikeDataset:
    if split not in splits:
        hint = " (SHD has no validation split: use SpikeDataset.split)" if dataset == "shd" else ""
        raise ValueError(f"{dataset}: unknown split {split!r}; choose {', '.join(splits)}{hint}")
    _check_binning(channels, bin_ms, steps, pad)
    path = hsd_path(data_dir, dataset, split)
    _require_file(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise DatasetFormatError(f"{path}: not a readable HDF5 file ({exc})") from None
    with f:
        for key in ("spikes/times", "spikes/units", "labels"):
            if key not in f or not isinstance(f[key], h5py.Dataset):
                raise DatasetFormatError(
                    f"{path}: missing key '{key}' (expected the Zenke-lab layout "
                    f"spikes/times, spikes/units, labels)"
                )
        times_ds, units_ds, labels_ds = f["spikes/times"], f["spikes/units"], f["labels"]
        n = len(labels_ds) if limit is None else min(int(limit), len(labels_ds))
        if len(times_ds) < n or len(units_ds) < n:
            raise DatasetFormatError(
                f"{path}: {len(labels_ds)} labels but {len(times_ds)} spikes/times and "
                f"{len(units_ds)} spikes/units"
            )
        y = np.asarray(labels_ds[:n]).astype(np.int64)
        if n and (y.min() < 0 or y.max() >= n_classes):
            raise DatasetFormatError(f"{path}: labels outside 0..{n_classes - 1} in 'labels'")
        x = np.zeros((n, channels, steps + pad), dtype=np.uint8)
        for start in range(0, n, _CHUNK):
            stop = min(start + _CHUNK, n)
            try:
                _bin_chunk(
                    x[start:stop],
                    times_ds[start:stop],
                    units_ds[start:stop],
                    n_units=HSD_UNITS,
                    bin_ms=bin_ms,
                    steps=steps,
                    binary=binary,
                )
            except DatasetFormatError as exc:
                raise DatasetFormatError(f"{path}: samples {start}..{stop - 1}: {exc}") from None
    return SpikeDataset(x, y, n_classes, f"{dataset}-{split}")


def load_shd(
    data_dir: str | Path,
    split: str,
    *,
    channels: int = 140,
    bin_ms: float = 10.0,
    steps: int = 100,
    pad: int = 0,
    limit: int | None = None,
    binary: bool = True,
) -> SpikeDataset:
    """Spiking Heidelberg Digits (20 classes), split ``train`` or ``test``, binned as the seed
    (140 channels, 10 ms bins, 100 steps), right-padded with ``pad`` zero steps."""
    return _load_hsd(
        "shd",
        data_dir,
        split,
        SHD_SPLITS,
        SHD_CLASSES,
        channels=channels,
        bin_ms=bin_ms,
        steps=steps,
        pad=pad,
        limit=limit,
        binary=binary,
    )


def load_ssc(
    data_dir: str | Path,
    split: str,
    *,
    channels: int = 140,
    bin_ms: float = 10.0,
    steps: int = 100,
    pad: int = 0,
    limit: int | None = None,
    binary: bool = True,
) -> SpikeDataset:
    """Spiking Speech Commands (35 classes), split ``train``, ``valid`` or ``test``, binned
    like :func:`load_shd`."""
    return _load_hsd(
        "ssc",
        data_dir,
        split,
        SSC_SPLITS,
        SSC_CLASSES,
        channels=channels,
        bin_ms=bin_ms,
        steps=steps,
        pad=pad,
        limit=limit,
        binary=binary,
    )


# --- the built-in temporal task ---------------------------------------------------------------

#: The eight channel groups of ``tempo``: pattern symbols A B C, cue symbols X Y, distractor
#: symbols D E F. Group g holds channels ``g * width .. (g+1) * width - 1``.
TEMPO_SYMBOLS = ("A", "B", "C", "X", "Y", "D", "E", "F")
_A, _B, _C, _X, _Y, _D = 0, 1, 2, 3, 4, 5
#: Short and long inter-event intervals (steps), before jitter.
TEMPO_SHORT, TEMPO_LONG = 5, 11
#: Patterns: (order of the three symbols, first interval, second interval), indexed
#: ``4 * long1 + 2 * long2 + reversed``. Patterns 2k and 2k+1 share both intervals and differ
#: only in the order (A B C or C B A); their labels swap when the cue is Y.
TEMPO_PATTERNS = tuple(
    (order, d1, d2)
    for d1 in (TEMPO_SHORT, TEMPO_LONG)
    for d2 in (TEMPO_SHORT, TEMPO_LONG)
    for order in ((_A, _B, _C), (_C, _B, _A))
)
TEMPO_CLASSES = len(TEMPO_PATTERNS)
#: Cue time (inclusive range), cue-to-pattern gap (inclusive range), event-time jitter.
TEMPO_CUE = (2, 8)
TEMPO_GAP = (28, 40)
TEMPO_JITTER = 1
#: Length of the cue burst (steps).
TEMPO_CUE_LEN = 4
#: Probability that a channel of a symbol's group fires at an event of that symbol.
TEMPO_P_CHANNEL = 0.8
#: Background Poisson rate (spikes per channel per step).
TEMPO_NOISE = 0.01
#: Distractor events per trial on D/E/F (Poisson mean), and the chance of one extra
#: A/B/C event at a random time.
TEMPO_DISTRACTORS = 1.5
TEMPO_P_EXTRA = 0.25
TEMPO_CHANNELS = 32
TEMPO_STEPS = 80
#: Last step an event can occupy, plus a margin for the network to respond.
TEMPO_MIN_STEPS = TEMPO_CUE[1] + TEMPO_GAP[1] + 2 * TEMPO_LONG + TEMPO_JITTER + 4


def tempo_events(
    n_samples: int, rng: np.random.Generator, steps: int = TEMPO_STEPS
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The events of ``n_samples`` trials: ``(labels, symbol, time, active)``, the last three
    ``(n_samples, E)`` for E event slots: the cue burst (``TEMPO_CUE_LEN`` slots), the A/B/C
    events in pattern order, then the distractors."""
    y = rng.integers(0, TEMPO_CLASSES, n_samples)
    cue_y = rng.integers(0, 2, n_samples)  # 0: cue X, 1: cue Y
    pattern = y ^ cue_y  # under cue Y the labels of patterns 2k and 2k+1 swap
    table = np.array([(*order, d1, d2) for order, d1, d2 in TEMPO_PATTERNS])[pattern]
    t_cue = rng.integers(TEMPO_CUE[0], TEMPO_CUE[1] + 1, n_samples)
    t1 = t_cue + rng.integers(TEMPO_GAP[0], TEMPO_GAP[1] + 1, n_samples)
    t2 = t1 + table[:, 3]
    t3 = t2 + table[:, 4]
    jitter = rng.integers(-TEMPO_JITTER, TEMPO_JITTER + 1, (n_samples, 4))
    t_cue = t_cue + jitter[:, 0]
    # The cue is a burst of TEMPO_CUE_LEN consecutive steps on X or Y.
    cue_sym = np.repeat(np.where(cue_y == 0, _X, _Y)[:, None], TEMPO_CUE_LEN, axis=1)
    cue_t = t_cue[:, None] + np.arange(TEMPO_CUE_LEN)
    main_sym = np.column_stack([cue_sym, table[:, :3]])
    main_t = np.column_stack([cue_t, np.column_stack([t1, t2, t3]) + jitter[:, 1:]])
    # Distractors: up to 5 events on D/E/F, and one optional extra A/B/C event.
    n_slots = 5
    n_dis = np.minimum(rng.poisson(TEMPO_DISTRACTORS, n_samples), n_slots)
    dis_sym = rng.integers(_D, _D + 3, (n_samples, n_slots))
    dis_active = np.arange(n_slots) < n_dis[:, None]
    extra_sym = rng.integers(_A, _C + 1, (n_samples, 1))
    extra_active = rng.random((n_samples, 1)) < TEMPO_P_EXTRA
    free_t = rng.integers(0, steps - 4, (n_samples, n_slots + 1))
    symbol = np.concatenate([main_sym, dis_sym, extra_sym], axis=1)
    time = np.concatenate([main_t, free_t], axis=1)
    active = np.concatenate([np.ones_like(main_sym, dtype=bool), dis_active, extra_active], axis=1)
    return y.astype(np.int64), symbol, time, active


def temporal_task(
    n_samples: int,
    *,
    seed: int,
    channels: int = TEMPO_CHANNELS,
    steps: int = TEMPO_STEPS,
    pad: int = 0,
) -> SpikeDataset:
    """``tempo``: 8 classes coded by event intervals and an early cue (docs/datasets.md).

    Deterministic for ``seed``. ``channels`` (>= 8) are split into 8 equal groups (the rest
    carry only noise); ``steps`` must be at least ``TEMPO_MIN_STEPS``; ``pad`` zero steps
    are appended.
    """
    if channels < len(TEMPO_SYMBOLS):
        raise ValueError(f"tempo needs channels >= {len(TEMPO_SYMBOLS)}, got {channels}")
    if steps < TEMPO_MIN_STEPS:
        raise ValueError(f"tempo needs steps >= {TEMPO_MIN_STEPS}, got {steps}")
    if n_samples < 0 or pad < 0:
        raise ValueError("n_samples and pad must be >= 0")
    rng = np.random.default_rng(seed)
    y, symbol, time, active = tempo_events(n_samples, rng, steps)
    width = channels // len(TEMPO_SYMBOLS)
    x = (rng.random((n_samples, channels, steps)) < TEMPO_NOISE).astype(np.uint8)
    # Each event lights every channel of its group with probability TEMPO_P_CHANNEL.
    fire = active[:, :, None] & (rng.random((*symbol.shape, width)) < TEMPO_P_CHANNEL)
    sample, slot, j = np.nonzero(fire)
    x[sample, symbol[sample, slot] * width + j, time[sample, slot]] = 1
    if pad:
        x = np.concatenate([x, np.zeros((n_samples, channels, pad), np.uint8)], axis=2)
    return SpikeDataset(x, y, TEMPO_CLASSES, "tempo")


#: Built-in tasks, by name.
TASKS = {"tempo": temporal_task}
#: Default sizes of the built-in tasks' splits.
TASK_SPLIT_SIZES = {"train": 2000, "valid": 500, "test": 500}
_SPLIT_KEYS = {"train": 0, "valid": 1, "test": 2}


def known_datasets() -> tuple[str, ...]:
    """The names :func:`load_dataset` takes: ``shd``, ``ssc`` and the built-in tasks."""
    return ("shd", "ssc", *TASKS)


def dataset_shape(name: str, channels: int, steps: int) -> tuple[int, int, int]:
    """``(channels, steps, classes)`` of a dataset's samples before padding, known without
    reading it: SHD/SSC as binned (``channels``, ``steps``), a built-in task its own."""
    if name in ("shd", "ssc"):
        return channels, steps, SHD_CLASSES if name == "shd" else SSC_CLASSES
    if name == "tempo":
        return TEMPO_CHANNELS, TEMPO_STEPS, TEMPO_CLASSES
    raise ValueError(f"unknown dataset {name!r}; choose {', '.join(known_datasets())}")


def split_seed(seed: int, split: str) -> int:
    """The sampling seed of a built-in task's split: distinct per split, fixed per ``seed``."""
    if split not in _SPLIT_KEYS:
        raise ValueError(f"unknown split {split!r}; choose {', '.join(_SPLIT_KEYS)}")
    return int(np.random.SeedSequence([int(seed), _SPLIT_KEYS[split]]).generate_state(1)[0])


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    split: str = "train",
    *,
    seed: int = 0,
    n_samples: int | None = None,
    **options: object,
) -> SpikeDataset:
    """Load ``shd``, ``ssc`` or a built-in task (``TASKS``) by name.

    SHD/SSC read ``data_dir`` (default ``$RANVIER_DATA`` or ``./data``) and take the binning
    options ``channels``, ``bin_ms``, ``steps``, ``pad``, ``limit``, ``binary``; ``seed`` and
    ``n_samples`` do not apply to them. A built-in task draws ``n_samples`` (default
    ``TASK_SPLIT_SIZES[split]``) from a seed derived from ``seed`` and ``split``, takes
    ``channels``, ``steps``, ``pad`` and ``limit``, and ignores ``bin_ms`` and ``data_dir``.
    Options given as None take their defaults.
    """
    opts = {k: v for k, v in options.items() if v is not None}
    key = name.lower()
    if key in ("shd", "ssc"):
        directory = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV, "data")
        loader = load_shd if key == "shd" else load_ssc
        return loader(directory, split, **opts)  # type: ignore[arg-type]
    if key in TASKS:
        opts.pop("bin_ms", None)
        limit = opts.pop("limit", None)
        n = TASK_SPLIT_SIZES.get(split, 0) if n_samples is None else n_samples
        if limit is not None:
            n = min(n, int(limit))  # type: ignore[call-overload]
        return TASKS[key](n, seed=split_seed(seed, split), **opts)  # type: ignore[arg-type]
    raise ValueError(f"unknown dataset {name!r}; choose shd, ssc or {', '.join(TASKS)}")


__all__ = [
    "TASKS",
    "DatasetFormatError",
    "DatasetMissingError",
    "SpikeDataset",
    "bin_spikes",
    "dataset_shape",
    "known_datasets",
    "load_dataset",
    "load_shd",
    "load_ssc",
    "split_seed",
    "tempo_events",
    "temporal_task",
]
