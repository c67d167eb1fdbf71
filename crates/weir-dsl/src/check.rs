//! Cross-checks over a whole definition, after parsing: names resolve, functions fit their
//! slots, stores exist and have the kind their use needs, and each operation applies to the
//! kind of stream it receives.
//!
//! The walk follows pipelines in file order, as KSML builds them: a pipeline may read the
//! `as` result of an earlier pipeline only. Each step knows the kind of its input
//! ([`Wrapper`], Kafka Streams' KStream/KTable/KGroupedStream/…), so "cannot apply
//! `aggregate` to a stream" is found here rather than at startup.

use std::collections::{HashMap, HashSet};

use crate::diag::{Diagnostic, Span, did_you_mean};
use crate::model::*;

/// The kind of stream an operation receives or produces (Kafka Streams' wrapper types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapper {
    Stream,
    Table,
    GlobalTable,
    GroupedStream,
    GroupedTable,
    TimeWindowed,
    SessionWindowed,
    Cogrouped,
    TimeWindowedCogrouped,
    SessionWindowedCogrouped,
}

impl Wrapper {
    pub fn describe(self) -> &'static str {
        match self {
            Wrapper::Stream => "a stream",
            Wrapper::Table => "a table",
            Wrapper::GlobalTable => "a globalTable",
            Wrapper::GroupedStream => "a grouped stream",
            Wrapper::GroupedTable => "a grouped table",
            Wrapper::TimeWindowed => "a time-windowed stream",
            Wrapper::SessionWindowed => "a session-windowed stream",
            Wrapper::Cogrouped => "a cogrouped stream",
            Wrapper::TimeWindowedCogrouped => "a time-windowed cogrouped stream",
            Wrapper::SessionWindowedCogrouped => "a session-windowed cogrouped stream",
        }
    }

    fn of_topic(kind: TopicKind) -> Wrapper {
        match kind {
            TopicKind::Stream => Wrapper::Stream,
            TopicKind::Table => Wrapper::Table,
            TopicKind::GlobalTable => Wrapper::GlobalTable,
        }
    }

    /// The store kind that count/reduce/aggregate on this wrapper materialize into.
    fn aggregate_store(self) -> StoreKind {
        match self {
            Wrapper::TimeWindowed | Wrapper::TimeWindowedCogrouped => StoreKind::Window,
            Wrapper::SessionWindowed | Wrapper::SessionWindowedCogrouped => StoreKind::Session,
            _ => StoreKind::KeyValue,
        }
    }
}

/// Runs every cross-check and appends what it finds to `diags`.
pub fn check(def: &Definition, diags: &mut Vec<Diagnostic>) {
    let mut c = Checker { def, diags, registered: HashMap::new(), stores: HashSet::new() };
    c.collect_stores();
    for f in def.functions.values() {
        c.function_stores(f);
    }
    for t in def.topics.values() {
        let path = format!("{}.{}", t.kind.section(), t.name);
        c.topic_functions(t, &path);
    }
    for p in def.pipelines.values() {
        c.pipeline(p);
    }
    for p in def.producers.values() {
        let path = format!("producers.{}", p.name);
        c.func(&p.generator, FnType::Generator, false, &format!("{path}.generator"));
        if let Some(f) = &p.condition {
            c.func(f, FnType::Predicate, false, &format!("{path}.condition"));
        }
        if let Some(f) = &p.until {
            c.func(f, FnType::Predicate, false, &format!("{path}.until"));
        }
        c.target_topic(&p.to, &format!("{path}.to"));
    }
}

struct Checker<'a> {
    def: &'a Definition,
    diags: &'a mut Vec<Diagnostic>,
    /// `as` names (explicit or implicit) registered so far, with what they hold.
    registered: HashMap<String, (Wrapper, Span)>,
    /// Every store name that exists in the topology (top-level, table, inline in operations).
    stores: HashSet<String>,
}

