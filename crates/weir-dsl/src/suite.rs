//! KSML test suites (the format of KSML's `ksml-test-runner`): YAML text → a validated
//! [`Suite`].
//!
//! One file is one suite: `name` (default: the file name without extension), `definition`
//! (the KSML definition under test, relative to the suite file), `schemaDirectory`,
//! `moduleDirectory`, `streams` (named bindings of a topic to its key and value types,
//! default `string`), and `tests`: each test has `produce` blocks (inline `messages` or a
//! Python `generator` called `count` times) and `assert` blocks (Python `code` run with
//! `records` read from a stream (`on`) and/or state stores (`stores`) in scope).
//!
//! Checked like a definition: every problem is a [`Diagnostic`] at its line and column.
//! Everything KSML's parser rejects is rejected with the same rule (stream and test names
//! match `^[a-zA-Z][a-zA-Z0-9_]*$`, a topic appears once in `streams`, `to`/`on` name a
//! declared stream, a produce block has `messages` or `generator` but not both, an assert
//! block has `on` or a non-empty `stores`, generator fields are strings, suite-level keys
//! inside a test, duplicate keys at any depth, at least one test). Deliberate differences,
//! all stricter:
//! - unknown keys are errors with a did-you-mean (KSML silently ignores them, although its
//!   published JSON schema forbids them): a misspelled `asert:` must not make a test pass;
//! - a stream type is parsed with KSML's type grammar here, not when the test runs, and a
//!   bare registry notation (`confluent_avro` without `:<Schema>`) is rejected, since a test
//!   has no schema registry to take the schema from;
//! - a message needs `key` and `value` (as the JSON schema says); `timestamp` is a whole
//!   number of milliseconds ≥ 0; `count` only goes with a `generator`.

use indexmap::IndexMap;
use serde_json::Value as Json;

use crate::diag::{Diagnostic, Span, did_you_mean};
use crate::model::{Code, Spanned};
use crate::read::{Cx, Obj, join_path};
use crate::shape::{Kind, Shape, opt, req};
use crate::types::{TypeKind, UserType, notation_info};
use crate::yaml::{self, Node, Style, Value};

// ---- model ----------------------------------------------------------------------------------

/// A parsed test suite.
#[derive(Debug, Clone, PartialEq)]
pub struct Suite {
    /// The file name used in diagnostics.
    pub file: String,
    /// `name`, or the file name without extension.
    pub name: String,
    /// The definition under test, as written (relative to the suite file's directory).
    pub definition: Spanned<String>,
    pub schema_directory: Option<Spanned<String>>,
    pub module_directory: Option<Spanned<String>>,
    /// Stream name → binding, in file order.
    pub streams: IndexMap<String, SuiteStream>,
    /// Test key → test, in file order (the order they run in).
    pub tests: IndexMap<String, TestCase>,
}

/// One entry of `streams`: a topic with the types its keys and values are written and read
/// with.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteStream {
    pub name: Spanned<String>,
    pub topic: Spanned<String>,
    /// Default `string` (spanned at the stream's name).
    pub key_type: Spanned<UserType>,
    /// Default `string` (spanned at the stream's name).
    pub value_type: Spanned<UserType>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TestCase {
    pub key: Spanned<String>,
    pub description: Option<String>,
    pub produce: Vec<Produce>,
    pub asserts: Vec<Assert>,
}

impl TestCase {
    /// What reports call the test: its description, else its key (as KSML does).
    pub fn label(&self) -> &str {
        match &self.description {
            Some(d) if !d.trim().is_empty() => d,
            _ => &self.key.value,
        }
    }
}

/// A `produce` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Produce {
    /// The stream written to (a key of `streams`).
    pub to: Spanned<String>,
    /// Where the block starts.
    pub span: Span,
    pub data: ProduceData,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ProduceData {
    Messages(Vec<Message>),
    /// A Python generator, called `count` times.
    Generator {
        generator: Generator,
        count: u64,
    },
}

/// An inline message. Key and value are the YAML values as JSON data (a YAML mapping is a
/// JSON object, plain scalars keep their YAML type, quoted ones are strings); they are
/// encoded with the stream's types when the test runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub key: Json,
    pub value: Json,
    /// Milliseconds since the epoch; `None`: the runner's clock decides.
    pub timestamp: Option<i64>,
    pub span: Span,
}

