"""The plugin as paycode sees it: registration, the supervisor, the command line, start-up cost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import paycode_camera
import pytest
from paycode.errors import ScannerConfigError, ScannerExhausted
from paycode.host import PluginHost
from paycode.settings import Settings
from paycode.testing import EventRecorder
from paycode_camera import CameraScanner, list_devices

A, B, D = "130000000000000001", "280000000000000002", "130000000000000003"


Recorder = EventRecorder  # the shared recorder of paycode.testing


def host_with(*plugins: object) -> PluginHost:
    return PluginHost(Settings(), load_entrypoints=False, plugins=[paycode_camera, *plugins])


def test_registers_both_schemes_with_their_parameters() -> None:
    host = host_with()
    assert not host.problems
    camera, camera_file = host.scanners["camera"], host.scanners["camera+file"]
    assert {"formats", "agree", "fps", "roi", "url", "width", "height"} <= set(camera.params)
    assert {"formats", "agree", "fps", "roi", "loop", "end"} <= set(camera_file.params)
    assert "loop" not in camera.params and "width" not in camera_file.params
    assert camera.list_devices is list_devices
    assert isinstance(camera.factory(camera_url("camera://0")), CameraScanner)


def camera_url(text: str) -> Any:
    from paycode.scanning import ScannerURL

    return ScannerURL.parse(text)


def test_installed_entry_point_is_found() -> None:
    host = PluginHost(Settings())
    assert "camera" in host.scanners and "camera+file" in host.scanners
    info = {p["name"]: p for p in host.plugin_info()}
    assert info["camera"]["distribution"] == "paycode-camera"


def test_host_refuses_a_parameter_of_the_other_scheme() -> None:
    with pytest.raises(ScannerConfigError, match="does not take parameter loop"):
        host_with().open_scanner("camera://0?loop=1")


def test_supervisor_reads_a_video_to_its_end(videos: Any) -> None:
    recorder = Recorder()
    host = host_with(recorder)
    with host.open_scanner(f"camera+file://{videos.sequence}?end=stop") as supervisor:
        scans = list(supervisor.scans(count=10, timeout=60.0))
    assert [s.text for s in scans] == [A, B, D, A]
    kinds = [e.kind for e in recorder.events]
    assert kinds == ["scanner.opened", "scan", "scan", "scan", "scan", "scanner.closed"]
    assert recorder.events[1].data["symbology"] == "code128"
    assert all(A not in json.dumps(e.as_json()) for e in recorder.events), "codes are masked in events"


def test_file_scans_are_timed_by_the_video_clock(videos: Any) -> None:
    scanner = CameraScanner.from_url(f"camera+file://{videos.sequence}")
    scanner.open()
    try:
        first, second = scanner.read(60.0), scanner.read(60.0)
    finally:
        scanner.close()
    assert first is not None and second is not None
    # frames 4 and 12 of a 10 frames/s file: 0.8 s apart, however fast they decoded
    assert second.time - first.time == pytest.approx(0.8)


def test_end_stop_reports_the_input_exhausted(videos: Any) -> None:
    scanner = CameraScanner.from_url(f"camera+file://{videos.layout}?end=stop")
    scanner.open()
    try:
        assert scanner.read(60.0) is not None and scanner.read(60.0) is not None
        with pytest.raises(ScannerExhausted, match=r"end of video file .*layout\.avi after 6 frames"):
            scanner.read(60.0)
    finally:
        scanner.close()


def test_paycode_scan_reads_a_video(videos: Any) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "paycode", "scan", "--scanner", f"camera+file://{videos.layout}?end=stop", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(line["symbology"] for line in lines) == ["code128", "qr"]
    assert all("*" in line["text"] for line in lines), "codes are masked"


def test_importing_the_plugin_loads_no_opencv_numpy_or_zxing() -> None:
    code = (
        "import sys, paycode_camera\n"
        "from paycode.scanning import ScannerURL\n"
        "paycode_camera.CameraScanner.from_url(ScannerURL.parse('camera+file:///x.avi?roi=0,0,1,1'))\n"
        "print(sorted(m for m in ('cv2', 'numpy', 'zxingcpp') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_device_listing_reads_sysfs(tmp_path: Path) -> None:
    sysfs, by_id = tmp_path / "video4linux", tmp_path / "by-id"
    for number, name, index in [(0, "Integrated Camera", "0"), (1, "Integrated Camera", "1"), (2, "USB Cam", "0")]:
        node = sysfs / f"video{number}"
        node.mkdir(parents=True)
        (node / "name").write_text(name + "\n")
        (node / "index").write_text(index + "\n")
    by_id.mkdir()
    (by_id / "usb-Vendor_USB_Cam-video-index0").symlink_to("/dev/video2")
    assert list_devices(sysfs, by_id) == [
        {"url": "camera://0", "description": "Integrated Camera (/dev/video0)", "path": "/dev/video0"},
        {
            "url": "camera://2",
            "description": "USB Cam (/dev/video2)",
            "path": "/dev/video2",
            "stable_url": f"camera://{by_id}/usb-Vendor_USB_Cam-video-index0",
        },
    ]
    assert list_devices(tmp_path / "absent") == []
