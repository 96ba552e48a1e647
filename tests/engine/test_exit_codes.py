"""The one definition of exit statuses (engine.errors.ExitCode) and the shell's status
of a command ended by a signal."""
from __future__ import annotations

import signal

from engine.processes.supervisor import ExitCode, exit_status


def test_exit_codes_are_the_documented_statuses():
    assert [int(c) for c in ExitCode] == [0, 1, 2, 129, 130, 143]
    assert ExitCode.INPUT == 2 and ExitCode.INTERRUPTED == 130 and ExitCode.TERMINATED == 143


def test_exit_status_of_a_signal_is_an_exit_code():
    assert exit_status(signal.SIGINT) is ExitCode.INTERRUPTED
    assert exit_status(signal.SIGTERM) is ExitCode.TERMINATED
    assert exit_status(signal.SIGHUP) is ExitCode.HANGUP
    assert exit_status(signal.SIGUSR1) == 128 + signal.SIGUSR1  # no name: the plain status
