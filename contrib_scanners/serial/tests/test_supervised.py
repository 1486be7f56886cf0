"""The serial scanner under paycode's PluginHost and scan supervisor: unplug, events, and the port coming back."""

from __future__ import annotations

import threading
from typing import Any

from paycode import Settings
from paycode.host import PluginHost
from paycode.masking import mask_code
from paycode.testing import EventRecorder
from paycode_serial.testing import PtyScanner

CODE = "130000000000000001"
OTHER = "280000000000000002"


Events = EventRecorder  # the shared recorder of paycode.testing


def host_with(events: Events) -> PluginHost:
    host = PluginHost(Settings(), plugins=[events])
    assert "serial" in host.scanners, host.problems  # found through the installed entry point
    return host


def test_the_socket_port_vanishes_and_comes_back(make_tcp_scanner: Any) -> None:
    events = Events()
    server = make_tcp_scanner()
    port = server.port
    url = f"serial+socket://127.0.0.1:{port}?suffix=cr&repeat_window=0"
    with host_with(events).open_scanner(url, backoff_initial=0.05, backoff_max=0.2) as supervisor:
        server.send(f"]C0{CODE}\r".encode())
        scan = supervisor.read(5.0)
        assert scan is not None and (scan.text, scan.aim) == (CODE, "]C0")
        server.stop()
        assert supervisor.read(0.3) is None  # gone: reported as an event, not raised
        assert "scanner.gone" in events.kinds()
        server = make_tcp_scanner(port)

        def send_when_reopened() -> None:  # pyserial drops what arrives while it opens: wait until it has
            if events.wait_for("scanner.reopened", 10):
                server.send(f"{OTHER}\r".encode())

        sender = threading.Thread(target=send_when_reopened)
        sender.start()  # the supervisor reconnects while it reads
        scan = supervisor.read(10.0)
        sender.join(10)
        assert scan is not None and scan.text == OTHER
    kinds = events.kinds()
    assert kinds[0] == "scanner.opened" and kinds[-1] == "scanner.closed"
    assert kinds.index("scanner.gone") < kinds.index("scanner.reopened") < len(kinds) - 2
    assert [e.data["text"] for e in events.of_kind("scan")] == [mask_code(CODE), mask_code(OTHER)]


def test_garbage_becomes_an_error_event_and_reading_goes_on() -> None:
    events = Events()
    with PtyScanner() as fake, host_with(events).open_scanner(f"serial://{fake.path}?max_length=32") as supervisor:
        fake.write(b"\x1b[A\r" + b"5" * 50 + b"\r" + CODE.encode() + b"\r")
        scan = supervisor.read(5.0)
        assert scan is not None and scan.text == CODE
    errors = [e.data["error"] for e in events.of_kind("scanner.error")]
    assert len(errors) == 2
    assert "byte 0x1b (ESC)" in errors[0] and "max_length=32" in errors[1]


def test_a_pty_unplugged_is_a_gone_event() -> None:
    events = Events()
    fake = PtyScanner()
    with host_with(events).open_scanner(f"serial://{fake.path}", backoff_initial=0.05) as supervisor:
        fake.write(CODE.encode() + b"\r")
        assert supervisor.read(5.0) is not None
        fake.unplug()
        assert supervisor.read(0.2) is None
    gone = events.of_kind("scanner.gone")
    assert gone and "went away" in gone[0].data["error"]
