//! The topology: what the planner produces and the runtime executes. Sources (one per
//! consumed topic), nodes (one per operation, each knowing the key and value types it
//! emits), sinks with their codecs, producers, the application's stores, global tables and
//! co-partitioning requirements; and the graph queries the planner asks of it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use weir_dsl::duration::OffsetResetPolicy;
use weir_dsl::types::UserType;

use super::{Copartitioned, GlobalTable, GroupedTableNode, JoinNode, Suppression, Windowing};
use crate::metrics::FnTiming;
use crate::notation::{Codec, Notations, Target, TextConversion};
use crate::ports::{ArgSchemas, Functions};
use crate::store::StoreSpec;

pub type NodeId = usize;

/// A function bound to the definition that defines it.
#[derive(Clone)]
pub struct FnHandle {
    pub functions: Arc<dyn Functions>,
    /// The KSML function name (top-level key, or the inline function's path name).
    pub name: String,
    /// `<namespace>.<name>`, for messages.
    pub qualified: String,
    /// Where the runtime counts the function's calls and their time.
    pub timing: Arc<FnTiming>,
    /// The state stores the function declares (its `stores`), which it reaches while it runs.
    pub stores: Vec<String>,
    /// The schemas of its arguments' declared types, when one has a schema (KSML's `@type`
    /// and `@schema`); `None` for most functions.
    pub schemas: Option<ArgSchemas>,
}

impl std::fmt::Debug for FnHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.qualified)
    }
}

/// How a topic's keys and values are read and written.
#[derive(Clone)]
pub struct TopicFormat {
    pub key_type: UserType,
    pub value_type: UserType,
    pub key: Arc<dyn Codec>,
    pub value: Arc<dyn Codec>,
}

impl std::fmt::Debug for TopicFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.key_type, self.value_type)
    }
}

/// The sinks of a topic name extractor whose codecs depend on the topic: a registry notation
/// names the schema's subject `<topic>-key` / `<topic>-value`, which is only known per record.
/// Each topic's sink is made the first time a record goes to it, then kept.
pub struct PerTopicSinks {
    notations: Notations,
    template: Sink,
    sinks: Mutex<HashMap<String, Arc<Sink>>>,
}

impl PerTopicSinks {
    pub fn new(notations: Notations, template: Sink) -> PerTopicSinks {
        PerTopicSinks { notations, template, sinks: Mutex::new(HashMap::new()) }
    }

    /// The sink for `topic`: the template's types and partitioner, with codecs for the topic.
    pub fn sink(&self, topic: &str) -> Result<Arc<Sink>, String> {
        let mut sinks = self.sinks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(sink) = sinks.get(topic) {
            return Ok(Arc::clone(sink));
        }
        let format = &self.template.format;
        let codec = |t: &UserType, is_key: bool| self.notations.codec(t, &Target { topic: Some(topic.to_string()), is_key });
        let sink = Arc::new(Sink {
            format: TopicFormat {
                key_type: format.key_type.clone(),
                value_type: format.value_type.clone(),
                key: codec(&format.key_type, true).map_err(|e| format!("key: {e}"))?,
                value: codec(&format.value_type, false).map_err(|e| format!("value: {e}"))?,
            },
            partitioner: self.template.partitioner.clone(),
        });
        sinks.insert(topic.to_string(), Arc::clone(&sink));
        Ok(sink)
    }
}

impl std::fmt::Debug for PerTopicSinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a sink per topic for {:?}", self.template.format)
    }
}

#[derive(Debug, Clone)]
pub struct Source {
    pub topic: String,
    pub format: TopicFormat,
    pub offset_reset: Option<OffsetResetPolicy>,
    pub timestamp_extractor: Option<FnHandle>,
    pub children: Vec<NodeId>,
    /// Partitions to create the topic with when it does not exist; `None`: as many as the
    /// user topics it is co-partitioned with for a join, else as the widest of the
    /// application's other source topics (Kafka Streams' rules for repartition topics).
    pub partitions: Option<u32>,
    /// An internal topic (`<application.id>-<name>-repartition`) rather than a user's.
    pub internal: bool,
}

