//! The HTTP server of the REST API and the Prometheus endpoint: `tiny_http` on two threads
//! of its own, a handler from method and URL to a [`Reply`], and the few URL helpers the
//! handlers need (percent-decoding, query parameters).

use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Context as _;

/// An answer: status, content type, other headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// Seconds a client is told to wait (`Retry-After`) while a store's tasks are moving.
pub const RETRY_AFTER_SECONDS: u32 = 2;

impl Reply {
    pub fn empty(status: u16) -> Reply {
        Reply { status, content_type: "text/plain; charset=utf-8", headers: Vec::new(), body: Vec::new() }
    }

    /// KSML's error body: `<status>: <message>`, as plain text.
    pub fn text(status: u16, message: &str) -> Reply {
        Reply { status, content_type: "text/plain; charset=utf-8", headers: Vec::new(), body: format!("{status}: {message}").into_bytes() }
    }

    /// 503 with `Retry-After`: the answer is not known now (tasks are moving), but will be.
    pub fn retry_later(message: &str) -> Reply {
        Reply::text(503, message).with_header("Retry-After", RETRY_AFTER_SECONDS.to_string())
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }

    /// The value of header `name`, if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(value: &serde_json::Value) -> Reply {
        let body = serde_json::to_vec_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}").into_bytes());
        Reply { status: 200, content_type: "application/json", headers: Vec::new(), body }
    }
}

/// A running server; dropping it stops it.
pub struct Server {
    server: Arc<tiny_http::Server>,
    threads: Vec<JoinHandle<()>>,
    /// The address it listens on (the port is the bound one when 0 was asked).
    pub address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.server.unblock();
        self.server.unblock();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Serves `handler` on `host:port`. `what` names the server in its log line and errors,
/// `key` is the runner config's section that asked for it (named when the port cannot be
/// bound).
pub fn serve(
    what: &str,
    host: &str,
    port: u16,
    key: &str,
    handler: impl Fn(&str, &str) -> Reply + Send + Sync + 'static,
) -> anyhow::Result<Server> {
    serve_requests(what, host, port, key, move |request: Request| {
        let reply = handler(request.method(), request.url());
        request.respond(reply);
    })
}

/// As [`serve`], with a handler that takes the whole request and answers it when it will
/// (from another thread too: a long-poll is answered by the thread that waits for it).
pub fn serve_requests(
    what: &str,
    host: &str,
    port: u16,
    key: &str,
    handler: impl Fn(Request) + Send + Sync + 'static,
) -> anyhow::Result<Server> {
    let asked = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    let server = tiny_http::Server::http(asked.as_str())
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("cannot listen on {asked} for the {what} (set by '{key}.host' and '{key}.port' in the runner config)"))?;
    let address = match server.server_addr().to_ip() {
        Some(bound) if host.contains(':') => format!("[{host}]:{}", bound.port()),
        Some(bound) => format!("{host}:{}", bound.port()),
        None => asked,
    };
    let server = Arc::new(server);
    let handler = Arc::new(handler);
    let mut threads = Vec::new();
    for n in 0..2 {
        let (server, handler) = (Arc::clone(&server), Arc::clone(&handler));
        let thread = std::thread::Builder::new()
            .name(format!("{}-http-{n}", what.replace(' ', "-")))
            .spawn(move || {
                for request in server.incoming_requests() {
                    handler(Request(request));
                }
            })
            .context("cannot start an HTTP server thread")?;
        threads.push(thread);
    }
    Ok(Server { server, threads, address })
}

/// An HTTP request, answered once with [`Request::respond`].
pub struct Request(tiny_http::Request);

/// Why a request's body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Longer than the limit (bytes).
    TooLarge(usize),
    Unreadable(String),
}

impl Request {
    pub fn method(&self) -> &str {
        self.0.method().as_str()
    }

    /// The URL as sent: path and query string.
    pub fn url(&self) -> &str {
        self.0.url()
    }

    /// The value of header `name` (the first one), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.0.headers().iter().find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
    }

    /// The body, refused beyond `limit` bytes (by its `Content-Length`, or as it is read).
    pub fn body(&mut self, limit: usize) -> Result<Vec<u8>, BodyError> {
        use std::io::Read as _;
        if self.0.body_length().is_some_and(|n| n > limit) {
            return Err(BodyError::TooLarge(limit));
        }
        let mut body = Vec::new();
        self.0
            .as_reader()
            .take(limit as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| BodyError::Unreadable(format!("cannot read the request body: {e}")))?;
        if body.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        Ok(body)
    }

    /// Answers the request.
    pub fn respond(self, reply: Reply) {
        let mut response = tiny_http::Response::from_data(reply.body).with_status_code(reply.status);
        if let Ok(header) = tiny_http::Header::from_bytes("Content-Type", reply.content_type) {
            response = response.with_header(header);
        }
        for (name, value) in &reply.headers {
            if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                response = response.with_header(header);
            }
        }
        if let Err(e) = self.0.respond(response) {
            tracing::debug!("cannot answer an HTTP request: {e}");
        }
    }
}

/// Decodes `%XX` escapes (and nothing else: a `+` stays a `+` in a path).
pub fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(b) = hex else { return Err(format!("bad percent escape in '{text}'")) };
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("'{text}' is not UTF-8 once decoded"))
}

/// Percent-encodes a path segment: everything but RFC 3986's unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The query parameters of a URL, decoded (`+` is a space there).
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: &str) -> Result<Params, String> {
        let mut found = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            found.push((percent_decode(&k.replace('+', " "))?, percent_decode(&v.replace('+', " "))?));
        }
        Ok(Params(found))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The names given, for refusing the unknown ones.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// An integer parameter.
    pub fn number(&self, name: &str) -> Result<Option<i64>, String> {
        self.get(name)
            .map(|v| v.trim().parse::<i64>().map_err(|_| format!("parameter '{name}' must be an integer, found '{v}'")))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_decode() {
        assert_eq!(percent_decode("a%20b%2Fc+d").as_deref(), Ok("a b/c+d"));
        for text in ["a b/c+d", "{\"k\": 1}", "ü€", "plain-key_1.~"] {
            assert_eq!(percent_decode(&percent_encode(text)).as_deref(), Ok(text));
        }
        assert_eq!(percent_encode("a/b c"), "a%2Fb%20c");
        assert!(percent_decode("a%2").is_err());
        assert!(percent_decode("%ff").is_err());
        let p = Params::parse("limit=10&prefix=a+b%26&at").unwrap_or_default();
        assert_eq!(p.get("prefix"), Some("a b&"));
        assert_eq!(p.number("limit"), Ok(Some(10)));
        assert_eq!(p.get("at"), Some(""));
        assert!(p.number("prefix").is_err());
    }
}
