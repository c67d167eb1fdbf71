//! Which process holds a key of a store, and where each of a store's tasks is: the routing
//! of queries between the processes of one application.
//!
//! On the embedded log one process owns every task, so every key is local and `/all` is
//! `/local/all` ([`ThisProcess`]). On Kafka each process holds the tasks of its partitions
//! ([`Routed`]): each process advertises its REST endpoint through the consumer group (Kafka
//! Streams' `application.server`; see `weir_kafka`'s `owners` module for how), and the
//! broker port's [`Broker::group_owners`] reports every member's endpoint and partitions. A
//! key's task is the partition Kafka's default partitioner gives its bytes (the key
//! serialized as the store's sub-topology's source topic carries it) over that topic's
//! partition count; the member owning that partition of the topic holds the key. Tasks are
//! partition numbers of the sub-topology's source topics (co-partitioned, so the first one
//! says it for all).
//!
//! While the group is rebalancing, or a task has no owner with an endpoint, there is no
//! right answer: [`RouteError::Moving`], which the REST API answers 503 with `Retry-After`.

use std::collections::BTreeMap;
use std::sync::Arc;

use weir_dsl::types::UserType;
use weir_engine::broker::Broker;
use weir_engine::notation::Codec;
use weir_engine::partitioner::partition_for_key;
use weir_engine::plan::{NodeRole, Topology, describe};
use weir_engine::store::ReadOnlyStore;
use weir_engine::value::{Value, convert};

/// Where a key lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// In this process's instances: of task `task` when routing knows it (which this process
    /// must then hold), of whichever instance holds it otherwise.
    Local { task: Option<u32> },
    /// In another process, whose REST API is at `endpoint` (`http://host:port`).
    Remote { endpoint: String, task: u32 },
}

/// Where a store's tasks are, when several processes share them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Placement {
    /// The tasks this process holds (must hold open).
    pub local: Vec<u32>,
    /// The other processes' endpoints and the tasks each holds.
    pub remote: BTreeMap<String, Vec<u32>>,
}

/// Why a query cannot be routed now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// Tasks are moving (a rebalance), or a task has no known owner: ask again soon.
    Moving(String),
    /// The key cannot be placed (it does not serialize): the query's fault.
    BadKey(String),
}

/// Answers which process holds what.
pub trait Owners: Send + Sync {
    /// The process holding `key` of `store`.
    fn owner_of(&self, store: &ReadOnlyStore, key: &Value) -> Result<Owner, RouteError>;
    /// Where the tasks of `store` are; `None` when this process holds all of them.
    fn placement(&self, store: &ReadOnlyStore) -> Result<Option<Placement>, RouteError>;
}

/// Every key is here: the embedded log, where one process owns every task.
pub struct ThisProcess;

impl Owners for ThisProcess {
    fn owner_of(&self, _store: &ReadOnlyStore, _key: &Value) -> Result<Owner, RouteError> {
        Ok(Owner::Local { task: None })
    }

    fn placement(&self, _store: &ReadOnlyStore) -> Result<Option<Placement>, RouteError> {
        Ok(None)
    }
}

/// The topic that says where a store's keys are: the first source topic of the store's
/// sub-topology, and how its keys are serialized.
struct KeyTopic {
    topic: String,
    key_type: UserType,
    key: Arc<dyn Codec>,
}

/// The endpoint of each task's owner, by task (`None`: this process).
type TaskOwners = Vec<Option<String>>;

/// Routing over a consumer group's members (see the module doc).
pub struct Routed {
    broker: Arc<dyn Broker>,
    group: String,
    /// The endpoint this process advertises (`None` when it could not advertise one).
    me: Option<String>,
    /// By store name; stores without an entry (global tables' stores, stores only producers
    /// use) are held whole by every process.
    stores: BTreeMap<String, KeyTopic>,
}

impl Routed {
    /// Routing for `topology`'s stores over the members of consumer group `group`; this
    /// process advertises `me`.
    pub fn new(broker: Arc<dyn Broker>, group: &str, me: Option<String>, topology: &Topology) -> Routed {
        let mut stores = BTreeMap::new();
        for sub in describe(topology).subtopologies.iter().filter(|s| !s.global) {
            let topics: Vec<&String> = sub
                .nodes
                .iter()
                .filter_map(|n| match &n.kind {
                    NodeRole::Source { topics } => Some(topics),
                    _ => None,
                })
                .flatten()
                .collect();
            let Some(source) = topics.iter().find_map(|t| topology.sources.iter().find(|s| &s.topic == *t)) else { continue };
            for node in &sub.nodes {
                if let NodeRole::Processor { stores: used } = &node.kind {
                    for store in used {
                        stores.entry(store.clone()).or_insert_with(|| KeyTopic {
                            topic: source.topic.clone(),
                            key_type: source.format.key_type.clone(),
                            key: Arc::clone(&source.format.key),
                        });
                    }
                }
            }
        }
        Routed { broker, group: group.to_string(), me, stores }
    }

