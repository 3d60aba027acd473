"""The layering of docs/architecture.md, checked on the source: which stage may import which.

Every import statement of every module (module level and inside functions: lazy imports count
too) is read with ``ast``, relative imports resolved, and checked against ``ALLOWED``. A
forbidden import fails here with the file, the line and the rule it breaks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: folder -> import name, as pyproject.toml maps them
PACKAGES = {
    "hw_models": "ranvier.hw_models",
    "convert": "ranvier.convert",
    "deploy": "ranvier.deploy",
    "train": "ranvier.train",
    "testing": "ranvier.testing",
    "ranvier": "ranvier",
}

#: stage -> the ranvier stages it may import (its own always allowed)
ALLOWED = {
    "ranvier.hw_models": set(),
    "ranvier.convert": {"ranvier.hw_models"},
    "ranvier.deploy": {"ranvier.hw_models", "ranvier.convert"},
    "ranvier.train": {"ranvier.hw_models", "ranvier.convert"},
    "ranvier.testing": {"ranvier.hw_models", "ranvier.convert"},
    # the command and the public API sit on top and may use every stage
    "ranvier": {
        "ranvier.hw_models",
        "ranvier.convert",
        "ranvier.deploy",
        "ranvier.train",
        "ranvier.testing",
    },
}

#: third-party packages only some stages may import
RESTRICTED_THIRD_PARTY = {
    "torch": {"ranvier.train"},  # `ranvier run` works without torch
    # netx files are read and written in convert; train reads the SHD/SSC HDF5 datasets
    "h5py": {"ranvier.convert", "ranvier.train"},
    "lava": {"ranvier.deploy"},  # the reference backend only
    "matplotlib": {"ranvier.deploy"},  # plots belong to the report
}


def _stage(module: str) -> str:
    """The stage a dotted ranvier module belongs to (longest package prefix)."""
    for name in sorted(PACKAGES.values(), key=len, reverse=True):
        if module == name or module.startswith(name + "."):
            return name
    return module


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT)
    base = PACKAGES[rel.parts[0]]
    parts = list(rel.with_suffix("").parts[1:])
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([base, *parts])


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """``(line, absolute module, imported names)`` of every import in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((node.lineno, target, [alias.name for alias in node.names]))
    return out


def _sources() -> list[Path]:
    return sorted(p for folder in PACKAGES for p in (ROOT / folder).rglob("*.py"))


def layering_violations(paths: list[Path]) -> list[str]:
    """One line per import that breaks a rule of ``ALLOWED``/``RESTRICTED_THIRD_PARTY``, or
    that takes a private name (``_x``) from another module."""
    bad = []
    for path in paths:
        module = _module_name(path)
        stage = _stage(module)
        where = f"{path.relative_to(ROOT)}"
        for line, target, names in _imports(path):
            top = target.split(".")[0]
            if top == "ranvier":
                other = _stage(target)
                if other != stage and other not in ALLOWED[stage]:
                    bad.append(f"{where}:{line}: {stage} may not import {target}")
                private = [n for n in names if n.startswith("_") and not n.startswith("__")]
                if private and target != module:
                    bad.append(f"{where}:{line}: private {', '.join(private)} from {target}")
            elif top in RESTRICTED_THIRD_PARTY and stage not in RESTRICTED_THIRD_PARTY[top]:
                bad.append(f"{where}:{line}: {stage} may not import {top}")
    return bad


def test_every_stage_imports_only_what_the_architecture_allows():
    paths = _sources()
    assert len(paths) > 30  # the walk found the tree
    assert layering_violations(paths) == []


def test_the_check_fails_on_a_forbidden_import(tmp_path, monkeypatch):
    """A hw_models module importing torch, deploy, or a private name is caught (the rules
    are live, not vacuous)."""
    fake = ROOT / "hw_models" / "_layering_probe.py"
    text = (
        "import torch\n"
        "from ranvier.deploy import run_network\n"
        "def f():\n"
        "    from ..train.model import SpikingNet\n"
        "    from ranvier.convert.netx_hdf5 import _read_str\n"
    )
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: text)
    lines = layering_violations([fake])
    assert lines == [
        "hw_models/_layering_probe.py:1: ranvier.hw_models may not import torch",
        "hw_models/_layering_probe.py:2: ranvier.hw_models may not import ranvier.deploy",
        "hw_models/_layering_probe.py:4: ranvier.hw_models may not import ranvier.train.model",
        "hw_models/_layering_probe.py:5: ranvier.hw_models may not import ranvier.convert."
        "netx_hdf5",
        "hw_models/_layering_probe.py:5: private _read_str from ranvier.convert.netx_hdf5",
    ]


@pytest.mark.parametrize("stage", sorted(ALLOWED))
def test_no_cycle_between_stages(stage):
    """The allowed-imports graph itself has no cycle (below the command/API layer)."""
    seen, stack = set(), [stage]
    while stack:
        for nxt in ALLOWED[stack.pop()]:
            assert nxt != stage or stage == "ranvier", f"cycle through {stage}"
            if nxt not in seen and nxt != "ranvier":
                seen.add(nxt)
                stack.append(nxt)
