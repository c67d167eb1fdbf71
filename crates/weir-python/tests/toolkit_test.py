# The toolkit's policies (`import weir`) with a fake clock, sleep and random: backoff and
# jitter, the cache's TTL and size bound, the breaker's states, guard's failure handling
# and headers. Run by toolkit.rs as a KSML function's code; a failed assert fails the test.
import weir

now = [1000.0]
slept = []
fraction = [0.0]
weir._clock = lambda: now[0]
weir._sleep = lambda s: (slept.append(s), now.__setitem__(0, now[0] + s))
weir._random_fraction = lambda: fraction[0]

# -- Retry: exponential backoff, capped, shortened by up to `jitter` ------------------------
r = weir.Retry(attempts=6, backoff=0.1, max_backoff=1.0, jitter=0.5)
fraction[0] = 0.0
assert [round(r.delay(n), 6) for n in range(1, 7)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0], [r.delay(n) for n in range(1, 7)]
fraction[0] = 0.999999
assert all(abs(r.delay(n) - min(1.0, 0.1 * 2 ** (n - 1)) * 0.5) < 1e-5 for n in range(1, 7))
fraction[0] = 0.5
assert abs(r.delay(3) - 0.3) < 1e-9, r.delay(3)
for bad, kwargs in ((ValueError, {"attempts": 0}), (TypeError, {"attempts": 1.5}), (ValueError, {"jitter": 2}), (ValueError, {"backoff": -1})):
    try:
        weir.Retry(**kwargs)
    except bad as e:
        assert "Retry" in str(e), e
    else:
        raise AssertionError(f"Retry({kwargs}) accepted")

# -- guard: transient failures retried with the backoff, others not --------------------------
fraction[0] = 0.0
calls = []


def flaky(x, fail_times, error):
    calls.append(x)
    if len(calls) <= fail_times:
        raise error
    return x * 2


g = weir.guard("flaky", retry=weir.Retry(attempts=3, backoff=0.1, max_backoff=1.0, jitter=0))(flaky)
slept.clear()
assert g(21, 2, ConnectionError("refused")) == 42 and len(calls) == 3 and slept == [0.1, 0.2], (calls, slept)
calls.clear()
try:
    g(1, 5, TimeoutError("slow"))
except weir.CallFailed as e:
    assert (e.endpoint, e.attempts, type(e.cause)) == ("flaky", 3, TimeoutError), (e.endpoint, e.attempts, e.cause)
    assert e.weir_headers() == {"call.endpoint": "flaky", "call.attempts": "3", "call.cause": "TimeoutError: slow"}, e.weir_headers()
    assert isinstance(e.__cause__, TimeoutError)
else:
    raise AssertionError("no CallFailed")
calls.clear()
try:
    g(1, 1, KeyError("k"))  # not transient: no retry
except weir.CallFailed as e:
    assert e.attempts == 1 and len(calls) == 1, (e.attempts, calls)
else:
    raise AssertionError("no CallFailed")

calls.clear()
try:
    g(1, 1, PermissionError("denied by the sandbox"))  # an OSError, yet never transient
except weir.CallFailed as e:
    assert e.attempts == 1 and len(calls) == 1, (e.attempts, calls)
else:
    raise AssertionError("no CallFailed")

# guard(timeout=) hands the callable its budget, and refuses one that cannot take it.
assert weir.guard("t", timeout=2.5)(lambda timeout: timeout)() == 2.5
try:
    weir.guard("t", timeout=1)(lambda: 1)
except TypeError as e:
    assert "timeout" in str(e), e
else:
    raise AssertionError("a callable without a timeout parameter accepted")

# -- Cache: TTL and size bound (least recently used first) ----------------------------------
computed = []


def square(x):
    computed.append(x)
    return x * x


