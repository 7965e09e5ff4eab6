"""Record identifiers: UUIDv7 (RFC 9562), time-ordered so new rows append to B-tree indexes
instead of splitting random pages, and ``ORDER BY id`` is roughly creation order."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_millis = 0
_counter = 0


def new_id() -> str:
    global _last_millis, _counter
    with _lock:
        millis = time.time_ns() // 1_000_000
        if millis <= _last_millis:
            # Same millisecond (or a clock step back): keep ids monotonic within the process
            # by counting in the 12-bit rand_a field (RFC 9562 §6.2, method 1).
            _counter += 1
            if _counter > 0xFFF:
                _last_millis += 1
                _counter = 0
            millis = _last_millis
        else:
            _last_millis = millis
            _counter = 0
        counter = _counter
    random_bits = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= random_bits
    return str(uuid.UUID(int=value))
