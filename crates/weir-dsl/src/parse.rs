//! YAML nodes → [`Definition`]: one function per kind of object, each checking its mapping
//! against the shape in [`crate::shape`] and reading its fields with [`Cx`].
//!
//! Local rules (a field's value, required combinations of fields, a function's result type)
//! are checked here; rules that need the whole definition (names, stream kinds, stores)
//! are in [`crate::check`].

use indexmap::IndexMap;

use crate::diag::did_you_mean;
use crate::model::*;
use crate::read::{Cx, Obj, join_path};
use crate::shape::{self, Kind, SINK_KEYS, Shape};
use crate::types::TypeKind;
use crate::yaml::Node;

pub fn definition(cx: &mut Cx, root: &Node, namespace: &str) -> Definition {
    let mut def = Definition {
        namespace: namespace.to_string(),
        file: cx.file.to_string(),
        name: None,
        version: None,
        description: None,
        topics: IndexMap::new(),
        stores: IndexMap::new(),
        functions: IndexMap::new(),
        pipelines: IndexMap::new(),
        producers: IndexMap::new(),
        schema_refs: Vec::new(),
    };
    if root.as_map().is_none() && root.is_null() {
        return def;
    }
    // KSML's microservices guide writes pipelines as a list, with a `configuration:` block:
    // explained (with the definition rewritten) instead of reported key by key.
    let guide = crate::guide::is_guide_shape(root);
    let extra: &[&str] = if guide { &["configuration"] } else { &[] };
    let Some(obj) = cx.obj_except(root, "", &shape::DEFINITION, "a KSML definition", extra) else { return def };
    def.name = cx.string(&obj, "name").map(|s| s.value);
    def.version = cx.string(&obj, "version").map(|s| s.value);
    def.description = cx.string(&obj, "description").map(|s| s.value);

    for (name, node) in cx.section(root, "stores") {
        let path = format!("stores.{}", name.value);
        if let Some(store) = store_def(cx, &name.value, node, &path, &StoreKind::ALL, true) {
            def.stores.insert(name.value, store);
        }
    }
    for (name, node) in cx.section(root, "functions") {
        let path = format!("functions.{}", name.value);
        if !is_python_identifier(&name.value) {
            cx.error_hint(
                name.span,
                &path,
                format!("function name '{}' is not a valid Python identifier", name.value),
                Some("function names become Python function names: use letters, digits and '_', not starting with a digit".into()),
            );
        }
        if let Some(f) = function_def(cx, &name.value, node, &path, None) {
            def.functions.insert(name.value, f);
        }
    }
    for (kind, section, shape) in [
        (TopicKind::Stream, "streams", &shape::STREAM),
        (TopicKind::Table, "tables", &shape::TABLE),
        (TopicKind::GlobalTable, "globalTables", &shape::GLOBAL_TABLE),
    ] {
        for (name, node) in cx.section(root, section) {
            let path = format!("{section}.{}", name.value);
            if let Some(existing) = def.topics.get(&name.value) {
                cx.error_hint(
                    name.span,
                    &path,
                    format!("'{}' is defined twice: as a {} and as a {}", name.value, existing.kind.noun(), kind.noun()),
                    Some("streams, tables and globalTables share one name space; rename one of them".into()),
                );
                continue;
            }
            if let Some(t) = topic_def(cx, &name.value, kind, node, &path, shape) {
                def.topics.insert(name.value, t);
            }
        }
    }
    if guide {
        crate::guide::explain(cx, root);
    }
    for (name, node) in if guide { Vec::new() } else { cx.section(root, "pipelines") } {
        let path = format!("pipelines.{}", name.value);
        if let Some(p) = pipeline(cx, &name.value, node, &path) {
            def.pipelines.insert(name.value, p);
        }
    }
    for (name, node) in cx.section(root, "producers") {
        let path = format!("producers.{}", name.value);
        if let Some(p) = producer(cx, &name.value, node, &path) {
            def.producers.insert(name.value, p);
        }
    }
    def.schema_refs = std::mem::take(&mut cx.schema_refs);
    def
}

pub fn is_python_identifier(name: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "else",
        "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise",
        "return", "try", "while", "with", "yield",
    ];
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
        && !KEYWORDS.contains(&name)
}

/// KSML's name for an anonymous inline object: its YAML path with `_` between segments.
fn long_name(path: &str) -> String {
    let mut out = String::new();
    for part in path.split(['.', '[']) {
        if part.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('_');
        }
        match part.strip_suffix(']').and_then(|i| i.parse::<usize>().ok()) {
            Some(i) => out.push_str(&format!("step{}", i + 1)),
            None => out.push_str(part),
        }
    }
    out
}

// ---- topics --------------------------------------------------------------------------------

