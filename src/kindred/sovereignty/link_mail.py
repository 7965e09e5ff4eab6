"""Passport sign-in links are mailed off the request path.

Whether an address belongs to a customer must not show in the answer to "email me a link"
(issue #18): not in its status, not in its timing. So the request only issues the link and
hands the message to a courier; the answer is the same 202 at once, whether a link was made
or not and whether the mail server is up or not. The courier — one thread per process, started
when there is mail and gone when there is none — sends each message, and retries a delivery
that may succeed later (the server unreachable, a temporary refusal) with doubling pauses, a
bounded number of times. A message it cannot deliver is logged on ``kindred.passport`` (the
reason's code, never the address, the link or the token) and counted in
``kindred_passport_link_deliveries_total{outcome="failed"}`` for an operator to see.

Messages wait in memory only: one not yet sent when the process stops is lost. Its link
expires within 15 minutes anyway; the customer asks for another.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import threading
import time
from dataclasses import dataclass

from prometheus_client import Counter

from kindred.common.failures import ActionFailed
from kindred.common.mail import SmtpSettings, send_email

log = logging.getLogger("kindred.passport")

DELIVERIES = Counter(
    "kindred_passport_link_deliveries_total",
    "Passport sign-in links by outcome: sent, failed (every attempt failed), dropped (too "
    "many waiting)",
    ["outcome"],
)
RETRIES = Counter(
    "kindred_passport_link_retries_total",
    "Failed attempts to deliver a passport sign-in link that are tried again, by reason",
    ["code"],
)


@dataclass
class Letter:
    smtp: SmtpSettings
    to: str
    subject: str
    text: str
    attempts: int = 0


class LinkCourier:
    """Delivers sign-in messages in the background, retrying with doubling pauses
    (``first_pause``, twice that, …) up to ``attempts`` tries in all; holds at most
    ``capacity`` messages (more are dropped, logged and counted)."""

    def __init__(self, *, attempts: int = 5, first_pause: float = 2.0, capacity: int = 1000):
        self.attempts = attempts
        self.first_pause = first_pause
        self.capacity = capacity
        self.sent = self.failed = self.dropped = 0
        self._due: list[tuple[float, int, Letter]] = []  # (when, order, letter): a heap
        self._order = itertools.count()
        self._busy = 0  # letters being delivered right now
        self._changed = threading.Condition()
        self._worker: threading.Thread | None = None

    def post(self, smtp: SmtpSettings, *, to: str, subject: str, text: str) -> None:
        """Hand a message over; returns at once."""
        with self._changed:
            if len(self._due) + self._busy >= self.capacity:
                self.dropped += 1
                DELIVERIES.labels("dropped").inc()
                log.error(
                    "a passport sign-in link was not sent: %d wait for the mail server already",
                    self.capacity,
                )
                return
            self._schedule(Letter(smtp, to, subject, text), pause=0.0)

    def settle(self, timeout: float) -> bool:
        """Wait until every message handed over was sent or given up on; False if some are
        still waiting or in delivery after ``timeout`` seconds (0: just look)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._due or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    # -- the courier thread -------------------------------------------------------------------

    def _schedule(self, letter: Letter, pause: float) -> None:  # the lock is held
        heapq.heappush(self._due, (time.monotonic() + pause, next(self._order), letter))
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="kindred-link-mail", daemon=True)
            self._worker.start()
        self._changed.notify_all()

    def _run(self) -> None:
        while True:
            with self._changed:
                while True:
                    if not self._due:
                        self._worker = None  # the next message starts another thread
                        self._changed.notify_all()
                        return
                    wait = self._due[0][0] - time.monotonic()
                    if wait <= 0:
                        break
                    self._changed.wait(wait)
                _, _, letter = heapq.heappop(self._due)
                self._busy += 1
            try:
                self._deliver(letter)
            finally:
                with self._changed:
                    self._busy -= 1
                    self._changed.notify_all()

    def _deliver(self, letter: Letter) -> None:
        letter.attempts += 1
        try:
            asyncio.run(
                send_email(letter.smtp, to=[letter.to], subject=letter.subject, text=letter.text)
            )
        except ActionFailed as error:
            if error.retryable and letter.attempts < self.attempts:
                pause = self.first_pause * 2 ** (letter.attempts - 1)
                RETRIES.labels(error.code).inc()
                log.warning(
                    "a passport sign-in link could not be delivered (%s, attempt %d of %d); "
                    "trying again in %.1f s",
                    error.code,
                    letter.attempts,
                    self.attempts,
                    pause,
                )
                with self._changed:
                    self._schedule(letter, pause)
                return
            self._give_up(letter, error.code)
        except Exception as error:  # a bug: the courier must go on with the next letter
            self._give_up(letter, type(error).__name__)
        else:
            with self._changed:
                self.sent += 1
            DELIVERIES.labels("sent").inc()

    def _give_up(self, letter: Letter, code: str) -> None:
        with self._changed:
            self.failed += 1
        DELIVERIES.labels("failed").inc()
        log.error(
            "a passport sign-in link could not be delivered (%s) after %d attempt(s); the "
            "customer did not get it: check the mail server (KINDRED_SMTP_*)",
            code,
            letter.attempts,
        )
