//! What happens when a record fails: KSML's `errorHandling` for the three phases, working
//! as documented (KSML never wires its process handler; Weir does), plus Weir's optional
//! dead-letter topic per phase.
//!
//! Every failure is logged (unless `log: false`) with the record's origin: topic, partition,
//! offset, and for process errors the function and its traceback. The dead-letter record
//! keeps the original key and value bytes and headers, and adds `weir.error.*` headers
//! (phase, message, function, topic, partition, offset, and what the error adds: a toolkit
//! call's `call.endpoint`, `call.attempts`, `call.cause`). Then the handler decides:
//! `continueOnFail` skips the record, `stopOnFail` stops the application, `retryOnFail`
//! tries again (up to [`RETRIES`] more times, with growing pauses) and stops if it still
//! fails. A record is never dropped without a trace: its own log line, or with `log: false`
//! one line for the first of its phase (the metrics count every one), and a dead letter when
//! the phase has a dead-letter topic (once: a record that stops the application fails again
//! on each restart, and its dead letter is not written again).

use std::time::Duration;

use weir_dsl::runner::{ErrorHandling, ErrorTypeHandling, Handler};

use crate::broker::Broker;
use crate::broker::NewRecord;

/// How many times `retryOnFail` tries again before giving up.
pub const RETRIES: u32 = 3;

/// The pause before retry `attempt` (1-based): 100 ms, 200 ms, 400 ms.
pub fn retry_pause(attempt: u32) -> Duration {
    Duration::from_millis(100 << attempt.saturating_sub(1).min(6))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Consume,
    Process,
    Produce,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Consume => "consume",
            Phase::Process => "process",
            Phase::Produce => "produce",
        }
    }
}

/// Where a record came from, with its original bytes (for logs and dead letters).
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub topic: &'a str,
    pub partition: u32,
    pub offset: u64,
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: &'a [(String, Vec<u8>)],
}

/// One failure of one record.
#[derive(Debug, Clone)]
pub struct Failure {
    pub phase: Phase,
    pub message: String,
    /// `<namespace>.<function>` for process errors in a function.
    pub function: Option<String>,
    /// The processor (operation) where it happened.
    pub node: Option<String>,
    /// More `weir.error.<name>` headers for the dead letter (a toolkit call's endpoint,
    /// attempts and cause).
    pub details: Vec<(String, String)>,
}

/// The decision after handling a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Skip the record (or the failing part of it) and go on.
    Continue,
    /// Try the same thing again (`retryOnFail`, attempts left).
    Retry,
    /// Stop the application.
    Stop,
}

pub struct ErrorHandlers {
    config: ErrorHandling,
    /// Counts the dead letters written.
    stats: std::sync::Arc<super::Stats>,
    /// Per phase (consume, process, produce): whether the one line saying that its errors
    /// are not logged (`log: false`) was written.
    unlogged_said: [std::sync::atomic::AtomicBool; 3],
}

impl ErrorHandlers {
    pub fn new(config: ErrorHandling, stats: std::sync::Arc<super::Stats>) -> Self {
        ErrorHandlers { config, stats, unlogged_said: Default::default() }
    }

    fn config(&self, phase: Phase) -> &ErrorTypeHandling {
        match phase {
            Phase::Consume => &self.config.consume,
            Phase::Process => &self.config.process,
            Phase::Produce => &self.config.produce,
        }
    }

    /// Whether a failure in `phase` should be retried, given the attempts made so far.
    pub fn should_retry(&self, phase: Phase, attempts: u32) -> bool {
        phase != Phase::Consume && self.config(phase).handler == Handler::RetryOnFail && attempts < RETRIES
    }