fn topic_def(cx: &mut Cx, name: &str, kind: TopicKind, node: &Node, path: &str, shape: &'static Shape) -> Option<TopicDef> {
    let what = format!("{} '{name}'", kind.noun());
    let obj = cx.obj(node, path, shape, &what)?;
    let topic = cx.string(&obj, "topic");
    let key_type = cx.user_type(&obj, "keyType", true);
    let value_type = cx.user_type(&obj, "valueType", true);
    let offset_reset = if shape.field("offsetResetPolicy").is_some() { cx.offset_reset(&obj, "offsetResetPolicy") } else { None };
    let timestamp_extractor = opt_fn(cx, &obj, "timestampExtractor", FnType::TimestampExtractor);
    let partitioner = opt_fn(cx, &obj, "partitioner", FnType::StreamPartitioner);
    // A topic definition with a bad `topic` is still registered, so that its uses do not
    // report it as unknown on top of the real error.
    let topic = topic.unwrap_or_else(|| Spanned::new(String::new(), node.span));
    let store = match obj.get("store") {
        Some(n) => store_ref(cx, n, &obj.path_of("store"), &[StoreKind::KeyValue], &topic.value),
        None => None,
    };
    Some(TopicDef {
        name: name.to_string(),
        kind,
        topic,
        key_type,
        value_type,
        offset_reset,
        timestamp_extractor,
        partitioner,
        store,
        span: node.span,
    })
}

/// A topic reference: a name, or an inline topic of `shape` (read as a stream unless `kind`
/// says otherwise).
fn topic_ref(cx: &mut Cx, node: &Node, path: &str, shape: &'static Shape, kind: TopicKind) -> Option<TopicRef> {
    if node.as_map().is_some() {
        let name = long_name(path);
        return topic_def(cx, &name, kind, node, path, shape).map(|t| TopicRef::Inline(Box::new(t)));
    }
    cx.name_node(node, path).map(TopicRef::Named)
}

// ---- stores --------------------------------------------------------------------------------

fn store_def(cx: &mut Cx, name: &str, node: &Node, path: &str, allowed: &[StoreKind], top_level: bool) -> Option<StoreDef> {
    let what = if top_level { format!("store '{name}'") } else { "inline store".to_string() };
    let Some(map) = node.as_map() else {
        cx.error(node.span, path, format!("{what} must be a mapping, found {}", node.describe()));
        return None;
    };
    let kind = match node.get("type") {
        Some(t) => {
            let text = cx.string_node(t, &join_path(path, "type"))?;
            match StoreKind::from_name(&text.value) {
                Some(kind) if allowed.contains(&kind) => kind,
                Some(kind) => {
                    let names: Vec<_> = allowed.iter().map(|k| format!("'{}'", k.name())).collect();
                    cx.error(
                        t.span,
                        &join_path(path, "type"),
                        format!("a store of type '{}' cannot be used here; expected {}", kind.name(), names.join(" or ")),
                    );
                    return None;
                }
                None => {
                    cx.error_hint(
                        t.span,
                        &join_path(path, "type"),
                        format!("unknown store type '{}'", text.value),
                        did_you_mean(&text.value, StoreKind::ALL.iter().map(|k| k.name()))
                            .or(Some("store types are keyValue, window and session".into())),
                    );
                    return None;
                }
            }
        }
        None if !top_level && allowed.len() == 1 => allowed[0],
        None => {
            cx.error_hint(
                node.span,
                path,
                format!("{what} is missing required key 'type'"),
                Some("add 'type: keyValue', 'type: window' or 'type: session'".into()),
            );
            return None;
        }
    };
    let shape = shape::store_shape(kind);
    let obj = cx.obj(node, path, shape, &what)?;
    let store_name = cx.string(&obj, "name").map(|s| s.value).unwrap_or_else(|| name.to_string());
    if top_level
        && store_name != name
        && let Some(n) = obj.get("name")
    {
        cx.error(n.span, &obj.path_of("name"), format!("store name '{store_name}' differs from its key '{name}'"));
    }
    if !top_level {
        for key in ["keyType", "valueType"] {
            if let Some((k, _)) = map.iter().find(|(k, _)| k.text == key) {
                cx.error_hint(
                    k.span,
                    &obj.path_of(key),
                    format!("an inline store takes no '{key}'"),
                    Some(
                        "an inline store takes its key and value types from the stream; define the store under 'stores:' to set them"
                            .into(),
                    ),
                );
            }
        }
    }
    let key_type = cx.user_type(&obj, "keyType", false);
    let value_type = cx.user_type(&obj, "valueType", false);
    let persistent = cx.bool(&obj, "persistent").unwrap_or(false);
    let versioned = cx.bool(&obj, "versioned").unwrap_or(false);
    if versioned
        && !persistent
        && let Some(n) = obj.get("versioned")
    {
        cx.diags.push(
            crate::diag::Diagnostic::warning(
                cx.file,
                Some(n.span),
                &obj.path_of("versioned"),
                format!("store '{store_name}' is versioned but not persistent: KSML keeps only persistent stores versioned"),
            )
            .with_hint("add 'persistent: true'"),
        );
    }
    let caching = cx.bool(&obj, "caching").unwrap_or(false);
    if caching && let Some(n) = obj.get("caching") {
        cx.diags.push(crate::diag::Diagnostic::warning(
            cx.file,
            Some(n.span),
            &obj.path_of("caching"),
            format!(
                "'caching' of store '{store_name}' is not acted on: Weir keeps no record cache, so every update goes on at once \
                 (as Kafka Streams does with caching off)"
            ),
        ));
    }
    let segment_interval_ms = cx.duration(&obj, "segmentInterval");
    let retention_ms = cx.duration(&obj, "retention");
    let window_size_ms = cx.duration(&obj, "windowSize");
    // The checks Kafka Streams makes when it builds the store, so `weir check` reports them.
    if kind == StoreKind::KeyValue && versioned && persistent && segment_interval_ms.unwrap_or(0) == 0 {
        let at = obj.get("segmentInterval").or_else(|| obj.get("versioned")).map_or(node.span, |n| n.span);
        cx.diags.push(
            crate::diag::Diagnostic::error(
                cx.file,
                Some(at),
                &obj.path_of("segmentInterval"),
                format!("versioned store '{store_name}' needs a 'segmentInterval' greater than zero (Kafka Streams refuses a versioned store without one)"),
            )
            .with_hint("add e.g. 'segmentInterval: 1m'"),
        );
    }
    if kind == StoreKind::Window
        && let Some(size) = window_size_ms
        && size > retention_ms.unwrap_or(0)
    {
        let at = obj.get("retention").or_else(|| obj.get("windowSize")).map_or(node.span, |n| n.span);
        cx.diags.push(
            crate::diag::Diagnostic::error(
                cx.file,
                Some(at),
                &obj.path_of("retention"),
                format!(
                    "the retention of window store '{store_name}' must be at least its window size, got windowSize {size} ms and retention {} ms",
                    retention_ms.unwrap_or(0)
                ),
            )
            .with_hint("set 'retention' to the window size or more"),
        );
    }

    Some(StoreDef {
        name: store_name,
        kind,
        key_type,
        value_type,
        persistent,
        timestamped: cx.bool(&obj, "timestamped").unwrap_or(false),
        versioned,
        history_retention_ms: cx.duration(&obj, "historyRetention"),
        segment_interval_ms,
        retention_ms,
        window_size_ms,
        retain_duplicates: cx.bool(&obj, "retainDuplicates").unwrap_or(false),
        caching,
        logging: cx.bool(&obj, "logging").unwrap_or(false),
        span: node.span,
    })
}

