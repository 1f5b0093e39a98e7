"""The rate limiter's cost per call and its memory stay flat however many clients it has seen, and
clients are named by their network (an IPv6 /64), through a keyed hash."""

import sys
import tracemalloc

import pytest

from mnist_mlp.service import StartupError, clients, create_app, rate_limit
from mnist_mlp.service.rate_limit import MAX_CLIENTS, RateLimiter

SECRET = "s" * 32


def lines_run(call):
    """How many Python lines of service/rate_limit.py `call()` runs: the work it does, not its time."""
    count = 0

    def trace(frame, event, arg):
        nonlocal count
        if frame.f_code.co_filename != rate_limit.__file__:
            return None
        count += event == "line"
        return trace

    sys.settrace(trace)
    try:
        call()
    finally:
        sys.settrace(None)
    return count


def flood(limiter, start, stop):
    for n in range(start, stop):
        limiter.wait(f"client-{n}")


def test_the_work_per_call_is_the_same_with_30000_clients():
    """Time stands still: no bucket ever fills up again, the worst case for forgetting any."""
    limiter = RateLimiter(rate=1.0, burst=20, clock=lambda: 0.0)
    work = {}
    for seen in (1, 5_000, MAX_CLIENTS, 20_000, 30_000):
        flood(limiter, len(limiter._buckets) and seen // 2, seen)
        work[seen] = lines_run(lambda seen=seen: limiter.wait(f"new-{seen}"))
    # past its capacity a call also forgets one client: one line more, whatever the number
    assert max(work.values()) <= min(work.values()) + 1 and max(work.values()) < 20, work


def test_memory_stops_growing_at_its_capacity():
    limiter = RateLimiter(rate=1.0, burst=20, clock=lambda: 0.0)
    tracemalloc.start()
    try:
        flood(limiter, 0, 2 * MAX_CLIENTS)
        early = tracemalloc.get_traced_memory()[0]
        flood(limiter, 2 * MAX_CLIENTS, 10 * MAX_CLIENTS)
        late = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    print(f"\n{2 * MAX_CLIENTS} clients seen: {early / 1e6:.2f} MB; {10 * MAX_CLIENTS}: {late / 1e6:.2f} MB")
    assert late < 1.02 * early and late < 5e6


def test_the_client_seen_longest_ago_is_forgotten_first():
    now = [0.0]
    limiter = RateLimiter(rate=1.0, burst=1, clock=lambda: now[0], capacity=2)
    assert [limiter.wait(c) for c in ("a", "b")] == [0.0, 0.0]
    now[0] += 0.5
    assert limiter.wait("a") == pytest.approx(0.5)  # "a" seen again: "b" is now the oldest
    assert limiter.wait("c") == 0.0  # a third client: "b" is forgotten, "a" kept, still empty
    assert limiter.wait("a") == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("fe80::1%eth0", "fe80::/64"),
        ("not an address", "not an address"),
    ],
)
def test_a_client_is_its_ipv4_address_or_its_ipv6_64(address, network):
    assert clients.network(address) == network


def test_the_key_is_the_networks_never_the_address():
    key = clients.client_key(SECRET, "2001:db8:1:2::1")
    assert len(key) == 16 and int(key, 16) >= 0
    assert key == clients.client_key(SECRET, "2001:db8:1:2:ffff::9")
    assert key != clients.client_key(SECRET, "2001:db8:1:3::1")
    assert key != clients.client_key("t" * 32, "2001:db8:1:2::1")  # without the secret, no way back
    assert "2001" not in key


def test_a_short_secret_stops_start_up():
    with pytest.raises(StartupError, match=r"^FEEDBACK_SECRET must be at least 32 characters \(it has 6\)"):
        create_app({"FEEDBACK_SECRET": "s3cret"})
    assert create_app({"FEEDBACK_SECRET": SECRET}).config["FEEDBACK_SECRET"] == SECRET
    drawn = {create_app().config["FEEDBACK_SECRET"] for _ in range(2)}
    assert len(drawn) == 2 and all(len(s) == 64 for s in drawn)  # unset: a random one each time
