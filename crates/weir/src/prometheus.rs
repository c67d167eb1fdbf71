//! The Prometheus endpoint of `weir run` (`ksml.prometheus`): `GET /metrics` in the text
//! exposition format (OpenMetrics text, written by the `prometheus-client` crate), read
//! from one [`Metrics::snapshot`] per scrape and the stores' sizes.
//!
//! KSML's names where KSML has them (its JMX exporter's, lower case):
//!
//! - `ksml_app{app_id, name, version, build_time}` = 1;
//! - `ksml_execution_time_{count,min,max,mean}{namespace, function_name}`: the calls of each
//!   user function and their time (milliseconds);
//! - the Python `metrics` proxy: `ksml_user_defined_counter_count`,
//!   `ksml_user_defined_meter_{count,meanrate}`,
//!   `ksml_user_defined_timer_{count,min,max,mean}` (milliseconds), each with `custom_name`
//!   and the user's tags (label names lower case, other characters as `_`); Weir adds
//!   `ksml_user_defined_timer_sum` (milliseconds, for means over a range) and
//!   `ksml_user_defined_gauge_value` (the toolkit's circuit states, docs/external-systems.md).
//!
//! Weir's own are the names in [`names`]: records in, out (and out by pipeline), written by
//! producers, failed, dead-lettered, dropped by windows; commits and their time; entries per
//! state store; the state of the stream threads and producers; the consumer lag per input
//! partition; the records' end-to-end latency (mean, and the largest since the last scrape);
//! with `--routes`, the requests each HTTP route answered and their time, by status.

use std::fmt;
use std::sync::Arc;

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use weir_engine::broker::Broker;
use weir_engine::metrics::engine::Position;
use weir_engine::metrics::{ComponentState, MetricKind, MetricValue, Metrics, Snapshot};
use weir_engine::store::StoreQueries;

use crate::rest::http::Reply;

/// Metric names, in one place.
pub mod names {
    pub const APP: &str = "ksml_app";
    pub const USER_COUNTER: &str = "ksml_user_defined_counter";
    pub const USER_METER: &str = "ksml_user_defined_meter";
    pub const USER_TIMER: &str = "ksml_user_defined_timer";
    pub const USER_GAUGE: &str = "ksml_user_defined_gauge";
    pub const EXECUTION_TIME: &str = "ksml_execution_time";
    pub const RECORDS_IN: &str = "weir_records_in";
    pub const RECORDS_OUT: &str = "weir_records_out";
    pub const PIPELINE_RECORDS_OUT: &str = "weir_pipeline_records_out";
    pub const PRODUCER_RECORDS: &str = "weir_producer_records";
    pub const RECORDS_FAILED: &str = "weir_records_failed";
    pub const RECORDS_DEAD_LETTERED: &str = "weir_records_dead_lettered";
    pub const RECORDS_DROPPED: &str = "weir_records_dropped";
    pub const COMMITS: &str = "weir_commits";
    pub const COMMIT_SECONDS: &str = "weir_commit_seconds";
    pub const STORE_ENTRIES: &str = "weir_store_entries";
    pub const COMPONENT_STATE: &str = "weir_component_state";
    pub const CONSUMER_LAG: &str = "weir_consumer_lag";
    pub const E2E_LATENCY_MEAN: &str = "weir_record_e2e_latency_mean_seconds";
    pub const E2E_LATENCY_MAX: &str = "weir_record_e2e_latency_max_seconds";
    pub const ROUTE_REQUESTS: &str = "weir_route_requests";
    pub const ROUTE_SECONDS: &str = "weir_route_seconds";
}

/// What a scrape reads.
pub struct Exporter {
    pub metrics: Metrics,
    pub queries: StoreQueries,
    pub application_id: String,
    /// Where the inputs' end offsets are asked for (the consumer lag).
    pub broker: Arc<dyn Broker>,
    /// The requests the HTTP routes answered (`--routes`).
    pub routes: Option<Arc<crate::rest::routes::Counters>>,
}

