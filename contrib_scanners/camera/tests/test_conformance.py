"""paycode-camera against paycode's scanner conformance suite (paycode.testing).

The rig is a network camera on loopback: a real HTTP server streaming MJPEG
(``multipart/x-mixed-replace``, as IP cameras do), read by the plugin through OpenCV's FFmpeg
backend (``camera://?url=http://…``). Scanning a code shows it for half a second; garbage is a
barcode with its middle torn out, which a camera sees as nothing (``garbage_raises = False``);
unplugging stops the server and its streams, plugging back in serves on the same port again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from paycode.testing import ScannerConformance

FPS = 25
SHOW_SECONDS = 0.5
WIDTH, HEIGHT = 320, 240


class _Frames:
    """JPEG frames: a blank scene, a scene showing a code as a QR code, a torn barcode."""

    def __init__(self) -> None:
        import cv2
        from paycode_camera.synthetic import render_frame

        self._cv2 = cv2
        self.blank = self._jpeg(render_frame(WIDTH, HEIGHT, [], seed=1))
        self._codes: dict[str, bytes] = {}
        self._torn: bytes | None = None

    def _jpeg(self, image: Any) -> bytes:
        ok, data = self._cv2.imencode(".jpg", image)
        assert ok
        return bytes(data)

    def code(self, text: str) -> bytes:
        from paycode_camera.synthetic import Placement, render_frame, symbol_image

        if text not in self._codes:
            symbol = symbol_image(text, "qr", scale=4)
            self._codes[text] = self._jpeg(render_frame(WIDTH, HEIGHT, [Placement(symbol, 60, 30)], seed=2))
        return self._codes[text]

    def torn(self) -> bytes:
        from paycode_camera.synthetic import Placement, render_frame, symbol_image

        if self._torn is None:
            symbol = symbol_image("130000000000000009", "code128", scale=1, quiet=4).copy()
            middle = symbol.shape[1] // 2
            symbol[:, middle - 20 : middle + 20] = 255
            self._torn = self._jpeg(render_frame(WIDTH, HEIGHT, [Placement(symbol, 20, 80)], seed=3))
        return self._torn


class StreamRig:
    """An MJPEG camera on 127.0.0.1: every client gets the current scene at 25 frames per second."""

    def __init__(self) -> None:
        self.frames = _Frames()
        self._scene: tuple[bytes, float] = (self.frames.blank, 0.0)  # (frame, until monotonic)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self.port = 0
        self.replug()
        self.url = f"camera://?url=http://127.0.0.1:{self.port}/live.mjpg"

    def current(self) -> bytes:
        with self._lock:
            frame, until = self._scene
            return frame if time.monotonic() < until else self.frames.blank

    def _show(self, frame: bytes) -> None:
        with self._lock:
            self._scene = (frame, time.monotonic() + SHOW_SECONDS)

    def feed(self, code: str) -> None:
        self._show(self.frames.code(code))

    def feed_garbage(self) -> None:
        self._show(self.frames.torn())

    def unplug(self) -> None:
        self._stopped.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def replug(self) -> None:
        self.unplug()
        stopped = self._stopped = threading.Event()
        rig = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    while not stopped.wait(1 / FPS):
                        data = rig.current()
                        head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(data)
                        self.wfile.write(head + data + b"\r\n")
                except OSError:
                    pass  # the scanner closed the stream

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)  # allow_reuse_address: the same port
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.unplug()


class TestCameraStreamConformance(ScannerConformance):
    entry_point = "camera"
    garbage_raises: ClassVar[bool] = False

    @pytest.fixture
    def rig(self) -> Iterator[StreamRig]:
        rig = StreamRig()
        yield rig
        rig.close()
