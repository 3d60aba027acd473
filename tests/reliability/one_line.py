"""The reliability suite's check of a failed command: its exit status and one stderr line."""

from __future__ import annotations


def one_line(result, expect: list[str], code: int = 2) -> str:
    """Assert ``result`` (a CliRunner result) exited ``code`` with exactly one stderr line,
    no traceback, holding every text of ``expect``; return the line."""
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for text in expect:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    return lines[0]


def as_from_a_terminal() -> None:
    """``preexec_fn`` for a child that must react to Ctrl-C as one started from a terminal:
    SIGINT at its default disposition. A test run started in the background (``cmd &`` in a
    non-interactive shell, as some CI launchers do) inherits SIGINT *ignored*, and Python then
    installs no KeyboardInterrupt handler in the children, so a test's SIGINT would be lost."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
