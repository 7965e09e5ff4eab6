"""Whether the process behind a lease owner (a member name, ``host-pid``) is gone.

A process that takes leases holds an exclusive OS lock on a file named after its member for
as long as it lives (``hold``); the kernel drops the lock when the process ends, however it
ends (exit, crash, SIGKILL). Whoever can lock that file itself knows the owner is gone
(``gone``): its leases may be taken over at once instead of waiting for them to expire.

Only a positive answer counts. No file (a process on another machine or in another
container, one of an older version, or one that could not hold its file) means "unknown":
the lease is left to expire. The files live in a private per-user folder of the machine's
temporary directory; a process of another user is never judged gone.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no liveness proofs, leases expire
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("kindred.events")
HOLD_ATTEMPTS = 50  # a prober holds a file for microseconds; retried 50 × 10 ms at most
_held: dict[str, int] = {}  # member → the descriptor whose lock says it is alive


def _folder(create: bool) -> Path | None:
    folder = Path(tempfile.gettempdir()) / f"kindred-members-{os.getuid()}"
    try:
        if create:
            folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return None
    # Someone else's folder (or a link planted in its place) proves nothing.
    if not folder.is_dir() or folder.is_symlink() or info.st_uid != os.getuid():
        return None
    return folder


def _file(folder: Path, member: str) -> Path:
    return folder / (re.sub(r"[^A-Za-z0-9._-]", "_", member)[:200] + ".lock")


def hold(member: str) -> bool:
    """Hold ``member``'s lock until this process ends; True when held (now or before)."""
    if member in _held:
        return True
    folder = _folder(create=True)
    if fcntl is None or folder is None:
        return False
    try:
        descriptor = os.open(_file(folder, member), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return False
    for _ in range(HOLD_ATTEMPTS):
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            time.sleep(0.01)
            continue
        _held[member] = descriptor  # never closed: the lock ends with the process
        return True
    os.close(descriptor)
    log.warning("member %s: its liveness lock is held by another process", member)
    return False


def gone(member: str) -> bool:
    """True only when ``member``'s process is known to have ended (its lock is free)."""
    if fcntl is None or member in _held:
        return False
    folder = _folder(create=False)
    if folder is None:
        return False
    try:
        descriptor = os.open(_file(folder, member), os.O_RDWR)
    except OSError:
        return False  # no proof either way
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # held: alive
    else:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return True
    finally:
        os.close(descriptor)
