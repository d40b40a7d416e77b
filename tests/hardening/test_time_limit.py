"""preflight.time_limit: a total-time bound a dripping peer cannot stretch; limits nest."""

from __future__ import annotations

import signal
import socket
import threading
import time

import pytest

from preflight.time_limit import TimeLimitExceeded, earliest_remaining, time_limit


def _dripping_pair() -> tuple[socket.socket, threading.Event]:
    """A socket whose peer sends one byte every 50 ms until stopped."""
    ours, theirs = socket.socketpair()
    stop = threading.Event()

    def drip() -> None:
        while not stop.wait(0.05):
            try:
                theirs.send(b".")
            except OSError:
                return

    threading.Thread(target=drip, daemon=True).start()
    return ours, stop


def test_a_drip_that_resets_every_idle_timeout_is_cut_in_total() -> None:
    sock, stop = _dripping_pair()
    sock.settimeout(1.0)  # an idle timeout: never trips, a byte comes every 50 ms
    started = time.monotonic()
    try:
        with pytest.raises(TimeLimitExceeded) as caught, time_limit(0.4, "reading") as limit:
            while True:
                sock.recv(1)
    finally:
        stop.set()
        sock.close()
    assert caught.value.limit is limit
    assert 0.35 <= time.monotonic() - started < 5
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_the_outer_limit_fires_inside_an_inner_one_and_only_once() -> None:
    with (
        pytest.raises(TimeLimitExceeded) as caught,
        time_limit(0.2, "run") as outer,
        time_limit(30, "request") as inner,
    ):
        assert earliest_remaining() is not None
        try:
            time.sleep(5)
        except TimeLimitExceeded as exc:
            assert exc.limit is outer and exc.limit is not inner
            time.sleep(0.3)  # the ending: the outer limit does not fire again
            raise
    assert caught.value.limit is outer
    assert earliest_remaining() is None


def test_an_inner_limit_fires_first_and_the_outer_stays_armed() -> None:
    with time_limit(5, "run") as outer:
        with pytest.raises(TimeLimitExceeded) as caught, time_limit(0.1, "request"):
            time.sleep(2)
        assert caught.value.limit is not outer
        left = earliest_remaining()
        assert left is not None and 3 < left <= 5


def test_outside_the_main_thread_a_limit_does_nothing() -> None:
    seen: list[object] = []

    def worker() -> None:
        with time_limit(0.05, "thread"):
            time.sleep(0.2)
        seen.append(earliest_remaining())

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [None]
