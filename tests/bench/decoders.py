"""Benchmark 3, decoders: the scanner plugins' sans-IO decoders against what the devices can send at most.

- HID keyboard wedge (:class:`paycode_hid.KeyboardDecoder`, layout ``us``): the 38 boot
  keyboard reports of an 18-digit code (press and release per digit, Enter). A
  full-speed USB device is polled at most every 1 ms: 1,000 reports/s.
- HID POS (:class:`paycode_hid.PosDecoder`): the one 64-byte report of an 18-digit code;
  the same 1,000 reports/s limit.
- Serial (:class:`paycode_serial.FrameDecoder`, default CR/LF framing): 18 digits + CR
  is 19 bytes; 9600 baud 8N1 carries 960 bytes/s, so at most 50.5 frames/s. Measured
  fed one byte per call (what a port read at 9600 baud hands over) and the whole frame
  in one call.

Each figure is time per report (per frame for serial); the ratio is how many times the
physical maximum the decoder keeps up with, on one core.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from paycode_hid import KeyboardDecoder, PosDecoder, keyboard_reports, pos_reports
from paycode_serial import FrameDecoder, Framing

from ._measure import Check, Figure, Stats, sample_interleaved
from ._run import Config

__all__ = ["run"]

CODE = "130000000000000001"
GOAL_RATIO = 100.0
HID_REPORT_NS = 1_000_000  # 1 ms polling interval: 1,000 reports/s
SERIAL_BYTE_NS = 1e9 / 960  # 9600 baud, 10 bits a byte (start, 8 data, stop)


def _reports(feed: Callable[[bytes], Sequence[object]], reports: Sequence[bytes], what: str) -> Callable[[], None]:
    """A function feeding one scan's reports; checked once to decode exactly the code."""

    def one_scan() -> None:
        for report in reports:
            feed(report)

    results = [r for report in reports for r in feed(report)]
    _expect_code(results, what)
    return one_scan


def _serial(chunks: Sequence[bytes]) -> Callable[[], None]:
    """A function feeding one frame in ``chunks``; checked once to decode exactly the code."""
    feed = FrameDecoder(Framing()).feed

    def one_frame() -> None:
        for chunk in chunks:
            feed(chunk, 1000.0)

    results = [r for chunk in chunks for r in feed(chunk, 1000.0)]
    _expect_code(results, "serial")
    return one_frame


def _expect_code(results: Sequence[object], what: str) -> None:
    texts = [getattr(r, "text", r) for r in results]
    if texts != [CODE]:
        raise AssertionError(f"{what} decoder gave {texts!r}, expected the code alone")


def _figure(
    cfg: Config, id: str, title: str, fn: Callable[[], object], per_call: int, physical_ns: float, physical: str
) -> Figure:
    samples = sample_interleaved({"decoder": fn}, batch=20, batches=cfg.pick(2000, 50), warmup=200)
    per_item = [ns / per_call for ns in samples["decoder"]]
    value = Stats.of(per_item)
    ratio = physical_ns / value.median
    return Figure(
        id=id,
        title=title,
        value=value,
        baseline=Stats.constant(physical_ns),
        baseline_label=physical,
        goal=">= 100x the physical maximum",
        met=ratio >= GOAL_RATIO,
        higher_is_better=True,
        notes=f"{1e9 / value.median:,.0f}/s at the median, {1e9 / value.p99:,.0f}/s at p99",
        extra={"per_second": 1e9 / value.median, "physical_per_second": 1e9 / physical_ns},
    )


def run(cfg: Config) -> list[Figure | Check]:
    typed = keyboard_reports(CODE, "us")
    keyboard = _reports(KeyboardDecoder("us").feed, typed, "HID keyboard")
    pos_sent = pos_reports(CODE, "]C0")
    pos = _reports(PosDecoder().feed, pos_sent, "HID POS")
    frame = (CODE + "\r").encode("ascii")
    frame_ns = SERIAL_BYTE_NS * len(frame)
    bytewise = _serial([frame[i : i + 1] for i in range(len(frame))])
    whole = _serial([frame])
    return [
        _figure(
            cfg, "decoder_hid_keyboard", "HID keyboard reports", keyboard, len(typed),
            HID_REPORT_NS, "1,000 reports/s (1 ms USB poll)",
        ),
        _figure(cfg, "decoder_hid_pos", "HID POS reports", pos, len(pos_sent), HID_REPORT_NS, "1,000 reports/s"),
        _figure(
            cfg, "decoder_serial_bytewise", "serial frames, fed a byte at a time", bytewise, 1,
            frame_ns, "50.5 frames/s (960 B/s, 19 B)",
        ),
        _figure(
            cfg, "decoder_serial_frame", "serial frames, fed a frame at a time", whole, 1,
            frame_ns, "50.5 frames/s (960 B/s, 19 B)",
        ),
    ]  # fmt: skip