impl Checker<'_> {
    fn error(&mut self, span: Span, path: &str, message: impl Into<String>, hint: Option<String>) {
        let mut d = Diagnostic::error(&self.def.file, Some(span), path, message);
        d.hint = hint;
        self.diags.push(d);
    }

    fn warn(&mut self, span: Span, path: &str, message: impl Into<String>) {
        self.diags.push(Diagnostic::warning(&self.def.file, Some(span), path, message));
    }

    // ---- stores ------------------------------------------------------------------------

    fn collect_stores(&mut self) {
        let mut names: Vec<String> = self.def.stores.keys().cloned().collect();
        for t in self.def.topics.values() {
            if t.kind != TopicKind::Stream {
                // Tables are materialized in a store named after the topic.
                names.push(t.topic.value.clone());
            }
            if let Some(StoreRef::Inline(s)) = &t.store {
                names.push(s.name.clone());
            }
        }
        fn from_ops(ops: &[Operation], sink: Option<&Sink>, names: &mut Vec<String>) {
            for op in ops {
                for s in op_stores(&op.op) {
                    if let StoreRef::Inline(s) = s {
                        names.push(s.name.clone());
                    }
                }
            }
            if let Some(Sink::Branch(branches)) = sink {
                for b in branches {
                    from_ops(&b.via, b.sink.as_ref(), names);
                }
            }
        }
        for p in self.def.pipelines.values() {
            from_ops(&p.via, p.sink.as_ref(), &mut names);
        }
        self.stores.extend(names);
    }

    /// A store used by an operation: a name must exist and be of an allowed kind.
    fn store(&mut self, store: &StoreRef, allowed: StoreKind, path: &str, what: &str) {
        match store {
            StoreRef::Named(name) => match self.def.stores.get(&name.value) {
                Some(s) if s.kind != allowed => self.error(
                    name.span,
                    path,
                    format!("{what} needs a {} store, but store '{}' is a {} store", allowed.name(), name.value, s.kind.name()),
                    None,
                ),
                Some(_) => {}
                None => {
                    let hint = did_you_mean(&name.value, self.def.stores.keys().map(String::as_str))
                        .or_else(|| Some(format!("define it under 'stores:' with 'type: {}'", allowed.name())));
                    self.error(name.span, path, format!("unknown store '{}'", name.value), hint);
                }
            },
            StoreRef::Inline(s) if s.kind != allowed => self.error(
                s.span,
                path,
                format!("{what} needs a {} store, not a {} store", allowed.name(), s.kind.name()),
                Some(format!("write 'type: {}'", allowed.name())),
            ),
            StoreRef::Inline(_) => {}
        }
    }

    /// The names in a function's `stores:` list must exist.
    fn function_stores(&mut self, f: &FunctionDef) {
        for name in &f.stores {
            if !self.stores.contains(&name.value) {
                let hint = did_you_mean(&name.value, self.stores.iter().map(String::as_str));
                self.error(
                    name.span,
                    &format!("functions.{}.stores", f.name),
                    format!("function '{}' uses unknown store '{}'", f.name, name.value),
                    hint,
                );
            }
        }
    }

    // ---- functions ---------------------------------------------------------------------

    /// A function in a slot: a name must exist and fit; `stores_ok` says whether the slot
    /// can give the function its state stores.
    fn func(&mut self, f: &FnRef, slot: FnType, stores_ok: bool, path: &str) {
        match f {
            FnRef::Named(name) => {
                let Some(def) = self.def.functions.get(&name.value) else {
                    let hint = did_you_mean(&name.value, self.def.functions.keys().map(String::as_str)).or_else(|| {
                        Some(format!("define it under 'functions:' with 'type: {}', or write the function inline", slot.name()))
                    });
                    self.error(name.span, path, format!("unknown function '{}'", name.value), hint);
                    return;
                };
                if !def.fn_type.fits(slot) {
                    self.error(
                        name.span,
                        path,
                        format!("function '{}' is {}, but {} is expected here", name.value, a(def.fn_type.name()), a(slot.name())),
                        Some(format!(
                            "a {} takes ({}); declare the function with 'type: {}'",
                            slot.name(),
                            slot.params().join(", "),
                            slot.name()
                        )),
                    );
                } else if def.fn_type == FnType::Generic && slot.result() == ResultRule::Required && def.result_type.is_none() {
                    self.error(
                        name.span,
                        path,
                        format!("function '{}' has no 'resultType', which a {} needs", name.value, slot.name()),
                        Some("add 'resultType' to the function, or give it the right 'type'".into()),
                    );
                }
                if !def.stores.is_empty() && !stores_ok {
                    self.error(
                        name.span,
                        path,
                        format!("function '{}' uses state stores, which are not available here", name.value),
                        Some(stores_hint()),
                    );
                }
            }
            FnRef::Inline(def) => {
                if !def.stores.is_empty() && !stores_ok {
                    self.error(def.span, path, "this function uses state stores, which are not available here", Some(stores_hint()));
                }
                for name in &def.stores {
                    if !self.stores.contains(&name.value) {
                        let hint = did_you_mean(&name.value, self.stores.iter().map(String::as_str));
                        self.error(name.span, &format!("{path}.stores"), format!("unknown store '{}'", name.value), hint);
                    }
                }
            }
        }
    }

    fn topic_functions(&mut self, t: &TopicDef, path: &str) {
        if let Some(f) = &t.timestamp_extractor {
            self.func(f, FnType::TimestampExtractor, false, &format!("{path}.timestampExtractor"));
        }
        if let Some(f) = &t.partitioner {
            self.func(f, FnType::StreamPartitioner, false, &format!("{path}.partitioner"));
        }
        if let Some(s) = &t.store {
            self.store(s, StoreKind::KeyValue, &format!("{path}.store"), &format!("{} '{}'", t.kind.noun(), t.name));
        }
    }

    // ---- topics and names --------------------------------------------------------------

    /// What a source name refers to: a topic definition or an earlier `as` result.
    fn source(&mut self, from: &TopicRef, path: &str) -> Option<Wrapper> {
        match from {
            TopicRef::Inline(t) => {
                self.topic_functions(t, path);
                Some(Wrapper::of_topic(t.kind))
            }
            TopicRef::Named(name) => {
                if let Some(t) = self.def.topics.get(&name.value) {
                    return Some(Wrapper::of_topic(t.kind));
                }
                if let Some((w, _)) = self.registered.get(&name.value) {
                    return Some(*w);
                }
                let later = self.def.pipelines.values().any(|p| registers(p).iter().any(|n| *n == name.value));
                let hint = if later {
                    Some(format!(
                        "'{}' is the result of a pipeline further down; a pipeline can only read results of pipelines above it",
                        name.value
                    ))
                } else {
                    did_you_mean(&name.value, self.def.topics.keys().chain(self.registered.keys()).map(String::as_str))
                        .or_else(|| Some("define it under 'streams:', 'tables:' or 'globalTables:', or write an inline topic".into()))
                };
                self.error(name.span, path, format!("unknown stream, table or pipeline result '{}'", name.value), hint);
                None
            }
        }
    }

    /// A topic written to (`to`, producer `to`): a name must be a topic definition.
    fn target_topic(&mut self, to: &TopicRef, path: &str) {
        match to {
            TopicRef::Inline(t) => self.topic_functions(t, path),
            TopicRef::Named(name) => {
                if !self.def.topics.contains_key(&name.value) {
                    let hint = did_you_mean(&name.value, self.def.topics.keys().map(String::as_str))
                        .or_else(|| Some("define it under 'streams:', or write an inline topic: 'to: {topic: name}'".into()));
                    self.error(name.span, path, format!("unknown stream, table or globalTable '{}'", name.value), hint);
                }
            }
        }
    }

    fn register(&mut self, name: &Spanned<String>, wrapper: Wrapper, path: &str) {
        if let Some((_, first)) = self.registered.get(&name.value) {
            let line = first.line;
            self.error(
                name.span,
                path,
                format!("the name '{}' is already used by another pipeline result", name.value),
                Some(format!("first registered at line {line}")),
            );
            return;
        }
        if self.def.topics.contains_key(&name.value) {
            self.error(
                name.span,
                path,
                format!("the name '{}' is already a stream, table or globalTable", name.value),
                Some("pick another name for the pipeline result".into()),
            );
            return;
        }
        self.registered.insert(name.value.clone(), (wrapper, name.span));
    }

    // ---- pipelines ---------------------------------------------------------------------

    fn pipeline(&mut self, p: &Pipeline) {
        let path = format!("pipelines.{}", p.name);
        let wrapper = match self.source(&p.from, &format!("{path}.from")) {
            Some(w) => self.ops(&p.via, w),
            None => {
                for op in &p.via {
                    self.op_refs(op, true);
                }
                None
            }
        };
        match (&p.sink, wrapper) {
            (Some(sink), _) => self.sink(sink, wrapper, &path),
            (None, Some(w)) => self.register(&Spanned::new(p.name.clone(), p.span), w, &path),
            (None, None) => {}
        }
    }

    /// Checks operations in order; returns the kind of the result. After an operation that
    /// does not apply, the kind is unknown: the remaining operations' functions and stores
    /// are still checked, so all problems surface in one run.
    fn ops(&mut self, ops: &[Operation], mut wrapper: Wrapper) -> Option<Wrapper> {
        for (i, op) in ops.iter().enumerate() {
            match self.op(op, wrapper) {
                Some(w) => wrapper = w,
                None => {
                    for rest in &ops[i + 1..] {
                        self.op_refs(rest, true);
                    }
                    return None;
                }
            }
        }
        Some(wrapper)
    }

    /// The functions an operation names, each checked against its slot.
    fn op_refs(&mut self, op: &Operation, stream_input: bool) {
        for (key, f, slot) in op.op.function_slots() {
            self.func(f, slot, stores_available(&op.op, key, stream_input), &format!("{}.{key}", op.path));
        }
    }

    /// Checks a sink on its input kind; `None` = unknown after an earlier error, in which
    /// case only the names in the sink are checked.
    fn sink(&mut self, sink: &Sink, wrapper: Option<Wrapper>, path: &str) {
        if let Sink::As(name) = sink {
            if let Some(wrapper) = wrapper {
                self.register(name, wrapper, &format!("{path}.as"));
            }
            return;
        }
        let key = sink.key();
        if let Some(wrapper) = wrapper
            && wrapper != Wrapper::Stream
        {
            let hint = match wrapper {
                Wrapper::Table => Some("turn the table into a stream first with '- type: toStream'".to_string()),
                _ => None,
            };
            self.error(
                self.sink_span(sink),
                &format!("{path}.{key}"),
                format!("'{key}' applies to a stream, not to {}", wrapper.describe()),
                hint,
            );
            return;
        }
        let spath = format!("{path}.{key}");
        match sink {
            Sink::As(_) => {}
            Sink::ForEach(f) => self.func(f, FnType::ForEach, true, &spath),
            Sink::Print(p) => {
                if let Some(f) = &p.mapper {
                    self.func(f, FnType::KeyValuePrinter, false, &format!("{spath}.mapper"));
                }
            }
            Sink::To(t) => self.target_topic(t, &spath),
            Sink::ToTopicNameExtractor { extractor, partitioner } => {
                self.func(extractor, FnType::TopicNameExtractor, false, &format!("{spath}.topicNameExtractor"));
                if let Some(f) = partitioner {
                    self.func(f, FnType::StreamPartitioner, false, &format!("{spath}.partitioner"));
                }
            }
            Sink::Branch(branches) => {
                for b in branches {
                    if let Some(f) = &b.predicate {
                        self.func(f, FnType::Predicate, false, &format!("{}.if", b.path));
                    }
                    let w = self.ops(&b.via, Wrapper::Stream);
                    if let Some(s) = &b.sink {
                        self.sink(s, w, &b.path);
                    }
                }
            }
        }
    }

    fn sink_span(&self, sink: &Sink) -> Span {
        match sink {
            Sink::As(n) => n.span,
            Sink::ForEach(f) => fn_span(f),
            Sink::To(TopicRef::Named(n)) => n.span,
            Sink::To(TopicRef::Inline(t)) => t.span,
            Sink::ToTopicNameExtractor { extractor, .. } => fn_span(extractor),
            Sink::Branch(b) => b.first().map_or(Span::default(), |b| b.span),
            Sink::Print(_) => Span::default(),
        }
    }

    /// Checks one operation on its input kind; returns its output kind, or `None` when the
    /// operation does not apply (reported).
    fn op(&mut self, op: &Operation, input: Wrapper) -> Option<Wrapper> {
        use Wrapper::*;
        self.op_refs(op, input == Stream);
        let path = op.path.as_str();
        let p = |key: &str| format!("{path}.{key}");
        let t = op.type_name.as_str();
        let output = match &op.op {
            Op::Filter { store, .. } | Op::FilterNot { store, .. } | Op::TransformValue { store, .. } => {
                self.table_store(store.as_ref(), input, &p("store"), t);
                matches!(input, Stream | Table).then_some(input)
            }
            Op::TransformKey { .. }
            | Op::TransformKeyValue { .. }
            | Op::TransformKeyValueToKeyValueList { .. }
            | Op::TransformKeyValueToValueList { .. }
            | Op::TransformMetadata { .. }
            | Op::Peek { .. }
            | Op::ConvertKey { .. }
            | Op::ConvertValue { .. }
            | Op::ConvertKeyValue { .. }
            | Op::Repartition { .. } => (input == Stream).then_some(Stream),
            Op::GroupByKey { store } => {
                if let Some(s) = store {
                    self.store(s, StoreKind::KeyValue, &p("store"), "'groupByKey'");
                }
                (input == Stream).then_some(GroupedStream)
            }
            Op::GroupBy { store, .. } => {
                if let Some(s) = store {
                    self.store(s, StoreKind::KeyValue, &p("store"), "'groupBy'");
                }
                match input {
                    Stream => Some(GroupedStream),
                    Table => Some(GroupedTable),
                    _ => None,
                }
            }
            Op::ToTable { store } => {
                if let Some(s) = store {
                    self.store(s, StoreKind::KeyValue, &p("store"), "'toTable'");
                }
                (input == Stream).then_some(Table)
            }
            Op::ToStream { .. } => (input == Table).then_some(Stream),
            Op::Count { store } => {
                if let Some(s) = store {
                    self.store(s, input.aggregate_store(), &p("store"), &format!("'count' on {}", input.describe()));
                }
                matches!(input, GroupedStream | GroupedTable | TimeWindowed | SessionWindowed).then_some(Table)
            }
            Op::Reduce { reducer, store, .. } => {
                if let Some(s) = store {
                    self.store(s, input.aggregate_store(), &p("store"), &format!("'reduce' on {}", input.describe()));
                }
                match input {
                    GroupedTable if reducer.is_some() => {
                        self.error(op.span, path, "'reduce' on a grouped table takes 'adder' and 'subtractor', not 'reducer'", None);
                        Some(Table)
                    }
                    GroupedStream | TimeWindowed | SessionWindowed if reducer.is_none() => {
                        self.error(op.span, path, format!("'reduce' on {} takes a 'reducer'", input.describe()), None);
                        Some(Table)
                    }
                    GroupedStream | GroupedTable | TimeWindowed | SessionWindowed => Some(Table),
                    _ => None,
                }
            }
            Op::Aggregate { aggregator, merger, store, .. } => {
                let applies = matches!(
                    input,
                    GroupedStream
                        | GroupedTable
                        | TimeWindowed
                        | SessionWindowed
                        | Cogrouped
                        | TimeWindowedCogrouped
                        | SessionWindowedCogrouped
                );
                if applies {
                    match store {
                        Some(s) => self.store(s, input.aggregate_store(), &p("store"), &format!("'aggregate' on {}", input.describe())),
                        None => self.error(
                            op.span,
                            path,
                            "'aggregate' needs a 'store'",
                            Some(format!("add e.g. 'store: {{type: {}}}'", input.aggregate_store().name())),
                        ),
                    }
                    if matches!(input, SessionWindowed | SessionWindowedCogrouped) && merger.is_none() {
                        self.error(
                            op.span,
                            path,
                            format!("'aggregate' on {} needs a 'merger' to combine sessions", input.describe()),
                            None,
                        );
                    }
                    if input == GroupedTable && aggregator.is_some() {
                        self.error(op.span, path, "'aggregate' on a grouped table takes 'adder' and 'subtractor', not 'aggregator'", None);
                    }
                    if matches!(input, GroupedStream | TimeWindowed | SessionWindowed) && aggregator.is_none() {
                        self.error(op.span, path, format!("'aggregate' on {} takes an 'aggregator'", input.describe()), None);
                    }
                }
                applies.then_some(Table)
            }
            Op::Cogroup { .. } => (input == GroupedStream).then_some(Cogrouped),
            Op::WindowByTime(_) => match input {
                GroupedStream => Some(TimeWindowed),
                Cogrouped => Some(TimeWindowedCogrouped),
                _ => None,
            },
            Op::WindowBySession { .. } => match input {
                GroupedStream => Some(SessionWindowed),
                Cogrouped => Some(SessionWindowedCogrouped),
                _ => None,
            },
            Op::Suppress { until, buffer_full, .. } => {
                if *until == SuppressUntil::WindowCloses && *buffer_full == Some(BufferFull::EmitEarly) {
                    self.warn(
                        op.span,
                        path,
                        "a window's final result is never emitted early: when this buffer is full the application stops, as with 'shutdownWhenFull' (Kafka Streams allows no other strategy here)",
                    );
                }
                (input == Table).then_some(Table)
            }
            Op::Merge { stream } => {
                if let Some(other) = self.source(stream, &p("stream"))
                    && other != Stream
                {
                    self.error(op.span, &p("stream"), format!("'merge' merges streams, but this is {}", other.describe()), None);
                }
                (input == Stream).then_some(Stream)
            }
            Op::Join(j) => return self.join(op, j, input),
        };
        if output.is_none() {
            let hint = match (input, &op.op) {
                (Table, Op::TransformKey { .. } | Op::TransformKeyValue { .. } | Op::Peek { .. }) => {
                    Some("turn the table into a stream first with '- type: toStream'".to_string())
                }
                (
                    Stream,
                    Op::Count { .. } | Op::Reduce { .. } | Op::Aggregate { .. } | Op::WindowByTime(_) | Op::WindowBySession { .. },
                ) => Some("group the stream first with '- type: groupByKey' or '- type: groupBy'".to_string()),
                (GlobalTable, _) => Some("a globalTable can only be joined with, or named with 'as'".to_string()),
                _ => None,
            };
            self.error(op.span, path, format!("cannot apply '{t}' to {}", input.describe()), hint);
        }
        output
    }

    /// The optional `store` of filter/mapValues materializes a table; on a stream it has no use.
    fn table_store(&mut self, store: Option<&StoreRef>, input: Wrapper, path: &str, t: &str) {
        let Some(s) = store else { return };
        self.store(s, StoreKind::KeyValue, path, &format!("'{t}'"));
        if input == Wrapper::Stream {
            let span = match s {
                StoreRef::Named(n) => n.span,
                StoreRef::Inline(s) => s.span,
            };
            self.warn(span, path, format!("the 'store' of '{t}' materializes a table; on a stream it is ignored"));
        }
    }

    fn join(&mut self, op: &Operation, j: &Join, input: Wrapper) -> Option<Wrapper> {
        use Wrapper::*;
        let path = op.path.as_str();
        let p = |key: &str| format!("{path}.{key}");
        let (target, key) = match &j.target {
            JoinTarget::Stream(t) => (t, "stream"),
            JoinTarget::Table(t) => (t, "table"),
            JoinTarget::GlobalTable(t) => (t, "globalTable"),
        };
        let actual = self.source(target, &p(key))?;
        let expected = match key {
            "stream" => Stream,
            "table" => Table,
            _ => GlobalTable,
        };
        if actual != expected {
            self.error(
                op.span,
                &p(key),
                format!("'{key}:' names {}, not {}", actual.describe(), expected.describe()),
                Some(format!(
                    "join with it under '{}:'",
                    match actual {
                        Stream => "stream",
                        Table => "table",
                        GlobalTable => "globalTable",
                        _ => "as",
                    }
                )),
            );
            return None;
        }
        for (s, k) in [(&j.this_store, "thisStore"), (&j.other_store, "otherStore")] {
            if let Some(s) = s {
                self.store(s, StoreKind::Window, &p(k), "a stream-stream join");
            }
        }
        if let Some(s) = &j.store {
            self.store(s, StoreKind::KeyValue, &p("store"), "a table join");
        }
        let t = op.type_name.as_str();
        match (input, expected, j.kind) {
            (Stream, Stream, _) => Some(Stream),
            // With a `foreignKeyExtractor`, a stream looks the table up by the extracted key
            // (KSML ignores the extractor here and joins on the record key; see docs/ksml-differences.md).
            (Stream, Table, JoinKind::Inner | JoinKind::Left) => Some(Stream),
            (Stream, GlobalTable, JoinKind::Inner | JoinKind::Left) => Some(Stream),
            (Table, Table, _) => Some(Table),
            _ => {
                self.error(op.span, path, format!("cannot '{t}' {} with {}", input.describe(), expected.describe()), None);
                None
            }
        }
    }
}

