//! Planning windows, windowed aggregations, `cogroup` and `suppress`.
//!
//! `windowByTime`/`windowBySession` on a grouped stream only mark the stream windowed
//! ([`Windowing`]); `cogroup` marks it cogrouped with its aggregator (KSML allows one
//! `cogroup` per stream, so a cogrouped aggregation is an aggregation with the cogroup's
//! aggregator). `count`, `reduce` and `aggregate` of a windowed stream become a
//! [`NodeKind::WindowAggregate`] whose records are the windowed table's updates, keyed by
//! KSML's windowed key (`windowed(K)`). Their store is the operation's `store` (a window store
//! for time windows, a session store for session windows; its retention must cover the
//! window and its grace, as Kafka Streams requires), else an internal one named after the
//! operation with a changelog and Kafka Streams' default retention (window size + grace).
//! A window store used by an aggregation keeps each aggregate's timestamp (Kafka Streams
//! materializes it as a timestamped window store).
//!
//! `suppress` on a table becomes a [`NodeKind::Suppress`] with its buffer (a logged key-value
//! store named `<operation>-buffer`); `untilWindowCloses` finds the grace period of the
//! windowed aggregation the table comes from, as Kafka Streams does.

use std::sync::Arc;

use weir_dsl::diag::Span;
use weir_dsl::model::*;
use weir_dsl::types::{TypeKind, UserType};

use super::{Aggregation, DefPlanner, Flow, NodeKind, Planned, Tail, any_type, long_type};
use crate::store::{StoreFlavor, StoreSpec};

/// How a windowed aggregation assigns records to windows (all times in milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Windowing {
    /// Tumbling (`advance == size`) and hopping windows: `[start, start + size)`, starts at
    /// multiples of `advance`.
    Time { size: i64, advance: i64, grace: i64 },
    /// Sliding windows: `[start, start + time_difference]`, created around each record.
    Sliding { time_difference: i64, grace: i64 },
    /// Session windows: records less than `gap` apart share a session.
    Session { gap: i64, grace: i64 },
}

impl Windowing {
    fn of_time(w: &TimeWindow) -> Windowing {
        let ms = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        match *w {
            TimeWindow::Tumbling { duration_ms, grace_ms } => {
                Windowing::Time { size: ms(duration_ms), advance: ms(duration_ms), grace: ms(grace_ms.unwrap_or(0)) }
            }
            TimeWindow::Hopping { duration_ms, advance_by_ms, grace_ms } => {
                Windowing::Time { size: ms(duration_ms), advance: ms(advance_by_ms), grace: ms(grace_ms.unwrap_or(0)) }
            }
            TimeWindow::Sliding { time_difference_ms, grace_ms } => {
                Windowing::Sliding { time_difference: ms(time_difference_ms), grace: ms(grace_ms.unwrap_or(0)) }
            }
        }
    }

    /// The grace period after a window's end during which late records still count.
    pub fn grace(self) -> i64 {
        match self {
            Windowing::Time { grace, .. } | Windowing::Sliding { grace, .. } | Windowing::Session { grace, .. } => grace,
        }
    }

    /// How long after a window's end its result is final: what `suppress(untilWindowCloses)`
    /// waits (Kafka Streams' rule: the grace, plus the gap for sessions).
    pub fn close_after(self) -> i64 {
        match self {
            Windowing::Session { gap, grace } => gap.saturating_add(grace),
            other => other.grace(),
        }
    }

    /// The smallest retention a store needs, and how Kafka Streams words it.
    fn min_retention(self) -> (i64, &'static str) {
        match self {
            Windowing::Time { size, grace, .. } => (size.saturating_add(grace), "its window size plus the grace period"),
            Windowing::Sliding { time_difference, grace } => {
                (time_difference.saturating_mul(2).saturating_add(grace), "twice the time difference plus the grace period")
            }
            Windowing::Session { gap, grace } => (gap.saturating_add(grace), "the inactivity gap plus the grace period"),
        }
    }

    /// The window size a window store is built with (0 for sessions).
    fn store_window_size(self) -> i64 {
        match self {
            Windowing::Time { size, .. } => size,
            Windowing::Sliding { time_difference, .. } => time_difference,
            Windowing::Session { .. } => 0,
        }
    }