/// A produce block's `generator`: a Python function returning `(key, value)` tuples.
#[derive(Debug, Clone, PartialEq)]
pub struct Generator {
    /// `name`, default `test_generator`.
    pub name: String,
    pub global_code: Option<Code>,
    pub code: Option<Code>,
    /// `expression`, default `result`.
    pub expression: Code,
    pub span: Span,
}

/// An `assert` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Assert {
    /// The stream whose records become `records` (a key of `streams`).
    pub on: Option<Spanned<String>>,
    /// State stores put in scope under their names.
    pub stores: Vec<Spanned<String>>,
    pub code: Code,
    pub span: Span,
}

/// The default name of a generator, as in KSML.
pub const DEFAULT_GENERATOR_NAME: &str = "test_generator";

// ---- shapes ---------------------------------------------------------------------------------

pub static SUITE: Shape = Shape {
    name: "testSuite",
    doc: "A KSML test suite: a definition under test, named streams and tests",
    fields: &[
        opt("name", Kind::Str, "Suite name in reports (default: the file name without extension)"),
        req("definition", Kind::Str, "The KSML definition under test, relative to this file"),
        opt("schemaDirectory", Kind::Str, "Directory of the schema files, relative to this file"),
        opt("moduleDirectory", Kind::Str, "Directory of Python modules the definition imports, relative to this file"),
        opt("streams", Kind::MapOf(&SUITE_STREAM), "Named topic bindings, referenced by 'to' and 'on'"),
        req("tests", Kind::MapOf(&TEST), "The tests, run in file order; at least one"),
    ],
};

pub static SUITE_STREAM: Shape = Shape {
    name: "testStream",
    doc: "A topic with the types its keys and values are written and read with",
    fields: &[
        req("topic", Kind::Str, "Kafka topic name"),
        opt("keyType", Kind::Type, "Type of the keys (default string)"),
        opt("valueType", Kind::Type, "Type of the values (default string)"),
    ],
};

pub static TEST: Shape = Shape {
    name: "test",
    doc: "One test: records to produce, then assertions on the results",
    fields: &[
        opt("description", Kind::Str, "Name of the test in reports (default: its key)"),
        req("produce", Kind::ListOf(&PRODUCE), "Records to produce, block by block"),
        req("assert", Kind::ListOf(&ASSERT), "Assertions, run in order after the definition has processed everything"),
    ],
};

pub static PRODUCE: Shape = Shape {
    name: "produceBlock",
    doc: "Records produced to one stream: inline messages or a generator",
    fields: &[
        req("to", Kind::Str, "The stream to produce to (a key of 'streams')"),
        opt("messages", Kind::ListOf(&MESSAGE), "Inline messages"),
        opt("generator", Kind::Obj(&GENERATOR), "A Python function returning a list of (key, value) tuples"),
        opt("count", Kind::Int, "How many times the generator is called (default 1)"),
    ],
};

pub static MESSAGE: Shape = Shape {
    name: "message",
    doc: "One record",
    fields: &[
        req("key", Kind::Scalar, "The key"),
        req("value", Kind::Scalar, "The value: a scalar, or a mapping/list for structured types"),
        opt("timestamp", Kind::Int, "Event time in milliseconds since the epoch"),
    ],
};

pub static GENERATOR: Shape = Shape {
    name: "generator",
    doc: "A Python generator function",
    fields: &[
        opt("name", Kind::Str, "Function name (default test_generator)"),
        opt("globalCode", Kind::Code, "Python run once before the first call"),
        opt("code", Kind::Code, "The function body"),
        opt("expression", Kind::Code, "The result (default: result)"),
    ],
};

pub static ASSERT: Shape = Shape {
    name: "assertBlock",
    doc: "Python assertions over a stream's records and/or state stores",
    fields: &[
        opt("on", Kind::Str, "The stream whose records are in 'records' (a key of 'streams')"),
        opt("stores", Kind::StrList, "State stores in scope under their names"),
        req("code", Kind::Code, "Python code, run as the body of a function"),
    ],
};

/// Stream and test names: as KSML's `TestDefinitionParser.IDENTIFIER_PATTERN`.
pub const IDENTIFIER_PATTERN: &str = "^[a-zA-Z][a-zA-Z0-9_]*$";

pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic()) && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

// ---- parsing --------------------------------------------------------------------------------

