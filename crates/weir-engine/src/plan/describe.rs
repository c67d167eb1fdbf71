//! The planned [`Topology`] described as Kafka Streams' `Topology.describe()` shows one
//! (`weir describe`): sub-topologies of sources, processors and sinks with their stores, and
//! beside them what Kafka Streams' description leaves implicit (producers, every store with
//! its changelog, the internal topics). Rendered as text ([`Description::text`]), a Mermaid
//! flowchart ([`Description::mermaid`]) or a Graphviz digraph ([`Description::dot`]).
//!
//! It reads the topology the runtime executes, nothing else, so it cannot drift from it.
//! Sub-topologies are Kafka Streams' node groups: the sources and nodes connected by an edge,
//! or by a state store two of them use (a join reading the other side's table), except the
//! stores of global tables, which each get a sub-topology of their own that runs no task. A
//! topic written by a sink and read by a source (a repartition topic, a foreign-key join's
//! subscription topics, a user topic) links two sub-topologies without joining them.
//!
//! Nodes keep their processor names (`<namespace>_<pipeline>_<path>`, or the operation's
//! `name`); a source is named after its topic. The few nodes that share an operation's name
//! (a `groupBy` is a key mapper, a null-key filter and a sink to the repartition topic) get
//! a suffix saying what they do, so every name is unique, as Kafka Streams requires.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::join::{JoinNode, LookupKey, TableGetter};
use super::{Aggregation, FnHandle, GroupedTableNode, NodeKind, TableAggregation, Topology};

