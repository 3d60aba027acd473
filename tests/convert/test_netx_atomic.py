"""write_netx writes atomically: a failure midway leaves the destination as it was and no
temporary file behind."""

from __future__ import annotations

import os

import pytest
import ranvier.convert.netx_hdf5 as netx
from ranvier.convert import read_netx, write_netx


class BoomError(RuntimeError):
    pass


def fail_on_second_layer(monkeypatch, exc: BaseException) -> list[str]:
    """Let the first dense layer be written, then raise ``exc`` (a failure midway)."""
    real = netx._write_dense
    calls: list[str] = []

    def flaky(group, block):
        calls.append(block.name)
        if len(calls) == 2:
            raise exc
        real(group, block)

    monkeypatch.setattr(netx, "_write_dense", flaky)
    return calls


def listing(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize(
    "exc", [BoomError("disk on fire"), KeyboardInterrupt()], ids=["error", "ctrl-c"]
)
def test_failed_write_leaves_no_file(tmp_path, small_net, monkeypatch, exc):
    net = read_netx(small_net)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    calls = fail_on_second_layer(monkeypatch, exc)
    with pytest.raises(type(exc)):
        write_netx(net, out_dir / "net.h5")
    assert calls == ["layer_0", "layer_1"], "the failure must happen midway"
    assert listing(out_dir) == []


def test_failed_write_keeps_previous_content(tmp_path, small_net, monkeypatch):
    net = read_netx(small_net)
    dest = tmp_path / "previous.net"
    dest.write_bytes(b"previous content")
    before = listing(tmp_path)
    fail_on_second_layer(monkeypatch, BoomError("midway"))
    with pytest.raises(BoomError):
        write_netx(net, dest)
    assert dest.read_bytes() == b"previous content"
    assert listing(tmp_path) == before


def test_successful_write_replaces_and_leaves_only_the_file(tmp_path, small_net):
    net = read_netx(small_net)
    dest = tmp_path / "sub" / "dir" / "net.net"  # parents are created
    write_netx(net, dest)
    dest_old = dest.read_bytes()
    write_netx(net, dest)  # overwriting an existing file
    assert dest.read_bytes() == dest_old
    assert listing(dest.parent) == ["net.net"]
    assert read_netx(dest).layer_sizes == [5, 4]


def test_written_file_has_normal_permissions(tmp_path, small_net):
    """The temporary file comes from mkstemp (0600); the result must follow the umask."""
    net = read_netx(small_net)
    old = os.umask(0o022)
    try:
        write_netx(net, tmp_path / "net.net")
    finally:
        os.umask(old)
    assert (tmp_path / "net.net").stat().st_mode & 0o777 == 0o644