    fn store_kind(self) -> StoreKind {
        match self {
            Windowing::Session { .. } => StoreKind::Session,
            _ => StoreKind::Window,
        }
    }
}

/// A cogrouped stream: the aggregator of its `cogroup`, and its windowing once windowed.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Cogroup {
    aggregator: FnRef,
    window: Option<Windowing>,
}

/// When a `suppress` emits what it holds back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuppressUntil {
    /// A window's final result, once stream time reaches its end plus `close_after`.
    WindowCloses { close_after: i64 },
    /// A key's latest update, once stream time is `limit` past the key's first held update.
    TimeLimit { limit: i64 },
}

/// A `suppress`: when it emits, and how much it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suppression {
    pub until: SuppressUntil,
    pub max_records: Option<u64>,
    pub max_bytes: Option<u64>,
    /// When full: emit the oldest entries early (`true`) or stop the application.
    pub emit_early_when_full: bool,
}

impl DefPlanner<'_, '_> {
    /// The operations on windowed and cogrouped streams, `windowBy*`, `cogroup` and
    /// `suppress`; [`Planned::NotMine`] when `op` is none of them.
    pub(super) fn windowed_op(&mut self, op: &Operation, tail: &Tail, pipeline: &str, name: &str) -> Planned {
        let (k, v) = (tail.key_type.clone(), tail.value_type.clone());
        let window = match &op.op {
            Op::WindowByTime(w) => Some(Windowing::of_time(w)),
            Op::WindowBySession { inactivity_gap_ms, grace_ms } => Some(Windowing::Session {
                gap: i64::try_from(*inactivity_gap_ms).unwrap_or(i64::MAX),
                grace: i64::try_from(grace_ms.unwrap_or(0)).unwrap_or(i64::MAX),
            }),
            _ => None,
        };
        let (how, store, window, merger, value_type) = match (&tail.flow, &op.op) {
            (Flow::Grouped, Op::WindowByTime(_) | Op::WindowBySession { .. }) => {
                let Some(window) = window else { return Planned::NotMine };
                return Planned::Next(Tail { flow: Flow::Windowed(window), ..tail.clone() });
            }
            (Flow::Cogrouped(c), Op::WindowByTime(_) | Op::WindowBySession { .. }) if c.window.is_none() => {
                let flow = Flow::Cogrouped(Box::new(Cogroup { aggregator: c.aggregator.clone(), window }));
                return Planned::Next(Tail { flow, ..tail.clone() });
            }
            (Flow::Grouped, Op::Cogroup { aggregator }) => {
                let flow = Flow::Cogrouped(Box::new(Cogroup { aggregator: aggregator.clone(), window: None }));
                let value_type = self.result_type(aggregator).unwrap_or_else(any_type);
                return Planned::Next(Tail { flow, value_type, ..tail.clone() });
            }
            (Flow::Windowed(w), Op::Count { store }) => (Aggregation::Count, store, *w, None, long_type()),
            (Flow::Windowed(w), Op::Reduce { reducer: Some(reducer), store, .. }) => {
                let value_type = self.result_type(reducer).filter(|t| t.kind != TypeKind::Any).unwrap_or(v);
                (Aggregation::Reduce { reducer: self.handle(reducer) }, store, *w, None, value_type)
            }
            (Flow::Windowed(w), Op::Aggregate { initializer, aggregator: Some(aggregator), merger, store, .. }) => {
                let value_type = self.result_type(aggregator).or_else(|| self.result_type(initializer)).unwrap_or_else(any_type);
                let how = Aggregation::Aggregate { initializer: self.handle(initializer), aggregator: self.handle(aggregator) };
                (how, store, *w, merger.as_ref(), value_type)
            }
            (Flow::Cogrouped(c), Op::Aggregate { initializer, merger, store, .. }) => {
                let value_type = self.result_type(&c.aggregator).or_else(|| self.result_type(initializer)).unwrap_or_else(any_type);
                let how = Aggregation::Aggregate { initializer: self.handle(initializer), aggregator: self.handle(&c.aggregator) };
                let Some(w) = c.window else {
                    // A cogrouped stream's aggregate is the grouped stream's, with the cogroup's aggregator.
                    let Some(store) = self.aggregation_store(store.as_ref(), name, &k, &value_type, op) else { return Planned::Refused };
                    let added = self.add(tail, pipeline, name.to_string(), NodeKind::Aggregate { store, how }, k, value_type);
                    return Planned::Next(Tail { flow: Flow::Table, ..added });
                };
                (how, store, w, merger.as_ref(), value_type)
            }
            (Flow::Table, Op::Suppress { until, max_bytes, max_records, buffer_full }) => {
                return self.suppress(op, tail, pipeline, name, until, *max_bytes, *max_records, *buffer_full).into();
            }
            (Flow::Windowed(_) | Flow::Cogrouped(_), _) => {
                let what = if matches!(tail.flow, Flow::Windowed(_)) { "a windowed stream" } else { "a cogrouped stream" };
                self.error(
                    op.span,
                    &op.path,
                    format!(
                        "operation '{}' on {what} is not supported: a windowed stream takes 'count', 'reduce' or 'aggregate', a cogrouped one 'windowByTime', 'windowBySession' or 'aggregate'",
                        op.type_name
                    ),
                );
                return Planned::Refused;
            }
            _ => return Planned::NotMine,
        };
        let merger = match (window, merger, &how) {
            (Windowing::Session { .. }, None, Aggregation::Aggregate { .. }) => {
                self.error(op.span, &op.path, "'aggregate' on a session-windowed stream needs a 'merger' to combine sessions");
                return Planned::Refused;
            }
            (Windowing::Session { .. }, Some(m), _) => Some(self.handle(m)),
            _ => None,
        };
        let Some(store) = self.window_store(store.as_ref(), name, &k, &value_type, window, op) else { return Planned::Refused };
        let key_type = UserType { notation: k.notation.clone(), kind: TypeKind::Windowed(Box::new(k)) };
        let kind = NodeKind::WindowAggregate { store, how, window, merger };
        let added = self.add(tail, pipeline, name.to_string(), kind, key_type, value_type);
        Planned::Next(Tail { flow: Flow::Table, ..added })
    }

