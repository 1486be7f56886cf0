"""How the payment commands show their steps: one line per event, or one JSON object per line.

:class:`StepPrinter` is a plugin object (it implements ``paycode_payment_event``) that the
``pay``, ``refund``, ``query`` and ``demo`` commands register on their host. On a terminal
it shows a live progress line while the shopper confirms (state ``PROCESSING``).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from ..hookspecs import hookimpl
from ..models import Event
from ._args import seconds as seconds  # its home is paycode.cli._args; importable here too

__all__ = [
    "EXIT_JOURNAL",
    "EXIT_STATUS",
    "StepPrinter",
    "describe",
    "journal_failure_exits_2",
    "payment_json",
    "seconds",
]

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def describe(event: Event) -> str:
    """One human line for an event (codes in events are already masked)."""
    d = dict(event.data)
    kind = event.kind
    if kind == "scan":
        where = f"from {d['scanner']}" if d.get("scanner") else "given"
        return f"scan      {d.get('text')} (length {d.get('length')}, {where})"
    if kind == "classified":
        return f"wallet    {d.get('label')} ({d.get('wallet')})"
    if kind == "payment.request":
        again = " (re-sent, same requestId)" if d.get("resend") else ""
        return f"request   unifiedPay {d.get('amount')} {d.get('currency')} order {event.order_id}{again}"
    if kind == "payment.answer":
        status = f" {d['status']}" if d.get("status") else ""
        return f"answer    {d.get('operation')}: {d.get('code')}{status} {d.get('description', '')}".rstrip()
    if kind == "payment.state":
        note = f" ({d['note']})" if d.get("note") else ""
        return f"state     {d.get('previous')} -> {d.get('status')}{note}"
    if kind == "payment.poll":
        return f"poll      query #{d.get('poll')}, {d.get('seconds_left')} s left"
    if kind == "payment.unknown":
        return f"unknown   {d.get('reason')}"
    if kind == "payment.close":
        return f"close     {d.get('step')}{': ' + str(d['reason']) if d.get('reason') else ''}"
    if kind == "payment.mismatch":
        return f"mismatch  {d.get('operation')}: answer not believed ({d.get('mismatch')})"
    if kind == "payment.journal":
        detail = d.get("error") if d.get("step") in ("failed", "retrying", "unrecorded") else d.get("action", "")
        return f"journal   {d.get('step')}{': ' + str(detail) if detail else ''}"
    if kind == "payment.refund":
        status = f" {d['status']}" if d.get("status") else ""
        return f"refund    {d.get('step')} {d.get('amount')} {d.get('currency')}{status}"
    if kind == "payment.error":
        return ""  # the command prints the error itself, once, on stderr
    if kind.startswith("scanner."):
        detail = d.get("error") or d.get("reason") or ""
        return f"scanner   {kind.partition('.')[2]} {d.get('scanner', '')}{': ' + str(detail) if detail else ''}"
    if kind == "notification":
        what = f"{d.get('notify_type')} {d.get('status')} order {event.order_id}" if d.get("notify_type") else ""
        error = f": {d['error']}" if d.get("error") else ""
        return f"notified  {d.get('outcome')} (HTTP {d.get('http_status')}) {what}{error}".rstrip()
    if kind == "recovery.order":
        return f"recovery  order {event.order_id}: {d.get('action', '')} {d.get('status', '')}".rstrip()
    rest = " ".join(f"{k}={v}" for k, v in d.items())
    return f"{kind:<9} {rest}".rstrip()


class StepPrinter:
    """Prints every event; ``json_lines`` for machines, ``progress`` for a live line while PROCESSING."""

    def __init__(self, *, json_lines: bool = False, progress: bool | None = None, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout
        self.json_lines = json_lines
        isatty = getattr(self.out, "isatty", lambda: False)()
        self.progress = (not json_lines and isatty) if progress is None else progress
        self._lock = threading.Lock()
        self._spinner: threading.Thread | None = None
        self._stop = threading.Event()

    @hookimpl
    def paycode_payment_event(self, event: Event) -> None:
        if self.json_lines:
            self.line(json.dumps(event.as_json(), ensure_ascii=False, default=str))
            return
        if self.progress and (
            event.kind == "payment.poll"
            or (event.kind == "payment.answer" and event.data.get("status") == "PROCESSING")
        ):
            return  # the progress line shows the waiting
        self._stop_spinner()
        text = describe(event)
        if text:
            self.line(text)
        if self.progress and event.kind == "payment.state" and event.data.get("status") == "PROCESSING":
            self._start_spinner()

    def line(self, text: str) -> None:
        with self._lock:
            print(text, file=self.out, flush=True)

    def result(self, data: dict[str, Any], human: str) -> None:
        """The final line: ``data`` as JSON, or the ``human`` text."""
        self._stop_spinner()
        self.line(json.dumps(data, ensure_ascii=False, default=str) if self.json_lines else human)

    def close(self) -> None:
        self._stop_spinner()

    def _start_spinner(self) -> None:
        self._stop.clear()
        started = time.monotonic()

        def spin() -> None:
            i = 0
            while not self._stop.wait(0.1):
                with self._lock:
                    elapsed = time.monotonic() - started
                    frame = _SPINNER[i % len(_SPINNER)]
                    self.out.write(f"\r{frame} waiting for the shopper to confirm ... {elapsed:4.1f} s")
                    self.out.flush()
                i += 1
            with self._lock:
                self.out.write("\r\033[K")
                self.out.flush()

        self._spinner = threading.Thread(target=spin, name="paycode-progress", daemon=True)
        self._spinner.start()

    def _stop_spinner(self) -> None:
        spinner, self._spinner = self._spinner, None
        if spinner is not None:
            self._stop.set()
            spinner.join(2)


#: exit status of ``paycode pay`` by outcome
EXIT_STATUS = {"paid": 0, "not_paid": 1, "unresolved": 3}
#: exit status of ``pay`` and ``refund`` when the journal cannot record them: nothing was sent (never 1, "not paid")
EXIT_JOURNAL = 2


@contextmanager
def journal_failure_exits_2() -> Iterator[None]:
    """A JournalError out of ``pay`` / ``refund`` means nothing was sent: exit 2, never 1 ("not paid")."""
    from ..errors import JournalError

    try:
        yield
    except JournalError as exc:
        exc.exit_code = EXIT_JOURNAL
        raise


def payment_json(payment: Any, result: str) -> dict[str, Any]:
    """The final JSON line of a payment command."""
    return {
        "result": result,
        "order": payment.merchant_transaction_id,
        "status": payment.status.value,
        "amount": str(payment.money.wire()),
        "currency": payment.money.currency,
        "wallet": payment.wallet,
        "code": payment.code_masked,
        "transaction_id": payment.transaction_id,
        "refunded": str(payment.refunded.quantize(payment.money.wire())),
    }
