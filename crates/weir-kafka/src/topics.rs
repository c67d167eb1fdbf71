//! Topics: created with the admin API from a [`TopicSpec`], never by the broker's
//! auto-creation (metadata is asked for all topics, not one by name, so a request never
//! creates one).

use std::thread;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::error::RDKafkaErrorCode;
use weir_engine::broker::{BrokerError, ErrorKind, Result, TopicSpec};

use crate::context::{LogContext, block_on};
use crate::error::{broker_error, describe, kind_of};

/// The partition count of `topic` as the cluster's metadata shows it, if it shows it whole.
fn partitions_shown(admin: &AdminClient<LogContext>, topic: &str, timeout: Duration) -> Result<Option<u32>> {
    let metadata =
        admin.inner().fetch_metadata(None, timeout).map_err(|e| broker_error(&e, "cannot list the topics to find", Some(topic), None))?;
    let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else { return Ok(None) };
    if found.error().is_some() || found.partitions().is_empty() || found.partitions().iter().any(|p| p.leader() < 0) {
        return Ok(None);
    }
    Ok(u32::try_from(found.partitions().len()).ok())
}

/// The topics the metadata shows (not the internal ones, whose names start with `__`) and
/// their partition counts, sorted by name.
pub(crate) fn list_topics(admin: &AdminClient<LogContext>, timeout: Duration) -> Result<Vec<(String, u32)>> {
    let metadata = admin.inner().fetch_metadata(None, timeout).map_err(|e| broker_error(&e, "cannot list the topics", None, None))?;
    let mut topics: Vec<(String, u32)> = metadata
        .topics()
        .iter()
        .filter(|t| !t.name().starts_with("__") && t.error().is_none())
        .map(|t| (t.name().to_string(), u32::try_from(t.partitions().len()).unwrap_or(u32::MAX)))
        .collect();
    topics.sort();
    Ok(topics)
}

/// Kafka's topic configs for a spec.
pub(crate) fn topic_configs(spec: &TopicSpec) -> Vec<(&'static str, String)> {
    let mut configs = vec![
        ("cleanup.policy", spec.cleanup.as_str().to_string()),
        ("retention.ms", spec.retention_ms.map_or_else(|| "-1".to_string(), |ms| ms.to_string())),
        ("message.timestamp.type", "CreateTime".to_string()),
    ];
    if let Some(lag) = spec.min_compaction_lag_ms {
        configs.push(("min.compaction.lag.ms", lag.to_string()));
    }
    configs
}

pub(crate) fn ensure_topic(
    admin: &AdminClient<LogContext>,
    topic: &str,
    spec: &TopicSpec,
    replication_factor: i32,
    timeout: Duration,
) -> Result<u32> {
    if let Some(partitions) = partitions_shown(admin, topic, timeout)? {
        return Ok(partitions);
    }
    let partitions = i32::try_from(spec.partitions.max(1))
        .map_err(|_| BrokerError::new(ErrorKind::InvalidTopic, format!("topic '{topic}': too many partitions ({})", spec.partitions)))?;
    let configs = topic_configs(spec);
    let mut new = NewTopic::new(topic, partitions, TopicReplication::Fixed(replication_factor));
    for (key, value) in &configs {
        new = new.set(key, value);
    }
    let options = AdminOptions::new().request_timeout(Some(timeout)).operation_timeout(Some(timeout));
    let created = block_on(admin.create_topics([&new], &options), timeout + Duration::from_secs(5)).ok_or_else(|| {
        BrokerError::new(ErrorKind::Unavailable, format!("cannot create topic '{topic}': no answer within {timeout:?}")).at(topic, None)
    })?;
    let results = created.map_err(|e| broker_error(&e, "cannot create", Some(topic), None))?;
    for result in results {
        match result {
            Ok(_) => tracing::info!(
                "created topic '{topic}' ({partitions} partitions, {})",
                configs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
            ),
            // Created meanwhile by another thread or process: use what is there.
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => {
                return Err(BrokerError::new(kind_of(code), format!("cannot create topic '{topic}': {code}")).at(topic, None));
            }
        }
    }
    // Creation is asynchronous in the cluster: wait until the metadata shows the topic whole.
    let deadline = Instant::now() + timeout;
    loop {
        match partitions_shown(admin, topic, timeout) {
            Ok(Some(partitions)) => return Ok(partitions),
            Ok(None) => {}
            Err(e) => tracing::debug!("waiting for topic '{topic}': {e}"),
        }
        if Instant::now() >= deadline {
            return Err(BrokerError::new(
                ErrorKind::Unavailable,
                format!("topic '{topic}' was created but its partitions did not show in the metadata within {timeout:?}"),
            )
            .at(topic, None));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// The configs of a topic as the cluster reports them (for checks and tests).
pub(crate) fn describe_topic(admin: &AdminClient<LogContext>, topic: &str, timeout: Duration) -> Result<Vec<(String, String)>> {
    use rdkafka::admin::ResourceSpecifier;
    let options = AdminOptions::new().request_timeout(Some(timeout));
    let answer = block_on(admin.describe_configs([&ResourceSpecifier::Topic(topic)], &options), timeout + Duration::from_secs(5))
        .ok_or_else(|| BrokerError::new(ErrorKind::Unavailable, format!("cannot describe topic '{topic}': no answer within {timeout:?}")))?
        .map_err(|e| broker_error(&e, "cannot describe", Some(topic), None))?;
    let mut out = Vec::new();
    for resource in answer {
        let resource = resource.map_err(|code| {
            BrokerError::new(
                kind_of(code),
                format!("cannot describe topic '{topic}': {}", describe(&rdkafka::error::KafkaError::AdminOp(code))),
            )
            .at(topic, None)
        })?;
        out.extend(resource.entries.into_iter().filter_map(|e| e.value.map(|v| (e.name, v))));
    }
    Ok(out)
}

/// Deletes the records of `topic`/`partition` below `offset` (Kafka's DeleteRecords: the
/// partition's log start moves up to `offset`).
pub(crate) fn delete_before(admin: &AdminClient<LogContext>, topic: &str, partition: u32, offset: u64, timeout: Duration) -> Result<()> {
    let p = crate::error::partition_i32(topic, partition)?;
    let o = crate::error::offset_i64(topic, partition, offset)?;
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset(topic, p, rdkafka::Offset::Offset(o))
        .map_err(|e| broker_error(&e, "cannot delete the records of", Some(topic), Some(partition)))?;
    let options = AdminOptions::new().operation_timeout(Some(timeout));
    let done = block_on(admin.delete_records(&tpl, &options), timeout + Duration::from_secs(1)).ok_or_else(|| {
        BrokerError::new(ErrorKind::Unavailable, format!("cannot delete the records below offset {offset}: no answer within {timeout:?}"))
            .at(topic, Some(partition))
    })?;
    let result =
        done.map_err(|e| broker_error(&e, &format!("cannot delete the records below offset {offset} of"), Some(topic), Some(partition)))?;
    for element in result.elements() {
        if let Err(e) = element.error() {
            return Err(broker_error(&e, &format!("cannot delete the records below offset {offset} of"), Some(topic), Some(partition)));
        }
    }
    Ok(())
}
