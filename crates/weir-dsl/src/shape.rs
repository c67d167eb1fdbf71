//! The shapes of the DSL: which keys each kind of object takes, which are required, and
//! what kind of value each holds.
//!
//! One table serves two purposes, so they cannot drift apart: the parser checks every
//! mapping against its shape (unknown keys with a did-you-mean, missing required keys), and
//! [`crate::schema`] turns the same tables into the JSON schema `weir schema` prints.

use crate::model::{FnType, StoreKind};

/// What a key's value may be.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Str,
    Bool,
    Int,
    /// A KSML duration (`30s`, `5m`, a number of milliseconds).
    Duration,
    /// Python source; YAML scalars of any type are accepted, as in KSML.
    Code,
    /// A KSML user type (`json`, `avro:SensorData`, `[string]`, …).
    Type,
    Enum(&'static [&'static str]),
    StrList,
    /// A map of strings to scalars (Kafka properties, registry configs).
    ScalarMap,
    /// The name of a function, or an inline function of this type.
    Func(FnType),
    /// The name of a store, or an inline store of one of these kinds.
    Store(&'static [StoreKind]),
    /// The name of a stream/table/globalTable, or an inline topic of this shape.
    Topic(&'static Shape),
    Obj(&'static Shape),
    /// A map from names to objects of this shape.
    MapOf(&'static Shape),
    ListOf(&'static Shape),
    /// A list of pipeline operations.
    Ops,
    /// Stores of any kind, chosen by their `type`.
    AnyStore,
    /// Functions of any type, chosen by their `type`.
    AnyFunction,
    /// The runner's `definitions`: a file name or an inline definition per namespace.
    Definitions,
    /// Any scalar (string, number, boolean).
    Scalar,
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub key: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub doc: &'static str,
}

#[derive(Debug)]
pub struct Shape {
    /// Used in messages ("unknown key 'x' in stream") and as the JSON schema definition name.
    pub name: &'static str,
    pub doc: &'static str,
    pub fields: &'static [Field],
}

impl Shape {
    pub fn field(&self, key: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.key == key)
    }
    pub fn keys(&self) -> impl Iterator<Item = &'static str> {
        self.fields.iter().map(|f| f.key)
    }
}

/// A required key (for building shapes, here and in `runner.rs` / `suite.rs`).
pub const fn req(key: &'static str, kind: Kind, doc: &'static str) -> Field {
    Field { key, kind, required: true, doc }
}
/// An optional key.
pub const fn opt(key: &'static str, kind: Kind, doc: &'static str) -> Field {
    Field { key, kind, required: false, doc }
}

const KV: &[StoreKind] = &[StoreKind::KeyValue];
const WINDOW: &[StoreKind] = &[StoreKind::Window];
const ANY_STORE: &[StoreKind] = &[StoreKind::KeyValue, StoreKind::Window, StoreKind::Session];

// ---- definition root -------------------------------------------------------------------

pub static DEFINITION: Shape = Shape {
    name: "definition",
    doc: "A KSML definition: topics, stores, functions, pipelines and producers of one namespace",
    fields: &[
        opt("name", Kind::Str, "Name of the definition, for logs"),
        opt("version", Kind::Str, "Version of the definition, for logs"),
        opt("description", Kind::Str, "What the definition does"),
        opt("streams", Kind::MapOf(&STREAM), "Topics read or written as record streams"),
        opt("tables", Kind::MapOf(&TABLE), "Topics read as changelogs into a table"),
        opt("globalTables", Kind::MapOf(&GLOBAL_TABLE), "Topics read as tables fully replicated to every instance"),
        opt("stores", Kind::MapOf(&STORE), "State stores usable by functions and operations"),
        opt("functions", Kind::MapOf(&FUNCTION), "Python functions usable by pipelines and producers"),
        opt("pipelines", Kind::MapOf(&PIPELINE), "Processing pipelines"),
        opt("producers", Kind::MapOf(&PRODUCER), "Record generators"),
    ],
};

// ---- topics ------------------------------------------------------------------------------

pub static STREAM: Shape = Shape {
    name: "stream",
    doc: "A topic read or written as a stream of records",
    fields: &[
        req("topic", Kind::Str, "Kafka topic name"),
        req("keyType", Kind::Type, "Type of the record keys"),
        req("valueType", Kind::Type, "Type of the record values"),
        opt("offsetResetPolicy", Kind::Str, "Where to start without a committed offset: earliest, latest, none, by_duration:<d>"),
        opt("timestampExtractor", Kind::Func(FnType::TimestampExtractor), "Function giving each record's event time"),
        opt("partitioner", Kind::Func(FnType::StreamPartitioner), "Function choosing the partition when writing to this topic"),
    ],
};

pub static TABLE: Shape = Shape {
    name: "table",
    doc: "A topic read as a changelog into a table, partitioned like the topic",
    fields: &[
        req("topic", Kind::Str, "Kafka topic name"),
        opt("keyType", Kind::Type, "Type of the record keys"),
        opt("valueType", Kind::Type, "Type of the record values"),
        opt("offsetResetPolicy", Kind::Str, "Where to start without a committed offset: earliest, latest, none, by_duration:<d>"),
        opt("timestampExtractor", Kind::Func(FnType::TimestampExtractor), "Function giving each record's event time"),
        opt("partitioner", Kind::Func(FnType::StreamPartitioner), "Function choosing the partition when writing to this topic"),
        opt("store", Kind::Store(KV), "Key-value store materializing the table (named after the topic)"),
    ],
};

pub static GLOBAL_TABLE: Shape =
    Shape { name: "globalTable", doc: "A topic read into a table replicated in full to every instance", fields: TABLE.fields };

/// `from:` given inline: a stream on a topic.
pub static SOURCE_TOPIC: Shape = Shape { name: "sourceTopic", doc: "An inline source topic, read as a stream", fields: STREAM.fields };

/// `to:` given inline.
pub static TARGET_TOPIC: Shape = Shape {
    name: "targetTopic",
    doc: "An inline output topic",
    fields: &[
        req("topic", Kind::Str, "Kafka topic name"),
        opt("keyType", Kind::Type, "Type of the record keys (default: the stream's)"),
        opt("valueType", Kind::Type, "Type of the record values (default: the stream's)"),
        opt("partitioner", Kind::Func(FnType::StreamPartitioner), "Function choosing the partition of each record"),
    ],
};

/// Producer `to:` given inline.
pub static PRODUCER_TOPIC: Shape = Shape {
    name: "producerTopic",
    doc: "An inline topic that a producer writes to",
    fields: &[
        req("topic", Kind::Str, "Kafka topic name"),
        opt("keyType", Kind::Type, "Type of the record keys"),
        opt("valueType", Kind::Type, "Type of the record values"),
        opt("partitioner", Kind::Func(FnType::StreamPartitioner), "Function choosing the partition of each record"),
    ],
};

/// A join or merge target given inline.
pub static JOIN_STREAM: Shape = Shape {
    name: "joinStream",
    doc: "An inline stream to join or merge with",
    fields: &[
        req("topic", Kind::Str, "Kafka topic name"),
        opt("keyType", Kind::Type, "Type of the record keys"),
        opt("valueType", Kind::Type, "Type of the record values"),
        opt("partitioner", Kind::Func(FnType::StreamPartitioner), "Function choosing the partition of each record"),
    ],
};

pub static JOIN_TABLE: Shape = Shape {
    name: "joinTable",
    doc: "An inline table to join with",
    fields: &[
        req("topic", Kind::Str, "Kafka topic name"),
        opt("keyType", Kind::Type, "Type of the record keys"),
        opt("valueType", Kind::Type, "Type of the record values"),
        opt("partitioner", Kind::Func(FnType::StreamPartitioner), "Function choosing the partition of each record"),
        opt("store", Kind::Store(KV), "Key-value store materializing the table"),
    ],
};

// ---- stores -------------------------------------------------------------------------------

/// Top-level `stores:` entries and inline stores: one shape per kind, chosen by `type`.
pub static STORE: Shape = Shape {
    name: "store",
    doc: "A state store; its `type` decides which other keys apply",
    fields: &[req("type", Kind::Enum(&["keyValue", "window", "session"]), "Kind of store")],
};

const STORE_COMMON: [Field; 5] = [
    opt("name", Kind::Str, "Store name (default: the map key, or derived from the operation)"),
    opt("persistent", Kind::Bool, "Keep the store on disk (default false: in memory)"),
    opt("timestamped", Kind::Bool, "Keep a timestamp with each value"),
    opt("caching", Kind::Bool, "Buffer updates and forward them periodically (default false)"),
    opt("logging", Kind::Bool, "Back the store with a changelog topic (default false)"),
];

pub static KEY_VALUE_STORE: Shape = Shape {
    name: "keyValueStore",
    doc: "A key-value state store",
    fields: &[
        req("type", Kind::Enum(&["keyValue"]), "Kind of store"),
        STORE_COMMON[0],
        opt("keyType", Kind::Type, "Type of the keys"),
        opt("valueType", Kind::Type, "Type of the values"),
        STORE_COMMON[1],
        STORE_COMMON[2],
        opt("versioned", Kind::Bool, "Keep old versions of each value (persistent stores only)"),
        opt("historyRetention", Kind::Duration, "Versioned stores: how long old versions stay queryable"),
        opt("segmentInterval", Kind::Duration, "Versioned stores: size of the segments holding old versions"),
        STORE_COMMON[3],
        STORE_COMMON[4],
    ],
};

pub static WINDOW_STORE: Shape = Shape {
    name: "windowStore",
    doc: "A window state store",
    fields: &[
        req("type", Kind::Enum(&["window"]), "Kind of store"),
        STORE_COMMON[0],
        opt("keyType", Kind::Type, "Type of the keys"),
        opt("valueType", Kind::Type, "Type of the values"),
        STORE_COMMON[1],
        STORE_COMMON[2],
        opt("retention", Kind::Duration, "How long windows are kept"),
        opt("windowSize", Kind::Duration, "Size of the windows"),
        opt("retainDuplicates", Kind::Bool, "Keep several values per key and window (needed by stream-stream joins)"),
        STORE_COMMON[3],
        STORE_COMMON[4],
    ],
};

pub static SESSION_STORE: Shape = Shape {
    name: "sessionStore",
    doc: "A session state store",
    fields: &[
        req("type", Kind::Enum(&["session"]), "Kind of store"),
        STORE_COMMON[0],
        opt("keyType", Kind::Type, "Type of the keys"),
        opt("valueType", Kind::Type, "Type of the values"),
        STORE_COMMON[1],
        STORE_COMMON[2],
        opt("retention", Kind::Duration, "How long sessions are kept"),
        STORE_COMMON[3],
        STORE_COMMON[4],
    ],
};

pub fn store_shape(kind: StoreKind) -> &'static Shape {
    match kind {
        StoreKind::KeyValue => &KEY_VALUE_STORE,
        StoreKind::Window => &WINDOW_STORE,
        StoreKind::Session => &SESSION_STORE,
    }
}

// ---- functions ----------------------------------------------------------------------------

pub static FUNCTION: Shape = Shape {
    name: "function",
    doc: "A Python function",
    fields: &[
        opt("type", Kind::Enum(&[]), "Function type (default: generic)"),
        opt("name", Kind::Str, "Function name (default: the map key)"),
        opt("parameters", Kind::ListOf(&PARAMETER), "Extra parameters, after the type's fixed ones"),
        opt("globalCode", Kind::Code, "Python run once, at module level, before the function is used"),
        opt("code", Kind::Code, "The function body"),
        opt("expression", Kind::Code, "The value returned, after `code`"),
        opt("resultType", Kind::Type, "Type of the returned value"),
        opt("stores", Kind::StrList, "State stores the function uses, bound as local variables"),
    ],
};

pub static PARAMETER: Shape = Shape {
    name: "parameter",
    doc: "An extra function parameter",
    fields: &[
        req("name", Kind::Str, "Parameter name"),
        req("type", Kind::Type, "Parameter type"),
        opt("defaultValue", Kind::Scalar, "Value used when the caller passes none"),
    ],
};

// ---- pipelines ----------------------------------------------------------------------------

/// Appends the sink keys (shared by pipelines and branches) to a field list.
macro_rules! with_sinks {
    ($($f:expr),* $(,)?) => {
        &[$($f,)*
    opt("as", Kind::Str, "Register the result under this name, for later pipelines"),
    opt("branch", Kind::ListOf(&BRANCH), "Send each record down the first branch whose condition holds"),
    opt("forEach", Kind::Func(FnType::ForEach), "Call a function for every record"),
    opt("print", Kind::Obj(&PRINT), "Print every record to stdout or a file"),
    opt("to", Kind::Topic(&TARGET_TOPIC), "Write every record to a topic"),
    opt("toTopicNameExtractor", Kind::Obj(&TO_TOPIC_NAME_EXTRACTOR), "Write every record to a topic chosen per record"),
        ]
    };
}

pub const SINK_KEYS: [&str; 6] = ["as", "branch", "forEach", "print", "to", "toTopicNameExtractor"];

pub static PIPELINE: Shape = Shape {
    name: "pipeline",
    doc: "A pipeline: a source, operations and a sink",
    fields: with_sinks!(
        opt("name", Kind::Str, "Pipeline name (default: the map key)"),
        req("from", Kind::Topic(&SOURCE_TOPIC), "Source: a stream/table/globalTable, an earlier pipeline's `as` name, or an inline topic"),
        opt("via", Kind::Ops, "Operations applied in order"),
    ),
};

pub static BRANCH: Shape = Shape {
    name: "branch",
    doc: "One branch: a condition and the sub-pipeline for records that meet it",
    fields: with_sinks!(
        opt("if", Kind::Func(FnType::Predicate), "Condition (absent: takes every record that reaches it)"),
        opt("name", Kind::Str, "Branch name"),
        opt("via", Kind::Ops, "Operations applied in order"),
    ),
};

pub static PRINT: Shape = Shape {
    name: "print",
    doc: "Print records",
    fields: &[
        opt("name", Kind::Str, "Operation name"),
        opt("filename", Kind::Str, "File to append to (default: stdout)"),
        opt("label", Kind::Str, "Label printed with each record"),
        opt("mapper", Kind::Func(FnType::KeyValuePrinter), "Function formatting each record"),
    ],
};

pub static TO_TOPIC_NAME_EXTRACTOR: Shape = Shape {
    name: "toTopicNameExtractor",
    doc: "Write each record to the topic a function names",
    fields: &[
        req("topicNameExtractor", Kind::Func(FnType::TopicNameExtractor), "Function returning the topic name"),
        opt("partitioner", Kind::Func(FnType::StreamPartitioner), "Function choosing the partition"),
    ],
};

// ---- producers ----------------------------------------------------------------------------

pub static PRODUCER: Shape = Shape {
    name: "producer",
    doc: "Generates records and writes them to a topic",
    fields: &[
        req("generator", Kind::Func(FnType::Generator), "Function returning a (key, value) tuple or a list of them"),
        req("to", Kind::Topic(&PRODUCER_TOPIC), "Topic to write to"),
        opt("interval", Kind::Duration, "Time between generator runs"),
        opt("count", Kind::Int, "Number of records to produce"),
        opt("batchSize", Kind::Int, "Records generated per run (1..1000)"),
        opt("condition", Kind::Func(FnType::Predicate), "Records for which this is false are not produced"),
        opt("until", Kind::Func(FnType::Predicate), "Stop after the first record for which this is true"),
    ],
};

// ---- operations ---------------------------------------------------------------------------

/// One pipeline operation: its `type` names (first is canonical) and its keys.
#[derive(Debug)]
pub struct OpSpec {
    pub names: &'static [&'static str],
    pub shape: Shape,
}