#[derive(Debug, Clone)]
pub enum PrintTarget {
    Stdout,
    File(String),
}

/// Where a sink writes: a fixed topic or one chosen per record.
#[derive(Debug, Clone)]
pub struct Sink {
    pub format: TopicFormat,
    pub partitioner: Option<FnHandle>,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Filter {
        predicate: FnHandle,
        keep: bool,
    },
    MapValues {
        mapper: FnHandle,
    },
    MapKey {
        mapper: FnHandle,
    },
    Map {
        mapper: FnHandle,
    },
    FlatMap {
        mapper: FnHandle,
    },
    FlatMapValues {
        mapper: FnHandle,
    },
    TransformMetadata {
        mapper: FnHandle,
    },
    Peek {
        action: FnHandle,
    },
    /// `from` is the stream's type: its notation's converter applies too (KSML's rule 4:
    /// JSON text ⇄ structures when either side is `json`; `text` for `csv` and `xml`).
    ConvertKey {
        from: UserType,
        into: UserType,
        text: TextConversion,
    },
    ConvertValue {
        from: UserType,
        into: UserType,
        text: TextConversion,
    },
    /// `from` and `into` are `(key, value)` tuple types; `text` for the key and the value.
    ConvertKeyValue {
        from: UserType,
        into: UserType,
        text: (TextConversion, TextConversion),
    },
    /// Passes records on unchanged (the junction of a `merge`).
    Forward,
    /// Passes on the records that have a key (before `groupBy`'s repartition topic, as Kafka
    /// Streams filters it).
    SkipNullKeys,
    Branch {
        branches: Vec<(Option<FnHandle>, NodeId)>,
    },
    ForEach {
        action: FnHandle,
    },
    Print {
        target: PrintTarget,
        label: Option<String>,
        mapper: Option<FnHandle>,
    },
    To {
        topic: String,
        sink: Sink,
    },
    ToTopicNameExtractor {
        extractor: FnHandle,
        sink: Sink,
        /// Set when the sink's notation names registry subjects after the topic (the
        /// default `TopicNameStrategy`): a sink per topic, made on first use.
        per_topic: Option<Arc<PerTopicSinks>>,
    },
    /// `count`, `reduce` or `aggregate` of a grouped stream, materialized in `store` (one
    /// instance per task): emits every update of the table (KSML's default has caching off).
    Aggregate {
        store: Arc<StoreSpec>,
        how: Aggregation,
    },
    /// A table from a stream of updates (a `tables:` source, `toTable`): a record with a null
    /// key is skipped; with a `store`, each update is put (a null value deletes the key); the
    /// update goes on as it is.
    TableSource {
        store: Option<Arc<StoreSpec>>,
    },
    /// A table's `filter`/`filterNot`: an update the predicate rejects goes on as a delete
    /// (a null value), and a delete goes on without calling the predicate.
    TableFilter {
        predicate: FnHandle,
        keep: bool,
    },
    /// A table's `mapValues`: a delete goes on without calling the mapper.
    TableMapValues {
        mapper: FnHandle,
    },
    /// `count`, `reduce` or `aggregate` of a windowed stream (`runtime/window.rs`): emits every
    /// update of every window the record falls in, keyed by the windowed key; `merger`
    /// combines session aggregates (`None` for `count` and `reduce`, which have their own).
    WindowAggregate {
        store: Arc<StoreSpec>,
        how: Aggregation,
        window: Windowing,
        merger: Option<FnHandle>,
    },
    /// `suppress` of a table's updates (`runtime/suppress.rs`), held in `buffer`.
    Suppress {
        buffer: Arc<StoreSpec>,
        suppression: Suppression,
    },
    /// A join, or one side of one (see [`JoinNode`]).
    Join(Box<JoinNode>),
    /// A table's `groupBy`, or the aggregation of a grouped table (see [`GroupedTableNode`]).
    GroupedTable(Box<GroupedTableNode>),
}