fn store_ref(cx: &mut Cx, node: &Node, path: &str, allowed: &[StoreKind], default_name: &str) -> Option<StoreRef> {
    if node.as_map().is_some() {
        return store_def(cx, default_name, node, path, allowed, false).map(|s| StoreRef::Inline(Box::new(s)));
    }
    cx.name_node(node, path).map(StoreRef::Named)
}

fn opt_store(cx: &mut Cx, obj: &Obj, key: &str, default_name: &str) -> Option<StoreRef> {
    let node = obj.get(key)?;
    let allowed: &[StoreKind] = match obj.shape.field(key).map(|f| f.kind) {
        Some(Kind::Store(kinds)) => kinds,
        _ => &StoreKind::ALL,
    };
    store_ref(cx, node, &obj.path_of(key), allowed, default_name)
}

// ---- functions -----------------------------------------------------------------------------

/// A function definition. `slot` is the type the context expects (inline functions), or
/// `None` for a top-level `functions:` entry, whose type comes from its `type` key.
fn function_def(cx: &mut Cx, name: &str, node: &Node, path: &str, slot: Option<FnType>) -> Option<FunctionDef> {
    let what = match slot {
        None => format!("function '{name}'"),
        Some(t) => format!("inline {} function", t.name()),
    };
    let obj = cx.obj(node, path, &shape::FUNCTION, &what)?;
    let declared = match obj.get("type") {
        Some(t) => {
            let text = cx.string_node(t, &obj.path_of("type"))?;
            match FnType::from_name(&text.value) {
                Some(ft) => Some((ft, t.span)),
                None => {
                    cx.error_hint(
                        t.span,
                        &obj.path_of("type"),
                        format!("unknown function type '{}'", text.value),
                        did_you_mean(&text.value, FnType::ALL.iter().map(|t| t.name())),
                    );
                    return None;
                }
            }
        }
        None => None,
    };
    let fn_type = match (slot, declared) {
        (Some(slot), Some((ft, span))) => {
            if !ft.fits(slot) {
                cx.error(
                    span,
                    &obj.path_of("type"),
                    format!("a function of type '{}' cannot be used where a '{}' is expected", ft.name(), slot.name()),
                );
            }
            slot
        }
        (Some(slot), None) => slot,
        (None, Some((ft, _))) => ft,
        (None, None) => FnType::Generic,
    };
    if let Some(n) = obj.get("name")
        && let Some(given) = cx.string_node(n, &obj.path_of("name"))
        && slot.is_none()
        && given.value != name
    {
        cx.error(n.span, &obj.path_of("name"), format!("function name '{}' differs from its key '{name}'", given.value));
    }
    let mut parameters = Vec::new();
    if let Some(list) = obj.get("parameters") {
        let ppath = obj.path_of("parameters");
        match list.as_seq() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    let ipath = format!("{ppath}[{i}]");
                    let Some(p) = cx.obj(item, &ipath, &shape::PARAMETER, "parameter") else { continue };
                    let pname = cx.string(&p, "name");
                    let ty = cx.user_type(&p, "type", false);
                    let default_value = cx.string(&p, "defaultValue").map(|s| s.value);
                    if let Some(pname) = &pname
                        && !is_python_identifier(&pname.value)
                    {
                        cx.error(
                            pname.span,
                            &p.path_of("name"),
                            format!("parameter name '{}' is not a valid Python identifier", pname.value),
                        );
                    }
                    if let (Some(pname), Some(ty)) = (pname, ty) {
                        parameters.push(Parameter { name: pname.value, ty: ty.value, default_value });
                    }
                }
            }
            None if list.is_null() => {}
            None => cx.error(list.span, &ppath, format!("'parameters' must be a list, found {}", list.describe())),
        }
    }
    let global_code = cx.code(&obj, "globalCode");
    let code = cx.code(&obj, "code");
    let expression = cx.code(&obj, "expression");
    let result_type = cx.user_type(&obj, "resultType", false);
    let stores = cx.str_list(&obj, "stores");
    if global_code.is_none() && code.is_none() && expression.is_none() {
        cx.error_hint(
            node.span,
            path,
            format!("{what} has no code"),
            Some("give at least one of 'code', 'expression' or 'globalCode'".into()),
        );
    }
    match fn_type.result() {
        ResultRule::Required if result_type.is_none() && obj.get("resultType").is_none() => {
            cx.error_hint(
                node.span,
                path,
                format!("{what}: functions of type '{}' need a 'resultType'", fn_type.name()),
                Some("add e.g. 'resultType: json' saying what the function returns".into()),
            );
        }
        ResultRule::Forbidden if obj.get("resultType").is_some() => {
            let span = obj.get("resultType").map_or(node.span, |n| n.span);
            cx.error(
                span,
                &obj.path_of("resultType"),
                format!("functions of type '{}' return nothing, so they take no 'resultType'", fn_type.name()),
            );
        }
        _ => {}
    }
    if !stores.is_empty() && !fn_type.allows_stores() && fn_type != FnType::Generic {
        let span = obj.get("stores").map_or(node.span, |n| n.span);
        cx.error(span, &obj.path_of("stores"), format!("functions of type '{}' cannot use state stores", fn_type.name()));
    }
    Some(FunctionDef { name: name.to_string(), fn_type, parameters, global_code, code, expression, result_type, stores, span: node.span })
}

