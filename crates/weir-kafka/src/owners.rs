//! Who owns what in a consumer group, for routing queries between the processes of one
//! application ([`weir_engine::broker::Broker::group_owners`]).
//!
//! Kafka Streams puts each instance's `application.server` in the userData of its group
//! subscription; librdkafka gives no way to set that. Each group member therefore carries
//! its process's endpoint in its `client.id` ([`member_client_id`]:
//! `<client.id>-member-<m>-of-<n>@http://host:port`), which the group coordinator reports
//! for every member. The group's DescribeGroups answer (librdkafka's `list_groups` for one
//! group) gives each member's client id and its assignment: the classic consumer protocol's
//! `ConsumerProtocolAssignment` bytes, decoded here ([`decode_assignment`]).

use std::collections::BTreeSet;
use std::time::Duration;

use rdkafka::admin::AdminClient;

use rdkafka::consumer::{BaseConsumer, Consumer};
use weir_engine::broker::{GroupOwner, GroupOwners, Result};

use crate::context::LogContext;
use crate::error::broker_error;

/// Where the advertised endpoint starts in a member's client id.
const MARK: &str = "@http";

/// The `client.id` of member `member` (0-based) of a process's `members`, advertising
/// `endpoint` when there is one.
pub(crate) fn member_client_id(base: &str, member: usize, members: usize, endpoint: Option<&str>) -> String {
    let id = format!("{base}-member-{}-of-{members}", member + 1);
    match endpoint {
        Some(e) => format!("{id}@{e}"),
        None => id,
    }
}

/// The endpoint a member's client id advertises (what follows the last `@http`).
pub(crate) fn endpoint_of(client_id: &str) -> Option<String> {
    client_id.rfind(MARK).map(|at| client_id[at + 1..].to_string())
}

/// A reader of Kafka's protocol types, big-endian, failing on a short buffer.
struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.data.len());
        let Some(end) = end else {
            return Err(format!("{what} at byte {} needs {n} bytes; the assignment has {}", self.at, self.data.len()));
        };
        let slice = &self.data[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn i16(&mut self, what: &str) -> Result<i16, String> {
        let b = self.take(2, what)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self, what: &str) -> Result<i32, String> {
        let b = self.take(4, what)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An array's length: -1 (null) is empty; anything else negative is an error.
    fn count(&mut self, what: &str) -> Result<usize, String> {
        match self.i32(what)? {
            -1 => Ok(0),
            n => usize::try_from(n).map_err(|_| format!("{what}: negative length {n}")),
        }
    }
}

/// Decodes a classic-protocol consumer assignment (`ConsumerProtocolAssignment`, versions
/// 0 to 3: int16 version, an array of (string topic, array of int32 partitions), then
/// userData bytes, which Weir does not use) into (topic, partition)s. Empty bytes are no
/// assignment (a member that has not got one yet).
pub(crate) fn decode_assignment(data: &[u8]) -> Result<Vec<(String, u32)>, String> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let mut bytes = Bytes { data, at: 0 };
    let version = bytes.i16("the version")?;
    if version < 0 {
        return Err(format!("unknown assignment version {version}"));
    }
    let mut out = Vec::new();
    let topics = bytes.count("the topic count")?;
    for _ in 0..topics {
        let len = bytes.i16("a topic name's length")?;
        let len = usize::try_from(len).map_err(|_| format!("a topic name of length {len}"))?;
        let name = std::str::from_utf8(bytes.take(len, "a topic name")?).map_err(|_| "a topic name is not UTF-8".to_string())?;
        let partitions = bytes.count("a partition count")?;
        for _ in 0..partitions {
            let p = bytes.i32("a partition")?;
            let p = u32::try_from(p).map_err(|_| format!("topic '{name}': partition {p}"))?;
            out.push((name.to_string(), p));
        }
    }
    // userData (and, from version 1, nothing Weir needs) follow; not read.
    Ok(out)
}

