"""Frame agreement and repeat suppression, as properties over random frame sequences."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paycode_camera import Agreement

CODES = ["111", "222", "333"]

# a frame: the time since the previous frame, and the codes it shows
frames_strategy = st.lists(
    st.tuples(st.integers(min_value=1, max_value=300).map(lambda ms: ms / 100), st.lists(st.sampled_from(CODES))),
    max_size=60,
)
settings_strategy = st.tuples(
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=1, max_value=300).map(lambda n: n / 100),
    st.integers(min_value=0, max_value=400).map(lambda n: n / 100),
)


def run(frames: list[tuple[float, list[str]]], agree: int, window: float, repeat: float) -> list[tuple[float, str]]:
    """Feed the frames; return (time, code) of every acceptance, and the frame times."""
    agreement = Agreement(agree=agree, agree_window=window, repeat_window=repeat)
    now, accepted = 0.0, []
    for step, codes in frames:
        now = round(now + step, 2)
        accepted += [(now, code) for code in agreement.observe(now, codes)]
    return accepted


def sightings(frames: list[tuple[float, list[str]]], code: str) -> list[float]:
    now, seen = 0.0, []
    for step, codes in frames:
        now = round(now + step, 2)
        if code in codes:
            seen.append(now)
    return seen


@given(frames_strategy, settings_strategy)
@settings(max_examples=200, deadline=None)
def test_an_accepted_code_was_seen_on_enough_frames_within_the_window(
    frames: list[tuple[float, list[str]]], params: tuple[int, float, float]
) -> None:
    agree, window, repeat = params
    for at, code in run(frames, agree, window, repeat):
        recent = [t for t in sightings(frames, code) if at - window <= t <= at]
        assert len(recent) >= agree


@given(frames_strategy, settings_strategy)
@settings(max_examples=200, deadline=None)
def test_a_code_comes_again_only_after_being_out_of_sight_for_the_repeat_window(
    frames: list[tuple[float, list[str]]], params: tuple[int, float, float]
) -> None:
    agree, window, repeat = params
    if repeat == 0:
        return
    accepted = run(frames, agree, window, repeat)
    for code in CODES:
        times = [t for t, c in accepted if c == code]
        seen = sightings(frames, code)
        for first, second in itertools.pairwise(times):
            between = [t for t in seen if first <= t <= second]
            gaps = [b - a for a, b in itertools.pairwise(between)]
            assert any(gap > repeat for gap in gaps), f"{code} accepted at {first} and {second}"


@given(
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=4, max_value=300),
    st.integers(min_value=0, max_value=400),
    st.integers(min_value=0, max_value=10),
)
@settings(max_examples=200, deadline=None)
def test_a_new_code_on_enough_close_frames_is_accepted(agree: int, window: int, repeat: int, blanks: int) -> None:
    step = window // agree  # in hundredths of a second, like every time here: agree frames span < window
    frames = [(0.5, [])] * blanks + [(step / 100, ["111"])] * agree
    accepted = run(frames, agree, window / 100, repeat / 100)
    assert [code for _, code in accepted] == ["111"]


def test_a_code_held_in_view_is_one_scan_and_comes_back_after_a_gap() -> None:
    agreement = Agreement(agree=2, agree_window=1.0, repeat_window=1.5)
    out = [code for t in range(100) for code in agreement.observe(t / 10, ["A"])]  # ten seconds in view
    assert out == ["A"]
    assert agreement.observe(11.0, ["A"]) == []  # 1.1 s out of sight: still a repeat
    assert agreement.observe(13.0, ["A"]) == []  # 2.0 s out of sight: new, first frame
    assert agreement.observe(13.1, ["A"]) == ["A"]


def test_one_frame_votes_once_and_codes_keep_their_order() -> None:
    agreement = Agreement(agree=2)
    assert agreement.observe(0.0, ["A", "A", "B"]) == []
    assert agreement.pending() == 2
    assert agreement.observe(0.1, ["B", "A"]) == ["B", "A"]
    agreement.reset()
    assert agreement.pending() == 0


def test_agreement_window_expires_old_sightings() -> None:
    agreement = Agreement(agree=2, agree_window=0.5)
    assert agreement.observe(0.0, ["A"]) == []
    assert agreement.observe(0.6, ["A"]) == []  # the first sighting is too old
    assert agreement.observe(0.9, ["A"]) == ["A"]


@pytest.mark.parametrize("kwargs", [{"agree": 0}, {"agree_window": -1}, {"repeat_window": -0.1}])
def test_nonsense_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Agreement(**kwargs)  # type: ignore[arg-type]
