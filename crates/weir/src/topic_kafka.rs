//! `weir topic` on Apache Kafka: the same commands, flags and formats as on the embedded log
//! (`topic.rs` owns the formats, the partitioner and the consume loop; this module only
//! reaches the cluster through [`KafkaBroker`]).
//!
//! Where Kafka says less than the embedded log: `produce` reports counts per partition without
//! offsets (the producer sends asynchronously), and `describe` prints `-` for records,
//! segments and bytes per partition.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use weir_dsl::diag::did_you_mean;
use weir_engine::broker::{Broker, NewRecord, TopicSpec};
use weir_kafka::{KafkaBroker, KafkaConfig};
use weir_log::{CleanupPolicy, TopicConfig};

use crate::topic::{
    ConsumeOptions, TopicCommand, auto_created_note, config_summary, consume, create_config, is_broken_pipe, nothing_consumed_note, plural,
    produce, row, settings_text, table,
};

/// How long a command tries to reach the cluster before it gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request (metadata, configs, offsets) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs one `weir topic` command on the Kafka cluster the client `properties` name
/// (`bootstrap.servers` and the rest of a runner config's `kafka` section). `storage` holds
/// the embedded schema registry and `config` is the runner config, both for `consume
/// --key-type` / `--value-type`.
pub fn run(properties: Vec<(String, String)>, storage: &Path, config: Option<&Path>, command: TopicCommand) -> anyhow::Result<bool> {
    let mut kafka = KafkaConfig::from_properties(properties).map_err(|e| anyhow!("kafka: {e}"))?;
    kafka.connect_timeout = CONNECT_TIMEOUT;
    kafka.request_timeout = kafka.request_timeout.min(REQUEST_TIMEOUT);
    let broker = KafkaBroker::connect(kafka).map_err(|e| anyhow!("{e}"))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut err = std::io::stderr();
    let result = execute(&broker, storage, config, command, &mut out, &mut err);
    match out.flush() {
        // `weir topic consume | head` closes the pipe early: not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r?,
    }
    result
}

