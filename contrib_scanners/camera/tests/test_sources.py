"""Devices, files and streams that are there, are not, or go away."""

from __future__ import annotations

import functools
import socket
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from paycode.errors import ScannerConfigError, ScannerGone
from paycode.models import Scan
from paycode_camera import CameraScanner

LEFT_128, RIGHT_QR = "130000000000000011", "130000000000000012"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def video_server(videos: Any) -> Iterator[str]:
    """A real HTTP server on loopback serving the test videos; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(videos.layout.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_stream_over_http_gives_the_codes_then_ends_as_gone(video_server: str) -> None:
    scanner = CameraScanner.from_url(f"camera://?url={video_server}/layout.avi")
    scanner.open()
    try:
        scans: list[Scan] = []
        with pytest.raises(ScannerGone, match=r"stream http://127\.0\.0\.1:\d+/layout\.avi stopped delivering frames"):
            for _ in range(100):
                scan = scanner.read(2.0)
                if scan is not None:
                    scans.append(scan)
        assert sorted(s.text for s in scans) == sorted([LEFT_128, RIGHT_QR])
        with pytest.raises(ScannerGone, match="not open"):
            scanner.read(0.1)
    finally:
        scanner.close()


def test_stream_password_is_redacted_in_scans(video_server: str) -> None:
    base = video_server.replace("http://", "http://lane7:s3cret@")
    scanner = CameraScanner.from_url(f"camera://?url={base}/layout.avi")
    scanner.open()
    try:
        scan = scanner.read(60.0)
    finally:
        scanner.close()
    assert scan is not None
    assert "s3cret" not in scan.source and "lane7:***@127.0.0.1" in scan.source


def test_unreachable_stream_is_gone() -> None:
    scanner = CameraScanner.from_url(f"camera://?url=http://127.0.0.1:{_closed_port()}/live.mjpg")
    with pytest.raises(ScannerGone, match="could not be opened"):
        scanner.open()
    scanner.close()


def test_missing_camera_index_is_gone() -> None:
    scanner = CameraScanner.from_url("camera://63")
    with pytest.raises(ScannerGone, match=r"camera 63 could not be opened \(not connected"):
        scanner.open()
    scanner.close()


def test_missing_device_path_is_gone(tmp_path: Path) -> None:
    scanner = CameraScanner.from_url(f"camera://{tmp_path}/video9")
    with pytest.raises(ScannerGone, match="video9: no such device"):
        scanner.open()


def test_device_path_must_be_a_video_node(tmp_path: Path) -> None:
    not_video = tmp_path / "ttyUSB0"
    not_video.write_text("")
    scanner = CameraScanner.from_url(f"camera://{not_video}")
    with pytest.raises(ScannerConfigError, match="is not a video device"):
        scanner.open()


def test_device_link_to_something_else_is_refused(tmp_path: Path) -> None:
    """A by-id link must lead to a /dev/videoN node (it opens as index N)."""
    link = tmp_path / "usb-Vendor_Cam-video-index0"
    link.symlink_to("/dev/null")
    scanner = CameraScanner.from_url(f"camera://{link}")
    with pytest.raises(ScannerConfigError, match="resolves to /dev/null, not /dev/videoN"):
        scanner.open()


def test_missing_file_and_non_video_file_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ScannerConfigError, match="no video file at"):
        CameraScanner.from_url(f"camera+file://{tmp_path}/none.avi").open()
    text = tmp_path / "notes.avi"
    text.write_text("not a video\n")
    with pytest.raises(ScannerConfigError, match="is not a video file OpenCV can read"):
        CameraScanner.from_url(f"camera+file://{text}").open()


def test_close_from_another_thread_wakes_a_read_waiting_at_the_end_of_a_file(videos: Any) -> None:
    scanner = CameraScanner.from_url(f"camera+file://{videos.layout}")
    scanner.open()
    try:
        for _ in range(1000):  # read to the end of the file
            if scanner.ended:
                break
            scanner.read(0.05)
        assert scanner.ended
        closer = threading.Timer(0.05, scanner.close)
        closer.start()
        assert scanner.read(None) is None  # returns once closed, instead of waiting forever
        closer.join()
    finally:
        scanner.close()
