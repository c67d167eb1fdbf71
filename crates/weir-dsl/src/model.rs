//! The validated, spanned model of a KSML definition: what `parse` produces and what the
//! planner consumes. No YAML in here.
//!
//! Invariants once [`crate::parse_definition`] returns without errors:
//! - every name reference (functions, stores, streams/tables/globalTables, `as` results) that
//!   [`crate::check`] can resolve statically has been resolved (unknown names are errors);
//! - every function has at least one of `globalCode`/`code`/`expression`, and a `resultType`
//!   where its type requires one;
//! - durations are in milliseconds, user types are parsed.

use indexmap::IndexMap;

use crate::diag::Span;
use crate::duration::OffsetResetPolicy;
use crate::types::UserType;

/// A value with the position it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

/// One KSML definition file (one namespace).
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    /// The namespace: the key in the runner config's `definitions`, or the file stem.
    pub namespace: String,
    pub file: String,
    pub name: Option<String>,
    pub version: Option<String>,
    pub description: Option<String>,
    /// `streams`, `tables` and `globalTables` share one name space, as in KSML.
    pub topics: IndexMap<String, TopicDef>,
    pub stores: IndexMap<String, StoreDef>,
    pub functions: IndexMap<String, FunctionDef>,
    pub pipelines: IndexMap<String, Pipeline>,
    pub producers: IndexMap<String, Producer>,
    /// Every schema its types name, where (for `weir check` to look for the schema files).
    pub schema_refs: Vec<crate::read::SchemaRef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicKind {
    Stream,
    Table,
    GlobalTable,
}

impl TopicKind {
    pub fn section(self) -> &'static str {
        match self {
            TopicKind::Stream => "streams",
            TopicKind::Table => "tables",
            TopicKind::GlobalTable => "globalTables",
        }
    }
    pub fn noun(self) -> &'static str {
        match self {
            TopicKind::Stream => "stream",
            TopicKind::Table => "table",
            TopicKind::GlobalTable => "globalTable",
        }
    }
}

/// A `streams`/`tables`/`globalTables` entry, or an inline topic (`from`, `to`, producer `to`,
/// join targets), which KSML treats as a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicDef {
    pub name: String,
    pub kind: TopicKind,
    pub topic: Spanned<String>,
    /// `None` = unknown (`?`), allowed for tables and output topics.
    pub key_type: Option<Spanned<UserType>>,
    pub value_type: Option<Spanned<UserType>>,
    pub offset_reset: Option<OffsetResetPolicy>,
    pub timestamp_extractor: Option<FnRef>,
    pub partitioner: Option<FnRef>,
    /// Tables and globalTables: the materialization store (named after the topic, as in KSML).
    pub store: Option<StoreRef>,
    pub span: Span,
}

