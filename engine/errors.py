"""Errors that mean "the user's input or environment is wrong" (exit status 2), not "the code
broke", and the one boundary that turns any exception into one line and an exit status.

Every entry point (the CLI, the worker, the sweep coordinator, the app) ends its work with
`classify(exc)`: input and environment problems become the message that names the file or
field and the fix (exit 2); anything else is a bug, reported in one line (exit 1) while the
traceback goes to the log of the process that hit it.
"""
from __future__ import annotations

import enum
import errno
import signal
from contextlib import contextmanager
from pathlib import Path


class ExitCode(enum.IntEnum):
    """Every process's exit status: the headless commands', the worker's, the coordinator's."""
    OK = 0  # finished (a sweep: at least one trial finished)
    FAILED = 1  # training failed (NaN loss, a crash), or no trial finished
    INPUT = 2  # bad config, data, arguments or run directory: one line on stderr
    HANGUP = 128 + signal.SIGHUP  # 129: stopped by SIGHUP (a closed ssh session)
    INTERRUPTED = 128 + signal.SIGINT  # 130: stopped by Ctrl-C
    TERMINATED = 128 + signal.SIGTERM  # 143: stopped by SIGTERM (timeout, a batch scheduler)


MAX_MESSAGE = 400  # characters of a one-line message (a crash's text can be pages long)


class InputError(Exception):
    """Bad config, data file, CLI flag, checkpoint or run directory, or a file system that
    refuses what we need. The message is one line that names the field or file and says
    how to fix it."""


class ConfigError(InputError):
    pass


class DataError(InputError):
    pass


_REASONS = {
    errno.EACCES: "permission denied (not writable or not readable by you)",
    errno.EPERM: "operation not permitted (a read-only or immutable folder?)",
    errno.EROFS: "read-only file system",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a part of this path is a file, not a folder",
    errno.EISDIR: "is a folder, not a file",
    errno.EEXIST: "already exists and is not a folder",
    errno.ENAMETOOLONG: "file name too long",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EMFILE: "too many open files",
    errno.ELOOP: "too many levels of symbolic links",
    errno.EIO: "input/output error",
}


def os_reason(exc: OSError) -> str:
    """'permission denied (...)' for an OSError, in words a user can act on."""
    return _REASONS.get(exc.errno) or (exc.strerror or exc.__class__.__name__).lower()


def file_error(what: str, path, exc: OSError, fix: str) -> InputError:
    where = exc.filename if exc.filename not in (None, "") else path
    return InputError(one_line(f"{what}: {where}: {os_reason(exc)}; {fix}"))


@contextmanager
def os_errors(what: str, path, fix: str):
    """Turn an OSError raised inside the block into an InputError naming the path and the fix."""
    try:
        yield
    except InputError:
        raise
    except OSError as exc:
        raise file_error(what, path, exc, fix) from None


def one_line(text: str) -> str:
    """The first non-empty line of `text`, cut in the middle to MAX_MESSAGE characters (the
    end says what to do, the start what went wrong)."""
    line = next((s.strip() for s in str(text).splitlines() if s.strip()), "")
    if len(line) <= MAX_MESSAGE:
        return line
    keep = (MAX_MESSAGE - 5) // 2
    return f"{line[:keep]} ... {line[-keep:]}"


def decode_error(what: str, path, data: bytes, exc: UnicodeDecodeError, fix: str,
                 cls: type = InputError) -> InputError:
    """`what: PATH line N is not UTF-8 text (byte 0xe9): FIX` from a failed decode of `data`."""
    line = data.count(b"\n", 0, exc.start) + 1
    byte = data[exc.start:exc.start + 1].hex()
    return cls(f"{what}: {path} line {line} is not UTF-8 text (byte 0x{byte}); {fix}")


def classify(exc: BaseException) -> tuple[str, int, str]:
    """(one-line message, exit status, kind) of an exception that reached a boundary.
    kind is `input` (the user can fix it: exit 2) or `crash` (a bug or the machine: exit 1)."""
    if isinstance(exc, InputError):
        return one_line(str(exc)), ExitCode.INPUT, "input"
    if isinstance(exc, OSError) and exc.errno in _REASONS:
        where = f"{exc.filename}: " if exc.filename else ""
        return one_line(f"file system: {where}{os_reason(exc)}"), ExitCode.INPUT, "input"
    if isinstance(exc, MemoryError):
        return ("out of memory: lower train_batch_size, eval_batch_size or the model's sizes "
                "(or set DIFFREC_MEMORY_LIMIT to what this machine can give)"), ExitCode.FAILED, "crash"
    text = str(exc).strip()
    return one_line(f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__), ExitCode.FAILED, "crash"


def regular_file(path: Path) -> bool:
    """A regular file (not a folder, device, FIFO or socket): safe to read to its end."""
    try:
        import stat
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False