    /// The store of a windowed aggregation: see the module documentation.
    fn window_store(
        &mut self,
        store: Option<&StoreRef>,
        name: &str,
        k: &UserType,
        v: &UserType,
        window: Windowing,
        op: &Operation,
    ) -> Option<Arc<StoreSpec>> {
        let kind = window.store_kind();
        let (min_retention, rule) = window.min_retention();
        let noun = if kind == StoreKind::Session { "session" } else { "window" };
        let spanned = |t: &UserType| Some(Spanned { value: t.clone(), span: op.span });
        let (def, span) = match store {
            Some(StoreRef::Named(n)) => {
                let Some(at) = self.p.topology.stores.iter().position(|s| s.name == n.value) else {
                    self.error(n.span, &op.path, format!("unknown state store '{}'", n.value));
                    return None;
                };
                let spec = Arc::clone(&self.p.topology.stores[at]);
                let retention = match spec.flavor {
                    StoreFlavor::Window { retention_ms, .. } if kind == StoreKind::Window => retention_ms,
                    StoreFlavor::Session { retention_ms } if kind == StoreKind::Session => retention_ms,
                    other => {
                        self.error(
                            n.span,
                            &op.path,
                            format!("'{}' needs a {noun} store, but store '{}' is a {} store", op.type_name, n.value, other.noun()),
                        );
                        return None;
                    }
                };
                if !self.retention_covers(&spec.name, retention, min_retention, rule, noun, n.span, &op.path)
                    || !self.types_fit(&spec.name, &spec.key_type, &spec.value_type, k, v, n.span, &op.path)
                {
                    return None;
                }
                // The aggregation keeps each window's timestamp in the store.
                let spec = Arc::new(with_timestamps(&spec));
                self.p.topology.stores[at] = Arc::clone(&spec);
                return Some(spec);
            }
            Some(StoreRef::Inline(def)) => {
                if def.kind != kind {
                    self.error(def.span, &op.path, format!("'{}' needs a {noun} store, not a {} store", op.type_name, def.kind.name()));
                    return None;
                }
                let def = StoreDef {
                    key_type: def.key_type.clone().or_else(|| spanned(k)),
                    value_type: def.value_type.clone().or_else(|| spanned(v)),
                    ..(**def).clone()
                };
                let span = def.span;
                (def, span)
            }
            None => {
                let def = StoreDef {
                    retention_ms: Some(u64::try_from(min_retention).unwrap_or(0)),
                    window_size_ms: Some(u64::try_from(window.store_window_size()).unwrap_or(0)),
                    ..internal_store(name, kind, k, v, op.span)
                };
                (def, op.span)
            }
        };
        let retention = i64::try_from(def.retention_ms.unwrap_or(0)).unwrap_or(i64::MAX);
        if !self.retention_covers(&def.name, retention as u64, min_retention, rule, noun, span, &op.path) {
            return None;
        }
        self.register(&def, span, &op.path)
    }

