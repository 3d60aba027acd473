"""Build the fused neuron library into ``train/fused/build/`` (``make install`` runs this).

    python -m ranvier.train.fused.build [--force] [--quiet]

Compiles ``neurons.cpp`` with ``torch.utils.cpp_extension.load`` (ninja, g++), loads it once
to check it, and writes ``build/stamp.json`` with the build key; ``ranvier.train.fused``
loads the library only while that key matches the source, flags and torch version.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from torch.utils import cpp_extension

from . import BUILD_DIR, LDFLAGS, NAME, SOURCE, STAMP, build_key, compile_flags


def _ninja_on_path() -> None:
    """Put the pip-installed ninja (and this interpreter's bin/) first on PATH: torch runs
    ``ninja`` by name, and make does not activate the virtualenv."""
    dirs = [str(Path(sys.executable).parent)]
    try:
        import ninja

        dirs.insert(0, str(ninja.BIN_DIR))
    except (ImportError, AttributeError):
        pass
    os.environ["PATH"] = os.pathsep.join([*dirs, os.environ.get("PATH", "")])


def build(force: bool = False, verbose: bool = True) -> str:
    """Build (if the stamp is stale or ``force``) and return the library's path."""
    key = build_key()
    if not force and STAMP.exists():
        stamp = json.loads(STAMP.read_text())
        if stamp.get("key") == key and (BUILD_DIR / stamp["library"]).exists():
            STAMP.touch()  # newer than the Makefile's prerequisites
            if verbose:
                print(f"fused neurons: up to date ({BUILD_DIR / stamp['library']})")
            return str(BUILD_DIR / stamp["library"])
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    STAMP.unlink(missing_ok=True)
    _ninja_on_path()
    start = time.perf_counter()
    path = cpp_extension.load(
        name=NAME,
        sources=[str(SOURCE)],
        build_directory=str(BUILD_DIR),
        extra_cflags=compile_flags(),
        extra_ldflags=list(LDFLAGS),
        is_python_module=False,
        verbose=False,
    )
    library = f"{NAME}.so" if path is None else str(path)
    library = library.rsplit("/", 1)[-1]
    STAMP.write_text(json.dumps({"key": key, "library": library}) + "\n")
    if verbose:
        print(f"fused neurons: built {BUILD_DIR / library} in {time.perf_counter() - start:.0f} s")
    return str(BUILD_DIR / library)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    build(force=args.force, verbose=not args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