c = weir.guard("sq", cache=weir.Cache(ttl=10, max_entries=2))(square)
assert [c(2), c(2), c(3)] == [4, 4, 9] and computed == [2, 3], computed
c(2)  # 2 is now the most recently used; adding 4 drops 3
c(4)
assert computed == [2, 3, 4], computed
c(2)
c(3)
assert computed == [2, 3, 4, 3], computed
now[0] += 10.5  # past the TTL
c(3)
assert computed == [2, 3, 4, 3, 3], computed
assert len(c._policy.cache) <= 2
lengths = weir.guard("len", cache=weir.Cache())(len)
assert lengths([1, 2]) == 2 and len(lengths._policy.cache) == 0  # unhashable arguments: called, not cached
try:
    weir.Cache(max_entries=0)
except ValueError:
    pass
else:
    raise AssertionError("Cache(max_entries=0) accepted")

# -- Breaker: closed -> open after `failures` within `window` -> half-open -> closed/open ---
down = [True]


def service():
    if down[0]:
        raise ConnectionRefusedError("down")
    return "up"


b = weir.guard("svc", breaker=weir.Breaker(failures=3, window=5, reset_after=2))(service)
for _ in range(2):
    try:
        b()
    except weir.CircuitOpen:
        raise AssertionError("opened too early")
    except weir.CallFailed:
        pass
assert b.circuit_state() == "closed"
now[0] += 6  # the first two failures leave the window
for _ in range(2):
    try:
        b()
    except weir.CallFailed as e:
        assert not isinstance(e, weir.CircuitOpen)
assert b.circuit_state() == "closed"
try:
    b()
except weir.CallFailed as e:
    assert not isinstance(e, weir.CircuitOpen)
assert b.circuit_state() == "open"
down[0] = False
try:
    b()
except weir.CircuitOpen as e:
    assert e.attempts == 0 and abs(e.retry_in - 2) < 1e-9 and e.weir_headers()["call.cause"] == "circuit open", (e.retry_in, e.weir_headers())
else:
    raise AssertionError("an open circuit let a call through")
now[0] += 2
assert b.circuit_state() == "half_open"
down[0] = True
try:
    b()  # the probe fails: open again for reset_after
except weir.CircuitOpen:
    raise AssertionError("the probe was not let through")
except weir.CallFailed:
    pass
assert b.circuit_state() == "open"
down[0] = False
now[0] += 2
assert b() == "up" and b.circuit_state() == "closed"

# One probe at a time: while it is out, other calls are rejected.
probe = weir._Circuit("p", weir.Breaker(failures=1, reset_after=1), {"endpoint": "p"})
probe.record(False)
assert probe.admit() is not None
now[0] += 1
assert probe.admit() is None and probe.admit() == 0.0
probe.record(True)
assert probe.current() == "closed" and probe.admit() is None

# A probe that ends without an outcome (an interrupt) gives its slot back.
interrupted = [True]


def interruptible():
    if interrupted[0]:
        interrupted[0] = False
        raise KeyboardInterrupt
    return "answered"


k = weir.guard("k", breaker=weir.Breaker(failures=1, reset_after=1))(interruptible)
k._policy.circuit.record(False)
now[0] += 1
try:
    k()
except KeyboardInterrupt:
    pass
assert k.circuit_state() == "half_open" and k() == "answered" and k.circuit_state() == "closed"

# threshold: failures must also be that share of the window's attempts.
t = weir._Circuit("t", weir.Breaker(failures=2, window=60, threshold=0.5), {"endpoint": "t"})
for ok in (True, True, True, False, False):
    t.record(ok)
assert t.current() == "closed"  # 2 of 5
t.record(False)
assert t.current() == "open"  # 3 of 6

# A retry that meets a circuit opened by its own failures stops with CircuitOpen.
down[0] = True
rb = weir.guard("rb", retry=weir.Retry(attempts=5, backoff=0, jitter=0), breaker=weir.Breaker(failures=2, reset_after=30))(service)
try:
    rb()
except weir.CircuitOpen as e:
    assert e.attempts == 2 and isinstance(e.cause, ConnectionRefusedError), (e.attempts, e.cause)
else:
    raise AssertionError("no CircuitOpen")

# -- metrics: per endpoint ------------------------------------------------------------------
m = weir.guard("metered", cache=weir.Cache(ttl=60, max_entries=10), retry=weir.Retry(attempts=2, backoff=0))(square)
m(5)
m(5)
m(6)
