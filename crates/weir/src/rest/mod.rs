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
//! With `--routes`, the routes of a routes file are served beside these ([`routes`],
//! docs/http-routes.md).
//!
//! Errors as KSML's: 404 for an unknown store, 503 (with `Retry-After`) when its instances
//! are not open yet or its tasks are moving, 400 for a key or parameter that does not fit,
//! 500 with `text/plain` body `500: <message>`. Stores are read through the engine's
//! read-only [`StoreQueries`]; which process holds a key is asked of [`owners::Owners`]
//! (this one on the embedded log; on Kafka, the consumer group says), and queries for
//! another process's keys are forwarded to it (`forward`).

mod forward;
pub mod http;
pub mod owners;
pub mod probes;
pub mod routes;
mod state;
#[cfg(test)]
mod test_broker;

use std::sync::Arc;

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
    /// The routes of `--routes` (docs/http-routes.md), served beside the API's own paths.
    pub routes: Option<routes::Routes>,
}

impl Rest {
    /// Answers a request: a route's through [`routes`] (at once, or on a thread of its own
    /// when it waits, forwards or writes), the API's own paths here.
    pub fn handle_request(self: &Arc<Self>, request: http::Request) {
        if let Some(request) = routes::dispatch(self, request) {
            let reply = self.handle(request.method(), request.url());
            request.respond(reply);
        }
    }

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
            ["state", kind, store, rest @ ..] => state::handle(self, kind, store, rest, &params, query),
            _ => {
                let routes = if self.routes.is_some() { " (and the routes of --routes)" } else { "" };
                Reply::text(
                    404,
                    &format!(
                        "no endpoint {path}: see /startup, /ready, /live and /state/{{keyValue|windowed|session}}/{{store}}/…{routes}"
                    ),
                )
            }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use weir_engine::metrics::ComponentState;
    use weir_engine::notation::Notations;
    use weir_engine::store::{StateStores, StoreSpec};

    use super::*;

    /// A REST API over a store `counts` that has no open instance (the run has not started).
    fn not_started() -> Rest {
        let yaml = "stores:\n  counts:\n    type: keyValue\n    keyType: string\n    valueType: long\n";
        let (def, diags) = weir_dsl::parse_definition("t.yaml", "ns", yaml, &[]);
        assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
        let def = def.expect("definition");
        let spec = StoreSpec::new(&def.stores["counts"], "app", &Notations::builtin()).expect("spec");
        let queries = StoreQueries::new(vec![Arc::new(spec)], Arc::new(StateStores::new()));
        Rest { metrics: Metrics::new(), queries, owners: Box::new(owners::ThisProcess), routes: None }
    }

    fn status(rest: &Rest, method: &str, url: &str) -> (u16, String) {
        let reply = rest.handle(method, url);
        (reply.status, String::from_utf8_lossy(&reply.body).into_owned())
    }

    #[test]
    fn before_the_run_starts_probes_fail_and_stores_are_unavailable() {
        let rest = not_started();
        assert_eq!(status(&rest, "GET", "/startup").0, 500);
        assert_eq!(status(&rest, "GET", "/ready").0, 500);
        // KSML's liveness only fails on a failure or a stopped stream runner.
        assert_eq!(status(&rest, "GET", "/live").0, 204);
        assert_eq!(
            status(&rest, "GET", "/state/keyValue/counts/all"),
            (503, "503: state store 'counts' has no open instance in this process yet".to_string())
        );
        assert_eq!(
            status(&rest, "GET", "/state/keyValue/other/get/a"),
            (404, "404: Could not find store other of type keyValue".to_string())
        );
        assert_eq!(status(&rest, "GET", "/state/tables/counts/all").0, 404);
        assert_eq!(status(&rest, "GET", "/nothing").0, 404);
        assert_eq!(status(&rest, "POST", "/ready").0, 405);
        assert_eq!(status(&rest, "GET", "/state/keyValue/counts%zz/all").0, 400);

        rest.metrics.engine().streams.set(ComponentState::Started);
        rest.metrics.engine().producers.set(ComponentState::NotApplicable);
        assert_eq!(status(&rest, "GET", "/ready").0, 204);
        rest.metrics.engine().streams.set(ComponentState::Failed);
        assert_eq!(status(&rest, "GET", "/live").0, 500);
    }
}