impl fmt::Debug for Exporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "metrics exporter of '{}'", self.application_id)
    }
}

type Labels = Vec<(String, String)>;
/// Gauge families by name: their help and series.
type Families = std::collections::BTreeMap<String, (&'static str, Vec<(Labels, f64)>)>;

/// A label name as Prometheus takes it (and KSML's exporter writes it): lower case, `_` for
/// anything but letters, digits and `_`.
fn label_name(name: &str) -> String {
    let mut out: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        out.insert(0, '_');
    }
    out
}

fn counter(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> fmt::Result {
    ConstCounter::new(value).encode(encoder.encode_descriptor(name, help, None, MetricType::Counter)?)
}

/// A gauge family: one series per label set.
fn gauges<V: prometheus_client::encoding::EncodeGaugeValue + Copy + fmt::Debug>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(Labels, V)],
) -> fmt::Result
where
    ConstGauge<V>: EncodeMetric,
{
    if series.is_empty() {
        return Ok(());
    }
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in series {
        ConstGauge::new(*value).encode(family.encode_family(labels)?)?;
    }
    Ok(())
}

impl prometheus_client::collector::Collector for Exporter {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let snapshot = self.metrics.snapshot();
        let engine = &snapshot.engine;
        let app = vec![
            ("app_id".to_string(), self.application_id.clone()),
            ("name".to_string(), "weir".to_string()),
            ("version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
            ("build_time".to_string(), String::new()),
        ];
        gauges(&mut encoder, names::APP, "The application (KSML's app info: always 1)", &[(app, 1i64)])?;
        counter(&mut encoder, names::RECORDS_IN, "Records read from the source topics", engine.records_in)?;
        counter(&mut encoder, names::RECORDS_OUT, "Records the pipelines' sinks wrote", engine.records_out)?;
        let by_pipeline: Vec<(Labels, u64)> =
            engine.out_by_pipeline.iter().map(|(p, n)| (vec![("pipeline".to_string(), p.clone())], *n)).collect();
        if !by_pipeline.is_empty() {
            let mut family =
                encoder.encode_descriptor(names::PIPELINE_RECORDS_OUT, "Records each pipeline's sinks wrote", None, MetricType::Counter)?;
            for (labels, n) in &by_pipeline {
                ConstCounter::new(*n).encode(family.encode_family(labels)?)?;
            }
        }
        counter(&mut encoder, names::PRODUCER_RECORDS, "Records the producers wrote", engine.producer_records)?;
        counter(&mut encoder, names::RECORDS_FAILED, "Failures handled by the error handlers (whatever they decided)", engine.errors)?;
        counter(&mut encoder, names::RECORDS_DEAD_LETTERED, "Failed records written to a dead-letter topic", engine.dead_lettered)?;
        counter(&mut encoder, names::RECORDS_DROPPED, "Records windowed aggregations dropped (late, or without a key)", engine.dropped)?;
        counter(&mut encoder, names::COMMITS, "Commits of the stream threads' positions", engine.commits)?;
        ConstCounter::new(engine.commit_nanos as f64 / 1e9).encode(encoder.encode_descriptor(
            names::COMMIT_SECONDS,
            "Time spent committing positions (with the log's sync), in seconds",
            None,
            MetricType::Counter,
        )?)?;
        // End-to-end latency (Kafka Streams' record-e2e-latency avg and max): the mean since
        // the start, and the largest since the previous scrape.
        if engine.e2e_latency_count > 0 {
            let mean = engine.e2e_latency_ms_sum as f64 / engine.e2e_latency_count as f64 / 1e3;
            gauges(
                &mut encoder,
                names::E2E_LATENCY_MEAN,
                "Mean time from a record's timestamp until a sink appended it, in seconds",
                &[(Vec::new(), mean)],
            )?;
            let max = self.metrics.engine().take_e2e_max() as f64 / 1e3;
            gauges(
                &mut encoder,
                names::E2E_LATENCY_MAX,
                "Longest time from a record's timestamp until a sink appended it since the previous scrape, in seconds",
                &[(Vec::new(), max)],
            )?;
        }
        // Consumer lag: each input partition's end offset (asked now) minus the position the
        // stream thread published (at most a second old).
        let lags: Vec<(Labels, i64)> = input_lags(self.broker.as_ref(), &engine.positions)
            .into_iter()
            .map(|(topic, partition, lag)| {
                let labels = vec![("topic".to_string(), topic.to_string()), ("partition".to_string(), partition.to_string())];
                (labels, i64::try_from(lag).unwrap_or(i64::MAX))
            })
            .collect();
        gauges(&mut encoder, names::CONSUMER_LAG, "Records of each input partition not processed yet (end offset minus position)", &lags)?;
        let states: Vec<(Labels, i64)> = [("streams", engine.streams), ("producers", engine.producers)]
            .into_iter()
            .map(|(c, s): (&str, ComponentState)| {
                (vec![("component".to_string(), c.to_string()), ("state".to_string(), s.name().to_string())], 1)
            })
            .collect();
        gauges(&mut encoder, names::COMPONENT_STATE, "The state of the stream threads and of the producers (KSML's names)", &states)?;
        let mut sizes: Vec<(Labels, u64)> = Vec::new();
        for spec in self.queries.specs() {
            // A store without an open instance here (yet) has no series.
            if let Some(n) = self.queries.store(&spec.name).ok().and_then(|s| s.entry_count().ok()) {
                sizes.push((vec![("store".to_string(), spec.name.clone())], n));
            }
        }
        gauges(&mut encoder, names::STORE_ENTRIES, "Entries in each state store held by this process (keys, windows or sessions)", &sizes)?;
        for (name, (help, series)) in &timer_families(&snapshot) {
            gauges(&mut encoder, name, help, series)?;
        }
        if let Some(routes) = &self.routes {
            let served = routes.served();
            let labels = |s: &crate::rest::routes::Served| {
                vec![("route".to_string(), s.route.clone()), ("status".to_string(), s.status.to_string())]
            };
            let mut family = encoder.encode_descriptor(
                names::ROUTE_REQUESTS,
                "Requests the HTTP routes answered, by route and status",
                None,
                MetricType::Counter,
            )?;
            for s in &served {
                ConstCounter::new(s.requests).encode(family.encode_family(&labels(s))?)?;
            }
            let mut family = encoder.encode_descriptor(
                names::ROUTE_SECONDS,
                "Time the HTTP routes took to answer (waits included), by route and status, in seconds",
                None,
                MetricType::Counter,
            )?;
            for s in &served {
                ConstCounter::new(s.seconds).encode(family.encode_family(&labels(s))?)?;
            }
        }
        Ok(())
    }
}