fn fn_ref(cx: &mut Cx, node: &Node, path: &str, slot: FnType) -> Option<FnRef> {
    if node.as_map().is_some() {
        let name = long_name(path);
        return function_def(cx, &name, node, path, Some(slot)).map(|f| FnRef::Inline(Box::new(f)));
    }
    cx.name_node(node, path).map(FnRef::Named)
}

fn opt_fn(cx: &mut Cx, obj: &Obj, key: &str, slot: FnType) -> Option<FnRef> {
    let node = obj.get(key)?;
    fn_ref(cx, node, &obj.path_of(key), slot)
}

// ---- pipelines -----------------------------------------------------------------------------

fn pipeline(cx: &mut Cx, name: &str, node: &Node, path: &str) -> Option<Pipeline> {
    let obj = cx.obj(node, path, &shape::PIPELINE, &format!("pipeline '{name}'"))?;
    let pipeline_name = cx.string(&obj, "name").map(|s| s.value).unwrap_or_else(|| name.to_string());
    let from = obj.get("from").and_then(|n| topic_ref(cx, n, &obj.path_of("from"), &shape::SOURCE_TOPIC, TopicKind::Stream));
    let via = operations(cx, &obj);
    let sink = sink(cx, &obj);
    Some(Pipeline { name: pipeline_name, from: from?, via, sink, span: node.span })
}

fn operations(cx: &mut Cx, obj: &Obj) -> Vec<Operation> {
    let Some(node) = obj.get("via") else { return Vec::new() };
    let path = obj.path_of("via");
    match node.as_seq() {
        Some(items) => items.iter().enumerate().filter_map(|(i, item)| operation(cx, item, &format!("{path}[{i}]"))).collect(),
        None if node.is_null() => Vec::new(),
        None => {
            cx.error_hint(
                node.span,
                &path,
                format!("'via' must be a list of operations, found {}", node.describe()),
                Some("write each operation as a list item: '- type: filter'".into()),
            );
            Vec::new()
        }
    }
}

