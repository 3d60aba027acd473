"""Every malformed netx file is refused with one NetFileError line naming the file and field."""

from __future__ import annotations

import numpy as np
import pytest
from ranvier.convert import NetFileError, read_netx


def test_small_net_reads(small_net):
    """Control: the file every broken case is derived from is valid."""
    net = read_netx(small_net)
    assert net.n_in == 6
    assert net.layer_sizes == [5, 4]
    assert net.blocks[0].synapse.delay is not None
    assert np.all(net.blocks[1].synapse.delay == 3)


def test_bad_net_file_is_refused_with_one_line(bad_net_case, one_line_error):
    with pytest.raises(NetFileError) as info:
        read_netx(bad_net_case.path)
    one_line_error(str(info.value), bad_net_case.path, bad_net_case.expect)


def test_net_file_error_is_a_value_error():
    assert issubclass(NetFileError, ValueError)