const TYPE: Field = req("type", Kind::Str, "Operation type");
const NAME: Field = opt("name", Kind::Str, "Processor name");

macro_rules! op {
    ([$n:literal], $doc:literal, join) => {
        op!([$n], $doc, [
            opt("stream", Kind::Topic(&JOIN_STREAM), "Stream to join with"),
            opt("table", Kind::Topic(&JOIN_TABLE), "Table to join with"),
            opt("globalTable", Kind::Topic(&JOIN_TABLE), "GlobalTable to join with"),
            req("valueJoiner", Kind::Func(FnType::ValueJoiner), "Function combining the two values"),
            opt("timeDifference", Kind::Duration, "Stream joins: maximum time between joined records"),
            opt("grace", Kind::Duration, "How long out-of-order records are still admitted"),
            opt("thisStore", Kind::Store(WINDOW), "Stream joins: window store of this stream"),
            opt("otherStore", Kind::Store(WINDOW), "Stream joins: window store of the other stream"),
            opt("foreignKeyExtractor", Kind::Func(FnType::ForeignKeyExtractor), "Table joins: foreign key of this table's value"),
            opt("partitioner", Kind::Func(FnType::StreamPartitioner), "Foreign-key joins: partitioner of this table"),
            opt("otherPartitioner", Kind::Func(FnType::StreamPartitioner), "Foreign-key joins: partitioner of the other table"),
            opt("store", Kind::Store(KV), "Table joins: store materializing the result"),
            opt("mapper", Kind::Func(FnType::KeyValueMapper), "GlobalTable joins: returns the globalTable key for a record"),
        ])
    };
    ([$n:literal], $doc:literal, outer_join) => {
        op!([$n], $doc, [
            opt("stream", Kind::Topic(&JOIN_STREAM), "Stream to join with"),
            opt("table", Kind::Topic(&JOIN_TABLE), "Table to join with"),
            req("valueJoiner", Kind::Func(FnType::ValueJoiner), "Function combining the two values"),
            opt("timeDifference", Kind::Duration, "Stream joins: maximum time between joined records"),
            opt("grace", Kind::Duration, "How long out-of-order records are still admitted"),
            opt("thisStore", Kind::Store(WINDOW), "Stream joins: window store of this stream"),
            opt("otherStore", Kind::Store(WINDOW), "Stream joins: window store of the other stream"),
            opt("store", Kind::Store(KV), "Table joins: store materializing the result"),
        ])
    };
    ([$($n:literal),+], $doc:literal, [$($f:expr),* $(,)?]) => {
        OpSpec { names: &[$($n),+], shape: Shape { name: [$($n),+][0], doc: $doc, fields: &[TYPE, NAME, $($f),*] } }
    };
}