/// Parses and validates a test suite. `file` is the name used in diagnostics (and gives the
/// default suite name). Returns the suite when it could be read at all, and every problem
/// found, sorted by position; the suite is only fit to run when no diagnostic is an error.
pub fn parse_suite(file: &str, text: &str) -> (Option<Suite>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let Some(root) = yaml::parse(file, text, &mut diags) else {
        return (None, diags);
    };
    let mut cx = Cx::new(file, &[]);
    let suite = suite(&mut cx, &root);
    diags.append(&mut cx.diags);
    diags.sort_by_key(|d| d.span.map(|s| (s.line, s.col)));
    (suite, diags)
}

/// The file name without directories and extension.
pub fn file_stem(file: &str) -> String {
    let name = file.rsplit(['/', '\\']).next().unwrap_or(file);
    match name.rfind('.') {
        Some(dot) if dot > 0 => name[..dot].to_string(),
        _ => name.to_string(),
    }
}

/// [`Cx::obj`], with missing required keys reported at `anchor` (the entry's name), and
/// suite-level keys inside a test explained.
fn checked<'n, 'p>(cx: &mut Cx, node: &'n Node, path: &'p str, shape: &'static Shape, what: &str, anchor: Span) -> Option<Obj<'n, 'p>> {
    let first = cx.diags.len();
    let obj = cx.obj(node, path, shape, what)?;
    for d in &mut cx.diags[first..] {
        if d.message.contains("is missing required key") {
            d.span = Some(anchor);
        }
    }
    if shape.name == TEST.name {
        for (key, _) in node.as_map().unwrap_or_default() {
            if SUITE.field(&key.text).is_some()
                && let Some(d) = cx.diags[first..].iter_mut().find(|d| d.span == Some(key.span))
            {
                d.message = format!("'{}' is a suite-level key and cannot appear under {what}", key.text);
                d.hint = Some("move it to the top level of the file".to_string());
            }
        }
    }
    Some(obj)
}

fn key_span(parent: &Node, key: &str) -> Option<Span> {
    parent.as_map()?.iter().find(|(k, _)| k.text == key).map(|(k, _)| k.span)
}

fn suite(cx: &mut Cx, root: &Node) -> Option<Suite> {
    if root.as_map().is_none() {
        cx.error(root.span, "", format!("a test suite must be a mapping with 'definition' and 'tests', found {}", root.describe()));
        return None;
    }
    if root.get("test").is_some() && root.as_map().is_some_and(|m| m.len() == 1) {
        let span = key_span(root, "test").unwrap_or(root.span);
        cx.error_hint(
            span,
            "test",
            "a test suite is a flat document: remove the outer 'test:' wrapper",
            Some("write 'definition', 'streams' and 'tests' at the top level".into()),
        );
        return None;
    }
    let obj = checked(cx, root, "", &SUITE, "the test suite", root.span)?;
    let name = non_blank(cx, &obj, "name").map(|n| n.value).unwrap_or_else(|| file_stem(cx.file));
    let definition = non_blank(cx, &obj, "definition");
    let schema_directory = non_blank(cx, &obj, "schemaDirectory");
    let module_directory = non_blank(cx, &obj, "moduleDirectory");
    let streams = streams(cx, &obj);
    let tests = tests(cx, root, &obj, &streams);
    Some(Suite {
        file: cx.file.to_string(),
        name,
        definition: definition.unwrap_or_else(|| Spanned::new(String::new(), root.span)),
        schema_directory,
        module_directory,
        streams,
        tests,
    })
}

fn non_blank(cx: &mut Cx, obj: &Obj, key: &str) -> Option<Spanned<String>> {
    let s = cx.string(obj, key)?;
    if s.value.trim().is_empty() {
        cx.error(s.span, &obj.path_of(key), format!("'{key}' must not be empty"));
        return None;
    }
    Some(s)
}

fn string_type() -> UserType {
    UserType { notation: None, kind: TypeKind::String }
}