    /// Plans an operation's own store (inline or internal) and adds it to the topology; a
    /// window store keeps timestamps (a windowed aggregation's).
    pub(super) fn register(&mut self, def: &StoreDef, span: Span, path: &str) -> Option<Arc<StoreSpec>> {
        self.add_store(def, span, path, |spec| with_timestamps(&spec))
    }

    /// KSML's check that a store's declared types can hold the stream's key and the
    /// aggregate (here for the scalar types, whose families must match: a number, text,
    /// a boolean, bytes).
    #[allow(clippy::too_many_arguments)]
    fn types_fit(&mut self, store: &str, sk: &UserType, sv: &UserType, k: &UserType, v: &UserType, span: Span, path: &str) -> bool {
        for (what, declared, given) in [("key", sk, k), ("value", sv, v)] {
            if let (Some(a), Some(b)) = (scalar_family(&declared.kind), scalar_family(&given.kind))
                && a != b
            {
                self.error(span, path, format!("incompatible {what} types for state store '{store}': '{declared}' and '{given}'"));
                return false;
            }
        }
        true
    }

    #[allow(clippy::too_many_arguments)]
    fn retention_covers(&mut self, store: &str, retention: u64, min: i64, rule: &str, noun: &str, span: Span, path: &str) -> bool {
        if i64::try_from(retention).unwrap_or(i64::MAX) >= min {
            return true;
        }
        self.error(
            span,
            path,
            format!(
                "the retention of {noun} store '{store}' must be no smaller than {rule} (Kafka Streams refuses it): got {retention} ms, needs at least {min} ms"
            ),
        );
        false
    }

    /// `suppress` on a table: a node with a logged buffer store named `<name>-buffer`.
    #[allow(clippy::too_many_arguments)]
    fn suppress(
        &mut self,
        op: &Operation,
        tail: &Tail,
        pipeline: &str,
        name: &str,
        until: &weir_dsl::model::SuppressUntil,
        max_bytes: Option<u64>,
        max_records: Option<u64>,
        buffer_full: Option<BufferFull>,
    ) -> Option<Tail> {
        let (k, v) = (tail.key_type.clone(), tail.value_type.clone());
        let until = match until {
            weir_dsl::model::SuppressUntil::TimeLimit { duration_ms } => {
                SuppressUntil::TimeLimit { limit: i64::try_from(*duration_ms).unwrap_or(i64::MAX) }
            }
            weir_dsl::model::SuppressUntil::WindowCloses => match self.window_of(tail) {
                Some(w) => SuppressUntil::WindowCloses { close_after: w.close_after() },
                None => {
                    self.error(
                        op.span,
                        &op.path,
                        "'suppress' until 'windowCloses' needs a windowed table: the result of a windowed 'count', 'reduce' or 'aggregate'",
                    );
                    return None;
                }
            },
        };
        // KSML's buffer rules: `emitEarlyWhenFull` needs a limit; without limits the buffer is
        // unbounded. A full `untilWindowCloses` buffer always stops the application (Kafka
        // Streams never emits a final result early; `weir check` warns about
        // `emitEarlyWhenFull` there). A full `untilTimeLimit` buffer emits early (Kafka
        // Streams' default for it) unless `shutdownWhenFull` says otherwise.
        if buffer_full == Some(BufferFull::EmitEarly) && max_records.is_none() && max_bytes.is_none() {
            self.error(op.span, &op.path, "'bufferFullStrategy: emitEarlyWhenFull' needs 'maxRecords' or 'maxBytes'");
            return None;
        }
        let emit_early_when_full = match until {
            SuppressUntil::WindowCloses { .. } => false,
            SuppressUntil::TimeLimit { .. } => buffer_full != Some(BufferFull::Shutdown),
        };
        let buffer_name = format!("{name}-buffer");
        let buffer = self.buffer_store(&buffer_name, op)?;
        let suppression = Suppression { until, max_records, max_bytes, emit_early_when_full };
        let added = self.add(tail, pipeline, name.to_string(), NodeKind::Suppress { buffer, suppression }, k, v);
        Some(Tail { flow: Flow::Table, ..added })
    }

