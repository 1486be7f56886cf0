"""How the payment commands show their steps: one line per event, or one JSON object per line.

:class:`StepPrinter` is a plugin object (it implements ``paycode_payment_event``) that the
``pay``, ``refund``, ``query`` and ``demo`` commands register on their host. On a terminal
it shows a live progress line while the shopper confirms (state ``PROCESSING``).

The cashier's lines (scan the code, waiting for the password with the seconds left, closing,
paid / declined / closed / unresolved, refunded) come from :mod:`paycode.messages`, the
catalogue of the bridge's cashier page, in the language of the environment
(:func:`paycode.messages.cli_language`: ``PAYCODE_LANG``, else the locale; English by
default, whose texts are the ones the CLI always printed). The other step lines are the
operator's trace (events, gateway codes) and stay as they are in every language.
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
from ..messages import DEFAULT_LANGUAGE, cli_language, message
from ..models import Event
from ._args import seconds as seconds  # its home is paycode.cli._args; importable here too

__all__ = [
    "EXIT_JOURNAL",
    "EXIT_STATUS",
    "StepPrinter",
    "describe",
    "journal_failure_exits_2",
    "pay_line",
    "payment_json",
    "seconds",
]

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def describe(event: Event, language: str = DEFAULT_LANGUAGE) -> str:
    """One human line for an event (codes in events are already masked); cashier lines in ``language``."""
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
        if d.get("step") == "closing" and d.get("reason"):
            return f"close     {message('cli_closing', language, reason=d['reason'])}"
        return f"close     {d.get('step')}{': ' + str(d['reason']) if d.get('reason') else ''}"
    if kind == "payment.mismatch":
        return f"mismatch  {d.get('operation')}: answer not believed ({d.get('mismatch')})"
    if kind == "payment.journal":
        detail = d.get("error") if d.get("step") in ("failed", "retrying", "unrecorded") else d.get("action", "")
        return f"journal   {d.get('step')}{': ' + str(detail) if detail else ''}"
    if kind == "payment.refund":
        if d.get("step") == "done" and d.get("status") == "SUCCESS":
            values = {"amount": d.get("amount"), "currency": d.get("currency"), "status": d.get("status")}
            return f"refund    {message('cli_refunded', language, **values)}"
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
    """Prints every event; ``json_lines`` for machines, ``progress`` for a live line while PROCESSING.

    ``language`` is the catalogue language of the cashier's lines (default: from the environment,
    :func:`paycode.messages.cli_language`; a ``PAYCODE_LANG`` it does not know is a ConfigError).
    """

    def __init__(
        self,
        *,
        json_lines: bool = False,
        progress: bool | None = None,
        out: IO[str] | None = None,
        language: str | None = None,
    ) -> None:
        self.out = out or sys.stdout
        self.json_lines = json_lines
        self.language = cli_language() if language is None else language
        isatty = getattr(self.out, "isatty", lambda: False)()
        self.progress = (not json_lines and isatty) if progress is None else progress
        self._lock = threading.Lock()
        self._spinner: threading.Thread | None = None
        self._stop = threading.Event()
        self._expires: float | None = None  # time.time() when the lane stops waiting for the shopper
        self._closing = False

    def prompt_scan(self) -> None:
        """Ask the cashier to scan the shopper's code (not in ``--json``: JSON lines only there)."""
        if not self.json_lines:
            self.line(message("scan", self.language))

    @hookimpl
    def paycode_payment_event(self, event: Event) -> None:
        if self.json_lines:
            self.line(json.dumps(event.as_json(), ensure_ascii=False, default=str))
            return
        self._follow(event)
        if self.progress and (
            event.kind == "payment.poll"
            or (event.kind == "payment.answer" and event.data.get("status") == "PROCESSING")
        ):
            return  # the progress line shows the waiting
        self._stop_spinner()
        text = describe(event, self.language)
        if text:
            self.line(text)
        if self.progress and (
            (event.kind == "payment.state" and event.data.get("status") == "PROCESSING")
            or (event.kind == "payment.close" and event.data.get("step") == "closing")
        ):
            self._start_spinner()

    def _follow(self, event: Event) -> None:
        """Keep what the progress line shows: the seconds left for the shopper, or the order closing."""
        d = event.data
        if event.kind == "payment.request":
            expires = d.get("time_expire")
            self._expires = float(expires) if isinstance(expires, (int, float)) else None
            self._closing = False
        elif event.kind == "payment.poll":
            if d.get("closing"):
                self._closing = True
            elif isinstance(d.get("seconds_left"), (int, float)):
                self._expires = event.time + float(d["seconds_left"])
        elif event.kind == "payment.close" and d.get("step") == "closing":
            self._closing = True

    def progress_text(self, now: float | None = None) -> str:
        """The progress line's text: waiting for the shopper's password with the seconds left, or closing."""
        if self._closing:
            return message("cancelling", self.language)
        if self._expires is None:
            return message("sending", self.language)
        left = max(0, round(self._expires - (time.time() if now is None else now)))
        return message("password", self.language, seconds=left)

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

        def spin() -> None:
            i = 0
            while not self._stop.wait(0.1):
                with self._lock:
                    frame = _SPINNER[i % len(_SPINNER)]
                    self.out.write(f"\r\033[K{frame} {self.progress_text()}")
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


def pay_line(payment: Any, result: str, language: str = DEFAULT_LANGUAGE) -> str:
    """The cashier's last line of ``paycode pay``, from the catalogue: paid, declined, closed or unresolved."""
    status = payment.status.value
    order = payment.merchant_transaction_id
    if result == "paid":
        return message("cli_paid", language, amount=payment.money, order=order, transaction=payment.transaction_id)
    if result == "unresolved":
        return message("cli_unresolved", language, status=status, order=order)
    key = "cli_closed" if status in ("CLOSED", "CANCEL") else "cli_declined"
    return message(key, language, status=status, order=order)


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