fn streams(cx: &mut Cx, obj: &Obj) -> IndexMap<String, SuiteStream> {
    let mut out: IndexMap<String, SuiteStream> = IndexMap::new();
    let Some(node) = obj.get("streams") else { return out };
    for (name, entry) in cx.entries(node, "streams", "'streams'") {
        let path = join_path("streams", &name.value);
        identifier(cx, &name, &path, "stream");
        let what = format!("stream '{}'", name.value);
        let Some(o) = checked(cx, entry, &path, &SUITE_STREAM, &what, name.span) else { continue };
        let Some(topic) = non_blank(cx, &o, "topic") else { continue };
        if let Some(first) = out.values().find(|s| s.topic.value == topic.value) {
            cx.error_hint(
                topic.span,
                &o.path_of("topic"),
                format!(
                    "streams '{}' and '{}' both use topic '{}'; a topic may appear only once in 'streams'",
                    first.name.value, name.value, topic.value
                ),
                Some(format!("use stream '{}' (line {}) in both places", first.name.value, first.name.span.line)),
            );
        }
        let key_type = stream_type(cx, &o, "keyType", &name);
        let value_type = stream_type(cx, &o, "valueType", &name);
        out.insert(name.value.clone(), SuiteStream { name, topic, key_type, value_type });
    }
    out
}

fn stream_type(cx: &mut Cx, o: &Obj, key: &str, name: &Spanned<String>) -> Spanned<UserType> {
    let Some(node) = o.get(key) else { return Spanned::new(string_type(), name.span) };
    let Some(ty) = cx.user_type_node(node, &o.path_of(key), true) else { return Spanned::new(string_type(), node.span) };
    if let (TypeKind::NotationDefault, Some(notation)) = (&ty.value.kind, ty.value.notation.as_deref())
        && notation_info(notation).is_some_and(|i| i.registry_inferable)
    {
        cx.error_hint(
            node.span,
            &o.path_of(key),
            format!("'{notation}' needs a schema name in a test suite: there is no schema registry to take it from"),
            Some(format!("write '{notation}:<SchemaName>', with the schema in 'schemaDirectory'")),
        );
    }
    ty
}

fn identifier(cx: &mut Cx, name: &Spanned<String>, path: &str, kind: &str) {
    if !is_identifier(&name.value) {
        let suggestion: String = name.value.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        cx.error_hint(
            name.span,
            path,
            format!(
                "invalid {kind} name '{}': it must match {IDENTIFIER_PATTERN} (letters, digits and '_', starting with a letter)",
                name.value
            ),
            Some(if is_identifier(&suggestion) { format!("e.g. '{suggestion}'") } else { "start the name with a letter".to_string() }),
        );
    }
}

fn tests(cx: &mut Cx, root: &Node, obj: &Obj, streams: &IndexMap<String, SuiteStream>) -> IndexMap<String, TestCase> {
    let mut out = IndexMap::new();
    let Some(node) = obj.get("tests") else { return out };
    let entries = cx.entries(node, "tests", "'tests'");
    if entries.is_empty() && (node.is_null() || node.as_map().is_some()) {
        let span = key_span(root, "tests").unwrap_or(node.span);
        cx.error_hint(
            span,
            "tests",
            "'tests' is empty: a suite needs at least one test",
            Some("add a test: '<name>: {produce: [...], assert: [...]}'".into()),
        );
    }
    for (key, entry) in entries {
        let path = join_path("tests", &key.value);
        identifier(cx, &key, &path, "test");
        let what = format!("test '{}'", key.value);
        let Some(o) = checked(cx, entry, &path, &TEST, &what, key.span) else { continue };
        let description = cx.string(&o, "description").map(|d| d.value);
        let produce = list(cx, &o, "produce", &what)
            .iter()
            .enumerate()
            .filter_map(|(i, n)| produce(cx, n, &format!("{path}.produce[{i}]"), &what, streams))
            .collect();
        let asserts = list(cx, &o, "assert", &what)
            .iter()
            .enumerate()
            .filter_map(|(i, n)| assert_block(cx, n, &format!("{path}.assert[{i}]"), &what, streams))
            .collect();
        out.insert(key.value.clone(), TestCase { key, description, produce, asserts });
    }
    out
}

/// The items of a list-valued key; reports anything else.
fn list<'n>(cx: &mut Cx, o: &Obj<'n, '_>, key: &str, what: &str) -> Vec<&'n Node> {
    let Some(node) = o.get(key) else { return Vec::new() };
    match &node.value {
        Value::Seq(items) => items.iter().collect(),
        _ if node.is_null() => Vec::new(),
        _ => {
            cx.error_hint(
                node.span,
                &o.path_of(key),
                format!("'{key}' of {what} must be a list of blocks, found {}", node.describe()),
                Some(format!("start each block with '- ', e.g. '{key}:\\n  - ...'")),
            );
            Vec::new()
        }
    }
}