    /// Logs the failure, writes the dead letter, and decides. Call it once per failure that
    /// will not be retried (after the last retry, too).
    pub fn handle(&self, failure: &Failure, origin: &Origin, broker: &dyn Broker) -> Decision {
        let config = self.config(failure.phase);
        let decision = match config.handler {
            Handler::ContinueOnFail => Decision::Continue,
            Handler::StopOnFail | Handler::RetryOnFail => Decision::Stop,
        };
        if config.log {
            let payload = if config.log_payload { describe_payload(origin) } else { "*****".to_string() };
            tracing::error!(
                logger = %config.logger_name,
                phase = failure.phase.name(),
                topic = origin.topic,
                partition = origin.partition,
                offset = origin.offset,
                function = failure.function.as_deref().unwrap_or("-"),
                operation = failure.node.as_deref().unwrap_or("-"),
                payload = %payload,
                "{} error on {}/{}@{}: {}; {}",
                failure.phase.name(),
                origin.topic,
                origin.partition,
                origin.offset,
                failure.message,
                match decision {
                    Decision::Continue => "record skipped",
                    _ => "stopping",
                }
            );
        } else if !self.unlogged_said[failure.phase as usize].swap(true, std::sync::atomic::Ordering::Relaxed) {
            // The user asked for no error lines; one says so, so that records are not skipped
            // without a trace (the metrics count every one: weir_records_failed).
            tracing::warn!(
                logger = %config.logger_name,
                "{} errors are not logged ('log: false' in ksml.errorHandling.{}); the first was on {}/{}@{} ({}); \
                 they are counted in the progress line and the metrics",
                failure.phase.name(),
                failure.phase.name(),
                origin.topic,
                origin.partition,
                origin.offset,
                match decision {
                    Decision::Continue => "record skipped",
                    _ => "stopping",
                }
            );
        }
        if let Some(topic) = &config.dead_letter_topic {
            // A record that stops the application is not committed: each restart fails on it
            // again, and its dead letter is written once.
            if decision == Decision::Stop && already_dead_lettered(broker, topic, failure, origin) {
                tracing::info!(logger = %config.logger_name, "{}/{}@{} is already in dead-letter topic '{topic}'", origin.topic, origin.partition, origin.offset);
                return decision;
            }
            if let Err(e) = dead_letter(broker, topic, failure, origin) {
                tracing::error!(logger = %config.logger_name, "could not write to dead-letter topic '{topic}': {e}; stopping");
                return Decision::Stop;
            }
            self.stats.dead_lettered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        decision
    }
}

/// The key and value for the log (`logPayload: true`): text with its control characters
/// escaped (a payload's newlines or terminal escapes cannot forge log lines), other bytes
/// as hex.
fn describe_payload(origin: &Origin) -> String {
    let show = |b: Option<&[u8]>| match b {
        None => "null".to_string(),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => s.chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect(),
            Err(_) => b.iter().map(|x| format!("{x:02x}")).collect(),
        },
    };
    format!("key={} value={}", show(origin.key), show(origin.value))
}

/// How far back [`already_dead_lettered`] looks in a dead-letter partition.
const RECENT_DEAD_LETTERS: u64 = 16;

/// Whether one of the last [`RECENT_DEAD_LETTERS`] records of the dead-letter partition
/// `origin` goes to is this record's, for this phase (written by an earlier run that
/// stopped on it).
fn already_dead_lettered(broker: &dyn Broker, topic: &str, failure: &Failure, origin: &Origin) -> bool {
    let Ok(partitions) = broker.ensure_topic(topic, 1) else { return false };
    let partition = origin.partition % partitions.max(1);
    let Ok(end) = broker.end_offset(topic, partition) else { return false };
    let Ok(recent) = broker.read(topic, partition, end.saturating_sub(RECENT_DEAD_LETTERS), 1 << 20) else { return false };
    let header = |r: &crate::broker::StoredRecord, name: &str| {
        r.headers.iter().rev().find(|(k, _)| k == &format!("weir.error.{name}")).map(|(_, v)| v.clone())
    };
    recent.iter().any(|r| {
        header(r, "topic").as_deref() == Some(origin.topic.as_bytes())
            && header(r, "partition").as_deref() == Some(origin.partition.to_string().as_bytes())
            && header(r, "offset").as_deref() == Some(origin.offset.to_string().as_bytes())
            && header(r, "phase").as_deref() == Some(failure.phase.name().as_bytes())
    })
}

fn dead_letter(broker: &dyn Broker, topic: &str, failure: &Failure, origin: &Origin) -> Result<(), crate::broker::BrokerError> {
    let mut headers = origin.headers.to_vec();
    let mut add = |k: &str, v: String| headers.push((format!("weir.error.{k}"), v.into_bytes()));
    add("phase", failure.phase.name().to_string());
    add("message", failure.message.clone());
    if let Some(f) = &failure.function {
        add("function", f.clone());
    }
    if let Some(n) = &failure.node {
        add("operation", n.clone());
    }
    add("topic", origin.topic.to_string());
    add("partition", origin.partition.to_string());
    add("offset", origin.offset.to_string());
    for (k, v) in &failure.details {
        add(k, v.clone());
    }
    let partitions = broker.ensure_topic(topic, 1)?;
    let partition = origin.partition % partitions.max(1);
    let record =
        NewRecord { timestamp: origin.timestamp, key: origin.key.map(<[u8]>::to_vec), value: origin.value.map(<[u8]>::to_vec), headers };
    broker.append(topic, partition, &[record])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_in_the_log_cannot_forge_lines() {
        let origin = Origin {
            topic: "t",
            partition: 0,
            offset: 0,
            timestamp: 0,
            key: Some(b"k\n2026-01-01T00:00:00Z ERROR forged"),
            value: Some(b"\x1b[31mred\x1b[0m\ttab"),
            headers: &[],
        };
        let text = describe_payload(&origin);
        assert_eq!(text, "key=k\\n2026-01-01T00:00:00Z ERROR forged value=\\u{1b}[31mred\\u{1b}[0m\\ttab");
        assert!(!text.contains('\n') && !text.contains('\x1b'));
        let binary = Origin { key: None, value: Some(&[0xff, 0x00]), ..origin };
        assert_eq!(describe_payload(&binary), "key=null value=ff00");
    }
}
