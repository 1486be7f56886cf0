"""Benchmark 4, camera: the camera plugin's per-frame work against bare zxing-cpp on the same frames.

Frames are synthetic camera views of a payment-code screen (the Code 128 barcode and the
QR code of one 18-digit code, slightly tilted, blurred, with sensor noise), rendered by
:mod:`paycode_camera.synthetic` at 1280x720 and 640x480, eight different frames each,
plus 1280x720 frames showing no code (what the camera decodes while the lane is idle).

paycode's path per frame is the camera's fast pass once a frame is in memory:
:meth:`paycode_camera.decode.FrameDecoder.decode` (zxing-cpp with the plugin's options,
results wrapped) and :meth:`paycode_camera.Agreement.observe` (frame agreement, repeat
suppression): the whole path with ``passes=0``, and the first step of the default
:class:`paycode_camera.robust.RobustDecoder`, whose further passes on hard and empty frames
``camera_hard`` measures. The baseline is ``zxingcpp.read_barcodes`` with the same options on the
same frames. Capture (the camera driver, OpenCV) is outside both. The process is pinned
to one CPU while timing, so the figures are single-core.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import cycle
from typing import Any

from ._measure import Check, Figure, Stats, sample_interleaved
from ._run import Config

__all__ = ["run"]

CODE = "130000000000000001"
GOAL_RATIO = 1.2
GOAL_FPS = 30.0


@contextmanager
def one_cpu() -> Iterator[int | None]:
    """Pin this process to one CPU for the duration; yields the CPU (None where affinity is not supported)."""
    if not hasattr(os, "sched_getaffinity"):
        yield None
        return
    before = os.sched_getaffinity(0)
    cpu = max(before)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, before)


def _frames(width: int, height: int, *, with_code: bool, count: int = 8) -> list[Any]:
    from paycode_camera.synthetic import Placement, render_frame, symbol_image

    big = width >= 1280
    bar = symbol_image(CODE, "code128", scale=3 if big else 2)
    qr = symbol_image(CODE, "qr", scale=6 if big else 4)
    frames = []
    for i in range(count):
        placements = []
        if with_code:
            x, y = (width // 8 + 7 * i, height // 6 + 3 * i)
            placements = [
                Placement(bar, x, y, angle=-2.0 + 0.5 * i),
                Placement(qr, x + bar.shape[1] // 3, y + bar.shape[0] + height // 20, angle=1.5 - 0.4 * i),
            ]
        frames.append(render_frame(width, height, placements, blur=1.0, noise=6.0, seed=100 + i))
    return frames


def _paths(frames: list[Any]) -> tuple[Callable[[], object], Callable[[], object], Any]:
    import zxingcpp
    from paycode_camera import Agreement
    from paycode_camera.decode import FrameDecoder

    decoder = FrameDecoder()
    agreement = Agreement()
    options = decoder.read_options
    clock = [0.0]
    ours_frames, bare_frames = cycle(frames), cycle(frames)

    def through_plugin() -> object:
        clock[0] += 1 / 30  # the frame's time: 30 frames/s
        found = decoder.decode(next(ours_frames))
        return agreement.observe(clock[0], [d.text for d in found])

    def bare() -> object:
        return zxingcpp.read_barcodes(next(bare_frames), **options)

    return through_plugin, bare, decoder


def _check(decoder: Any, frames: list[Any], *, with_code: bool, label: str) -> None:
    for index, frame in enumerate(frames):
        texts = {d.text for d in decoder.decode(frame)}
        expected = {CODE} if with_code else set()
        if texts != expected:
            raise AssertionError(f"camera benchmark {label} frame {index}: decoded {len(texts)} codes, expected")


def _figure(cfg: Config, label: str, width: int, height: int, *, with_code: bool) -> Figure:
    frames = _frames(width, height, with_code=with_code)
    ours, bare, decoder = _paths(frames)
    _check(decoder, frames, with_code=with_code, label=label)
    with one_cpu() as cpu:
        samples = sample_interleaved(
            {"paycode": ours, "bare": bare}, batch=1, batches=cfg.pick(480, 16), rounds=8, warmup=4
        )
    value, base = Stats.of(samples["paycode"]), Stats.of(samples["bare"])
    ratio = value.median / base.median
    fps = 1e9 / value.median
    fps_p99 = 1e9 / value.p99
    big = width >= 1280 and with_code
    return Figure(
        id=f"camera_{label}",
        title=f"camera frame {width}x{height}" + ("" if with_code else ", no code in view"),
        value=value,
        baseline=base,
        baseline_label="bare zxingcpp.read_barcodes",
        goal="<= 1.2x and >= 30 frames/s" if big else "<= 1.2x",
        met=ratio <= GOAL_RATIO and (fps >= GOAL_FPS if big else True),
        notes=f"one CPU ({'cpu ' + str(cpu) if cpu is not None else 'affinity unsupported'}); "
        f"{fps:.0f} frames/s at the median, {fps_p99:.0f} at p99",
        extra={"frames_per_second": fps, "frames_per_second_p99": fps_p99, "distinct_frames": len(frames)},
    )


def run(cfg: Config) -> list[Figure | Check]:
    return [
        _figure(cfg, "720p", 1280, 720, with_code=True),
        _figure(cfg, "480p", 640, 480, with_code=True),
        _figure(cfg, "720p_empty", 1280, 720, with_code=False),
    ]
