"""The camera scanner: OpenCV capture -> zxing-cpp decode -> frame agreement -> scans.

OpenCV, numpy and zxing-cpp are imported in :meth:`CameraScanner.open`, never when the
plugin loads, so ``paycode --help`` and every other command stay fast.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from paycode.errors import ScannerConfigError, ScannerExhausted, ScannerGone
from paycode.masking import mask_code
from paycode.models import Scan
from paycode.scanning import ScannerURL

from ._agreement import Agreement
from ._options import CameraOptions

if TYPE_CHECKING:
    from .decode import FrameDecoder
    from .robust import RobustDecoder

__all__ = ["CameraScanner"]

log = logging.getLogger("paycode_camera")

_DEFAULT_FILE_FPS = 30.0  # when a file does not say its frame rate
_STREAM_TIMEOUT_MS = 5000  # open and read timeouts given to FFmpeg for stream URLs
_VIDEO_NODE = re.compile(r"/dev/video(\d+)")
_LOG_LEVEL_ERROR = 2  # cv::utils::logging::LOG_LEVEL_ERROR
_quieted = False


def _quiet_opencv(cv2: Any) -> None:
    """OpenCV warns on stderr for every camera it cannot open; paycode reports that itself.

    Only done when the user has not chosen a level with ``OPENCV_LOG_LEVEL``.
    """
    global _quieted
    if not _quieted and "OPENCV_LOG_LEVEL" not in os.environ:
        levels = getattr(cv2.utils, "logging", None)  # OpenCV 4.9 and later
        if levels is not None:
            levels.setLogLevel(levels.LOG_LEVEL_ERROR)
        elif hasattr(cv2, "setLogLevel"):
            cv2.setLogLevel(_LOG_LEVEL_ERROR)
    _quieted = True


class CameraScanner:
    """A :class:`paycode.scanning.Scanner` reading codes from a camera, a video file or a stream.

    ``read(timeout)`` grabs frames until a code is accepted (see :mod:`._agreement`) or
    ``timeout`` seconds pass. A camera or stream that stops delivering frames raises
    :class:`~paycode.errors.ScannerGone`. A video file that ends has no more scans:
    ``read`` waits out its timeout and returns None (or starts the file again with ``loop=1``).
    """

    def __init__(self, options: CameraOptions) -> None:
        self.options = options
        self._agreement = Agreement(
            agree=options.agree, agree_window=options.agree_window, repeat_window=options.repeat_window
        )
        self._pending: deque[Scan] = deque()
        self._lock = threading.Lock()  # held around every use of the capture; close() waits for it
        self._closed = threading.Event()
        self._cap: Any = None
        self._cv2: Any = None
        self._decoder: FrameDecoder | RobustDecoder | None = None
        self._frame_index = 0  # frames grabbed since open (across loops of a file)
        self._pass_frames = 0  # frames grabbed since the file was last (re)opened
        self._file_fps = _DEFAULT_FILE_FPS
        self._next_slot = 0.0
        self._ended = False
        self._opened_at = 0.0  # monotonic time of open(): a file's frame times count from it
        #: counters since construction: frames grabbed, frames decoded, scans accepted
        self.stats = {"frames": 0, "decoded": 0, "scans": 0}

    @classmethod
    def from_url(cls, url: ScannerURL | str) -> CameraScanner:
        """Build from a scanner URL (checks every parameter; opens nothing)."""
        return cls(CameraOptions.from_url(url if isinstance(url, ScannerURL) else ScannerURL.parse(url)))

    def __repr__(self) -> str:
        return f"CameraScanner({self.options.source!r})"

    @property
    def ended(self) -> bool:
        """True once a video file has run out of frames (without ``loop=1``): ``read`` can only time out now."""
        return self._ended

    # -- the Scanner protocol ----------------------------------------------------------

    def open(self) -> None:
        import cv2

        from .decode import FrameDecoder

        _quiet_opencv(cv2)
        opts = self.options
        if self._decoder is None:
            fast = FrameDecoder(
                opts.formats, roi=opts.roi, rotate=opts.rotate, downscale=opts.downscale, invert=opts.invert
            )
            if opts.passes:
                from .robust import RobustDecoder

                self._decoder = RobustDecoder(fast, budget=None if opts.kind == "file" else opts.budget)
            else:
                self._decoder = fast
        elif not isinstance(self._decoder, FrameDecoder):
            self._decoder.reset()
        with self._lock:
            self._release()
            self._cv2 = cv2
            self._closed.clear()
            self._cap = self._open_capture(cv2)
            self._frame_index = 0
            self._pass_frames = 0
            self._next_slot = 0.0
            self._ended = False
            self._opened_at = time.monotonic()
            self._agreement.reset()
            self._pending.clear()
        log.debug("camera %s opened", opts.source)

    def read(self, timeout: float | None) -> Scan | None:
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._closed.is_set() or self._cap is None:
                raise ScannerGone(f"{self.options.label} is not open", scanner=self.options.source)
            if self._ended:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is None or remaining > 0:
                    self._closed.wait(remaining)
                return None
            with self._lock:
                if self._cap is not None:
                    self._step()
            if not self._pending and deadline is not None and time.monotonic() >= deadline:
                return None

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            self._release()
        self._pending.clear()

    # -- internals ---------------------------------------------------------------------

    def _open_capture(self, cv2: Any) -> Any:
        opts = self.options
        if opts.kind == "file":
            return self._open_file(cv2, str(opts.target))
        if opts.kind == "stream":
            ms = _STREAM_TIMEOUT_MS
            timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
            cap = cv2.VideoCapture(str(opts.target), cv2.CAP_FFMPEG, timeouts)
            if not cap.isOpened():
                cap.release()
                raise ScannerGone(
                    f"{opts.label} could not be opened (unreachable, refused, or not a video stream)",
                    scanner=opts.source,
                )
            return cap
        index = _device_index(opts.target, opts.source)
        cap = cv2.VideoCapture(index)
        if not cap.isOpened():
            cap.release()
            raise ScannerGone(
                f"{opts.label} could not be opened (not connected, in use by another program, or no permission)",
                scanner=opts.source,
            )
        if opts.width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, opts.width)
        if opts.height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, opts.height)
        return cap

    def _open_file(self, cv2: Any, path: str) -> Any:
        if not os.path.isfile(path):
            raise ScannerConfigError(
                f"no video file at {path!r}; give the path of a video OpenCV can read (for example an MJPG .avi)",
                scanner=self.options.source,
            )
        cap = cv2.VideoCapture(path)
        if not cap.isOpened():
            cap.release()
            raise ScannerConfigError(f"{path!r} is not a video file OpenCV can read", scanner=self.options.source)
        fps = cap.get(cv2.CAP_PROP_FPS)
        self._file_fps = fps if fps and fps > 0 and fps == fps else _DEFAULT_FILE_FPS
        return cap

    def _release(self) -> None:
        if self._cap is not None:
            cap, self._cap = self._cap, None
            cap.release()

    def _clock(self) -> float:
        """Seconds on the source's clock for the next frame: its time in a file, monotonic time when live."""
        if self.options.kind == "file":
            return self._frame_index / self._file_fps
        return time.monotonic()

    def _step(self) -> None:
        """Grab one frame; decode it unless the frame-rate cap skips it; queue the scans it completes."""
        opts, cap = self.options, self._cap
        if not cap.grab():
            self._end_of_frames()
            return
        now = self._clock()
        index = self._frame_index
        self._frame_index += 1
        self._pass_frames += 1
        self.stats["frames"] += 1
        if opts.fps:
            if now < self._next_slot - 1e-3:
                return  # grabbed (keeps a live source's buffer fresh) but not decoded
            interval = 1.0 / opts.fps
            # keep to the schedule, but do not try to catch up after a stall
            self._next_slot = max(self._next_slot + interval, now + interval / 2)
        ok, frame = cap.retrieve()
        if not ok or frame is None:
            return
        assert self._decoder is not None
        found = self._decoder.decode(frame)
        self.stats["decoded"] += 1
        if not found:
            self._agreement.observe(now, ())
            return
        accepted = self._agreement.observe(now, [d.text for d in found])
        for text in accepted:
            first = next(d for d in found if d.text == text)
            meta: dict[str, Any] = {"frame": index, "format": first.format, "agreed": opts.agree}
            if opts.kind == "file":
                meta["video_time"] = round(now, 3)
            # a file's scan is timed as if the file played at its own rate from open(), so the
            # supervisor's repeat window runs on the video's clock as the camera's does on the wall's
            at = self._opened_at + now if opts.kind == "file" else now
            self._pending.append(
                Scan(
                    raw=first.raw,
                    text=text,
                    source=opts.source,
                    symbology=first.symbology,
                    aim=first.aim,
                    time=at,
                    meta=meta,
                )
            )
            self.stats["scans"] += 1
            log.debug("camera %s: %s %s accepted", opts.source, first.symbology, mask_code(text))

    def _end_of_frames(self) -> None:
        opts = self.options
        if opts.kind != "file":
            self._release()
            raise ScannerGone(
                f"{opts.label} stopped delivering frames",
                scanner=opts.source,
            )
        if opts.loop and self._pass_frames > 0:
            # reopen rather than seek: seeking is unreliable with some codecs and containers
            self._release()
            self._cap = self._open_file(self._cv2, str(opts.target))
            self._pass_frames = 0
            return
        self._ended = True
        log.debug("camera %s: end of file after %d frames", opts.source, self._frame_index)
        if opts.stop_at_end:
            self._release()
            raise ScannerExhausted(
                f"end of {opts.label} after {self._frame_index} frames",
                scanner=opts.source,
            )


def _device_index(target: int | str, source: str) -> int:
    """The OpenCV device index of ``camera://N`` or of a device path resolving to /dev/videoN."""
    if isinstance(target, int):
        return target
    if not os.path.exists(target):
        raise ScannerGone(f"camera {target}: no such device (not connected?)", scanner=source)
    resolved = os.path.realpath(target)
    match = _VIDEO_NODE.fullmatch(resolved)
    if match is None:
        raise ScannerConfigError(
            f"camera {target} is not a video device (it resolves to {resolved}, not /dev/videoN)",
            scanner=source,
        )
    return int(match.group(1))