/// A stream reference (`to`, `on`): must be declared in `streams`.
fn stream_ref(cx: &mut Cx, o: &Obj, key: &str, block: &str, streams: &IndexMap<String, SuiteStream>) -> Option<Spanned<String>> {
    let name = cx.string(o, key)?;
    if !streams.contains_key(&name.value) {
        let hint = did_you_mean(&name.value, streams.keys().map(String::as_str)).unwrap_or_else(|| {
            if streams.is_empty() {
                "declare it under 'streams:' with its topic, keyType and valueType".to_string()
            } else {
                format!("declared streams: {}", streams.keys().map(String::as_str).collect::<Vec<_>>().join(", "))
            }
        });
        cx.error_hint(
            name.span,
            &o.path_of(key),
            format!("{block} refers to stream '{}', which is not declared in 'streams'", name.value),
            Some(hint),
        );
    }
    Some(name)
}

fn produce(cx: &mut Cx, node: &Node, path: &str, test: &str, streams: &IndexMap<String, SuiteStream>) -> Option<Produce> {
    let what = format!("a produce block of {test}");
    let o = checked(cx, node, path, &PRODUCE, &what, node.span)?;
    let to = stream_ref(cx, &o, "to", &format!("the produce block of {test}"), streams);
    let data = match (o.get("messages"), o.get("generator")) {
        (Some(_), Some(_)) => {
            let span = key_span(node, "generator").unwrap_or(node.span);
            cx.error_hint(
                span,
                &o.path_of("generator"),
                "a produce block has either 'messages' or 'generator', not both",
                Some("split it into two blocks".into()),
            );
            None
        }
        (None, None) => {
            cx.error_hint(
                node.span,
                path,
                format!("{what} needs 'messages' (inline records) or 'generator' (a Python function)"),
                Some("e.g. 'messages: [{key: k1, value: v1}]'".into()),
            );
            None
        }
        (Some(messages), None) => {
            if let Some(span) = key_span(node, "count") {
                cx.error_hint(
                    span,
                    &o.path_of("count"),
                    "'count' only applies to a 'generator'",
                    Some("remove it, or list the messages as often as needed".into()),
                );
            }
            Some(ProduceData::Messages(message_list(cx, messages, &o.path_of("messages"))))
        }
        (None, Some(g)) => {
            let count = cx.uint(&o, "count").unwrap_or(1);
            generator(cx, g, &o.path_of("generator")).map(|generator| ProduceData::Generator { generator, count })
        }
    };
    Some(Produce { to: to?, span: node.span, data: data? })
}

fn message_list(cx: &mut Cx, node: &Node, path: &str) -> Vec<Message> {
    let Some(items) = node.as_seq() else {
        cx.error_hint(
            node.span,
            path,
            format!("'messages' must be a list of messages, found {}", node.describe()),
            Some("e.g. 'messages: [{key: k1, value: v1}]'".into()),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let Some(o) = checked(cx, item, &p, &MESSAGE, "a message", item.span) else { continue };
        let timestamp = o.get("timestamp").and_then(|t| match t.as_i64() {
            Some(ms) if ms >= 0 => Some(ms),
            _ => {
                let found = t.scalar().map_or_else(|| t.describe().to_string(), |s| format!("'{s}'"));
                cx.error_hint(
                    t.span,
                    &o.path_of("timestamp"),
                    format!("'timestamp' must be a whole number of milliseconds since the epoch, found {found}"),
                    Some("e.g. 'timestamp: 1709200000000'".into()),
                );
                None
            }
        });
        let (Some(key), Some(value)) = (o.get("key"), o.get("value")) else { continue };
        out.push(Message { key: data(key), value: data(value), timestamp, span: item.span });
    }
    out
}

/// A YAML value as JSON data: plain scalars keep their YAML 1.2 type (null, boolean,
/// integer, float), quoted and block scalars are strings.
pub fn data(node: &Node) -> Json {
    match &node.value {
        Value::Scalar(s, Style::Plain) => {
            if node.is_null() {
                Json::Null
            } else if let Some(b) = node.as_bool() {
                Json::Bool(b)
            } else if let Some(n) = node.as_i64() {
                Json::from(n)
            } else if let Some(x) = float(s) {
                Json::from(x)
            } else {
                Json::String(s.clone())
            }
        }
        Value::Scalar(s, _) => Json::String(s.clone()),
        Value::Seq(items) => Json::Array(items.iter().map(data).collect()),
        Value::Map(entries) => Json::Object(entries.iter().map(|(k, v)| (k.text.clone(), data(v))).collect()),
    }
}

/// A YAML 1.2 float (`1.5`, `-2e3`); not `inf`/`nan` (JSON has no such numbers).
fn float(s: &str) -> Option<f64> {
    let looks_numeric = s.chars().any(|c| c.is_ascii_digit()) && s.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c));
    s.parse::<f64>().ok().filter(|x| looks_numeric && x.is_finite())
}

