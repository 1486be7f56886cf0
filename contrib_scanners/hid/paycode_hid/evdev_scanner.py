"""``evdev://`` scanners: keyboard-wedge scanners read from the Linux input layer, grabbed.

The device is grabbed (``EVIOCGRAB``), so its keystrokes reach this process only and
never type into whichever window has focus. Key events are turned back into boot
keyboard reports and decoded by the same :class:`~paycode_hid.keyboard.KeyboardDecoder`
and layout tables as ``hid://``. After unplug, reads fail with ENODEV: the scanner
raises :class:`~paycode.errors.ScannerGone` and closes the descriptor at once, so a
dead descriptor is never polled in a loop (python-evdev#64).

python-evdev is reached only through a ``device_factory`` (``evdev.InputDevice``) and
``list_paths`` (``evdev.list_devices``), which tests replace.
"""

from __future__ import annotations

import errno
import glob
import os
import select
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, cast

from paycode.errors import ScannerConfigError, ScannerGone
from paycode.scanning import ScannerURL

from .base import Decoder, DecodingScanner, Result
from .keyboard import KeyboardDecoder
from .layouts import Layout
from .options import KEYBOARD_PARAMS, KeyboardOptions, open_with_retry, parse_vid_pid
from .usages import LINUX_KEY_TO_USAGE, LINUX_MODIFIER_BITS

__all__ = [
    "EVDEV_PARAMS",
    "EvdevKeyDecoder",
    "EvdevScanner",
    "InputDevice",
    "list_evdev_devices",
]

EV_KEY = 0x01
KEY_ENTER = 28
KEY_UP, KEY_DOWN, KEY_REPEAT = 0, 1, 2
ROLLOVER = bytes([0x01] * 6)
BY_ID = "/dev/input/by-id"

EVDEV_PARAMS: Mapping[str, str] = {
    "name": "part of the input device's name (case-insensitive), e.g. name=honeywell",
    "grab": "take the device for this process only, so keystrokes reach no window (default true)",
    **KEYBOARD_PARAMS,
}


class InputEvent(Protocol):
    type: int
    code: int
    value: int


class InputDevice(Protocol):
    """The parts of ``evdev.InputDevice`` the scanner uses."""

    path: str
    name: str
    fd: int

    @property
    def info(self) -> Any: ...

    def capabilities(self) -> Mapping[int, Sequence[Any]]: ...

    def grab(self) -> None: ...

    def ungrab(self) -> None: ...

    def read(self) -> Iterable[InputEvent]: ...

    def close(self) -> None: ...


class EvdevKeyDecoder:
    """Sans-IO: Linux ``EV_KEY`` events -> boot keyboard reports -> :class:`KeyboardDecoder` scans.

    Autorepeat events (value 2) are ignored, as a held key in a report is one press.
    More than six keys down at once make a rollover report. A key no layout types
    (not in :data:`~paycode_hid.usages.LINUX_KEY_TO_USAGE`) discards the scan.
    """

    def __init__(self, layout: Layout | str = "us", *, end: Iterable[str] = ("enter", "tab"), max_length: int = 1024):
        self.keyboard = KeyboardDecoder(layout, end=tuple(end), max_length=max_length)
        self._modifier = 0
        self._down: list[int] = []

    @property
    def pending(self) -> bool:
        return self.keyboard.pending

    def flush(self) -> Result | None:
        return self.keyboard.flush()

    def reset(self) -> None:
        self.keyboard.reset()
        self._modifier = 0
        self._down = []

    def feed(self, event_type: int, code: int, value: int) -> Sequence[Result]:
        """Decode one input event; return the scans it finished."""
        report = self.report(event_type, code, value)
        return () if report is None else self.keyboard.feed(report)

    def report(self, event_type: int, code: int, value: int) -> bytes | None:
        """The boot keyboard report the keys down make after this event; None for an event that changes none.

        A key no layout types makes the scan under way discarded (and no report).
        """
        if event_type != EV_KEY or value == KEY_REPEAT:
            return None
        bit = LINUX_MODIFIER_BITS.get(code)
        if bit is not None:
            self._modifier = self._modifier | bit if value else self._modifier & ~bit
        else:
            usage = LINUX_KEY_TO_USAGE.get(code)
            if usage is None:
                if value == KEY_DOWN:
                    self.keyboard.reject(f"Linux key code {code} is not a key a scanner types")
                return None
            if value == KEY_DOWN and usage not in self._down:
                self._down.append(usage)
            elif value == KEY_UP and usage in self._down:
                self._down.remove(usage)
        keys = bytes(self._down) if len(self._down) <= 6 else ROLLOVER
        return bytes((self._modifier, 0)) + keys.ljust(6, b"\0")


