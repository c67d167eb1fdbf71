//! The toolkit's HTTP client (`weir.http.Client`) against the test service
//! (scripts/testsvc.py, started here on a loopback port): JSON and query strings, the
//! response cache, a 4xx failing at once without counting against the breaker, POST with
//! JSON, 503s retried after their `Retry-After`, and the circuit opening during a call's
//! retries and then rejecting calls without making them.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

#[path = "common/python_code.rs"]
mod python_code;

const CODE: &str = r#"
import time
import weir

stats = weir.http.Client("stats", URL)
requests = lambda: stats.get_json("/stats")["requests"]
c = weir.http.Client("svc", URL, timeout=2, retry=weir.Retry(attempts=3, backoff=0.01, max_backoff=1.0, jitter=0),
                     breaker=weir.Breaker(failures=5, window=60, reset_after=60), cache=weir.Cache(ttl=60, max_entries=10))
item = c.get_json("/items/7")
assert item["id"] == "7" and item["name"] == "item-7", item
n = requests()
assert c.get_json("/items/7") == item and requests() == n, "the second GET is answered by the cache"
r = c.get("/items/8", params={"a": "b c"})
assert r.ok and r.status == 200 and r.url.endswith("/items/8?a=b+c") and r.headers["content-type"] == "application/json", r
for _ in range(6):
    try:
        c.get("/nothing")
        raise AssertionError("a 404 returned")
    except weir.CallFailed as e:
        assert e.attempts == 1 and isinstance(e.cause, weir.HttpError) and e.cause.status == 404, e
assert c.circuit_state() == "closed", "4xx answers do not open the circuit"
assert c.post("/control", json={"fail_rate": 1.0, "retry_after": 0.2}).json()["requests"] >= n
t = time.monotonic()
try:
    c.get("/items/9")
    raise AssertionError("a 503 returned")
except weir.CallFailed as e:
    assert not isinstance(e, weir.CircuitOpen) and e.attempts == 3 and e.cause.status == 503 and e.cause.retry_after == 0.2, e
    assert e.weir_headers()["call.cause"].startswith("HttpError: HTTP 503 Service Unavailable from " + URL + "/items/9"), e.weir_headers()
assert time.monotonic() - t >= 0.4, "two pauses of Retry-After"
try:
    c.get("/items/10")
    raise AssertionError("a 503 returned")
except weir.CircuitOpen as e:
    assert e.attempts == 2 and e.cause.status == 503, e  # the 5th failed attempt opened it
n = requests()
try:
    c.get("/items/11")
    raise AssertionError("an open circuit let a call through")
except weir.CircuitOpen as e:
    assert e.attempts == 0 and requests() == n, e  # no request made
assert c.circuit_state() == "open"
"#;

#[test]
fn the_http_client_against_the_test_service() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/testsvc.py");
    let mut service =
        Command::new("python3").arg(script).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("start scripts/testsvc.py");
    let mut first = String::new();
    BufReader::new(service.stdout.take().expect("stdout")).read_line(&mut first).expect("read");
    let url = format!("http://{}", first.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("{first:?}")));
    // The service stops when this process's end closes its stdin, or here.
    let outcome = std::panic::catch_unwind(|| python_code::run_ok("toolkit_http.yaml", &format!("URL = {url:?}\n{CODE}")));
    let _ = service.kill();
    let _ = service.wait();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