/// Each input partition's lag: its end offset (asked of `broker` now) minus the position a
/// stream thread published. A partition whose end cannot be had is left out.
pub fn input_lags<'p>(broker: &dyn Broker, positions: &'p [Position]) -> Vec<(&'p str, u32, u64)> {
    positions
        .iter()
        .filter_map(|(topic, partition, next)| {
            broker.end_offset(topic, *partition).ok().map(|end| (topic.as_str(), *partition, end.saturating_sub(*next)))
        })
        .collect()
}

// The execution-time help texts say "one call in 16".
const _: () = assert!(weir_engine::metrics::SAMPLE_EVERY == 16);

/// The user metrics and the functions' execution times under KSML's names, one family per
/// series name.
fn timer_families(snapshot: &Snapshot) -> Families {
    let mut families = Families::new();
    let mut add = |base: &str, suffix: &str, help: &'static str, labels: &Labels, value: f64| {
        families.entry(format!("{base}_{suffix}")).or_insert_with(|| (help, Vec::new())).1.push((labels.clone(), value));
    };
    let ms = |ns: f64| ns / 1e6;
    for f in &snapshot.functions {
        let labels = vec![("namespace".to_string(), f.namespace.clone()), ("function_name".to_string(), f.name.clone())];
        let mean = f.mean_nanos();
        add(names::EXECUTION_TIME, "count", "Calls of a user function", &labels, f.calls as f64);
        add(
            names::EXECUTION_TIME,
            "min",
            "Shortest of the timed calls of a user function (a sample: one call in 16), in milliseconds",
            &labels,
            ms(f.min_nanos as f64),
        );
        add(
            names::EXECUTION_TIME,
            "max",
            "Longest of the timed calls of a user function (a sample: one call in 16), in milliseconds",
            &labels,
            ms(f.max_nanos as f64),
        );
        add(
            names::EXECUTION_TIME,
            "mean",
            "Mean of the timed calls of a user function (a sample: one call in 16), in milliseconds",
            &labels,
            ms(mean),
        );
    }
    for (id, value) in &snapshot.user {
        let mut labels: Labels = vec![("custom_name".to_string(), id.name.clone())];
        labels.extend(id.tags.iter().map(|(k, v)| (label_name(k), v.clone())));
        match (id.kind, value) {
            (MetricKind::Counter, MetricValue::Counter { count }) => {
                add(names::USER_COUNTER, "count", "A counter of the Python metrics proxy", &labels, *count as f64);
            }
            (MetricKind::Meter, MetricValue::Meter { count, mean_rate }) => {
                add(names::USER_METER, "count", "Events marked on a meter of the Python metrics proxy", &labels, *count as f64);
                add(names::USER_METER, "meanrate", "Mean rate per second of a meter of the Python metrics proxy", &labels, *mean_rate);
            }
            (MetricKind::Timer, MetricValue::Timer { count, sum_ns, min_ns, max_ns }) => {
                let mean = if *count == 0 { 0.0 } else { *sum_ns as f64 / *count as f64 };
                add(names::USER_TIMER, "count", "Durations recorded on a timer of the Python metrics proxy", &labels, *count as f64);
                add(names::USER_TIMER, "min", "Shortest duration of a timer, in milliseconds", &labels, ms(*min_ns as f64));
                add(names::USER_TIMER, "max", "Longest duration of a timer, in milliseconds", &labels, ms(*max_ns as f64));
                add(names::USER_TIMER, "mean", "Mean duration of a timer, in milliseconds", &labels, ms(mean));
                // Weir's addition: with `_count`, a mean over any range (rate of sum / rate of count).
                add(names::USER_TIMER, "sum", "Total of a timer's durations, in milliseconds", &labels, ms(*sum_ns as f64));
            }
            (MetricKind::Gauge, MetricValue::Gauge { value }) => {
                add(
                    names::USER_GAUGE,
                    "value",
                    "A gauge set by Weir's Python toolkit (weir_circuit_state: 0 closed, 1 half-open, 2 open)",
                    &labels,
                    *value as f64,
                );
            }
            _ => {}
        }
    }
    families
}

/// The registry a scrape encodes: the exporter as its one collector.
pub fn registry(exporter: Exporter) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(exporter));
    registry
}

/// Answers a request to the metrics endpoint.
pub fn handle(registry: &Registry, method: &str, url: &str) -> Reply {
    let path = url.split_once('?').map_or(url, |(p, _)| p);
    if method != "GET" {
        return Reply::text(405, &format!("method {method} not allowed"));
    }
    if path != "/metrics" {
        return Reply::text(404, &format!("no endpoint {path}: the metrics are at /metrics"));
    }
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, registry) {
        Ok(()) => Reply {
            status: 200,
            content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8",
            headers: Vec::new(),
            body: body.into_bytes(),
        },
        Err(e) => Reply::text(500, &format!("cannot write the metrics: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_are_prometheus_names() {
        assert_eq!(label_name("Custom-Name"), "custom_name");
        assert_eq!(label_name("1x"), "_1x");
        assert_eq!(label_name(""), "_");
    }
}