    /// The owner of each task of `store`'s topic (its endpoint, or `None` for this process),
    /// by task; `None` when the store is not split into tasks.
    fn owners(&self, store: &str) -> Result<Option<(&KeyTopic, TaskOwners)>, RouteError> {
        let Some(key_topic) = self.stores.get(store) else { return Ok(None) };
        let group = match self.broker.group_owners(&self.group) {
            Ok(Some(group)) => group,
            Ok(None) => return Ok(None),
            Err(e) => return Err(RouteError::Moving(format!("cannot learn which process holds store '{store}': {e}"))),
        };
        if !group.stable {
            return Err(RouteError::Moving(format!(
                "the tasks of store '{store}' are moving: consumer group '{}' is rebalancing (state {})",
                self.group, group.state
            )));
        }
        let Some(count) = group.partition_count(&key_topic.topic) else {
            return Err(RouteError::Moving(format!(
                "no member of consumer group '{}' owns a partition of '{}' (the tasks of store '{store}') yet",
                self.group, key_topic.topic
            )));
        };
        let mut owners = Vec::new();
        for task in 0..count {
            let Some(member) = group.owner(&key_topic.topic, task) else {
                return Err(RouteError::Moving(format!(
                    "task {task} of store '{store}' (partition {task} of '{}') has no owner in consumer group '{}'",
                    key_topic.topic, self.group
                )));
            };
            let Some(endpoint) = &member.endpoint else {
                return Err(RouteError::Moving(format!(
                    "task {task} of store '{store}' is held by group member {}, which advertises no REST endpoint \
                     (enable 'ksml.applicationServer' on every process, or set 'application.server' under 'kafka')",
                    member.member
                )));
            };
            owners.push((self.me.as_ref() != Some(endpoint)).then(|| endpoint.clone()));
        }
        Ok(Some((key_topic, owners)))
    }
}

impl Owners for Routed {
    fn owner_of(&self, store: &ReadOnlyStore, key: &Value) -> Result<Owner, RouteError> {
        let name = &store.spec().name;
        let Some((topic, owners)) = self.owners(name)? else { return Ok(Owner::Local { task: None }) };
        let bytes = convert(key.clone(), &topic.key_type)
            .map_err(|e| e.to_string())
            .and_then(|k| topic.key.encode(&k).map_err(|e| e.to_string()))
            .map_err(|e| {
                RouteError::BadKey(format!(
                    "store '{name}': cannot serialize the key as topic '{}' keys ({}): {e}",
                    topic.topic, topic.key_type
                ))
            })?
            .ok_or_else(|| RouteError::BadKey(format!("store '{name}': the key serializes to null")))?;
        let tasks = u32::try_from(owners.len()).unwrap_or(u32::MAX);
        let task = partition_for_key(&bytes, tasks);
        Ok(match owners.into_iter().nth(task as usize).flatten() {
            None => Owner::Local { task: Some(task) },
            Some(endpoint) => Owner::Remote { endpoint, task },
        })
    }

    fn placement(&self, store: &ReadOnlyStore) -> Result<Option<Placement>, RouteError> {
        let Some((_, owners)) = self.owners(&store.spec().name)? else { return Ok(None) };
        let mut placement = Placement::default();
        for (task, owner) in (0u32..).zip(owners) {
            match owner {
                None => placement.local.push(task),
                Some(endpoint) => placement.remote.entry(endpoint).or_default().push(task),
            }
        }
        Ok(Some(placement))
    }
}

#[cfg(test)]
mod tests {

    use weir_engine::broker::{GroupOwner, GroupOwners};
    use weir_engine::metrics::Metrics;
    use weir_engine::notation::Notations;
    use weir_engine::store::{StateStores, StoreQueries};

    use super::*;
    use crate::app::{NotationSetup, plan_definitions};
    use crate::rest::Rest;
    use crate::rest::test_broker::TestBroker as Group;

    const ME: &str = "http://10.0.0.1:8080";
    const OTHER: &str = "http://10.0.0.2:8080";

    fn member(endpoint: Option<&str>, partitions: &[u32]) -> GroupOwner {
        GroupOwner {
            member: format!("weir-member@{endpoint:?}"),
            endpoint: endpoint.map(str::to_string),
            partitions: partitions.iter().map(|p| ("words".to_string(), *p)).collect(),
        }
    }

    fn stable(members: Vec<GroupOwner>) -> GroupOwners {
        GroupOwners { stable: true, state: "Stable".to_string(), members, partitions: vec![("words".to_string(), 4)] }
    }

