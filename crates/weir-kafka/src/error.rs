//! librdkafka's errors in the port's terms: an [`ErrorKind`] from the error code, and a
//! message that names what was being done, the topic and partition, and Kafka's words.

use rdkafka::error::{KafkaError, RDKafkaErrorCode as Code};
use weir_engine::broker::{BrokerError, ErrorKind};

/// The kind of failure an error code is.
pub(crate) fn kind_of(code: Code) -> ErrorKind {
    match code {
        Code::UnknownTopicOrPartition | Code::UnknownTopic => ErrorKind::UnknownTopic,
        Code::UnknownPartition => ErrorKind::PartitionOutOfRange,
        Code::TopicAlreadyExists => ErrorKind::TopicExists,
        Code::InvalidTopic
        | Code::InvalidPartitions
        | Code::InvalidReplicationFactor
        | Code::InvalidConfig
        | Code::PolicyViolation
        | Code::TopicAuthorizationFailed => ErrorKind::InvalidTopic,
        Code::MessageSizeTooLarge | Code::InvalidMessageSize | Code::InvalidRecord | Code::InvalidDifferentRecord => {
            ErrorKind::InvalidRecord
        }
        Code::IllegalGeneration
        | Code::UnknownMemberId
        | Code::FencedInstanceId
        | Code::Fenced
        | Code::InvalidProducerEpoch
        | Code::TransactionCoordinatorFenced => ErrorKind::Fenced,
        Code::BrokerTransportFailure
        | Code::AllBrokersDown
        | Code::Resolve
        | Code::OperationTimedOut
        | Code::RequestTimedOut
        | Code::MessageTimedOut
        | Code::TimedOutQueue
        | Code::NetworkException
        | Code::LeaderNotAvailable
        | Code::NotLeaderForPartition
        | Code::CoordinatorLoadInProgress
        | Code::CoordinatorNotAvailable
        | Code::NotCoordinator
        | Code::WaitingForCoordinator
        | Code::RebalanceInProgress
        | Code::NotEnoughReplicas
        | Code::NotEnoughReplicasAfterAppend
        | Code::QueueFull
        | Code::BrokerDestroy
        | Code::DestroyBroker
        | Code::PreferredLeaderNotAvailable
        | Code::FencedLeaderEpoch
        | Code::UnknownLeaderEpoch
        | Code::UnstableOffsetCommit => ErrorKind::Unavailable,
        _ => ErrorKind::Other,
    }
}

/// A [`BrokerError`] for `error`, met while `doing` (e.g. "cannot read"), about `topic` and
/// `partition` when given.
pub(crate) fn broker_error(error: &KafkaError, doing: &str, topic: Option<&str>, partition: Option<u32>) -> BrokerError {
    let kind = error.rdkafka_error_code().map_or(ErrorKind::Other, kind_of);
    let what = match (topic, partition) {
        (Some(t), Some(p)) => format!("{doing} {t}/{p}"),
        (Some(t), None) => format!("{doing} topic '{t}'"),
        _ => doing.to_string(),
    };
    let message = format!("{what}: {}", describe(error));
    let e = BrokerError::new(kind, message);
    match topic {
        Some(t) => e.at(t, partition),
        None => e,
    }
}

/// Kafka's words for an error, without rdkafka's wrapping ("KafkaError (…)").
pub(crate) fn describe(error: &KafkaError) -> String {
    match error.rdkafka_error_code() {
        Some(code) => {
            let hint = match code {
                Code::AllBrokersDown | Code::BrokerTransportFailure => " (is the broker running and reachable?)",
                Code::UnknownTopicOrPartition => " (no such topic or partition)",
                _ => "",
            };
            format!("{code}{hint}")
        }
        None => error.to_string(),
    }
}

/// A partition number as librdkafka takes it.
pub(crate) fn partition_i32(topic: &str, partition: u32) -> Result<i32, BrokerError> {
    i32::try_from(partition).map_err(|_| {
        BrokerError::new(ErrorKind::PartitionOutOfRange, format!("{topic}/{partition}: partition number out of Kafka's range"))
            .at(topic, Some(partition))
    })
}

/// An offset as librdkafka takes it.
pub(crate) fn offset_i64(topic: &str, partition: u32, offset: u64) -> Result<i64, BrokerError> {
    i64::try_from(offset).map_err(|_| {
        BrokerError::new(ErrorKind::Other, format!("{topic}/{partition}: offset {offset} out of Kafka's range")).at(topic, Some(partition))
    })
}