/// A reference to a topic definition by name, or an inline topic.
#[derive(Debug, Clone, PartialEq)]
pub enum TopicRef {
    Named(Spanned<String>),
    Inline(Box<TopicDef>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreKind {
    KeyValue,
    Window,
    Session,
}

impl StoreKind {
    pub const ALL: [StoreKind; 3] = [StoreKind::KeyValue, StoreKind::Window, StoreKind::Session];
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::KeyValue => "keyValue",
            StoreKind::Window => "window",
            StoreKind::Session => "session",
        }
    }
    pub fn from_name(name: &str) -> Option<StoreKind> {
        StoreKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoreDef {
    pub name: String,
    pub kind: StoreKind,
    /// `None` for inline stores, whose types come from the stream.
    pub key_type: Option<Spanned<UserType>>,
    pub value_type: Option<Spanned<UserType>>,
    pub persistent: bool,
    pub timestamped: bool,
    pub versioned: bool,
    pub history_retention_ms: Option<u64>,
    pub segment_interval_ms: Option<u64>,
    pub retention_ms: Option<u64>,
    pub window_size_ms: Option<u64>,
    pub retain_duplicates: bool,
    pub caching: bool,
    pub logging: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StoreRef {
    Named(Spanned<String>),
    Inline(Box<StoreDef>),
}

/// Python source text with the file line its first line sits on.
#[derive(Debug, Clone, PartialEq)]
pub struct Code {
    pub text: String,
    /// 1-based line in the YAML file of the first line of `text`.
    pub line: u32,
    /// 1-based column in the YAML file where `text` starts (after the quote of a quoted
    /// scalar); the lines of a block scalar all start at this column.
    pub col: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub name: String,
    pub ty: UserType,
    pub default_value: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDef {
    /// The map key for top-level functions; the YAML path joined by `_` for inline ones.
    pub name: String,
    pub fn_type: FnType,
    /// Whether `type` was written (top-level functions) or implied by the slot (inline).
    pub parameters: Vec<Parameter>,
    pub global_code: Option<Code>,
    pub code: Option<Code>,
    pub expression: Option<Code>,
    pub result_type: Option<Spanned<UserType>>,
    pub stores: Vec<Spanned<String>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FnRef {
    Named(Spanned<String>),
    Inline(Box<FunctionDef>),
}

/// Whether a function type returns a value, and whether the user must declare its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultRule {
    /// `resultType` must be given.
    Required,
    /// `resultType` may be given; otherwise this type (KSML type text) is used.
    Default(&'static str),
    /// The function returns nothing; `resultType` must not be given.
    Forbidden,
    /// `generic` functions: anything goes.
    Optional,
}

macro_rules! fn_types {
    ($($variant:ident $name:literal [$($param:literal),*] $result:expr, stores: $stores:literal, expr: $expr:expr;)*) => {
        /// KSML's function types with their fixed parameters and result rules (KSML's functions reference).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum FnType { $($variant),* }
        impl FnType {
            pub const ALL: &'static [FnType] = &[$(FnType::$variant),*];
            pub fn name(self) -> &'static str { match self { $(FnType::$variant => $name),* } }
            /// The fixed parameters KSML passes, in order.
            pub fn params(self) -> &'static [&'static str] { match self { $(FnType::$variant => &[$($param),*]),* } }
            pub fn result(self) -> ResultRule { match self { $(FnType::$variant => $result),* } }
            /// Whether functions of this type may declare `stores`.
            pub fn allows_stores(self) -> bool { match self { $(FnType::$variant => $stores),* } }
            /// The expression returned when the function has none (KSML's default).
            pub fn default_expression(self) -> Option<&'static str> { match self { $(FnType::$variant => $expr),* } }
        }
    };
}

fn_types! {
    Generic "generic" [] ResultRule::Optional, stores: false, expr: None;
    Predicate "predicate" ["key", "value"] ResultRule::Default("boolean"), stores: true, expr: Some("True");
    ValueTransformer "valueTransformer" ["key", "value"] ResultRule::Required, stores: true, expr: Some("value");
    KeyTransformer "keyTransformer" ["key", "value"] ResultRule::Required, stores: true, expr: Some("key");
    KeyValueTransformer "keyValueTransformer" ["key", "value"] ResultRule::Required, stores: true, expr: Some("(key,value)");
    KeyValueToKeyValueListTransformer "keyValueToKeyValueListTransformer" ["key", "value"] ResultRule::Required, stores: true, expr: Some("[(key,value)]");
    KeyValueToValueListTransformer "keyValueToValueListTransformer" ["key", "value"] ResultRule::Required, stores: true, expr: Some("[value]");
    KeyValueMapper "keyValueMapper" ["key", "value"] ResultRule::Required, stores: false, expr: None;
    ForEach "forEach" ["key", "value"] ResultRule::Forbidden, stores: true, expr: None;
    MetadataTransformer "metadataTransformer" ["key", "value", "metadata"] ResultRule::Default("struct"), stores: true, expr: Some("metadata");
    KeyValuePrinter "keyValuePrinter" ["key", "value"] ResultRule::Default("string"), stores: false, expr: None;
    Aggregator "aggregator" ["key", "value", "aggregatedValue"] ResultRule::Required, stores: false, expr: Some("aggregatedValue");
    Initializer "initializer" [] ResultRule::Required, stores: false, expr: None;
    Merger "merger" ["key", "value1", "value2"] ResultRule::Required, stores: false, expr: None;
    Reducer "reducer" ["value1", "value2"] ResultRule::Required, stores: false, expr: None;
    ValueJoiner "valueJoiner" ["key", "value1", "value2"] ResultRule::Required, stores: false, expr: None;
    ForeignKeyExtractor "foreignKeyExtractor" ["value"] ResultRule::Required, stores: false, expr: None;
    Generator "generator" [] ResultRule::Default("union(tuple(?,?),[tuple(?,?)])"), stores: false, expr: None;
    StreamPartitioner "streamPartitioner" ["topic", "key", "value", "numPartitions"] ResultRule::Default("union(int,[int])"), stores: false, expr: None;
    TimestampExtractor "timestampExtractor" ["record", "previousTimestamp"] ResultRule::Default("long"), stores: false, expr: None;
    TopicNameExtractor "topicNameExtractor" ["key", "value", "recordContext"] ResultRule::Default("string"), stores: false, expr: None;
}

impl FnType {
    pub fn from_name(name: &str) -> Option<FnType> {
        FnType::ALL.iter().copied().find(|t| t.name() == name)
    }

    /// Whether a function declared as `self` can be used where `slot` is expected. KSML does
    /// not compare declared types, it checks parameters and results when the function is
    /// called; we check the same things up front: the same fixed parameters, and a result
    /// wherever the slot consumes one.
    pub fn fits(self, slot: FnType) -> bool {
        if self == slot || self == FnType::Generic {
            return true;
        }
        let needs_result = slot.result() != ResultRule::Forbidden;
        let gives_result = self.result() != ResultRule::Forbidden;
        self.params() == slot.params() && (!needs_result || gives_result)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub name: String,
    pub from: TopicRef,
    pub via: Vec<Operation>,
    /// `None` when the pipeline has no sink: its result is registered under its own name.
    pub sink: Option<Sink>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// The `type` as written (an alias such as `mapValues` is kept for messages).
    pub type_name: String,
    pub name: Option<String>,
    /// YAML path, e.g. `pipelines.main.via[2]`.
    pub path: String,
    pub span: Span,
    pub op: Op,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Outer,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JoinTarget {
    Stream(TopicRef),
    Table(TopicRef),
    GlobalTable(TopicRef),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    pub kind: JoinKind,
    pub target: JoinTarget,
    pub value_joiner: FnRef,
    /// Stream-stream joins.
    pub time_difference_ms: Option<u64>,
    pub grace_ms: Option<u64>,
    pub this_store: Option<StoreRef>,
    pub other_store: Option<StoreRef>,
    /// Table-table foreign-key joins.
    pub foreign_key_extractor: Option<FnRef>,
    pub partitioner: Option<FnRef>,
    pub other_partitioner: Option<FnRef>,
    /// Table joins: the materialization of the result.
    pub store: Option<StoreRef>,
    /// GlobalTable joins: maps the stream record to the globalTable key.
    pub mapper: Option<FnRef>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TimeWindow {
    Tumbling { duration_ms: u64, grace_ms: Option<u64> },
    Hopping { duration_ms: u64, advance_by_ms: u64, grace_ms: Option<u64> },
    Sliding { time_difference_ms: u64, grace_ms: Option<u64> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferFull {
    EmitEarly,
    Shutdown,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SuppressUntil {
    TimeLimit { duration_ms: u64 },
    WindowCloses,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Filter {
        predicate: FnRef,
        store: Option<StoreRef>,
    },
    FilterNot {
        predicate: FnRef,
        store: Option<StoreRef>,
    },
    TransformValue {
        mapper: FnRef,
        store: Option<StoreRef>,
    },
    TransformKey {
        mapper: FnRef,
    },
    TransformKeyValue {
        mapper: FnRef,
    },
    TransformKeyValueToKeyValueList {
        mapper: FnRef,
    },
    TransformKeyValueToValueList {
        mapper: FnRef,
    },
    TransformMetadata {
        mapper: FnRef,
    },
    Peek {
        for_each: FnRef,
    },
    ConvertKey {
        into: Spanned<UserType>,
    },
    ConvertValue {
        into: Spanned<UserType>,
    },
    ConvertKeyValue {
        into: Spanned<UserType>,
    },
    GroupByKey {
        store: Option<StoreRef>,
    },
    GroupBy {
        mapper: FnRef,
        store: Option<StoreRef>,
    },
    Repartition {
        number_of_partitions: Option<u32>,
        partitioner: Option<FnRef>,
    },
    ToTable {
        store: Option<StoreRef>,
    },
    ToStream {
        mapper: Option<FnRef>,
    },
    Count {
        store: Option<StoreRef>,
    },
    /// Either `reducer` (streams and windowed streams) or `adder` + `subtractor` (grouped tables).
    Reduce {
        reducer: Option<FnRef>,
        adder: Option<FnRef>,
        subtractor: Option<FnRef>,
        store: Option<StoreRef>,
    },
    Aggregate {
        initializer: FnRef,
        aggregator: Option<FnRef>,
        merger: Option<FnRef>,
        adder: Option<FnRef>,
        subtractor: Option<FnRef>,
        store: Option<StoreRef>,
    },
    Cogroup {
        aggregator: FnRef,
    },
    WindowByTime(TimeWindow),
    WindowBySession {
        inactivity_gap_ms: u64,
        grace_ms: Option<u64>,
    },
    Suppress {
        until: SuppressUntil,
        max_bytes: Option<u64>,
        max_records: Option<u64>,
        buffer_full: Option<BufferFull>,
    },
    Merge {
        stream: TopicRef,
    },
    Join(Box<Join>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Print {
    pub filename: Option<String>,
    pub label: Option<String>,
    pub mapper: Option<FnRef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Branch {
    /// `None` = catch-all branch.
    pub predicate: Option<FnRef>,
    pub via: Vec<Operation>,
    pub sink: Option<Sink>,
    pub path: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Sink {
    As(Spanned<String>),
    Branch(Vec<Branch>),
    ForEach(FnRef),
    Print(Print),
    To(TopicRef),
    ToTopicNameExtractor { extractor: FnRef, partitioner: Option<FnRef> },
}

impl Sink {
    pub fn key(&self) -> &'static str {
        match self {
            Sink::As(_) => "as",
            Sink::Branch(_) => "branch",
            Sink::ForEach(_) => "forEach",
            Sink::Print(_) => "print",
            Sink::To(_) => "to",
            Sink::ToTopicNameExtractor { .. } => "toTopicNameExtractor",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Producer {
    pub name: String,
    pub generator: FnRef,
    pub to: TopicRef,
    pub interval_ms: Option<u64>,
    pub count: Option<u64>,
    pub batch_size: Option<u64>,
    pub condition: Option<FnRef>,
    pub until: Option<FnRef>,
    pub span: Span,
}

impl Definition {
    /// Every function of the definition, top-level and inline, in file order: top-level
    /// functions first, then inline ones as they appear in topics, pipelines and producers.
    pub fn all_functions(&self) -> Vec<&FunctionDef> {
        type Out<'a> = Vec<&'a FunctionDef>;
        fn add<'a>(out: &mut Out<'a>, f: Option<&'a FnRef>) {
            if let Some(FnRef::Inline(def)) = f {
                out.push(def);
            }
        }
        fn topic<'a>(out: &mut Out<'a>, t: &'a TopicDef) {
            add(out, t.timestamp_extractor.as_ref());
            add(out, t.partitioner.as_ref());
        }
        fn topic_ref<'a>(out: &mut Out<'a>, t: &'a TopicRef) {
            if let TopicRef::Inline(t) = t {
                topic(out, t);
            }
        }
        fn ops<'a>(out: &mut Out<'a>, via: &'a [Operation], sink: Option<&'a Sink>) {
            for op in via {
                for f in op.op.functions() {
                    add(out, Some(f));
                }
                match &op.op {
                    Op::Merge { stream } => topic_ref(out, stream),
                    Op::Join(j) => match &j.target {
                        JoinTarget::Stream(t) | JoinTarget::Table(t) | JoinTarget::GlobalTable(t) => topic_ref(out, t),
                    },
                    _ => {}
                }
            }
            match sink {
                Some(Sink::ForEach(f)) => add(out, Some(f)),
                Some(Sink::Print(p)) => add(out, p.mapper.as_ref()),
                Some(Sink::To(t)) => topic_ref(out, t),
                Some(Sink::ToTopicNameExtractor { extractor, partitioner }) => {
                    add(out, Some(extractor));
                    add(out, partitioner.as_ref());
                }
                Some(Sink::Branch(branches)) => {
                    for b in branches {
                        add(out, b.predicate.as_ref());
                        ops(out, &b.via, b.sink.as_ref());
                    }
                }
                Some(Sink::As(_)) | None => {}
            }
        }
        let mut out: Out = self.functions.values().collect();
        for t in self.topics.values() {
            topic(&mut out, t);
        }
        for p in self.pipelines.values() {
            topic_ref(&mut out, &p.from);
            ops(&mut out, &p.via, p.sink.as_ref());
        }
        for p in self.producers.values() {
            add(&mut out, Some(&p.generator));
            add(&mut out, p.condition.as_ref());
            add(&mut out, p.until.as_ref());
            topic_ref(&mut out, &p.to);
        }
        out
    }
}

impl Op {
    /// The functions this operation names or defines, with their key and the function type
    /// the slot expects, in field order.
    pub fn function_slots(&self) -> Vec<(&'static str, &FnRef, FnType)> {
        use FnType as F;
        let one = |key, f, t| vec![(key, f, t)];
        match self {
            Op::Filter { predicate, .. } | Op::FilterNot { predicate, .. } => one("if", predicate, F::Predicate),
            Op::TransformValue { mapper, .. } => one("mapper", mapper, F::ValueTransformer),
            Op::TransformKey { mapper } => one("mapper", mapper, F::KeyTransformer),
            Op::TransformKeyValue { mapper } => one("mapper", mapper, F::KeyValueTransformer),
            Op::TransformKeyValueToKeyValueList { mapper } => one("mapper", mapper, F::KeyValueToKeyValueListTransformer),
            Op::TransformKeyValueToValueList { mapper } => one("mapper", mapper, F::KeyValueToValueListTransformer),
            Op::TransformMetadata { mapper } => one("mapper", mapper, F::MetadataTransformer),
            Op::GroupBy { mapper, .. } => one("mapper", mapper, F::KeyValueMapper),
            Op::Peek { for_each } => one("forEach", for_each, F::ForEach),
            Op::Repartition { partitioner, .. } => partitioner.iter().map(|f| ("partitioner", f, F::StreamPartitioner)).collect(),
            Op::ToStream { mapper } => mapper.iter().map(|f| ("mapper", f, F::KeyTransformer)).collect(),
            Op::Reduce { reducer, adder, subtractor, .. } => [("reducer", reducer), ("adder", adder), ("subtractor", subtractor)]
                .into_iter()
                .filter_map(|(k, f)| f.as_ref().map(|f| (k, f, F::Reducer)))
                .collect(),
            Op::Aggregate { initializer, aggregator, merger, adder, subtractor, .. } => {
                let mut v = vec![("initializer", initializer, F::Initializer)];
                v.extend(aggregator.iter().map(|f| ("aggregator", f, F::Aggregator)));
                v.extend(merger.iter().map(|f| ("merger", f, F::Merger)));
                v.extend(adder.iter().map(|f| ("adder", f, F::Aggregator)));
                v.extend(subtractor.iter().map(|f| ("subtractor", f, F::Aggregator)));
                v
            }
            Op::Cogroup { aggregator } => one("aggregator", aggregator, F::Aggregator),
            Op::Join(j) => {
                let mut v = vec![("valueJoiner", &j.value_joiner, F::ValueJoiner)];
                v.extend(j.foreign_key_extractor.iter().map(|f| ("foreignKeyExtractor", f, F::ForeignKeyExtractor)));
                v.extend(j.partitioner.iter().map(|f| ("partitioner", f, F::StreamPartitioner)));
                v.extend(j.other_partitioner.iter().map(|f| ("otherPartitioner", f, F::StreamPartitioner)));
                v.extend(j.mapper.iter().map(|f| ("mapper", f, F::KeyValueMapper)));
                v
            }
            Op::ConvertKey { .. }
            | Op::ConvertValue { .. }
            | Op::ConvertKeyValue { .. }
            | Op::GroupByKey { .. }
            | Op::ToTable { .. }
            | Op::Count { .. }
            | Op::WindowByTime(_)
            | Op::WindowBySession { .. }
            | Op::Suppress { .. }
            | Op::Merge { .. } => Vec::new(),
        }
    }

    /// The functions this operation names or defines, in field order.
    pub fn functions(&self) -> Vec<&FnRef> {
        self.function_slots().into_iter().map(|(_, f, _)| f).collect()
    }
}