pub static OPS: &[OpSpec] = &[
    op!(
        ["filter"],
        "Keep the records for which a predicate holds",
        [
            req("if", Kind::Func(FnType::Predicate), "The predicate"),
            opt("store", Kind::Store(KV), "Tables: store materializing the result"),
        ]
    ),
    op!(
        ["filterNot"],
        "Drop the records for which a predicate holds",
        [
            req("if", Kind::Func(FnType::Predicate), "The predicate"),
            opt("store", Kind::Store(KV), "Tables: store materializing the result"),
        ]
    ),
    op!(
        ["transformValue", "mapValue", "mapValues"],
        "Replace each value",
        [
            req("mapper", Kind::Func(FnType::ValueTransformer), "Function returning the new value"),
            opt("store", Kind::Store(KV), "Tables: store materializing the result"),
        ]
    ),
    op!(
        ["transformKey", "mapKey", "selectKey"],
        "Replace each key",
        [req("mapper", Kind::Func(FnType::KeyTransformer), "Function returning the new key"),]
    ),
    op!(
        ["transformKeyValue", "map"],
        "Replace each key and value",
        [req("mapper", Kind::Func(FnType::KeyValueTransformer), "Function returning (key, value)"),]
    ),
    op!(
        ["transformKeyValueToKeyValueList", "flatMap"],
        "Replace each record by zero or more records",
        [req("mapper", Kind::Func(FnType::KeyValueToKeyValueListTransformer), "Function returning a list of (key, value)"),]
    ),
    op!(
        ["transformKeyValueToValueList", "flatMapValues"],
        "Replace each value by zero or more values",
        [req("mapper", Kind::Func(FnType::KeyValueToValueListTransformer), "Function returning a list of values"),]
    ),
    op!(
        ["transformMetadata"],
        "Replace each record's timestamp and headers",
        [req("mapper", Kind::Func(FnType::MetadataTransformer), "Function returning the new metadata"),]
    ),
    op!(["peek"], "Call a function for each record and pass it on", [req("forEach", Kind::Func(FnType::ForEach), "The function"),]),
    op!(["convertKey"], "Convert each key to another type or notation", [req("into", Kind::Type, "Target key type")]),
    op!(["convertValue"], "Convert each value to another type or notation", [req("into", Kind::Type, "Target value type")]),
    op!(["convertKeyValue"], "Convert keys and values", [req("into", Kind::Type, "Target type, a (key, value) tuple type")]),
    op!(["groupByKey"], "Group a stream by its key", [opt("store", Kind::Store(KV), "Store naming the grouping")]),
    op!(
        ["groupBy"],
        "Group by a key computed from each record",
        [
            req("mapper", Kind::Func(FnType::KeyValueMapper), "Function returning the grouping key (tables: a (key, value) tuple)"),
            opt("store", Kind::Store(KV), "Store naming the grouping"),
        ]
    ),
    op!(
        ["repartition"],
        "Write the stream through a repartition topic",
        [
            opt("numberOfPartitions", Kind::Int, "Partitions of the repartition topic"),
            opt("partitioner", Kind::Func(FnType::StreamPartitioner), "Function choosing the partition"),
        ]
    ),
    op!(["toTable"], "Turn a stream into a table", [opt("store", Kind::Store(KV), "Store materializing the table")]),
    op!(
        ["toStream"],
        "Turn a table's changes into a stream",
        [opt("mapper", Kind::Func(FnType::KeyTransformer), "Function returning the new key"),]
    ),
    op!(["count"], "Count the records per key (and window)", [opt("store", Kind::Store(ANY_STORE), "Store holding the counts")]),
    op!(
        ["reduce"],
        "Combine the values per key (and window)",
        [
            opt("reducer", Kind::Func(FnType::Reducer), "Streams: combines two values"),
            opt("adder", Kind::Func(FnType::Reducer), "Grouped tables: adds a new value"),
            opt("subtractor", Kind::Func(FnType::Reducer), "Grouped tables: removes an old value"),
            opt("store", Kind::Store(ANY_STORE), "Store holding the results"),
        ]
    ),
    op!(
        ["aggregate"],
        "Aggregate the values per key (and window)",
        [
            req("initializer", Kind::Func(FnType::Initializer), "Function returning the initial aggregate"),
            opt("aggregator", Kind::Func(FnType::Aggregator), "Streams: adds a value to the aggregate"),
            opt("merger", Kind::Func(FnType::Merger), "Session windows: merges two aggregates"),
            opt("adder", Kind::Func(FnType::Aggregator), "Grouped tables: adds a new value"),
            opt("subtractor", Kind::Func(FnType::Aggregator), "Grouped tables: removes an old value"),
            // Required, but reported by `check`, which knows which kind of store the input needs.
            opt("store", Kind::Store(ANY_STORE), "Store holding the aggregates (required)"),
        ]
    ),
    op!(
        ["cogroup"],
        "Combine several grouped streams into one aggregation",
        [req("aggregator", Kind::Func(FnType::Aggregator), "Adds a value of this stream to the aggregate"),]
    ),
    op!(
        ["windowByTime"],
        "Window a grouped stream by time",
        [
            req("windowType", Kind::Enum(&["tumbling", "hopping", "sliding"]), "Kind of window"),
            opt("duration", Kind::Duration, "Tumbling and hopping: window size"),
            opt("advanceBy", Kind::Duration, "Hopping: how far each window starts after the previous one"),
            opt("timeDifference", Kind::Duration, "Sliding: maximum time between records of one window"),
            opt("grace", Kind::Duration, "How long out-of-order records are still admitted"),
        ]
    ),
    op!(
        ["windowBySession"],
        "Window a grouped stream by sessions of activity",
        [
            req("inactivityGap", Kind::Duration, "Inactivity that closes a session"),
            opt("grace", Kind::Duration, "How long out-of-order records are still admitted"),
        ]
    ),
    op!(
        ["suppress"],
        "Hold back table updates",
        [
            req("until", Kind::Enum(&["timeLimit", "windowCloses"]), "What releases updates"),
            opt("duration", Kind::Duration, "timeLimit: how long updates are held"),
            opt("maxBytes", Kind::Int, "Buffer limit in bytes"),
            opt("maxRecords", Kind::Int, "Buffer limit in records"),
            opt("bufferFullStrategy", Kind::Enum(&["emitEarlyWhenFull", "shutdownWhenFull"]), "What to do when the buffer is full"),
        ]
    ),
    op!(["merge"], "Merge another stream into this one", [req("stream", Kind::Topic(&JOIN_STREAM), "The other stream"),]),
    op!(["join"], "Inner join with a stream, table or globalTable", join),
    op!(["leftJoin"], "Left join with a stream, table or globalTable", join),
    op!(["outerJoin"], "Outer join with a stream or table", outer_join),
];

pub fn op_spec(type_name: &str) -> Option<&'static OpSpec> {
    OPS.iter().find(|spec| spec.names.contains(&type_name))
}

pub fn op_names() -> impl Iterator<Item = &'static str> {
    OPS.iter().flat_map(|spec| spec.names.iter().copied())
}