    /// A count by key of topic `words` (store `counts`), routed over `group`, as this process
    /// (`ME`) would see it.
    fn routed(group: GroupOwners) -> (Rest, Arc<Group>) {
        let yaml = "streams:\n  words:\n    topic: words\n    keyType: string\n    valueType: string\npipelines:\n  p:\n    from: words\n    via:\n      - type: groupByKey\n      - type: count\n        name: counts\n      - type: toStream\n    to:\n      topic: out\n      keyType: string\n      valueType: long\n";
        let (def, diags) = weir_dsl::parse_definition("t.yaml", "ns", yaml, &[]);
        assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
        let planned = plan_definitions(&[def.expect("definition")], "app", true, true, None, NotationSetup::Given(Notations::builtin()))
            .unwrap_or_else(|_| panic!("the definition plans"));
        let broker = Arc::new(Group::new(group));
        let owners = Routed::new(Arc::clone(&broker) as Arc<dyn Broker>, "app", Some(ME.to_string()), &planned.topology);
        let queries = StoreQueries::new(planned.topology.stores.clone(), Arc::new(StateStores::new()));
        (Rest { metrics: Metrics::new(), queries, owners: Box::new(owners), routes: None }, broker)
    }

    fn get(rest: &Rest, url: &str) -> (u16, Option<String>, String) {
        let reply = rest.handle("GET", url);
        (reply.status, reply.header("Retry-After").map(str::to_string), String::from_utf8_lossy(&reply.body).into_owned())
    }

    #[test]
    fn keys_go_to_the_owner_of_their_partition() {
        let (rest, _) = routed(stable(vec![member(Some(ME), &[0, 1]), member(Some(OTHER), &[2, 3])]));
        let store = rest.queries.held("counts").expect("store");
        let (mut here, mut there) = (0, 0);
        for n in 0..40 {
            let key = format!("key-{n}");
            let task = partition_for_key(key.as_bytes(), 4);
            let owner = rest.owners.owner_of(&store, &Value::String(key.clone())).expect("routed");
            if task < 2 {
                assert_eq!(owner, Owner::Local { task: Some(task) }, "{key}");
                here += 1;
            } else {
                assert_eq!(owner, Owner::Remote { endpoint: OTHER.to_string(), task }, "{key}");
                there += 1;
            }
        }
        assert!(here > 0 && there > 0, "keys of both processes: {here} here, {there} there");
        let placement = rest.owners.placement(&store).expect("placement").expect("split");
        assert_eq!(placement.local, vec![0, 1]);
        assert_eq!(placement.remote, BTreeMap::from([(OTHER.to_string(), vec![2, 3])]));
        // A key of this process whose task is not open (restoring): 503, not an empty answer.
        let key = (0..).map(|n| format!("key-{n}")).find(|k| partition_for_key(k.as_bytes(), 4) < 2).expect("a local key");
        let (status, retry, body) = get(&rest, &format!("/state/keyValue/counts/get/{key}"));
        assert_eq!((status, retry.as_deref()), (503, Some("2")), "{body}");
        assert!(body.contains("assigned to this process and not open yet"), "{body}");
    }

    #[test]
    fn while_tasks_move_queries_answer_503_with_retry_after() {
        let rebalancing =
            GroupOwners { stable: false, state: "PreparingRebalance".to_string(), ..stable(vec![member(Some(ME), &[0, 1, 2, 3])]) };
        let (rest, broker) = routed(rebalancing);
        for url in ["/state/keyValue/counts/get/a", "/state/keyValue/counts/all"] {
            let (status, retry, body) = get(&rest, url);
            assert_eq!((status, retry.as_deref()), (503, Some("2")), "{url}: {body}");
            assert!(body.contains("consumer group 'app' is rebalancing (state PreparingRebalance)"), "{url}: {body}");
        }
        // A partition nobody owns.
        *broker.group.lock().expect("group") = stable(vec![member(Some(ME), &[0, 1]), member(Some(OTHER), &[2])]);
        let (status, retry, body) = get(&rest, "/state/keyValue/counts/all");
        assert_eq!((status, retry.as_deref()), (503, Some("2")), "{body}");
        assert!(body.contains("task 3 of store 'counts'"), "{body}");
        // An owner that advertises no endpoint.
        *broker.group.lock().expect("group") = stable(vec![member(Some(ME), &[0, 1]), member(None, &[2, 3])]);
        let (status, _, body) = get(&rest, "/state/keyValue/counts/all");
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("advertises no REST endpoint"), "{body}");
        // The owner cannot be reached: 503 naming it (nothing listens on port 9 of this test's
        // address).
        *broker.group.lock().expect("group") = stable(vec![member(Some(ME), &[0, 1]), member(Some("http://127.0.0.1:9"), &[2, 3])]);
        let key = (0..).map(|n| format!("key-{n}")).find(|k| partition_for_key(k.as_bytes(), 4) >= 2).expect("a remote key");
        let (status, retry, body) = get(&rest, &format!("/state/keyValue/counts/get/{key}"));
        assert_eq!((status, retry.as_deref()), (503, Some("2")), "{body}");
        assert!(body.contains("cannot ask the process at http://127.0.0.1:9"), "{body}");
        // The `/local/` form never routes: this process holds no instance yet.
        let (status, _, body) = get(&rest, "/state/keyValue/counts/local/all");
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("no open instance in this process"), "{body}");
    }
}