/// The sink of a pipeline or branch: at most one of the sink keys.
fn sink(cx: &mut Cx, obj: &Obj) -> Option<Sink> {
    let present: Vec<&str> = SINK_KEYS.iter().copied().filter(|k| obj.get(k).is_some()).collect();
    if present.len() > 1 {
        let span = obj.get(present[1]).map_or(obj.node.span, |n| n.span);
        cx.error_hint(
            span,
            &obj.path_of(present[1]),
            format!("more than one sink: '{}' and '{}'", present[0], present[1]),
            Some("a pipeline ends in one sink; use 'branch' to send records to several places".into()),
        );
    }
    let key = *present.first()?;
    let node = obj.get(key)?;
    let path = obj.path_of(key);
    match key {
        "as" => cx.name_node(node, &path).map(Sink::As),
        "forEach" => fn_ref(cx, node, &path, FnType::ForEach).map(Sink::ForEach),
        "to" => topic_ref(cx, node, &path, &shape::TARGET_TOPIC, TopicKind::Stream).map(Sink::To),
        "print" => {
            if node.as_map().is_none() {
                // `print: true` (any scalar) prints to stdout, as in KSML.
                return Some(Sink::Print(Print { filename: None, label: None, mapper: None }));
            }
            let p = cx.obj(node, &path, &shape::PRINT, "print")?;
            Some(Sink::Print(Print {
                filename: cx.string(&p, "filename").map(|s| s.value),
                label: cx.string(&p, "label").map(|s| s.value),
                mapper: opt_fn(cx, &p, "mapper", FnType::KeyValuePrinter),
            }))
        }
        "toTopicNameExtractor" => {
            if node.as_map().is_none() {
                return fn_ref(cx, node, &path, FnType::TopicNameExtractor)
                    .map(|extractor| Sink::ToTopicNameExtractor { extractor, partitioner: None });
            }
            let t = cx.obj(node, &path, &shape::TO_TOPIC_NAME_EXTRACTOR, "toTopicNameExtractor")?;
            let extractor = opt_fn(cx, &t, "topicNameExtractor", FnType::TopicNameExtractor)?;
            let partitioner = opt_fn(cx, &t, "partitioner", FnType::StreamPartitioner);
            Some(Sink::ToTopicNameExtractor { extractor, partitioner })
        }
        "branch" => {
            let Some(items) = node.as_seq() else {
                cx.error(node.span, &path, format!("'branch' must be a list of branches, found {}", node.describe()));
                return None;
            };
            let mut branches = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let bpath = format!("{path}[{i}]");
                let Some(b) = cx.obj(item, &bpath, &shape::BRANCH, "branch") else { continue };
                branches.push(Branch {
                    predicate: opt_fn(cx, &b, "if", FnType::Predicate),
                    via: operations(cx, &b),
                    sink: sink(cx, &b),
                    path: bpath,
                    span: item.span,
                });
            }
            Some(Sink::Branch(branches))
        }
        _ => None,
    }
}