fn execute(
    broker: &KafkaBroker,
    storage: &Path,
    config: Option<&Path>,
    command: TopicCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<bool> {
    match command {
        TopicCommand::List => list(broker, out, err),
        TopicCommand::Describe { topic } => describe(broker, &topic, out),
        TopicCommand::Create { topic, partitions, compact, retention } => {
            let config = create_config(partitions, compact, retention.as_deref())?;
            if partitions == 0 {
                bail!("topic '{topic}': --partitions must be at least 1");
            }
            if let Some((_, n)) = broker.topics().map_err(kafka_error)?.into_iter().find(|(t, _)| *t == topic) {
                bail!("topic '{topic}' already exists on {} ({})", broker.describe(), plural(u64::from(n), "partition"));
            }
            let spec = TopicSpec {
                partitions: config.partitions,
                cleanup: config.cleanup_policy,
                retention_ms: config.retention_ms,
                min_compaction_lag_ms: None,
            };
            broker.ensure_topic_with(&topic, &spec).map_err(kafka_error)?;
            writeln!(out, "created topic '{topic}' on {}: {}", broker.describe(), config_summary(&config))?;
            Ok(true)
        }
        TopicCommand::Produce { topic, file, raw } => {
            let topic_config = match find_topic(broker, &topic)? {
                Some(partitions) => topic_config(broker, &topic, partitions)?,
                None => {
                    let config = TopicConfig::default();
                    broker.ensure_topic_with(&topic, &TopicSpec::default()).map_err(kafka_error)?;
                    writeln!(err, "{}", auto_created_note(&topic, &config))?;
                    config
                }
            };
            let (mut input, name): (Box<dyn Read>, String) = match &file {
                Some(path) => (
                    Box::new(File::open(path).with_context(|| format!("cannot open '{}'", path.display()))?),
                    format!("'{}'", path.display()),
                ),
                None => (Box::new(std::io::stdin()), "stdin".to_string()),
            };
            let mut append = |p: u32, records: &[NewRecord]| -> anyhow::Result<Option<u64>> {
                broker.append(&topic, p, records).map_err(kafka_error)?;
                Ok(None)
            };
            let summary = produce(&mut append, &topic, &topic_config, BufReader::with_capacity(1 << 16, &mut input), raw, &name);
            // Acknowledged before reported: a record the cluster did not take is not "produced".
            broker.sync().map_err(|e| anyhow!("not every record sent to '{topic}' was acknowledged: {e}"))?;
            write!(out, "{}", summary.report(&topic))?;
            summary.error.map_or(Ok(true), Err)
        }
        TopicCommand::Consume(args) => {
            let partitions = require_topic(broker, &args.topic)?;
            let opts = ConsumeOptions::of(&args, storage, config, None, err)?;
            let printed = match consume(broker, &args.topic, partitions, &opts, out) {
                Err(e) if is_broken_pipe(&e) => return Ok(true),
                r => r?.printed,
            };
            if printed == 0 && !args.from_beginning && !args.follow {
                writeln!(err, "{}", nothing_consumed_note(&args.topic))?;
            }
            Ok(true)
        }
    }
}

fn kafka_error(e: weir_engine::broker::BrokerError) -> anyhow::Error {
    anyhow!("{e}")
}

/// The partition count of `topic`, if the cluster has it.
fn find_topic(broker: &KafkaBroker, topic: &str) -> anyhow::Result<Option<u32>> {
    Ok(broker.topics().map_err(kafka_error)?.into_iter().find(|(t, _)| t == topic).map(|(_, n)| n))
}

/// The partition count of `topic`, or an error naming it with a did-you-mean.
fn require_topic(broker: &KafkaBroker, topic: &str) -> anyhow::Result<u32> {
    let topics = broker.topics().map_err(kafka_error)?;
    if let Some((_, n)) = topics.iter().find(|(t, _)| t == topic) {
        return Ok(*n);
    }
    let names: Vec<&str> = topics.iter().map(|(t, _)| t.as_str()).collect();
    let hint = match did_you_mean(topic, names.iter().copied()) {
        Some(h) => format!("; {h}"),
        None if names.is_empty() => "; the cluster has no topics".to_string(),
        None => format!(" (topics: {})", names.join(", ")),
    };
    bail!("unknown topic '{topic}' on {}{hint}", broker.describe())
}

/// A topic's settings as the cluster reports them, in the embedded log's terms.
fn topic_config(broker: &KafkaBroker, topic: &str, partitions: u32) -> anyhow::Result<TopicConfig> {
    let mut config = TopicConfig::with_partitions(partitions);
    let number = |v: &str| v.trim().parse::<i64>().ok();
    for (name, value) in broker.topic_configs(topic).map_err(kafka_error)? {
        match name.as_str() {
            "cleanup.policy" => {
                if let Some(policy) = CleanupPolicy::parse(&value) {
                    config.cleanup_policy = policy;
                }
            }
            "retention.ms" => config.retention_ms = number(&value).and_then(|v| u64::try_from(v).ok()),
            "retention.bytes" => config.retention_bytes = number(&value).and_then(|v| u64::try_from(v).ok()),
            "segment.bytes" => config.segment_bytes = number(&value).and_then(|v| u64::try_from(v).ok()).unwrap_or(config.segment_bytes),
            "delete.retention.ms" => {
                config.delete_retention_ms = number(&value).and_then(|v| u64::try_from(v).ok()).unwrap_or(config.delete_retention_ms);
            }
            _ => {}
        }
    }
    Ok(config)
}

fn list(broker: &KafkaBroker, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<bool> {
    let topics = broker.topics().map_err(kafka_error)?;
    if topics.is_empty() {
        writeln!(err, "no topics on {}", broker.describe())?;
        return Ok(true);
    }
    let mut rows = vec![row(["TOPIC", "PARTITIONS", "CLEANUP", "START", "END"])];
    for (topic, partitions) in &topics {
        let config = topic_config(broker, topic, *partitions)?;
        let (mut start, mut end) = (0u64, 0u64);
        for p in 0..*partitions {
            start += broker.start_offset(topic, p).map_err(kafka_error)?;
            end += broker.end_offset(topic, p).map_err(kafka_error)?;
        }
        rows.push(vec![
            topic.clone(),
            partitions.to_string(),
            config.cleanup_policy.as_str().to_string(),
            start.to_string(),
            end.to_string(),
        ]);
    }
    write!(out, "{}", table(&rows))?;
    Ok(true)
}

fn describe(broker: &KafkaBroker, topic: &str, out: &mut dyn Write) -> anyhow::Result<bool> {
    let partitions = require_topic(broker, topic)?;
    let config = topic_config(broker, topic, partitions)?;
    let mut text = settings_text(topic, &config);
    let mut rows = vec![row(["PARTITION", "START", "END", "RECORDS", "SEGMENTS", "BYTES"])];
    let mut ends = Vec::new();
    for p in 0..partitions {
        let end = broker.end_offset(topic, p).map_err(kafka_error)?;
        ends.push(end);
        // Kafka does not say how many records, segments and bytes a partition holds.
        rows.push(vec![
            p.to_string(),
            broker.start_offset(topic, p).map_err(kafka_error)?.to_string(),
            end.to_string(),
            "-".into(),
            "-".into(),
            "-".into(),
        ]);
    }
    text.push_str(&table(&rows));
    text.push('\n');
    let mut positions = Vec::new();
    for group in broker.groups().map_err(kafka_error)? {
        for (p, &end) in ends.iter().enumerate() {
            let p = p as u32;
            if let Some(committed) = broker.committed(&group, topic, p).map_err(kafka_error)? {
                positions.push((group.clone(), p, committed, end));
            }
        }
    }
    text.push_str(&crate::topic::group_table(topic, &positions));
    write!(out, "{text}")?;
    Ok(true)
}
