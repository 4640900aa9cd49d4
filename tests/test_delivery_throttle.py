"""The token bucket and the hourly sliding window, on a fake clock."""

from __future__ import annotations

from outreach.delivery.throttle import Throttle


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def throttle(rate: float, hourly: int = 0) -> tuple[Throttle, FakeClock]:
    clock = FakeClock()
    return Throttle(rate, hourly, clock=clock, sleep=clock.sleep), clock


def send(t: Throttle, count: int) -> None:
    for _ in range(count):
        assert t.acquire()


def test_rate_is_kept_over_time():
    t, clock = throttle(50)
    start = clock.now
    send(t, 1000)
    elapsed = clock.now - start
    # 1000 messages at 50/s: 20 s, less the initial burst of 5 (a tenth of a second's worth).
    assert 19.8 <= elapsed <= 20.0


def test_burst_is_a_tenth_of_a_second():
    t, clock = throttle(100)
    send(t, 10)
    assert clock.slept == []
    send(t, 1)
    assert clock.slept and abs(clock.slept[0] - 0.01) < 1e-9


def test_slow_rate_spaces_messages():
    t, clock = throttle(0.5)  # one message every two seconds
    send(t, 3)
    assert clock.now - 1000.0 == 4.0


def test_idle_time_does_not_build_a_bigger_burst():
    t, clock = throttle(10)
    clock.now += 3600
    send(t, 1)
    send(t, 1)
    assert abs(sum(clock.slept) - 0.1) < 1e-9


def test_hourly_window_waits_for_the_oldest_message_to_age():
    t, clock = throttle(0, hourly=3)
    send(t, 3)
    assert clock.slept == []
    clock.now += 600
    assert t.delay() == 3000
    send(t, 1)
    assert (
        abs((clock.now - 1000.0) - 3600) < 1e-6
    )  # the fourth went exactly an hour after the first
    assert t.delay() == 0  # the second message (sent at 1000 too) is an hour old as well


def test_hourly_window_is_sliding():
    t, clock = throttle(0, hourly=2)
    send(t, 1)
    clock.now += 1800
    send(t, 1)
    clock.now += 1800  # the first is an hour old: one more may go
    assert t.delay() == 0
    send(t, 1)
    assert t.delay() == 1800  # the next waits until the second is an hour old


def test_zero_means_unlimited():
    t, clock = throttle(0, hourly=0)
    send(t, 10_000)
    assert clock.slept == []


def test_stopping_interrupts_a_wait():
    t, clock = throttle(0, hourly=1)
    send(t, 1)
    assert t.acquire(stopping=lambda: True) is False
    assert clock.slept == []