/// The members of `group`, their endpoints and partitions (see the module doc). A group the
/// coordinator does not know, or that has no members, is not stable and owns nothing.
pub(crate) fn group_owners(
    meta: &BaseConsumer<LogContext>,
    admin: &AdminClient<LogContext>,
    group: &str,
    timeout: Duration,
) -> Result<GroupOwners> {
    let list = meta
        .fetch_group_list(Some(group), timeout)
        .map_err(|e| broker_error(&e, &format!("cannot describe consumer group '{group}'"), None, None))?;
    let Some(info) = list.groups().iter().find(|g| g.name() == group) else {
        return Ok(GroupOwners { stable: false, state: "Unknown".to_string(), members: Vec::new(), partitions: Vec::new() });
    };
    let state = info.state().to_string();
    let mut members = Vec::new();
    for m in info.members() {
        let partitions = decode_assignment(m.assignment().unwrap_or_default()).map_err(|e| {
            weir_engine::broker::BrokerError::new(
                weir_engine::broker::ErrorKind::Other,
                format!("consumer group '{group}': cannot read the assignment of member '{}': {e}", m.id()),
            )
        })?;
        members.push(GroupOwner {
            member: format!("{} ({})", m.client_id(), m.client_host()),
            endpoint: endpoint_of(m.client_id()),
            partitions,
        });
    }
    // Partition counts from the metadata of all topics (never of one by name, which could
    // create it).
    let read: BTreeSet<&str> = members.iter().flat_map(|m: &GroupOwner| m.partitions.iter().map(|(t, _)| t.as_str())).collect();
    let partitions = if read.is_empty() {
        Vec::new()
    } else {
        crate::topics::list_topics(admin, timeout)?.into_iter().filter(|(t, _)| read.contains(t.as_str())).collect()
    };
    Ok(GroupOwners { stable: state == "Stable" && !members.is_empty(), state, members, partitions })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An assignment as Kafka's `ConsumerProtocol.serializeAssignment` writes it.
    fn encode(version: i16, topics: &[(&str, &[i32])], user_data: Option<&[u8]>) -> Vec<u8> {
        let mut out = version.to_be_bytes().to_vec();
        out.extend((topics.len() as i32).to_be_bytes());
        for (topic, partitions) in topics {
            out.extend((topic.len() as i16).to_be_bytes());
            out.extend(topic.as_bytes());
            out.extend((partitions.len() as i32).to_be_bytes());
            for p in *partitions {
                out.extend(p.to_be_bytes());
            }
        }
        match user_data {
            Some(d) => {
                out.extend((d.len() as i32).to_be_bytes());
                out.extend(d);
            }
            None => out.extend((-1i32).to_be_bytes()),
        }
        out
    }

    #[test]
    fn assignments_decode() {
        let bytes = encode(0, &[("words", &[0, 2]), ("app-x-repartition", &[3])], None);
        assert_eq!(
            decode_assignment(&bytes),
            Ok(vec![("words".to_string(), 0), ("words".to_string(), 2), ("app-x-repartition".to_string(), 3)])
        );
        // Version 3 with user data: the same partitions.
        let bytes = encode(3, &[("t", &[1])], Some(b"streams user data"));
        assert_eq!(decode_assignment(&bytes), Ok(vec![("t".to_string(), 1)]));
        // No topics; no bytes at all (not assigned yet).
        assert_eq!(decode_assignment(&encode(1, &[], None)), Ok(Vec::new()));
        assert_eq!(decode_assignment(&[]), Ok(Vec::new()));
    }

    #[test]
    fn damaged_assignments_are_errors() {
        let bytes = encode(0, &[("words", &[0, 2])], None);
        // Cut inside the second partition.
        let cut = decode_assignment(&bytes[..bytes.len() - 6]).expect_err("short");
        assert!(cut.contains("a partition at byte"), "{cut}");
        let mut negative = encode(0, &[("t", &[-1])], None);
        assert!(decode_assignment(&negative).expect_err("negative").contains("partition -1"));
        negative[0] = 0xff;
        assert!(decode_assignment(&negative).expect_err("version").contains("version"));
        assert!(decode_assignment(&[0, 0, 0]).is_err());
    }

    #[test]
    fn client_ids_carry_the_endpoint() {
        let id = member_client_id("weir-app", 0, 2, Some("http://10.0.0.5:8080"));
        assert_eq!(id, "weir-app-member-1-of-2@http://10.0.0.5:8080");
        assert_eq!(endpoint_of(&id).as_deref(), Some("http://10.0.0.5:8080"));
        // A user's client.id with an '@' of its own.
        let id = member_client_id("me@corp", 1, 2, Some("https://h:1"));
        assert_eq!(endpoint_of(&id).as_deref(), Some("https://h:1"));
        assert_eq!(endpoint_of(&member_client_id("weir", 0, 1, None)), None);
    }
}