/// How an aggregation combines a record with the key's current aggregate.
#[derive(Debug, Clone)]
pub enum Aggregation {
    /// The number of records (a `long`).
    Count,
    /// `reducer(value1, value2)`: the current aggregate and the record's value; the first
    /// value of a key is its aggregate.
    Reduce { reducer: FnHandle },
    /// `initializer()` for a key's first record, then `aggregator(key, value, aggregatedValue)`.
    Aggregate { initializer: FnHandle, aggregator: FnHandle },
}

#[derive(Debug, Clone)]
pub struct Node {
    /// Processor name: `<namespace>_<pipeline>_<path>`, or the operation's `name`.
    pub name: String,
    /// The pipeline it belongs to, for counting records per pipeline.
    pub pipeline: String,
    pub kind: NodeKind,
    pub children: Vec<NodeId>,
    /// Types of the records this node emits.
    pub key_type: UserType,
    pub value_type: UserType,
}

#[derive(Debug, Clone)]
pub struct ProducerPlan {
    pub name: String,
    pub generator: FnHandle,
    pub condition: Option<FnHandle>,
    pub until: Option<FnHandle>,
    pub topic: String,
    pub sink: Sink,
    pub interval_ms: Option<u64>,
    pub count: Option<u64>,
    pub batch_size: Option<u64>,
}

/// Everything the runtime executes for one application.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    pub sources: Vec<Source>,
    pub nodes: Vec<Node>,
    pub producers: Vec<ProducerPlan>,
    /// Pipeline names, `<namespace>.<pipeline>`, in file order (for progress reports).
    pub pipelines: Vec<String>,
    /// The state stores every task has an instance of: the top-level `stores` of the
    /// definitions whose pipelines run (KSML adds them all to the topology).
    pub stores: Vec<Arc<StoreSpec>>,
    /// The global tables joins read (one shared store instance each).
    pub global_tables: Vec<GlobalTable>,
    /// The topics each join needs co-partitioned.
    pub copartitioned: Vec<Copartitioned>,
}

/// Where a node attaches in the graph: after a source or after a node.
#[derive(Debug, Clone, Copy)]
pub(super) enum Attach {
    Source(usize),
    Node(NodeId),
}

/// The nodes and sources that feed `at` directly.
pub(super) fn parents(topology: &Topology, id: usize) -> Vec<Attach> {
    let mut found: Vec<Attach> =
        topology.sources.iter().enumerate().filter(|(_, s)| s.children.contains(&id)).map(|(i, _)| Attach::Source(i)).collect();
    for (n, node) in topology.nodes.iter().enumerate() {
        let feeds = node.children.contains(&id)
            || matches!(&node.kind, NodeKind::Branch { branches } if branches.iter().any(|(_, entry)| *entry == id));
        if feeds {
            found.push(Attach::Node(n));
        }
    }
    found
}

/// Whether records reaching `at` may have had their key changed since they were read: a key
/// mapping node on some path from a source, with no repartition or table in between.
pub(super) fn rekeyed(topology: &Topology, at: Attach) -> bool {
    let mut todo = vec![at];
    let mut seen = std::collections::HashSet::new();
    while let Some(at) = todo.pop() {
        let Attach::Node(n) = at else { continue };
        if !seen.insert(n) {
            continue;
        }
        match &topology.nodes[n].kind {
            NodeKind::MapKey { .. }
            | NodeKind::Map { .. }
            | NodeKind::FlatMap { .. }
            | NodeKind::ConvertKey { .. }
            | NodeKind::ConvertKeyValue { .. } => return true,
            NodeKind::Aggregate { .. } | NodeKind::TableSource { .. } => {}
            _ => todo.extend(parents(topology, n)),
        }
    }
    false
}