fn generator(cx: &mut Cx, node: &Node, path: &str) -> Option<Generator> {
    let o = checked(cx, node, path, &GENERATOR, "the generator", node.span)?;
    let mut ok = true;
    for key in ["name", "globalCode", "code", "expression"] {
        if let Some(v) = o.get(key) {
            ok &= generator_string(cx, v, &o.path_of(key), key);
        }
    }
    if !ok {
        return None;
    }
    let name = cx.string(&o, "name").map(|n| n.value).unwrap_or_else(|| DEFAULT_GENERATOR_NAME.to_string());
    let global_code = cx.code(&o, "globalCode");
    let code = cx.code(&o, "code");
    let expression = cx.code(&o, "expression").unwrap_or(Code { text: "result".to_string(), line: node.span.line, col: 1 });
    Some(Generator { name, global_code, code, expression, span: node.span })
}

/// KSML requires every generator field to be a YAML string.
fn generator_string(cx: &mut Cx, node: &Node, path: &str, key: &str) -> bool {
    let plain_non_string = matches!(node.value, Value::Scalar(_, Style::Plain)) && (node.is_null() || node.describe() != "a string");
    if matches!(node.value, Value::Scalar(..)) && !plain_non_string {
        return true;
    }
    let hint = match node.scalar() {
        Some(s) if !node.is_null() => format!("quote it: {key}: \"{s}\""),
        _ => format!("'{key}' takes a string"),
    };
    cx.error_hint(node.span, path, format!("generator field '{key}' must be a string, found {}", node.describe()), Some(hint));
    false
}

fn assert_block(cx: &mut Cx, node: &Node, path: &str, test: &str, streams: &IndexMap<String, SuiteStream>) -> Option<Assert> {
    let what = format!("an assert block of {test}");
    let o = checked(cx, node, path, &ASSERT, &what, node.span)?;
    let on = stream_ref(cx, &o, "on", &format!("the assert block of {test}"), streams);
    let stores = cx.str_list(&o, "stores");
    if on.is_none() && o.get("on").is_none() && stores.is_empty() {
        match o.get("stores") {
            Some(s) => cx.error_hint(
                s.span,
                &o.path_of("stores"),
                format!("'stores' of {what} is empty, and there is no 'on'"),
                Some("name the state stores to inspect, or read a stream's records with 'on: <stream>'".into()),
            ),
            None => cx.error_hint(
                node.span,
                path,
                format!("{what} needs 'on' (a stream whose records to check) or 'stores' (state stores to inspect)"),
                Some("e.g. 'on: <stream>', then check 'records' in 'code'".into()),
            ),
        }
    }
    let code = cx.code(&o, "code")?;
    Some(Assert { on, stores, code, span: node.span })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_follow_ksml() {
        assert!(is_identifier("a_1"));
        assert!(!is_identifier("1a"));
        assert!(!is_identifier("with-dash"));
        assert!(!is_identifier("_x"));
        assert!(!is_identifier(""));
    }

    #[test]
    fn yaml_scalars_become_typed_data() {
        let mut diags = Vec::new();
        let node = yaml::parse("t.yaml", "a: 1\nb: '1'\nc: 1.5\nd: true\ne: ~\nf: x\ng: [1, {h: i}]\nk: .inf\n", &mut diags).expect("yaml");
        let json = data(&node);
        assert_eq!(
            json,
            serde_json::json!({"a": 1, "b": "1", "c": 1.5, "d": true, "e": null, "f": "x", "g": [1, {"h": "i"}], "k": ".inf"})
        );
    }

    #[test]
    fn file_stems() {
        assert_eq!(file_stem("dir/sub/my-suite.yaml"), "my-suite");
        assert_eq!(file_stem("x"), "x");
    }
}