    /// The buffer of a `suppress`: a timestamped key-value store of JSON text, logged (its
    /// changes carry the update's timestamp, from which the stream time is restored).
    fn buffer_store(&mut self, name: &str, op: &Operation) -> Option<Arc<StoreSpec>> {
        let string = UserType { notation: None, kind: TypeKind::String };
        let def = internal_store(name, StoreKind::KeyValue, &string, &string, op.span);
        self.register(&def, op.span, &op.path)
    }

    /// The windowing of the windowed aggregation a table's updates come from, following the
    /// table's operations back (Kafka Streams' `findAndVerifyWindowGrace`).
    fn window_of(&self, tail: &Tail) -> Option<Windowing> {
        let super::Attach::Node(mut id) = tail.at else { return None };
        let nodes = &self.p.topology.nodes;
        loop {
            match &nodes[id].kind {
                NodeKind::WindowAggregate { window, .. } => return Some(*window),
                NodeKind::TableFilter { .. } | NodeKind::TableMapValues { .. } | NodeKind::Suppress { .. } => {
                    match super::parents(&self.p.topology, id).as_slice() {
                        [super::Attach::Node(parent)] => id = *parent,
                        _ => return None,
                    }
                }
                _ => return None,
            }
        }
    }
}

/// The family of a scalar type: numbers, text, booleans, bytes; `None` for the others.
fn scalar_family(kind: &TypeKind) -> Option<u8> {
    match kind {
        TypeKind::Byte | TypeKind::Short | TypeKind::Int | TypeKind::Long | TypeKind::Float | TypeKind::Double => Some(0),
        TypeKind::String => Some(1),
        TypeKind::Boolean => Some(2),
        TypeKind::Bytes => Some(3),
        _ => None,
    }
}

/// An operation's internal store: timestamped, logged, in memory, no retention (the
/// aggregations' and tables' too).
pub(super) fn internal_store(name: &str, kind: StoreKind, k: &UserType, v: &UserType, span: Span) -> StoreDef {
    StoreDef {
        name: name.to_string(),
        kind,
        key_type: Some(Spanned { value: k.clone(), span }),
        value_type: Some(Spanned { value: v.clone(), span }),
        persistent: false,
        timestamped: true,
        versioned: false,
        history_retention_ms: None,
        segment_interval_ms: None,
        retention_ms: None,
        window_size_ms: None,
        retain_duplicates: false,
        caching: false,
        logging: true,
        span,
    }
}

/// The same store, keeping each value's timestamp (a window store becomes a timestamped one).
fn with_timestamps(spec: &StoreSpec) -> StoreSpec {
    let flavor = match spec.flavor {
        StoreFlavor::Window { retention_ms, window_size_ms, retain_duplicates, .. } => {
            StoreFlavor::Window { retention_ms, window_size_ms, retain_duplicates, timestamped: true }
        }
        other => other,
    };
    StoreSpec {
        name: spec.name.clone(),
        flavor,
        key_type: spec.key_type.clone(),
        value_type: spec.value_type.clone(),
        key: Arc::clone(&spec.key),
        value: Arc::clone(&spec.value),
        persistent: spec.persistent,
        logging: spec.logging,
        changelog: spec.changelog.clone(),
    }
}
