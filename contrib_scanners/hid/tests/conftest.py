"""Fixtures of the paycode-hid tests: recorded report files, and input devices over real pipes.

This machine has no USB HID device and no /dev/uinput, so:

- hidapi is replaced through the scanner's ``backend`` seam by
  :class:`paycode_hid.replay.ReplayBackend` (the ``hid.device`` interface, replaying
  recorded reports);
- python-evdev's ``InputDevice`` is replaced through the ``device_factory`` seam by
  :class:`PipeInputDevice`: a real file descriptor (a pipe) carrying real
  ``struct input_event`` records, waited on with ``select`` and read by python-evdev's
  own ``EventIO.read`` (its C reader), exactly as a device node would be.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from evdev.device import DeviceInfo
from evdev.eventio import EventIO

DATA = Path(__file__).parent / "data"
EV_KEY = 0x01
KEY_ENTER = 28
_EVENT = struct.Struct("qqHHi")  # struct input_event on 64-bit Linux: timeval, type, code, value


def load_recording(name: str) -> tuple[list[bytes], list[str]]:
    """Reports (one hex line each) and the ``# expect:`` lines of a file in tests/data."""
    reports, expected = [], []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if line.startswith("# expect: "):
            expected.append(line[len("# expect: ") :])
        elif line and not line.startswith("#"):
            reports.append(bytes.fromhex(line))
    return reports, expected


class PipeInputDevice(EventIO):
    """python-evdev's ``InputDevice`` interface over a pipe; reading is python-evdev's own code."""

    def __init__(
        self,
        path: str,
        *,
        name: str = "Honeywell Imaging 1900",
        vendor: int = 0x0C2E,
        product: int = 0x0B61,
        keys: Iterable[int] = (KEY_ENTER, 2, 3, 4, 30),
        busy: bool = False,
    ) -> None:
        read_end, self._write_end = os.pipe()
        os.set_blocking(read_end, False)
        self.fd = read_end
        self.path = path
        self.name = name
        self.info = DeviceInfo(bustype=3, vendor=vendor, product=product, version=0x0110)
        self.phys = "usb-0000:00:14.0-1/input0"
        self._keys = list(keys)
        self.busy = busy
        self.grabbed = False
        self.unplugged = False
        self.reads = 0
        self.closed = False

    # ---------------------------------------------------------------- InputDevice interface

    def capabilities(self) -> dict[int, list[int]]:
        return {EV_KEY: list(self._keys)}

    def grab(self) -> None:
        if self.busy:
            raise OSError(errno.EBUSY, "Device or resource busy")
        self.grabbed = True

    def ungrab(self) -> None:
        if not self.grabbed:
            raise OSError(errno.EINVAL, "Invalid argument")
        self.grabbed = False

    def read(self) -> Iterator[object]:  # type: ignore[override]
        self.reads += 1
        if self.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        return super().read()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)
            self.close_writer()

    # ---------------------------------------------------------------- the test's side

    def send(self, events: Iterable[tuple[int, int, int]]) -> None:
        """Write (type, code, value) events as the kernel would."""
        os.write(self._write_end, b"".join(_EVENT.pack(1, 0, t, c, v) for t, c, v in events))

    def unplug(self) -> None:
        """Reads now fail with ENODEV; the descriptor turns readable, as a dead device node does."""
        self.unplugged = True
        os.write(self._write_end, _EVENT.pack(1, 0, 0, 0, 0))

    def close_writer(self) -> None:
        """End of file on the descriptor."""
        if self._write_end >= 0:
            os.close(self._write_end)
            self._write_end = -1


@pytest.fixture
def pipe_devices() -> Iterator[Callable[..., PipeInputDevice]]:
    """Make PipeInputDevices; all are closed after the test."""
    made: list[PipeInputDevice] = []

    def make(path: str = "/dev/input/event7", **kwargs: object) -> PipeInputDevice:
        device = PipeInputDevice(path, **kwargs)  # type: ignore[arg-type]
        made.append(device)
        return device

    yield make
    for device in made:
        device.close()


@pytest.fixture
def recording() -> Callable[[str], tuple[list[bytes], list[str]]]:
    """``recording(name)``: the reports and expected texts of a file in tests/data."""
    return load_recording