/// The name with its indefinite article: "a predicate", "an aggregator".
fn a(name: &str) -> String {
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {name}")
}

fn stores_hint() -> String {
    "state stores are available to functions in filter/mapValues on streams, peek, forEach and the transform operations; not in branch conditions, table operations, groupBy or producers".to_string()
}

fn fn_span(f: &FnRef) -> Span {
    match f {
        FnRef::Named(n) => n.span,
        FnRef::Inline(d) => d.span,
    }
}

/// Whether a function in `key` of `op` gets its state stores: KSML connects stores only to
/// functions run through the processor API (on streams: filter, mapValues, the transforms,
/// peek), not to table operations, groupBy/toStream mappers, aggregations or joins.
fn stores_available(op: &Op, key: &str, stream_input: bool) -> bool {
    match op {
        Op::Filter { .. } | Op::FilterNot { .. } | Op::TransformValue { .. } => stream_input,
        Op::TransformKey { .. }
        | Op::TransformKeyValue { .. }
        | Op::TransformKeyValueToKeyValueList { .. }
        | Op::TransformKeyValueToValueList { .. }
        | Op::TransformMetadata { .. } => true,
        Op::Peek { .. } => key == "forEach",
        _ => false,
    }
}

/// The stores named or defined by an operation.
fn op_stores(op: &Op) -> Vec<&StoreRef> {
    match op {
        Op::Filter { store, .. }
        | Op::FilterNot { store, .. }
        | Op::TransformValue { store, .. }
        | Op::GroupByKey { store }
        | Op::GroupBy { store, .. }
        | Op::ToTable { store }
        | Op::Count { store }
        | Op::Reduce { store, .. }
        | Op::Aggregate { store, .. } => store.iter().collect(),
        Op::Join(j) => [&j.this_store, &j.other_store, &j.store].into_iter().flatten().collect(),
        _ => Vec::new(),
    }
}

/// The names a pipeline registers: its `as`, its branches' `as`, or its own name if it has
/// no sink.
fn registers(p: &Pipeline) -> Vec<&str> {
    fn from_sink<'a>(sink: Option<&'a Sink>, own: &'a str, out: &mut Vec<&'a str>) {
        match sink {
            None => out.push(own),
            Some(Sink::As(n)) => out.push(&n.value),
            Some(Sink::Branch(bs)) => {
                for b in bs {
                    if let Some(s) = &b.sink {
                        from_sink(Some(s), own, out);
                    }
                }
            }
            Some(_) => {}
        }
    }
    let mut out = Vec::new();
    from_sink(p.sink.as_ref(), &p.name, &mut out);
    out
}
