"""Weir's resilience toolkit for KSML functions (`import weir` in `globalCode`).

Calls to other systems with the policies a production pipeline needs, each optional:

- `weir.Retry(attempts, backoff, max_backoff, jitter)`: try again after a transient failure,
  waiting `backoff * 2**(n-1)` seconds (at most `max_backoff`), less a random part of up to
  `jitter` of it;
- `weir.Breaker(failures, window, reset_after, threshold)`: a circuit breaker per endpoint;
  open after `failures` failed attempts within `window` seconds (and, with `threshold`, at
  least that share of the window's attempts), rejecting calls at once with `CircuitOpen`;
  after `reset_after` seconds one call probes (half-open) and closes it again when it works;
- `weir.Cache(ttl, max_entries)`: successful results kept `ttl` seconds, at most
  `max_entries` of them (the least recently used go first);
- `concurrency=N`: at most N calls at once to the endpoint (across stream threads);
- `timeout`: seconds for each attempt.

`weir.http.Client(name, base_url, ...)` applies them to HTTP (pooled keep-alive connections,
JSON helpers; GET responses are cached); `weir.guard(name, ...)` applies them to any callable
(a SQL query, a queue publish). A call that still fails raises `CallFailed` (an open circuit:
its subclass `CircuitOpen`), whose endpoint, attempts and cause reach the dead-letter topic as
`weir.error.call.*` headers. Every call, retry, rejection, cache hit and miss, the latency and
the circuit's state are user metrics tagged with `endpoint` (docs/external-systems.md).

Stdlib only. Blocking waits (sockets, backoff sleeps, the concurrency limit) release the GIL,
so other stream threads keep processing while one waits.
"""

import http.client as _http_client
import inspect as _inspect
import json as _json
import random as _random
import socket as _socket
import sys as _sys
import time as _time
import types as _types
import urllib.parse as _urlparse
from collections import OrderedDict as _OrderedDict
from collections import deque as _deque
from _thread import allocate_lock as _lock

__all__ = ["Retry", "Breaker", "Cache", "CallFailed", "CircuitOpen", "HttpError", "guard", "http"]

# Replaced by the tests (a fake clock and sleep); everything reads them through the module.
_clock = _time.monotonic
_sleep = _time.sleep
_random_fraction = _random.random

_new_metric = None


def _install(new_metric):
    """Called by Weir when the interpreter starts: `new_metric(kind, name, tags)` registers a
    metric in Weir's user metrics registry and gives its handle (`add`, `time`, `set`)."""
    global _new_metric
    _new_metric = new_metric


class _Unmeasured:
    """A metric outside Weir (the module imported by plain Python): nothing recorded."""

    __slots__ = ()

    def add(self, n):
        pass

    time = set = add


def _metric(kind, name, tags):
    return _Unmeasured() if _new_metric is None else _new_metric(kind, name, tags)