fn operation(cx: &mut Cx, node: &Node, path: &str) -> Option<Operation> {
    let Some(type_node) = node.get("type") else {
        if node.as_map().is_none() {
            cx.error(node.span, path, format!("an operation must be a mapping with a 'type', found {}", node.describe()));
        } else {
            cx.error_hint(node.span, path, "operation is missing required key 'type'", Some("e.g. 'type: filter'".into()));
        }
        return None;
    };
    let type_name = cx.string_node(type_node, &join_path(path, "type"))?.value;
    let Some(spec) = shape::op_spec(&type_name) else {
        let hint = if SINK_KEYS.contains(&type_name.as_str()) {
            Some(format!("'{type_name}' ends a pipeline: write it as a key of the pipeline after 'via', not as an operation"))
        } else {
            did_you_mean(&type_name, shape::op_names())
        };
        cx.error_hint(type_node.span, &join_path(path, "type"), format!("unknown operation type '{type_name}'"), hint);
        return None;
    };
    let canonical = spec.names[0];
    let obj = cx.obj(node, path, &spec.shape, &format!("operation '{type_name}'"))?;
    let name = cx.string(&obj, "name").map(|s| s.value);
    let store_name = name.clone().unwrap_or_else(|| long_name(path));
    let f = |cx: &mut Cx, key: &str, slot: FnType| opt_fn(cx, &obj, key, slot);
    let op = match canonical {
        "filter" => Op::Filter { predicate: f(cx, "if", FnType::Predicate)?, store: opt_store(cx, &obj, "store", &store_name) },
        "filterNot" => Op::FilterNot { predicate: f(cx, "if", FnType::Predicate)?, store: opt_store(cx, &obj, "store", &store_name) },
        "transformValue" => {
            Op::TransformValue { mapper: f(cx, "mapper", FnType::ValueTransformer)?, store: opt_store(cx, &obj, "store", &store_name) }
        }
        "transformKey" => Op::TransformKey { mapper: f(cx, "mapper", FnType::KeyTransformer)? },
        "transformKeyValue" => Op::TransformKeyValue { mapper: f(cx, "mapper", FnType::KeyValueTransformer)? },
        "transformKeyValueToKeyValueList" => {
            Op::TransformKeyValueToKeyValueList { mapper: f(cx, "mapper", FnType::KeyValueToKeyValueListTransformer)? }
        }
        "transformKeyValueToValueList" => {
            Op::TransformKeyValueToValueList { mapper: f(cx, "mapper", FnType::KeyValueToValueListTransformer)? }
        }
        "transformMetadata" => Op::TransformMetadata { mapper: f(cx, "mapper", FnType::MetadataTransformer)? },
        "peek" => Op::Peek { for_each: f(cx, "forEach", FnType::ForEach)? },
        "convertKey" => Op::ConvertKey { into: cx.user_type(&obj, "into", false)? },
        "convertValue" => Op::ConvertValue { into: cx.user_type(&obj, "into", false)? },
        "convertKeyValue" => {
            let into = cx.user_type(&obj, "into", false)?;
            if !matches!(&into.value.kind, TypeKind::Tuple(items) if items.len() == 2) {
                cx.error_hint(
                    into.span,
                    &obj.path_of("into"),
                    "'convertKeyValue' converts into a (key, value) tuple type",
                    Some("e.g. 'into: (string, json)'".into()),
                );
            }
            Op::ConvertKeyValue { into }
        }
        "groupByKey" => Op::GroupByKey { store: opt_store(cx, &obj, "store", &store_name) },
        "groupBy" => Op::GroupBy { mapper: f(cx, "mapper", FnType::KeyValueMapper)?, store: opt_store(cx, &obj, "store", &store_name) },
        "repartition" => {
            let n = cx.uint(&obj, "numberOfPartitions");
            if n == Some(0) {
                cx.error(
                    obj.get("numberOfPartitions").map_or(node.span, |n| n.span),
                    &obj.path_of("numberOfPartitions"),
                    "'numberOfPartitions' must be at least 1",
                );
            }
            Op::Repartition {
                number_of_partitions: n.and_then(|n| u32::try_from(n).ok()),
                partitioner: f(cx, "partitioner", FnType::StreamPartitioner),
            }
        }
        "toTable" => Op::ToTable { store: opt_store(cx, &obj, "store", &store_name) },
        "toStream" => Op::ToStream { mapper: f(cx, "mapper", FnType::KeyTransformer) },
        "count" => Op::Count { store: opt_store(cx, &obj, "store", &store_name) },
        "reduce" => {
            let reducer = f(cx, "reducer", FnType::Reducer);
            let adder = f(cx, "adder", FnType::Reducer);
            let subtractor = f(cx, "subtractor", FnType::Reducer);
            let has = |k: &str| obj.get(k).is_some();
            if has("reducer") && (has("adder") || has("subtractor")) {
                cx.error_hint(
                    node.span,
                    path,
                    "'reduce' takes either 'reducer' or 'adder' and 'subtractor', not both",
                    Some("'reducer' reduces streams, 'adder'/'subtractor' reduce grouped tables".into()),
                );
            } else if !(has("reducer") || has("adder") && has("subtractor")) {
                cx.error_hint(
                    node.span,
                    path,
                    "'reduce' needs a 'reducer' (streams) or an 'adder' and a 'subtractor' (grouped tables)",
                    None,
                );
            }
            Op::Reduce { reducer, adder, subtractor, store: opt_store(cx, &obj, "store", &store_name) }
        }
        "aggregate" => {
            let has = |k: &str| obj.get(k).is_some();
            if has("adder") != has("subtractor") {
                cx.error(node.span, path, "'aggregate' on a grouped table needs both 'adder' and 'subtractor'");
            }
            Op::Aggregate {
                initializer: f(cx, "initializer", FnType::Initializer)?,
                aggregator: f(cx, "aggregator", FnType::Aggregator),
                merger: f(cx, "merger", FnType::Merger),
                adder: f(cx, "adder", FnType::Aggregator),
                subtractor: f(cx, "subtractor", FnType::Aggregator),
                store: opt_store(cx, &obj, "store", &store_name),
            }
        }
        "cogroup" => Op::Cogroup { aggregator: f(cx, "aggregator", FnType::Aggregator)? },
        "windowByTime" => Op::WindowByTime(time_window(cx, &obj)?),
        "windowBySession" => {
            Op::WindowBySession { inactivity_gap_ms: cx.duration(&obj, "inactivityGap")?, grace_ms: cx.duration(&obj, "grace") }
        }
        "suppress" => suppress(cx, &obj)?,
        "merge" => Op::Merge { stream: topic_ref(cx, obj.get("stream")?, &obj.path_of("stream"), &shape::JOIN_STREAM, TopicKind::Stream)? },
        "join" | "leftJoin" | "outerJoin" => {
            let kind = match canonical {
                "join" => JoinKind::Inner,
                "leftJoin" => JoinKind::Left,
                _ => JoinKind::Outer,
            };
            Op::Join(Box::new(join(cx, &obj, kind, &store_name)?))
        }
        _ => {
            cx.error(node.span, path, format!("internal error: operation '{canonical}' has a shape but no parser (this is a bug in Weir)"));
            return None;
        }
    };
    Some(Operation { type_name, name, path: path.to_string(), span: type_node.span, op })
}

