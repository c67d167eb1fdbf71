//! What every client shares: librdkafka's log lines and errors routed to `tracing`, the
//! client configs built from a [`KafkaConfig`], and a way to wait for the admin API's futures
//! without an async runtime.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::config::{Client, ClientProperties, KafkaConfig};

/// Logs a client's librdkafka lines and errors through `tracing`, naming the client.
#[derive(Clone)]
pub(crate) struct LogContext {
    pub client: &'static str,
}

impl ClientContext for LogContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        log_line(self.client, level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        log_error(self.client, &error, reason);
    }
}

impl ConsumerContext for LogContext {}

pub(crate) fn log_line(client: &str, level: RDKafkaLogLevel, fac: &str, message: &str) {
    // A failed connection is retried by librdkafka and logged by every client: the adapter's
    // own calls say that the cluster cannot be reached (with its address and a deadline).
    if fac == "FAIL" {
        tracing::debug!(target: "weir_kafka::librdkafka", "Kafka {client}: {fac}: {message}");
        return;
    }
    match level {
        RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error => {
            tracing::error!(target: "weir_kafka::librdkafka", "Kafka {client}: {fac}: {message}")
        }
        RDKafkaLogLevel::Warning => tracing::warn!(target: "weir_kafka::librdkafka", "Kafka {client}: {fac}: {message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::debug!(target: "weir_kafka::librdkafka", "Kafka {client}: {fac}: {message}")
        }
        RDKafkaLogLevel::Debug => tracing::trace!(target: "weir_kafka::librdkafka", "Kafka {client}: {fac}: {message}"),
    }
}

/// Connection failures are retried by librdkafka and reported by the adapter's own calls (with
/// the address and a deadline), so they are only debug lines here; anything else is a warning.
pub(crate) fn log_error(client: &str, error: &KafkaError, reason: &str) {
    // Connection failures are the adapter's to report (with the address, as it retries);
    // an end of partition is how the read path learns where a partition ends, not an error.
    let transport = matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::Resolve
                | RDKafkaErrorCode::PartitionEOF
        )
    ) || matches!(error, KafkaError::PartitionEOF(_));
    if transport {
        tracing::debug!(target: "weir_kafka::librdkafka", "Kafka {client}: {reason}");
    } else {
        tracing::warn!(target: "weir_kafka::librdkafka", "Kafka {client}: {error}: {reason}");
    }
}

/// librdkafka's config for one kind of client: the adapter's defaults, then the user's
/// properties for that client, then `fixed` (what the adapter's design needs).
pub(crate) fn client_config(
    config: &KafkaConfig,
    props: &ClientProperties,
    client: Client,
    defaults: &[(&str, &str)],
    fixed: &[(&str, &str)],
) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &config.bootstrap_servers);
    c.set("log_level", "6");
    for (k, v) in defaults {
        c.set(*k, *v);
    }
    for (k, v) in props.for_client(client) {
        c.set(k.as_str(), v.as_str());
    }
    for (k, v) in fixed {
        c.set(*k, *v);
    }
    c
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` on this thread until it is ready or `timeout` passes (the admin API's
/// futures complete from librdkafka's own threads).
pub(crate) fn block_on<F: Future>(future: F, timeout: Duration) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let deadline = Instant::now() + timeout;
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return Some(out);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        thread::park_timeout(left);
    }
}