def _number(what, value, minimum=0.0, integer=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise TypeError(f"{what} must be {'an integer' if integer else 'a number'}, not {value!r}")
    if value < minimum:
        raise ValueError(f"{what} must be at least {minimum}, not {value!r}")
    return value


# ---- the policies -------------------------------------------------------------------------


class Retry:
    """Retries after transient failures: `attempts` in all (1 = no retry); before retry n the
    pause is `min(max_backoff, backoff * 2**(n-1))` seconds, shortened by a random fraction of
    up to `jitter` (0: exact, 1: anywhere from 0 to the full pause) so that callers do not retry
    in step. An HTTP 429 or 5xx with `Retry-After: <seconds>` waits that long (at most
    `max_backoff`)."""

    __slots__ = ("attempts", "backoff", "max_backoff", "jitter")

    def __init__(self, attempts=3, backoff=0.1, max_backoff=5.0, jitter=0.5):
        self.attempts = _number("Retry attempts", attempts, 1, integer=True)
        self.backoff = _number("Retry backoff", backoff)
        self.max_backoff = _number("Retry max_backoff", max_backoff)
        self.jitter = _number("Retry jitter", jitter)
        if jitter > 1:
            raise ValueError(f"Retry jitter is a fraction from 0 to 1, not {jitter!r}")

    def delay(self, retry):
        """The pause before retry number `retry` (1 = the first retry), in seconds."""
        base = min(self.max_backoff, self.backoff * (2 ** (retry - 1)))
        return base * (1.0 - self.jitter * _random_fraction())

    def __repr__(self):
        return f"Retry(attempts={self.attempts}, backoff={self.backoff}, max_backoff={self.max_backoff}, jitter={self.jitter})"


class Breaker:
    """A circuit breaker's settings; each endpoint gets its own circuit. It opens after
    `failures` failed attempts within the last `window` seconds (with `threshold`, a fraction,
    only if they are also at least that share of the window's attempts); while open, calls
    fail at once with `CircuitOpen`; after `reset_after` seconds one call is let through
    (half-open): if it works the circuit closes, if not it opens for another `reset_after`."""

    __slots__ = ("failures", "window", "reset_after", "threshold")

    def __init__(self, failures=5, window=30.0, reset_after=10.0, threshold=None):
        self.failures = _number("Breaker failures", failures, 1, integer=True)
        self.window = _number("Breaker window", window)
        self.reset_after = _number("Breaker reset_after", reset_after)
        if threshold is not None:
            _number("Breaker threshold", threshold)
            if threshold > 1:
                raise ValueError(f"Breaker threshold is a fraction from 0 to 1, not {threshold!r}")
        self.threshold = threshold

    def __repr__(self):
        return f"Breaker(failures={self.failures}, window={self.window}, reset_after={self.reset_after}, threshold={self.threshold})"


class Cache:
    """Keeps successful results for `ttl` seconds, at most `max_entries` (least recently used
    dropped first). For HTTP clients: GET responses with a 2xx status."""

    __slots__ = ("ttl", "max_entries")

    def __init__(self, ttl=60.0, max_entries=1000):
        self.ttl = _number("Cache ttl", ttl)
        self.max_entries = _number("Cache max_entries", max_entries, 1, integer=True)

    def __repr__(self):
        return f"Cache(ttl={self.ttl}, max_entries={self.max_entries})"


# ---- failures -----------------------------------------------------------------------------


class CallFailed(Exception):
    """A call that failed for good: after its retries, or at once for a failure that retrying
    cannot mend (an HTTP 4xx). `endpoint`, `attempts` and `cause` (the last error) reach the
    dead-letter topic as the headers `weir.error.call.endpoint`, `.attempts` and `.cause`."""

    def __init__(self, endpoint, attempts, cause, message=None):
        self.endpoint = endpoint
        self.attempts = attempts
        self.cause = cause
        if message is None:
            message = f"call to '{endpoint}' failed after {attempts} attempt{'s' if attempts != 1 else ''}: {_describe(cause)}"
        super().__init__(message)

    def weir_headers(self):
        """The dead letter's extra headers (under `weir.error.`)."""
        return {"call.endpoint": self.endpoint, "call.attempts": str(self.attempts), "call.cause": _describe(self.cause)}


class CircuitOpen(CallFailed):
    """The endpoint's circuit is open: the call was not made. Catch it for a fallback path."""

    def __init__(self, endpoint, attempts=0, cause=None, retry_in=0.0):
        self.retry_in = retry_in
        message = f"the circuit of '{endpoint}' is open (next probe in {retry_in:.1f} s): call not made"
        if cause is None:
            cause = "circuit open"
        else:
            message += f"; it opened after attempt {attempts} of this call failed: {_describe(cause)}"
        super().__init__(endpoint, attempts, cause, message)


class HttpError(Exception):
    """An HTTP response with an error status (the `cause` of a `CallFailed`)."""

    def __init__(self, response):
        self.response = response
        self.status = response.status
        # Seconds the server asked to wait (`Retry-After`), honoured by `Retry`.
        self.retry_after = _retry_after(response.headers)
        body = response.body[:200].decode("utf-8", "replace")
        super().__init__(f"HTTP {response.status} {response.reason} from {response.url}" + (f": {body}" if body else ""))


def _describe(cause):
    if isinstance(cause, BaseException):
        text = str(cause)
        return f"{type(cause).__name__}: {text}" if text else type(cause).__name__
    return str(cause)


# ---- the circuit and the cache of one endpoint --------------------------------------------

CLOSED, HALF_OPEN, OPEN = "closed", "half_open", "open"
_STATE_VALUE = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


class _Circuit:
    def __init__(self, endpoint, settings, tags):
        self.settings = settings
        self.endpoint = endpoint
        self.tags = tags
        self.lock = _lock()
        self.state = CLOSED
        self.opened_at = 0.0
        self.probing = False
        self.history = _deque()  # (time, failed) of the attempts within the window
        self.failed = 0
        self.state_metric = _metric("gauge", "weir_circuit_state", tags)
        self.opened_metric = _metric("counter", "weir_circuit_opened", tags)

    def _set(self, state):
        if state != self.state:
            self.state = state
            self.state_metric.set(_STATE_VALUE[state])
            if state == OPEN:
                self.opened_metric.add(1)

    def current(self):
        with self.lock:
            if self.state == OPEN and _clock() - self.opened_at >= self.settings.reset_after:
                return HALF_OPEN
            return self.state

    def admit(self):
        """None if the call may go ahead (as the probe, when half-open), else the seconds
        until the next probe."""
        with self.lock:
            if self.state == CLOSED:
                return None
            now = _clock()
            if self.state == OPEN:
                wait = self.opened_at + self.settings.reset_after - now
                if wait > 0:
                    return wait
                self._set(HALF_OPEN)
            if self.probing:
                return 0.0
            self.probing = True
            return None

    def _prune(self, now):
        limit = now - self.settings.window
        history = self.history
        while history and history[0][0] < limit:
            if history.popleft()[1]:
                self.failed -= 1

    def record(self, ok):
        with self.lock:
            now = _clock()
            if self.state != CLOSED:
                # The probe's outcome (or a late call that started before the circuit opened).
                self.probing = False
                if ok:
                    self.history.clear()
                    self.failed = 0
                    self._set(CLOSED)
                else:
                    self.opened_at = now
                    self._set(OPEN)
                return
            self.history.append((now, not ok))
            if not ok:
                self.failed += 1
            self._prune(now)
            settings = self.settings
            if not ok and self.failed >= settings.failures:
                if settings.threshold is None or self.failed >= settings.threshold * len(self.history):
                    self.opened_at = now
                    self._set(OPEN)

    def release_probe(self):
        """A probe that ended without an outcome for the endpoint (a 4xx) frees the slot."""
        with self.lock:
            if self.state == HALF_OPEN and self.probing:
                self.probing = False


class _Entries:
    """A TTL- and size-bounded LRU map."""

    def __init__(self, settings):
        self.settings = settings
        self.lock = _lock()
        self.entries = _OrderedDict()

    def get(self, key):
        with self.lock:
            found = self.entries.get(key)
            if found is None:
                return None
            if found[0] <= _clock():
                del self.entries[key]
                return None
            self.entries.move_to_end(key)
            return found

    def put(self, key, value):
        with self.lock:
            entries = self.entries
            entries[key] = (_clock() + self.settings.ttl, value)
            entries.move_to_end(key)
            while len(entries) > self.settings.max_entries:
                entries.popitem(last=False)

    def __len__(self):
        return len(self.entries)


class _Transient(Exception):
    """Raised by an attempt: a failure worth retrying (its cause is `args[0]`)."""


class _Permanent(Exception):
    """Raised by an attempt: a failure not worth retrying, not the endpoint's ill health."""


class _Policy:
    """The policies of one endpoint, applied around attempts."""

    def __init__(self, name, retry, breaker, cache, concurrency):
        if not isinstance(name, str) or not name:
            raise ValueError(f"an endpoint needs a name (a non-empty string), not {name!r}")
        for what, value, kind in (("retry", retry, Retry), ("breaker", breaker, Breaker), ("cache", cache, Cache)):
            if value is not None and not isinstance(value, kind):
                raise TypeError(f"{what} must be a weir.{kind.__name__} or None, not {value!r}")
        if concurrency is not None:
            _number("concurrency", concurrency, 1, integer=True)
        self.name = name
        self.retry = retry or Retry(attempts=1)
        self.tags = {"endpoint": name}
        self.circuit = _Circuit(name, breaker, self.tags) if breaker is not None else None
        self.cache = _Entries(cache) if cache is not None else None
        self.slots = None
        if concurrency is not None:
            import threading  # a semaphore starts no thread: allowCreateThread is not needed

            self.slots = threading.BoundedSemaphore(concurrency)
        calls = {o: _metric("counter", "weir_calls", {"endpoint": name, "outcome": o}) for o in ("success", "failure", "rejected")}
        self.calls_ok, self.calls_failed, self.calls_rejected = calls["success"], calls["failure"], calls["rejected"]
        self.retried = _metric("counter", "weir_call_retries", self.tags)
        self.latency = _metric("timer", "weir_call_latency", self.tags)
        if self.cache is not None:
            self.hits = _metric("counter", "weir_cache", {"endpoint": name, "result": "hit"})
            self.misses = _metric("counter", "weir_cache", {"endpoint": name, "result": "miss"})

    def circuit_state(self):
        return CLOSED if self.circuit is None else self.circuit.current()

    def run(self, attempt, cache_key=None):
        """Runs `attempt()` (which returns the result or raises `_Transient`/`_Permanent`)
        under the policies."""
        cache = self.cache
        if cache is not None and cache_key is not None:
            found = cache.get(cache_key)
            if found is not None:
                self.hits.add(1)
                return found[1]
            self.misses.add(1)
        circuit = self.circuit
        retry = self.retry
        started = _time.perf_counter_ns()
        attempts = 0
        last = None
        try:
            while True:
                if circuit is not None:
                    wait = circuit.admit()
                    if wait is not None:
                        self.calls_rejected.add(1)
                        raise CircuitOpen(self.name, attempts, last, retry_in=wait)
                attempts += 1
                try:
                    if self.slots is not None:
                        with self.slots:
                            result = attempt()
                    else:
                        result = attempt()
                except _Permanent as e:
                    if circuit is not None:
                        circuit.release_probe()
                    self.calls_failed.add(1)
                    raise CallFailed(self.name, attempts, e.args[0]) from e.args[0]
                except _Transient as e:
                    cause = e.args[0]
                    if circuit is not None:
                        circuit.record(False)
                    if attempts >= retry.attempts:
                        self.calls_failed.add(1)
                        raise CallFailed(self.name, attempts, cause) from cause
                    self.retried.add(1)
                    last = cause
                    pause = retry.delay(attempts)
                    hinted = getattr(cause, "retry_after", None)
                    if hinted is not None:
                        pause = min(retry.max_backoff, max(pause, hinted))
                    if pause > 0:
                        _sleep(pause)
                    continue
                except BaseException:
                    # Not the endpoint's doing (a bug, an interrupt): a probe gives back its slot.
                    if circuit is not None:
                        circuit.release_probe()
                    raise
                if circuit is not None:
                    circuit.record(True)
                self.calls_ok.add(1)
                if cache is not None and cache_key is not None and (result.ok if isinstance(result, Response) else True):
                    cache.put(cache_key, result)
                return result
        finally:
            if attempts:
                self.latency.time(_time.perf_counter_ns() - started)


# ---- guard: the policies around any callable ----------------------------------------------


class guard:
    """The policies around any callable: `weir.guard("db", retry=weir.Retry(3))(query)` or as
    a decorator, `@weir.guard("db", ...)`. Exceptions of the `transient` classes (default:
    `OSError`, which includes connection errors and timeouts; never `PermissionError`) are
    retried and count against the breaker; others fail at once (`CallFailed`). With `cache`,
    results are kept by the call's arguments (calls with unhashable arguments are not
    cached). With `timeout`, the
    callable must take a `timeout` keyword: it gets the seconds it may take (Python cannot
    stop a blocking call from outside; the callable passes it on, e.g. to its driver)."""

    def __init__(self, name, retry=None, breaker=None, timeout=None, cache=None, concurrency=None, transient=(OSError,)):
        self._policy = _Policy(name, retry, breaker, cache, concurrency)
        if timeout is not None:
            _number("timeout", timeout)
        self._timeout = timeout
        if isinstance(transient, type):
            transient = (transient,)
        if not callable(transient) and not (isinstance(transient, tuple) and all(isinstance(t, type) for t in transient)):
            raise TypeError(f"transient must be an exception class, a tuple of them, or a predicate, not {transient!r}")
        self._transient = transient
        self._fn = None

    @property
    def name(self):
        return self._policy.name

    def circuit_state(self):
        """'closed', 'open' or 'half_open' (an open circuit whose probe is due)."""
        return self._policy.circuit_state()

    def _is_transient(self, e):
        if isinstance(e, PermissionError):
            return False  # the sandbox (pythonContext) said no: retrying will not change that
        t = self._transient
        return isinstance(e, t) if isinstance(t, tuple) else bool(t(e))

    def __call__(self, *args, **kwargs):
        if self._fn is None:
            if len(args) != 1 or kwargs or not callable(args[0]):
                raise TypeError(f"weir.guard('{self.name}') wraps one callable; call the wrapped function instead")
            fn = args[0]
            if self._timeout is not None:
                try:
                    params = _inspect.signature(fn).parameters
                except (TypeError, ValueError):
                    params = {}
                if "timeout" not in params and not any(p.kind == p.VAR_KEYWORD for p in params.values()):
                    raise TypeError(
                        f"weir.guard('{self.name}', timeout=...) gives the callable its time budget as the keyword argument "
                        f"'timeout', but {getattr(fn, '__name__', fn)!r} takes none"
                    )
            wrapped = guard.__new__(guard)
            wrapped.__dict__.update(self.__dict__)
            wrapped._fn = fn
            wrapped.__name__ = getattr(fn, "__name__", self.name)
            wrapped.__doc__ = getattr(fn, "__doc__", None)
            return wrapped
        fn = self._fn
        if self._timeout is not None:
            kwargs["timeout"] = self._timeout

        def attempt():
            try:
                return fn(*args, **kwargs)
            except Exception as e:
                if self._is_transient(e):
                    raise _Transient(e) from None
                raise _Permanent(e) from None

        key = None
        if self._policy.cache is not None:
            key = (args, tuple(sorted(kwargs.items())))
            try:
                hash(key)
            except TypeError:
                key = None
        return self._policy.run(attempt, key)

    def __get__(self, obj, objtype=None):
        return self if obj is None else _types.MethodType(self, obj)


# ---- weir.http ----------------------------------------------------------------------------


class Response:
    """An HTTP response: `status`, `reason`, `headers` (names lower case), `body` (bytes),
    `text`, `json()`, `ok` (2xx), `url`."""

    __slots__ = ("status", "reason", "headers", "body", "url")

    def __init__(self, status, reason, headers, body, url):
        self.status, self.reason, self.headers, self.body, self.url = status, reason, headers, body, url

    @property
    def ok(self):
        return 200 <= self.status < 300

    @property
    def text(self):
        return self.body.decode(_charset(self.headers.get("content-type", "")), "replace")

    def json(self):
        return _json.loads(self.body) if self.body else None

    def __repr__(self):
        return f"<Response {self.status} {self.url}>"


def _charset(content_type):
    for part in content_type.split(";")[1:]:
        k, _, v = part.strip().partition("=")
        if k.lower() == "charset" and v:
            return v.strip('"')
    return "utf-8"


def _retry_after(headers):
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: the backoff decides


_DEFAULT_TIMEOUT = 10.0


def _no_delay(conn):
    # Small requests and answers: sent at once rather than held back by Nagle's algorithm.
    try:
        conn.sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass


class _HTTPConnection(_http_client.HTTPConnection):
    def connect(self):
        super().connect()
        _no_delay(self)


class _HTTPSConnection(_http_client.HTTPSConnection):
    def connect(self):
        super().connect()
        _no_delay(self)


class Client:
    """An HTTP client for one endpoint (`name` tags its metrics and failures) at `base_url`
    (http or https), with the toolkit's policies. Connections are kept alive and reused (at
    most `pool` idle ones). `.get/.post/.put/.delete/.request(method, path, params=, json=,
    body=, headers=)` return a `Response` with a 2xx or 3xx status; anything else raises
    `CallFailed` (its `cause` an `HttpError` with the `response`). Transient failures (connection
    errors, timeouts, 5xx, 429) are retried per `retry`; a 4xx is not."""

    def __init__(self, name, base_url, timeout=_DEFAULT_TIMEOUT, retry=None, breaker=None, cache=None, concurrency=None, headers=None, pool=16):
        parsed = _urlparse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"weir.http.Client('{name}'): base_url must be an http:// or https:// URL, not {base_url!r}")
        self._policy = _Policy(name, retry, breaker, cache, concurrency)
        self.timeout = _number("timeout", timeout)
        self.base_url = base_url.rstrip("/")
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname
        self._port = parsed.port
        self._prefix = parsed.path.rstrip("/")
        self._headers = {"Accept": "application/json", "User-Agent": "weir"}
        self._headers.update(headers or {})
        self._idle = []
        self._idle_lock = _lock()
        self._pool = _number("pool", pool, 0, integer=True)

    @property
    def name(self):
        return self._policy.name

    def circuit_state(self):
        """'closed', 'open' or 'half_open' (an open circuit whose probe is due)."""
        return self._policy.circuit_state()

    def _connect(self):
        with self._idle_lock:
            if self._idle:
                return self._idle.pop(), True
        return self._new_connection(), False

    def _new_connection(self):
        kind = _HTTPSConnection if self._https else _HTTPConnection
        return kind(self._host, self._port, timeout=self.timeout)

    def _keep(self, conn):
        with self._idle_lock:
            if len(self._idle) < self._pool:
                self._idle.append(conn)
                return
        conn.close()

    def close(self):
        """Closes the idle connections."""
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _target(self, path, params):
        if path.startswith(("http://", "https://")):
            raise ValueError(f"weir.http.Client('{self.name}'): give a path under {self.base_url}, not a full URL ({path!r})")
        target = self._prefix + ("/" + path.lstrip("/") if path else "")
        if params:
            target += ("&" if "?" in target else "?") + _urlparse.urlencode(params, doseq=True)
        return target or "/"

    def _attempt(self, method, target, body, headers):
        url = self.base_url + target[len(self._prefix):] if self._prefix else self.base_url + target
        conn, reused = self._connect()
        while True:
            try:
                conn.request(method, target, body=body, headers=headers)
                raw = conn.getresponse()
                data = raw.read()
            except (_http_client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                conn.close()
                if reused:
                    # A kept-alive connection the server had closed: once more on a fresh one.
                    conn, reused = self._new_connection(), False
                    continue
                raise _Transient(e) from None
            except PermissionError as e:
                # The sandbox (pythonContext) said no: retrying will not change that.
                conn.close()
                raise _Permanent(e) from None
            except (OSError, _http_client.HTTPException) as e:
                conn.close()
                raise _Transient(e) from None
            break
        response = Response(raw.status, raw.reason, {k.lower(): v for k, v in raw.getheaders()}, data, url)
        if raw.will_close:
            conn.close()
        else:
            self._keep(conn)
        status = response.status
        if status < 400:
            return response
        if status >= 500 or status == 429:
            raise _Transient(HttpError(response))
        raise _Permanent(HttpError(response))

    def request(self, method, path="", params=None, json=None, body=None, headers=None):
        """Sends a request under the client's policies; returns the `Response`."""
        method = method.upper()
        if json is not None and body is not None:
            raise ValueError("give either json= or body=, not both")
        all_headers = dict(self._headers)
        if json is not None:
            body = _json.dumps(json).encode()
            all_headers["Content-Type"] = "application/json"
        elif isinstance(body, str):
            body = body.encode()
        if headers:
            all_headers.update(headers)
        target = self._target(path, params)
        key = (method, target) if method == "GET" and body is None else None
        return self._policy.run(lambda: self._attempt(method, target, body, all_headers), key)

    def get(self, path="", params=None, headers=None):
        return self.request("GET", path, params=params, headers=headers)

    def get_json(self, path="", params=None, headers=None):
        """`get(...).json()`."""
        return self.get(path, params=params, headers=headers).json()

    def post(self, path="", json=None, body=None, params=None, headers=None):
        return self.request("POST", path, params=params, json=json, body=body, headers=headers)

    def put(self, path="", json=None, body=None, params=None, headers=None):
        return self.request("PUT", path, params=params, json=json, body=body, headers=headers)

    def delete(self, path="", params=None, headers=None):
        return self.request("DELETE", path, params=params, headers=headers)

    def __repr__(self):
        return f"<weir.http.Client '{self.name}' {self.base_url} circuit={self.circuit_state()}>"


http = _types.ModuleType("weir.http", "HTTP calls with Weir's policies: `weir.http.Client`.")
http.Client = Client
http.Response = Response
http.HttpError = HttpError
_sys.modules["weir.http"] = http