fn time_window(cx: &mut Cx, obj: &Obj) -> Option<TimeWindow> {
    let kind_node = obj.get("windowType")?;
    let kind = cx.string_node(kind_node, &obj.path_of("windowType"))?.value;
    let grace_ms = cx.duration(obj, "grace");
    let need = |cx: &mut Cx, key: &str, for_kind: &str| -> Option<u64> {
        if obj.get(key).is_none() {
            cx.error(obj.node.span, obj.path, format!("a {for_kind} window needs '{key}'"));
            return None;
        }
        cx.duration(obj, key)
    };
    let reject = |cx: &mut Cx, key: &str, for_kind: &str| {
        if let Some(n) = obj.get(key) {
            cx.error(n.span, &obj.path_of(key), format!("'{key}' does not apply to a {for_kind} window"));
        }
    };
    match kind.as_str() {
        "tumbling" => {
            reject(cx, "advanceBy", "tumbling");
            reject(cx, "timeDifference", "tumbling");
            Some(TimeWindow::Tumbling { duration_ms: need(cx, "duration", "tumbling")?, grace_ms })
        }
        "hopping" => {
            reject(cx, "timeDifference", "hopping");
            let duration_ms = need(cx, "duration", "hopping");
            let advance_by_ms = need(cx, "advanceBy", "hopping");
            let (duration_ms, advance_by_ms) = (duration_ms?, advance_by_ms?);
            if advance_by_ms > duration_ms || advance_by_ms == 0 {
                let span = obj.get("advanceBy").map_or(obj.node.span, |n| n.span);
                cx.error(span, &obj.path_of("advanceBy"), "'advanceBy' must be more than zero and at most 'duration'");
            }
            Some(TimeWindow::Hopping { duration_ms, advance_by_ms, grace_ms })
        }
        "sliding" => {
            reject(cx, "duration", "sliding");
            reject(cx, "advanceBy", "sliding");
            Some(TimeWindow::Sliding { time_difference_ms: need(cx, "timeDifference", "sliding")?, grace_ms })
        }
        other => {
            cx.error_hint(
                kind_node.span,
                &obj.path_of("windowType"),
                format!("unknown window type '{other}'"),
                did_you_mean(other, ["tumbling", "hopping", "sliding"]).or(Some("window types are tumbling, hopping and sliding".into())),
            );
            None
        }
    }
}

fn suppress(cx: &mut Cx, obj: &Obj) -> Option<Op> {
    let until_node = obj.get("until")?;
    let until = cx.string_node(until_node, &obj.path_of("until"))?.value;
    let max_bytes = cx.uint(obj, "maxBytes");
    let max_records = cx.uint(obj, "maxRecords");
    let buffer_full = match obj.get("bufferFullStrategy") {
        Some(n) => match cx.string_node(n, &obj.path_of("bufferFullStrategy"))?.value.as_str() {
            "emitEarlyWhenFull" => Some(BufferFull::EmitEarly),
            "shutdownWhenFull" => Some(BufferFull::Shutdown),
            other => {
                cx.error_hint(
                    n.span,
                    &obj.path_of("bufferFullStrategy"),
                    format!("unknown buffer strategy '{other}'"),
                    Some("use emitEarlyWhenFull or shutdownWhenFull".into()),
                );
                None
            }
        },
        None => None,
    };
    if buffer_full == Some(BufferFull::EmitEarly) && max_bytes.is_none() && max_records.is_none() {
        cx.error(obj.node.span, obj.path, "'emitEarlyWhenFull' needs a buffer limit: 'maxBytes' or 'maxRecords'");
    }
    let until = match until.as_str() {
        "timeLimit" => {
            if obj.get("duration").is_none() {
                cx.error(obj.node.span, obj.path, "'suppress' until 'timeLimit' needs a 'duration'");
            }
            SuppressUntil::TimeLimit { duration_ms: cx.duration(obj, "duration")? }
        }
        "windowCloses" => {
            if let Some(n) = obj.get("duration") {
                cx.error(n.span, &obj.path_of("duration"), "'duration' applies to 'until: timeLimit' only");
            }
            SuppressUntil::WindowCloses
        }
        other => {
            cx.error_hint(
                until_node.span,
                &obj.path_of("until"),
                format!("unknown suppression '{other}'"),
                Some("use timeLimit or windowCloses".into()),
            );
            return None;
        }
    };
    Some(Op::Suppress { until, max_bytes, max_records, buffer_full })
}