/// A topology as sub-topologies of named nodes, and the rest of what runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// Sub-topologies with tasks, then the global tables' (which have none).
    pub subtopologies: Vec<SubTopology>,
    pub producers: Vec<ProducerDescription>,
    pub stores: Vec<StoreDescription>,
    pub internal_topics: Vec<InternalTopic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubTopology {
    pub id: usize,
    /// A global table's: it fills a global store and runs no task.
    pub global: bool,
    pub nodes: Vec<NodeDescription>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeDescription {
    /// An identifier for graph formats (`s0`, `n3`, `g1`, …).
    pub id: String,
    pub name: String,
    pub kind: NodeRole,
    /// What the node does, for graph labels (`filter`, `count`, `join`, …).
    pub operation: &'static str,
    pub successors: Vec<String>,
    pub predecessors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeRole {
    Source {
        topics: Vec<String>,
    },
    Processor {
        stores: Vec<String>,
    },
    /// A fixed topic, or a topic name extractor function.
    Sink {
        topic: Option<String>,
        extractor: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerDescription {
    pub name: String,
    pub generator: String,
    pub topic: String,
    pub stores: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreDescription {
    pub name: String,
    /// `key-value`, `window`, `session`, …
    pub flavor: &'static str,
    pub changelog: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalTopic {
    pub topic: String,
    /// `repartition`, `changelog of store 'x'`, `foreign-key subscription registration`, …
    pub role: String,
}

/// One vertex of the graph before it is split into sub-topologies.
struct Vertex {
    id: String,
    name: String,
    role: NodeRole,
    operation: &'static str,
    children: Vec<usize>,
    /// Stores that tie it to the nodes using them too (not global tables').
    tying: Vec<String>,
    /// Global-table vertices form their own sub-topologies.
    global: bool,
}

/// Describes `topology` (see the module documentation).
pub fn describe(topology: &Topology) -> Description {
    let global_stores: HashSet<&str> = topology.global_tables.iter().map(|g| g.store.name.as_str()).collect();
    let mut vertices: Vec<Vertex> = Vec::new();
    let n_sources = topology.sources.len();
    for (i, source) in topology.sources.iter().enumerate() {
        vertices.push(Vertex {
            id: format!("s{i}"),
            name: source.topic.clone(),
            role: NodeRole::Source { topics: vec![source.topic.clone()] },
            operation: "source",
            children: source.children.iter().map(|c| n_sources + c).collect(),
            tying: Vec::new(),
            global: false,
        });
    }
    for (n, node) in topology.nodes.iter().enumerate() {
        let mut children: Vec<usize> = node.children.iter().map(|c| n_sources + c).collect();
        if let NodeKind::Branch { branches } = &node.kind {
            children.extend(branches.iter().map(|(_, entry)| n_sources + entry));
        }
        let (role, stores) = match &node.kind {
            NodeKind::To { topic, sink } => {
                (NodeRole::Sink { topic: Some(topic.clone()), extractor: None }, fn_stores(sink.partitioner.iter()))
            }
            NodeKind::ToTopicNameExtractor { extractor, sink, .. } => (
                NodeRole::Sink { topic: None, extractor: Some(extractor.qualified.clone()) },
                fn_stores([extractor].into_iter().chain(sink.partitioner.iter())),
            ),
            kind => {
                let stores = node_stores(kind);
                (NodeRole::Processor { stores: stores.clone() }, stores)
            }
        };
        let tying = stores.into_iter().filter(|s| !global_stores.contains(s.as_str())).collect();
        vertices.push(Vertex {
            id: format!("n{n}"),
            name: node.name.clone(),
            role,
            operation: operation(&node.kind),
            children,
            tying,
            global: false,
        });
    }
    for (g, table) in topology.global_tables.iter().enumerate() {
        let processor = vertices.len() + 1;
        vertices.push(Vertex {
            id: format!("g{g}"),
            name: table.topic.clone(),
            role: NodeRole::Source { topics: vec![table.topic.clone()] },
            operation: "source",
            children: vec![processor],
            tying: Vec::new(),
            global: true,
        });
        vertices.push(Vertex {
            id: format!("gt{g}"),
            name: format!("{}-global-table", table.store.name),
            role: NodeRole::Processor { stores: vec![table.store.name.clone()] },
            operation: "globalTable",
            children: Vec::new(),
            tying: Vec::new(),
            global: true,
        });
    }
    unique_names(&mut vertices);

    // Sub-topologies: connected by edges and by the stores nodes share.
    let mut groups = UnionFind::new(vertices.len());
    let mut store_user: HashMap<&str, usize> = HashMap::new();
    for (v, vertex) in vertices.iter().enumerate() {
        for &c in &vertex.children {
            groups.union(v, c);
        }
        for store in &vertex.tying {
            match store_user.get(store.as_str()) {
                Some(&other) => groups.union(v, other),
                None => {
                    store_user.insert(store, v);
                }
            }
        }
    }
    let mut predecessors: Vec<Vec<usize>> = vec![Vec::new(); vertices.len()];
    for (v, vertex) in vertices.iter().enumerate() {
        for &c in &vertex.children {
            if !predecessors[c].contains(&v) {
                predecessors[c].push(v);
            }
        }
    }
    // Numbered in the order of their first vertex (a source, as they come first), tasks first.
    let mut order: Vec<usize> = Vec::new();
    for global in [false, true] {
        for (v, vertex) in vertices.iter().enumerate() {
            let root = groups.find(v);
            if vertex.global == global && !order.contains(&root) {
                order.push(root);
            }
        }
    }
    let subtopologies = order
        .iter()
        .enumerate()
        .map(|(id, &root)| SubTopology {
            id,
            global: vertices[root].global,
            nodes: (0..vertices.len())
                .filter(|&v| groups.find(v) == root)
                .map(|v| {
                    let vertex = &vertices[v];
                    NodeDescription {
                        id: vertex.id.clone(),
                        name: vertex.name.clone(),
                        kind: vertex.role.clone(),
                        operation: vertex.operation,
                        successors: vertex.children.iter().map(|&c| vertices[c].name.clone()).collect(),
                        predecessors: predecessors[v].iter().map(|&p| vertices[p].name.clone()).collect(),
                    }
                })
                .collect(),
        })
        .collect();

    let producers = topology
        .producers
        .iter()
        .map(|p| ProducerDescription {
            name: p.name.clone(),
            generator: p.generator.qualified.clone(),
            topic: p.topic.clone(),
            stores: fn_stores([&p.generator].into_iter().chain(&p.condition).chain(&p.until).chain(&p.sink.partitioner)),
        })
        .collect();
    let mut stores: Vec<StoreDescription> = Vec::new();
    let specs = topology.stores.iter().chain(topology.global_tables.iter().map(|g| &g.store));
    for spec in specs {
        if !stores.iter().any(|s| s.name == spec.name) {
            stores.push(StoreDescription { name: spec.name.clone(), flavor: spec.flavor.noun(), changelog: spec.changelog.clone() });
        }
    }
    let mut internal_topics: Vec<InternalTopic> = topology
        .sources
        .iter()
        .filter(|s| s.internal)
        .map(|s| InternalTopic { topic: s.topic.clone(), role: internal_role(&s.topic).to_string() })
        .collect();
    for store in &stores {
        if let Some(changelog) = &store.changelog {
            internal_topics.push(InternalTopic { topic: changelog.clone(), role: format!("changelog of store '{}'", store.name) });
        }
    }
    Description { subtopologies, producers, stores, internal_topics }
}

/// What an internal source topic is for, from the suffix the planner names it with.
fn internal_role(topic: &str) -> &'static str {
    if topic.ends_with("-repartition") {
        "repartition"
    } else if topic.ends_with("-subscription-registration-topic") {
        "foreign-key join subscriptions"
    } else if topic.ends_with("-subscription-response-topic") {
        "foreign-key join responses"
    } else {
        "internal"
    }
}

/// The stores functions declare, in order, once each.
fn fn_stores<'f>(functions: impl IntoIterator<Item = &'f FnHandle>) -> Vec<String> {
    let mut out = Vec::new();
    for f in functions {
        push_all(&mut out, f.stores.iter().cloned());
    }
    out
}

fn push_all(out: &mut Vec<String>, names: impl IntoIterator<Item = String>) {
    for name in names {
        if !out.contains(&name) {
            out.push(name);
        }
    }
}

/// The stores a processor uses: its own, those its functions declare, and the tables it reads.
fn node_stores(kind: &NodeKind) -> Vec<String> {
    let mut out = Vec::new();
    let mut functions: Vec<&FnHandle> = Vec::new();
    match kind {
        NodeKind::Filter { predicate, .. } | NodeKind::TableFilter { predicate, .. } => functions.push(predicate),
        NodeKind::MapValues { mapper }
        | NodeKind::MapKey { mapper }
        | NodeKind::Map { mapper }
        | NodeKind::FlatMap { mapper }
        | NodeKind::FlatMapValues { mapper }
        | NodeKind::TransformMetadata { mapper }
        | NodeKind::TableMapValues { mapper } => functions.push(mapper),
        NodeKind::Peek { action } | NodeKind::ForEach { action } => functions.push(action),
        NodeKind::Print { mapper, .. } => functions.extend(mapper),
        NodeKind::Branch { branches } => functions.extend(branches.iter().filter_map(|(p, _)| p.as_ref())),
        NodeKind::To { sink, .. } => functions.extend(&sink.partitioner),
        NodeKind::ToTopicNameExtractor { extractor, sink, .. } => functions.extend([extractor].into_iter().chain(&sink.partitioner)),
        NodeKind::Aggregate { store, how } => {
            out.push(store.name.clone());
            functions.extend(aggregation_fns(how));
        }
        NodeKind::WindowAggregate { store, how, merger, .. } => {
            out.push(store.name.clone());
            functions.extend(aggregation_fns(how).into_iter().chain(merger));
        }
        NodeKind::TableSource { store } => out.extend(store.iter().map(|s| s.name.clone())),
        NodeKind::Suppress { buffer, .. } => out.push(buffer.name.clone()),
        NodeKind::GroupedTable(g) => match g.as_ref() {
            GroupedTableNode::GroupBy { mapper, state } => {
                out.push(state.name.clone());
                functions.push(mapper);
            }
            GroupedTableNode::Aggregate { store, how } => {
                out.push(store.name.clone());
                match how {
                    TableAggregation::Count => {}
                    TableAggregation::Reduce { adder, subtractor } => functions.extend([adder, subtractor]),
                    TableAggregation::Aggregate { initializer, adder, subtractor } => functions.extend([initializer, adder, subtractor]),
                }
            }
        },
        NodeKind::Join(j) => join_stores(j, &mut out, &mut functions),
        NodeKind::ConvertKey { .. }
        | NodeKind::ConvertValue { .. }
        | NodeKind::ConvertKeyValue { .. }
        | NodeKind::Forward
        | NodeKind::SkipNullKeys => {}
    }
    let from_functions = fn_stores(functions);
    push_all(&mut out, from_functions);
    out
}

fn aggregation_fns(how: &Aggregation) -> Vec<&FnHandle> {
    match how {
        Aggregation::Count => Vec::new(),
        Aggregation::Reduce { reducer } => vec![reducer],
        Aggregation::Aggregate { initializer, aggregator } => vec![initializer, aggregator],
    }
}

fn join_stores<'j>(join: &'j JoinNode, out: &mut Vec<String>, functions: &mut Vec<&'j FnHandle>) {
    let getter = |g: &'j TableGetter, out: &mut Vec<String>, functions: &mut Vec<&'j FnHandle>| {
        let mut at = g;
        loop {
            match at {
                TableGetter::Store(spec) => {
                    push_all(out, [spec.name.clone()]);
                    break;
                }
                TableGetter::Filter { parent, predicate, .. } => {
                    functions.push(predicate);
                    at = parent;
                }
                TableGetter::MapValues { parent, mapper } => {
                    functions.push(mapper);
                    at = parent;
                }
            }
        }
    };
    match join {
        JoinNode::StreamTable { table, lookup, joiner, buffer, .. } => {
            if let Some(buffer) = buffer {
                out.push(buffer.store.name.clone());
            }
            getter(table, out, functions);
            if let LookupKey::Mapper(f) | LookupKey::ForeignKey(f) = lookup {
                functions.push(f);
            }
            functions.push(joiner);
        }
        JoinNode::StreamStream(side) => {
            out.extend([side.this_store.name.clone(), side.other_store.name.clone()]);
            out.extend(side.pending.iter().map(|p| p.name.clone()));
            functions.push(&side.joiner);
        }
        JoinNode::FkSubscribe(s) => {
            out.push(s.state.name.clone());
            getter(&s.this, out, functions);
            functions.push(&s.extractor);
        }
        JoinNode::FkReceive { right, subscriptions } => {
            out.push(subscriptions.name.clone());
            getter(right, out, functions);
        }
        JoinNode::FkForeign { subscriptions } => out.push(subscriptions.name.clone()),
        JoinNode::FkResolve { this, joiner, store, .. } | JoinNode::TableTable { other: this, joiner, store, .. } => {
            out.extend(store.iter().map(|s| s.name.clone()));
            getter(this, out, functions);
            functions.push(joiner);
        }
    }
}

/// What a node does, in KSML's words where there are some.
fn operation(kind: &NodeKind) -> &'static str {
    match kind {
        NodeKind::Filter { keep: true, .. } | NodeKind::TableFilter { keep: true, .. } => "filter",
        NodeKind::Filter { keep: false, .. } | NodeKind::TableFilter { keep: false, .. } => "filterNot",
        NodeKind::MapValues { .. } | NodeKind::TableMapValues { .. } => "transformValue",
        NodeKind::MapKey { .. } => "transformKey",
        NodeKind::Map { .. } => "transformKeyValue",
        NodeKind::FlatMap { .. } => "transformKeyValueToKeyValueList",
        NodeKind::FlatMapValues { .. } => "transformKeyValueToValueList",
        NodeKind::TransformMetadata { .. } => "transformMetadata",
        NodeKind::Peek { .. } => "peek",
        NodeKind::ConvertKey { .. } => "convertKey",
        NodeKind::ConvertValue { .. } => "convertValue",
        NodeKind::ConvertKeyValue { .. } => "convertKeyValue",
        NodeKind::Forward => "forward",
        NodeKind::SkipNullKeys => "filterNullKeys",
        NodeKind::Branch { .. } => "branch",
        NodeKind::ForEach { .. } => "forEach",
        NodeKind::Print { .. } => "print",
        NodeKind::To { .. } | NodeKind::ToTopicNameExtractor { .. } => "sink",
        NodeKind::Aggregate { how, .. } | NodeKind::WindowAggregate { how, .. } => match how {
            Aggregation::Count => "count",
            Aggregation::Reduce { .. } => "reduce",
            Aggregation::Aggregate { .. } => "aggregate",
        },
        NodeKind::TableSource { .. } => "toTable",
        NodeKind::Suppress { .. } => "suppress",
        NodeKind::Join(j) => match j.as_ref() {
            JoinNode::FkSubscribe(_) => "fkSubscribe",
            JoinNode::FkReceive { .. } => "fkReceive",
            JoinNode::FkForeign { .. } => "fkForeign",
            JoinNode::FkResolve { .. } => "fkResolve",
            _ => "join",
        },
        NodeKind::GroupedTable(g) => match g.as_ref() {
            GroupedTableNode::GroupBy { .. } => "groupBy",
            GroupedTableNode::Aggregate { how: TableAggregation::Count, .. } => "count",
            GroupedTableNode::Aggregate { how: TableAggregation::Reduce { .. }, .. } => "reduce",
            GroupedTableNode::Aggregate { how: TableAggregation::Aggregate { .. }, .. } => "aggregate",
        },
    }
}

/// Makes every name unique: a repeated one gets its operation as a suffix (and a number if
/// that is not enough).
fn unique_names(vertices: &mut [Vertex]) {
    let mut taken: HashSet<String> = HashSet::new();
    for vertex in vertices.iter_mut() {
        let mut name = vertex.name.clone();
        if taken.contains(&name) {
            name = format!("{}-{}", vertex.name, vertex.operation);
            let mut n = 2;
            while taken.contains(&name) {
                name = format!("{}-{}-{n}", vertex.name, vertex.operation);
                n += 1;
            }
        }
        taken.insert(name.clone());
        vertex.name = name;
    }
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn new(n: usize) -> UnionFind {
        UnionFind((0..n).collect())
    }

    fn find(&mut self, mut v: usize) -> usize {
        while self.0[v] != v {
            self.0[v] = self.0[self.0[v]];
            v = self.0[v];
        }
        v
    }

    /// Joins two groups; the smaller index stays the root, so a group's root is its first vertex.
    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        let (low, high) = if a < b { (a, b) } else { (b, a) };
        self.0[high] = low;
    }
}

// ---- rendering ------------------------------------------------------------------------------

fn list(items: &[String]) -> String {
    if items.is_empty() { "none".to_string() } else { items.join(", ") }
}

impl Description {
    /// Kafka Streams' `TopologyDescription` text, then producers, stores and internal topics.
    pub fn text(&self) -> String {
        let mut out = String::from("Topologies:\n");
        for sub in &self.subtopologies {
            let global = if sub.global { " for global store (will not generate tasks)" } else { "" };
            out.push_str(&format!("   Sub-topology: {}{global}\n", sub.id));
            for node in &sub.nodes {
                let head = match &node.kind {
                    NodeRole::Source { topics } => format!("Source: {} (topics: [{}])", node.name, topics.join(", ")),
                    NodeRole::Processor { stores } => format!("Processor: {} (stores: [{}])", node.name, stores.join(", ")),
                    NodeRole::Sink { topic: Some(topic), .. } => format!("Sink: {} (topic: {topic})", node.name),
                    NodeRole::Sink { extractor, .. } => {
                        format!("Sink: {} (extractor: {})", node.name, extractor.as_deref().unwrap_or("none"))
                    }
                };
                out.push_str(&format!("    {head}\n"));
                if !matches!(node.kind, NodeRole::Sink { .. }) {
                    out.push_str(&format!("      --> {}\n", list(&node.successors)));
                }
                if !matches!(node.kind, NodeRole::Source { .. }) {
                    out.push_str(&format!("      <-- {}\n", list(&node.predecessors)));
                }
            }
            out.push('\n');
        }
        if !self.producers.is_empty() {
            out.push_str("Producers:\n");
            for p in &self.producers {
                out.push_str(&format!(
                    "   Producer: {} (generator: {}, topic: {}, stores: [{}])\n",
                    p.name,
                    p.generator,
                    p.topic,
                    p.stores.join(", ")
                ));
            }
            out.push('\n');
        }
        if !self.stores.is_empty() {
            out.push_str("Stores:\n");
            for s in &self.stores {
                let changelog = s.changelog.as_deref().map_or("no changelog".to_string(), |c| format!("changelog: {c}"));
                out.push_str(&format!("   {} ({}, {changelog})\n", s.name, s.flavor));
            }
            out.push('\n');
        }
        if !self.internal_topics.is_empty() {
            out.push_str("Internal topics:\n");
            for t in &self.internal_topics {
                out.push_str(&format!("   {} ({})\n", t.topic, t.role));
            }
            out.push('\n');
        }
        out
    }

    /// Where the records a sink writes are read again (a source of the same topic).
    fn topic_links(&self) -> Vec<(String, String)> {
        let mut readers: HashMap<&str, &str> = HashMap::new();
        for node in self.subtopologies.iter().flat_map(|s| &s.nodes) {
            if let NodeRole::Source { topics } = &node.kind {
                for t in topics {
                    readers.insert(t, &node.id);
                }
            }
        }
        let mut links = Vec::new();
        for node in self.subtopologies.iter().flat_map(|s| &s.nodes) {
            if let NodeRole::Sink { topic: Some(topic), .. } = &node.kind
                && let Some(reader) = readers.get(topic.as_str())
            {
                links.push((node.id.clone(), reader.to_string()));
            }
        }
        for (i, p) in self.producers.iter().enumerate() {
            if let Some(reader) = readers.get(p.topic.as_str()) {
                links.push((format!("p{i}"), reader.to_string()));
            }
        }
        links
    }

    /// Edges by graph id: each node to its successors.
    fn edges(&self) -> Vec<(String, String)> {
        let mut edges = Vec::new();
        for sub in &self.subtopologies {
            let ids: HashMap<&str, &str> = sub.nodes.iter().map(|n| (n.name.as_str(), n.id.as_str())).collect();
            for node in &sub.nodes {
                let targets: BTreeSet<&str> = node.successors.iter().filter_map(|s| ids.get(s.as_str()).copied()).collect();
                edges.extend(targets.into_iter().map(|t| (node.id.clone(), t.to_string())));
            }
        }
        edges
    }

    /// A node's label lines: its role and name, then its topic, stores or operation.
    fn label(node: &NodeDescription) -> Vec<String> {
        match &node.kind {
            NodeRole::Source { topics } => vec![format!("Source: {}", node.name), format!("topics: [{}]", topics.join(", "))],
            NodeRole::Processor { stores } if stores.is_empty() => vec![format!("Processor: {}", node.name), node.operation.to_string()],
            NodeRole::Processor { stores } => {
                vec![format!("Processor: {}", node.name), node.operation.to_string(), format!("stores: [{}]", stores.join(", "))]
            }
            NodeRole::Sink { topic, extractor } => vec![
                format!("Sink: {}", node.name),
                match (topic, extractor) {
                    (Some(t), _) => format!("topic: {t}"),
                    (None, e) => format!("extractor: {}", e.as_deref().unwrap_or("none")),
                },
            ],
        }
    }

    /// A Mermaid flowchart: one subgraph per sub-topology; a dotted edge from a sink (or a
    /// producer) to the source reading its topic.
    pub fn mermaid(&self) -> String {
        let escape = |s: &str| s.replace('"', "#quot;");
        let mut out = String::from("flowchart TD\n");
        for sub in &self.subtopologies {
            let global = if sub.global { " (global store)" } else { "" };
            out.push_str(&format!("  subgraph sub{}[\"Sub-topology {}{global}\"]\n", sub.id, sub.id));
            for node in &sub.nodes {
                let label = escape(&Self::label(node).join("<br/>"));
                let shape = match node.kind {
                    NodeRole::Source { .. } => format!("[/\"{label}\"/]"),
                    NodeRole::Processor { .. } => format!("[\"{label}\"]"),
                    NodeRole::Sink { .. } => format!("[\\\"{label}\"\\]"),
                };
                out.push_str(&format!("    {}{shape}\n", node.id));
            }
            out.push_str("  end\n");
        }
        for (i, p) in self.producers.iter().enumerate() {
            out.push_str(&format!("  p{i}([\"{}\"])\n", escape(&format!("Producer: {}<br/>topic: {}", p.name, p.topic))));
        }
        for (from, to) in self.edges() {
            out.push_str(&format!("  {from} --> {to}\n"));
        }
        for (from, to) in self.topic_links() {
            out.push_str(&format!("  {from} -.-> {to}\n"));
        }
        out
    }

    /// A Graphviz digraph: one cluster per sub-topology; a dashed edge from a sink (or a
    /// producer) to the source reading its topic.
    pub fn dot(&self) -> String {
        let escape = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let mut out = String::from("digraph topology {\n  rankdir=TB;\n  node [fontname=\"Helvetica\"];\n");
        for sub in &self.subtopologies {
            let global = if sub.global { " (global store)" } else { "" };
            out.push_str(&format!("  subgraph cluster_{} {{\n    label=\"Sub-topology {}{global}\";\n", sub.id, sub.id));
            for node in &sub.nodes {
                let label = Self::label(node).iter().map(|l| escape(l)).collect::<Vec<_>>().join("\\n");
                let shape = match node.kind {
                    NodeRole::Source { .. } => "invhouse",
                    NodeRole::Processor { .. } => "box",
                    NodeRole::Sink { .. } => "house",
                };
                out.push_str(&format!("    {} [label=\"{label}\", shape={shape}];\n", node.id));
            }
            out.push_str("  }\n");
        }
        for (i, p) in self.producers.iter().enumerate() {
            let label =
                [format!("Producer: {}", p.name), format!("topic: {}", p.topic)].iter().map(|l| escape(l)).collect::<Vec<_>>().join("\\n");
            out.push_str(&format!("  p{i} [label=\"{label}\", shape=ellipse];\n"));
        }
        for (from, to) in self.edges() {
            out.push_str(&format!("  {from} -> {to};\n"));
        }
        for (from, to) in self.topic_links() {
            out.push_str(&format!("  {from} -> {to} [style=dashed];\n"));
        }
        out.push_str("}\n");
        out
    }
}
