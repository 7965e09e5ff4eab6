"""Witness copies of signed checkpoints, kept outside the database.

Why: whoever can write the database can delete the newest entries *and* the checkpoints that
cover them, leaving a shorter log that is consistent with everything left beside it. A copy
of the newest checkpoint held somewhere that write access does not reach makes that visible:
the log must still extend it (RFC 9162 consistency proof from its size to today's).

``DirectoryWitness`` keeps the newest checkpoint it was given in one file, following the
rules of a C2SP tlog-witness (https://c2sp.org/tlog-witness): it checks the log's signature,
takes a newer checkpoint only with a valid consistency proof from the one it holds, never
goes back to a smaller tree, refuses a second root for the same size, and replaces its file
atomically under a lock (several processes sign checkpoints). Unlike a C2SP witness it adds
no cosignature: it is a store in the operator's trust domain, not an independent party.
Operators export checkpoints (``kindred ledger checkpoints export``) for the copies that
must survive a compromise of the whole host; ``WitnessCopy`` is how those come back in.

Standalone (filesystem, ``merkle`` and ``note`` only), like the offline verifier.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kindred.ledger.merkle import ProofError, verify_consistency
from kindred.ledger.note import Checkpoint, NoteError, Verifier, open_note, split_note

# prove(size1, size2): the log's consistency proof between two of its sizes.
Prover = Callable[[int, int], list[bytes]]


class WitnessError(Exception):
    """The witness cannot be read, or refuses a checkpoint; the message says why."""


@dataclass(frozen=True)
class WitnessCopy:
    """A signed checkpoint held outside the database, and where it came from (for reports)."""

    source: str
    note: str

    def head(self) -> Checkpoint:
        """The checkpoint body, signature unchecked (the caller verifies with its keys)."""
        return Checkpoint.parse(split_note(self.note)[0])


def read_copy(path: Path) -> WitnessCopy:
    """An operator's exported checkpoint file."""
    try:
        return WitnessCopy(f"file {path}", path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise WitnessError(f"file {path}: cannot be read ({error})") from None


class DirectoryWitness:
    FILE = "checkpoint"

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.source = f"witness {self.directory}"

    def latest(self) -> WitnessCopy | None:
        """The newest checkpoint held, or None before the first one."""
        path = self.directory / self.FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise WitnessError(f"{self.source}: cannot be read ({error})") from None
        return WitnessCopy(self.source, text)

    def update(self, note: str, verifier: Verifier, prove: Prover) -> bool:
        """Take ``note`` if it is signed by ``verifier`` and extends the checkpoint held.
        Returns False when the witness already holds this or a newer checkpoint; raises
        WitnessError when the note would contradict what it holds."""
        try:
            new = Checkpoint.parse(open_note(note, verifier))
        except NoteError as error:
            raise WitnessError(f"{self.source}: refused a checkpoint: {error}") from None
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._locked():
            held = self.latest()
            if held is not None and not self._extends(held.head(), new, prove):
                return False
            self._replace(note)
        return True

    def _extends(self, old: Checkpoint, new: Checkpoint, prove: Prover) -> bool:
        if old.origin != new.origin:
            raise WitnessError(f"{self.source} holds the log {old.origin!r}, not {new.origin!r}")
        if new.size < old.size:
            return False  # another process already handed in a newer one: keep it
        if new.size == old.size:
            if new.root != old.root:
                raise WitnessError(
                    f"{self.source}: refused a second root for size {new.size} (a fork)"
                )
            return False
        if old.size == 0:
            return True  # the empty tree is a prefix of every tree
        try:
            verify_consistency(old.size, new.size, prove(old.size, new.size), old.root, new.root)
        except (ProofError, ValueError) as error:
            raise WitnessError(
                f"{self.source}: refused size {new.size}: it does not extend the checkpoint "
                f"held at size {old.size} ({error})"
            ) from None
        return True

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # Read-check-replace must not interleave between processes (server, CLI).
        with open(self.directory / ".lock", "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _replace(self, note: str) -> None:
        # Write, fsync, rename, fsync the directory: a crash leaves the old or the new file,
        # never a torn one.
        temporary = self.directory / f".{self.FILE}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(note)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.directory / self.FILE)
        descriptor = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