fn join(cx: &mut Cx, obj: &Obj, kind: JoinKind, store_name: &str) -> Option<Join> {
    let targets: Vec<&str> = ["stream", "table", "globalTable"].into_iter().filter(|k| obj.get(k).is_some()).collect();
    if targets.len() != 1 {
        let message = if targets.is_empty() {
            "a join needs what to join with: 'stream', 'table' or 'globalTable'".to_string()
        } else {
            format!("a join takes one of 'stream', 'table' or 'globalTable', found {}", targets.join(" and "))
        };
        cx.error(obj.node.span, obj.path, message);
        return None;
    }
    let key = targets[0];
    let tnode = obj.get(key)?;
    let tpath = obj.path_of(key);
    let target = match key {
        "stream" => JoinTarget::Stream(topic_ref(cx, tnode, &tpath, &shape::JOIN_STREAM, TopicKind::Stream)?),
        "table" => JoinTarget::Table(topic_ref(cx, tnode, &tpath, &shape::JOIN_TABLE, TopicKind::Table)?),
        _ => JoinTarget::GlobalTable(topic_ref(cx, tnode, &tpath, &shape::JOIN_TABLE, TopicKind::GlobalTable)?),
    };
    let allowed: &[&str] = match key {
        "stream" => &["stream", "valueJoiner", "timeDifference", "grace", "thisStore", "otherStore"],
        "table" if kind == JoinKind::Outer => &["table", "valueJoiner", "store"],
        "table" => &["table", "valueJoiner", "grace", "foreignKeyExtractor", "partitioner", "otherPartitioner", "store"],
        _ => &["globalTable", "valueJoiner", "mapper"],
    };
    for field in obj.shape.fields.iter().filter(|f| f.key != "type" && f.key != "name") {
        if !allowed.contains(&field.key)
            && let Some(n) = obj.get(field.key)
        {
            cx.error(n.span, &obj.path_of(field.key), format!("'{}' does not apply to a join with a {key}", field.key));
        }
    }
    if key == "globalTable" && kind == JoinKind::Outer {
        cx.error(tnode.span, &tpath, "an outer join with a globalTable is not possible; use 'join' or 'leftJoin'");
    }
    let require = |cx: &mut Cx, k: &str| {
        if obj.get(k).is_none() {
            cx.error(obj.node.span, obj.path, format!("a join with a {key} needs '{k}'"));
        }
    };
    match key {
        "stream" => {
            for k in ["timeDifference", "thisStore", "otherStore"] {
                require(cx, k);
            }
        }
        "globalTable" => require(cx, "mapper"),
        _ => {}
    }
    Some(Join {
        kind,
        target,
        value_joiner: opt_fn(cx, obj, "valueJoiner", FnType::ValueJoiner)?,
        time_difference_ms: cx.duration(obj, "timeDifference"),
        grace_ms: cx.duration(obj, "grace"),
        this_store: opt_store(cx, obj, "thisStore", &format!("{store_name}_this")),
        other_store: opt_store(cx, obj, "otherStore", &format!("{store_name}_other")),
        foreign_key_extractor: opt_fn(cx, obj, "foreignKeyExtractor", FnType::ForeignKeyExtractor),
        partitioner: opt_fn(cx, obj, "partitioner", FnType::StreamPartitioner),
        other_partitioner: opt_fn(cx, obj, "otherPartitioner", FnType::StreamPartitioner),
        store: opt_store(cx, obj, "store", store_name),
        mapper: opt_fn(cx, obj, "mapper", FnType::KeyValueMapper),
    })
}

// ---- producers -----------------------------------------------------------------------------

fn producer(cx: &mut Cx, name: &str, node: &Node, path: &str) -> Option<Producer> {
    let obj = cx.obj(node, path, &shape::PRODUCER, &format!("producer '{name}'"))?;
    let generator = opt_fn(cx, &obj, "generator", FnType::Generator);
    let to = obj.get("to").and_then(|n| topic_ref(cx, n, &obj.path_of("to"), &shape::PRODUCER_TOPIC, TopicKind::Stream));
    let interval_ms = cx.duration(&obj, "interval");
    let count = cx.uint(&obj, "count");
    let batch_size = cx.uint(&obj, "batchSize");
    if let Some(b) = batch_size
        && !(1..=1000).contains(&b)
    {
        let span = obj.get("batchSize").map_or(node.span, |n| n.span);
        cx.error(span, &obj.path_of("batchSize"), format!("'batchSize' must be between 1 and 1000, found {b}"));
    }
    let condition = opt_fn(cx, &obj, "condition", FnType::Predicate);
    let until = opt_fn(cx, &obj, "until", FnType::Predicate);
    Some(Producer {
        name: name.to_string(),
        generator: generator?,
        to: to?,
        interval_ms,
        count,
        batch_size,
        condition,
        until,
        span: node.span,
    })
}
