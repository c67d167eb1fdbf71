//! The REST API of `weir run` (`ksml.applicationServer`): KSML's health probes and state
//! store queries (its `ksml-query` module), on a small threaded HTTP server
//! ([`http::serve`], shared with the Prometheus endpoint).
//!
//! | path | answer |
//! |---|---|
//! | `GET /startup`, `/ready`, `/live` | 204 or 500 ([`probes`]) |
//! | `GET /state/keyValue/{store}/all`, `/get/{key}` (and `/local/…`) | [`state`] |
//! | `GET /state/windowed/{store}/all`, `/get/{key}/{timestamp}` (and `/local/…`) | [`state`] |
//! | `GET /state/session/{store}/all`, `/get/{key}` (and `/local/…`) | [`state`] (Weir's) |
//!
//! Errors as KSML's: 404 for an unknown store, 503 when its instances are not open yet, 400
//! for a key or parameter that does not fit, 500 with `text/plain` body `500: <message>`.
//! Stores are read through the engine's read-only [`StoreQueries`]; which process holds a
//! key is asked of [`owners::Owners`] (here: this one, see that module).

pub mod http;
pub mod owners;
pub mod probes;
mod state;

use weir_engine::metrics::Metrics;
use weir_engine::store::StoreQueries;

use http::Reply;
use owners::Owners;
use probes::Probe;

/// What the REST API answers from.
pub struct Rest {
    pub metrics: Metrics,
    pub queries: StoreQueries,
    pub owners: Box<dyn Owners>,
}

impl Rest {
    /// Answers a request for `path` (with its query string).
    pub fn handle(&self, method: &str, url: &str) -> Reply {
        if method != "GET" {
            return Reply::text(405, &format!("method {method} not allowed: the REST API answers GET only"));
        }
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let segments: Result<Vec<String>, String> = path.split('/').filter(|s| !s.is_empty()).map(http::percent_decode).collect();
        let segments = match segments {
            Ok(s) => s,
            Err(e) => return Reply::text(400, &e),
        };
        let params = match http::Params::parse(query) {
            Ok(p) => p,
            Err(e) => return Reply::text(400, &e),
        };
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match segments.as_slice() {
            ["startup"] => self.probe(Probe::Startup),
            ["ready"] => self.probe(Probe::Ready),
            ["live"] => self.probe(Probe::Live),
            ["state", kind, store, rest @ ..] => state::handle(self, kind, store, rest, &params),
            _ => Reply::text(
                404,
                &format!("no endpoint {path}: see /startup, /ready, /live and /state/{{keyValue|windowed|session}}/{{store}}/…"),
            ),
        }
    }

    fn probe(&self, probe: Probe) -> Reply {
        let engine = self.metrics.engine();
        let (streams, producers) = (engine.streams.get(), engine.producers.get());
        if probe.holds(streams, producers) {
            Reply::empty(204)
        } else {
            tracing::trace!("{probe:?} probe fails: stream threads {}, producers {}", streams.name(), producers.name());
            Reply::empty(500)
        }
    }
}
