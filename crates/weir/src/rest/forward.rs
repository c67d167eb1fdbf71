//! Forwarding a query to another process of the application: one `GET` of its `/local/`
//! form (which is answered where it arrives, so a forwarded query never travels further),
//! with short timeouts. A process that cannot be reached, or does not answer in time, is a
//! 503 naming it and the cause: its tasks are about to move, or it is gone.

use std::io::Read as _;
use std::sync::OnceLock;
use std::time::Duration;

use super::http::Reply;

/// Time to connect to another process.
const CONNECT: Duration = Duration::from_secs(2);
/// Time for its whole answer.
const ANSWER: Duration = Duration::from_secs(10);
/// The largest answer read (a `/local/all` of a big store should be paged with `limit`).
const MAX_BODY: u64 = 256 << 20;

fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_resolve(Some(CONNECT))
            .timeout_connect(Some(CONNECT))
            .timeout_global(Some(ANSWER))
            .build()
            .into()
    })
}

/// A query route's request forwarded to the process that holds its key (`routes`): `GET
/// {endpoint}{path}?timeout=<left>` marked as forwarded, waited for a little longer than
/// `left`. `Err` says why there is no answer.
pub fn get_waiting(endpoint: &str, path: &str, left: Duration) -> Result<Reply, String> {
    let ms = left.as_millis();
    let url = format!("{endpoint}{path}?timeout={ms}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_resolve(Some(CONNECT))
        .timeout_connect(Some(CONNECT))
        .timeout_global(Some(left + CONNECT))
        .build()
        .into();
    let mut response = agent
        .get(&url)
        .header("Accept", "application/json")
        .header(super::routes::FORWARDED, "1")
        .call()
        .map_err(|e| format!("{url}: {e}"))?;
    let mut body = Vec::new();
    response.body_mut().as_reader().take(MAX_BODY).read_to_end(&mut body).map_err(|e| format!("{url}: cannot read its answer: {e}"))?;
    let content_type = match response.headers().get("content-type").and_then(|v| v.to_str().ok()) {
        Some(t) if t.starts_with("application/json") => "application/json",
        _ => "text/plain; charset=utf-8",
    };
    tracing::debug!("forwarded a route query to {url}: {}", response.status());
    Ok(Reply { status: response.status().as_u16(), content_type, headers: Vec::new(), body })
}

/// `GET {endpoint}{path}?{query}`: the other process's answer as it gave it (status,
/// JSON or text, `Retry-After`, the tasks it answered from), or a 503 saying why there is
/// none.
pub fn get(endpoint: &str, path: &str, query: &str) -> Result<Reply, Reply> {
    let url = if query.is_empty() { format!("{endpoint}{path}") } else { format!("{endpoint}{path}?{query}") };
    let unavailable =
        |cause: String| Reply::retry_later(&format!("cannot ask the process at {endpoint} that holds the key's task ({url}): {cause}"));
    let mut response = agent().get(&url).header("Accept", "application/json").call().map_err(|e| unavailable(e.to_string()))?;
    let mut body = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(MAX_BODY)
        .read_to_end(&mut body)
        .map_err(|e| unavailable(format!("cannot read its answer: {e}")))?;
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let content_type = match header("content-type") {
        Some(t) if t.starts_with("application/json") => "application/json",
        _ => "text/plain; charset=utf-8",
    };
    let mut reply = Reply { status: response.status().as_u16(), content_type, headers: Vec::new(), body };
    for name in ["Retry-After", super::state::TASKS_HEADER] {
        if let Some(value) = header(name) {
            reply = reply.with_header(name, value);
        }
    }
    tracing::debug!("forwarded a query to {url}: {}", reply.status);
    Ok(reply)
}