def _load_evdev() -> tuple[Callable[[str], InputDevice], Callable[[], list[str]]]:
    try:
        import evdev
    except ImportError as exc:
        raise ScannerConfigError(
            f"evdev:// needs python-evdev, which runs on Linux only (pip install evdev): {exc}"
        ) from None
    return cast(Callable[[str], InputDevice], evdev.InputDevice), evdev.list_devices


def _is_keyboard(device: InputDevice) -> bool:
    try:
        keys = device.capabilities().get(EV_KEY, [])
    except OSError:
        return False
    return KEY_ENTER in keys


def _close_quietly(device: InputDevice) -> None:
    try:
        device.close()
    except OSError:
        pass


class EvdevScanner(DecodingScanner):
    """A keyboard-wedge scanner read from ``/dev/input/event*``. Implements :class:`paycode.scanning.Scanner`.

    ``device_factory(path)`` opens an input device, ``list_paths()`` lists candidate
    paths; by default python-evdev's ``InputDevice`` and ``list_devices``.
    """

    def __init__(
        self,
        url: ScannerURL | str,
        *,
        device_factory: Callable[[str], InputDevice] | None = None,
        list_paths: Callable[[], list[str]] | None = None,
    ) -> None:
        parsed = url if isinstance(url, ScannerURL) else ScannerURL.parse(url)
        self.keyboard = KeyboardOptions.from_url(parsed)
        super().__init__(parsed.raw, gap=self.keyboard.gap)
        self.url = parsed
        self.path: str | None = parsed.target if parsed.target.startswith("/") else None
        self.ids = parse_vid_pid(parsed.target, parsed) if parsed.target and self.path is None else None
        self.name = parsed.get_str("name")
        self.grab = parsed.get_bool("grab", True)
        if self.path is None and self.ids is None and not self.name:
            raise ScannerConfigError(
                "scanner evdev://: name the input device: evdev:///dev/input/by-id/…, evdev://VID:PID or "
                "evdev://?name=… (`paycode devices` lists them)",
                scanner=parsed.raw,
            )
        if device_factory is None or list_paths is None:
            default_factory, default_list = _load_evdev()
            device_factory = device_factory or default_factory
            list_paths = list_paths or default_list
        self._factory = device_factory
        self._list_paths = list_paths
        self._device: InputDevice | None = None
        self._grabbed = False
        self._decoder = EvdevKeyDecoder(
            self.keyboard.layout, end=self.keyboard.end, max_length=self.keyboard.max_length
        )
        self.meta = {"mode": "keyboard", "layout": self.keyboard.layout.name}

    @property
    def decoder(self) -> Decoder:
        return self._decoder

    @property
    def is_open(self) -> bool:
        return self._device is not None

    def open(self) -> None:
        if self._device is not None:
            return
        if self.path is not None:
            path = self.path
            device = open_with_retry(
                lambda: self._factory(path), retry=self.keyboard.open_retry, source=self.source, path=path
            )
        else:
            device = self._find()
        if self.grab:
            try:
                device.grab()
            except OSError as exc:
                _close_quietly(device)
                raise ScannerGone(
                    f"cannot grab {device.path} ({exc.strerror or exc}); another program holds it",
                    scanner=self.source,
                ) from None
        with self._lock:
            self._device, self._grabbed = device, self.grab
            self._decoder.reset()
        self._ready.clear()
        self._input_arrived()

    def read_events(self, wait: float) -> list[tuple[int, int, int]]:
        """Raw ``(type, code, value)`` input events within ``wait`` seconds (``paycode setup scanner``);
        ScannerGone when the device went away."""
        with self._lock:
            device = self._device
            if device is None:
                raise ScannerGone("the input device is not open", scanner=self.source)
            readable, _, _ = select.select([device.fd], [], [], wait)
            if not readable:
                return []
            try:
                events = list(device.read())
            except BlockingIOError:
                return []
            except OSError as exc:
                raise self._gone(f"reading failed ({exc})") from None
            if not events:
                raise self._gone("the input device reported end of file")
            return [(event.type, event.code, event.value) for event in events]

    def _matches(self, device: InputDevice) -> bool:
        if self.name and self.name.casefold() not in (device.name or "").casefold():
            return False
        if self.ids is not None and (device.info.vendor, device.info.product) != self.ids:
            return False
        return _is_keyboard(device)

    def _find(self) -> InputDevice:
        found: list[InputDevice] = []
        for path in self._list_paths():
            try:
                device = self._factory(path)
            except OSError:
                continue
            if self._matches(device):
                found.append(device)
            else:
                _close_quietly(device)
        wanted = " and ".join(
            ([f"name containing {self.name!r}"] if self.name else [])
            + ([f"{self.ids[0]:04x}:{self.ids[1]:04x}"] if self.ids else [])
        )
        if not found:
            raise ScannerGone(f"no keyboard input device matches {wanted}", scanner=self.source)
        if len(found) > 1:
            listing = "; ".join(f"{d.path} ({d.name})" for d in found)
            for device in found:
                _close_quietly(device)
            raise ScannerConfigError(
                f"{len(found)} input devices match {wanted}: {listing}; "
                "name one by its path (evdev:///dev/input/by-id/…)",
                scanner=self.source,
            )
        return found[0]

    def _poll(self, wait: float) -> list[Result]:
        device = self._device
        if device is None:
            return []
        try:
            readable, _, _ = select.select([device.fd], [], [], wait)
        except (OSError, ValueError) as exc:
            raise self._gone(f"the input device cannot be waited on ({exc})") from None
        if not readable:
            return []
        try:
            events = list(device.read())
        except BlockingIOError:
            return []
        except OSError as exc:
            why = "the device was unplugged" if exc.errno == errno.ENODEV else f"reading failed ({exc})"
            raise self._gone(why) from None
        if not events:
            raise self._gone("the input device reported end of file")
        self._input_arrived()
        results: list[Result] = []
        for event in events:
            results.extend(self._decoder.feed(event.type, event.code, event.value))
        return results

    def _release(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            if self._grabbed:
                try:
                    device.ungrab()
                except OSError:
                    pass  # the device is gone; the grab went with it
            _close_quietly(device)
        self._grabbed = False
        self._decoder.reset()


def _by_id_links() -> dict[str, str]:
    links: dict[str, str] = {}
    for link in sorted(glob.glob(os.path.join(BY_ID, "*"))):
        links.setdefault(os.path.realpath(link), link)
    return links


def list_evdev_devices(
    device_factory: Callable[[str], InputDevice] | None = None,
    list_paths: Callable[[], list[str]] | None = None,
) -> list[dict[str, Any]]:
    """Every keyboard-like input device this user can open, each with a ``url`` (its by-id path when it has one)."""
    if device_factory is None or list_paths is None:
        default_factory, default_list = _load_evdev()
        device_factory = device_factory or default_factory
        list_paths = list_paths or default_list
    links = _by_id_links()
    devices = []
    for path in sorted(list_paths()):
        try:
            device = device_factory(path)
        except OSError:
            continue
        try:
            if not _is_keyboard(device):
                continue
            stable = links.get(os.path.realpath(path), path)
            devices.append(
                {
                    "url": f"evdev://{stable}",
                    "description": f"{device.name} (input keyboard)",
                    "vendor_id": device.info.vendor,
                    "product_id": device.info.product,
                    "path": path,
                    "name": device.name,
                }
            )
        finally:
            _close_quietly(device)
    return devices
