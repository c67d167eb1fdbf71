//! Windowed aggregations: `count`, `reduce` and `aggregate` of a time-windowed or
//! session-windowed stream, with Kafka Streams' semantics (its `KStreamWindowAggregate`,
//! `KStreamSlidingWindowAggregate` and `KStreamSessionWindowAggregate`).
//!
//! Each update is emitted at once (no caching), keyed by KSML's windowed key
//! (`{start, end, startTime, endTime, key}`), in the order Kafka Streams forwards them:
//!
//! - **Time windows** (tumbling, hopping): the record goes into every window `[start, start +
//!   size)` that contains its timestamp, in start order (starts are multiples of the advance).
//!   A window's update has the larger of the record's timestamp and the window's previous one.
//! - **Sliding windows**: windows `[start, start + timeDifference]` exist where records make
//!   them: the record's left window (ending at its timestamp), the right window of the
//!   previous record, and its own right window (starting just after it) when later records
//!   fall in it; every existing window containing the record is updated. Records earlier
//!   than `timeDifference` share the window `[0, timeDifference]`.
//! - **Session windows**: the record's session `[t, t]` is merged with the key's sessions that
//!   end at or after `t - gap` and start at or before `t + gap`: their aggregates are combined
//!   with the `merger` (the initializer's value first), the merged-away sessions are removed
//!   and their removal is emitted as a null value for each (timestamped with its end), then
//!   the merged session's aggregate is emitted with its end as timestamp.
//!
//! **Late records.** The operation tracks the observed stream time (the highest timestamp it
//! has seen, per task; kept beside the store instance and restored with it, where Kafka
//! Streams' processor starts again from nothing after a restart). A window whose end plus grace is not after stream time
//! (for sessions: end plus gap plus grace) is closed: the record is not added to it, which is
//! logged as a warning and counted (`Stats::dropped`). A record with a null key is skipped
//! (sliding windows also skip a null value), and so is one with a negative timestamp.

use std::collections::HashSet;

use super::process::{NodeError, Record, call_value, stored_count};
use crate::plan::{Aggregation, FnHandle, Windowing};
use crate::store::{self, EntryKey, StoreError, StoreSpec, StoreView, windowed_value};
use crate::value::{Datum, Value, convert};

/// The records a windowed aggregation emits for one input record, and how many window
/// updates it dropped as late.
#[derive(Debug, Default)]
pub(super) struct Updates {
    pub records: Vec<Record>,
    pub dropped: u64,
}

fn failed(e: StoreError) -> NodeError {
    NodeError::Other(e.to_string())
}

/// One record through a windowed aggregation.
pub(super) fn aggregate(
    spec: &StoreSpec,
    how: &Aggregation,
    window: Windowing,
    merger: Option<&FnHandle>,
    r: &Record,
    node: &str,
) -> Result<Updates, NodeError> {
    let mut out = Updates::default();
    let sliding = matches!(window, Windowing::Sliding { .. });
    if r.key.is_null() || (sliding && r.value.is_null()) {
        tracing::warn!(operation = node, "skipping a record with a null key{}", if sliding { " or value" } else { "" });
        out.dropped = 1;
        return Ok(out);
    }
    if r.timestamp < 0 {
        tracing::warn!(operation = node, timestamp = r.timestamp, "skipping a record with a negative timestamp");
        out.dropped = 1;
        return Ok(out);
    }
    let instance = store::current(&spec.name).map_err(failed)?;
    let stream_time = instance.observe_stream_time(r.timestamp);
    let instances = [instance];
    let view = StoreView::new(&instances).ok_or_else(|| NodeError::Other(format!("state store '{}' has no instance", spec.name)))?;
    let key = r.key.to_value().map_err(NodeError::Other)?;
    let mut w = Windows { spec, view, how, key, r, node, stream_time, out, writes: Vec::new() };
    match window {
        Windowing::Time { size, advance, grace } => w.time(size, advance, grace)?,
        Windowing::Sliding { time_difference, grace } => w.sliding(time_difference, grace)?,
        Windowing::Session { gap, grace } => w.session(gap, grace, merger)?,
    }
    // Time windows are written once every function call has succeeded: one that fails leaves
    // the store as it was, so a retry does not count the record twice. (Both algorithms read
    // the windows before they change any.)
    for (start, end, value, timestamp) in std::mem::take(&mut w.writes) {
        w.view.window_put(&w.key, value.clone(), start, timestamp).map_err(failed)?;
        w.emit(start, end, value, timestamp);
    }
    Ok(w.out)
}

struct Windows<'a> {
    spec: &'a StoreSpec,
    view: StoreView<'a>,
    how: &'a Aggregation,
    /// The record's key, as a value.
    key: Value,
    r: &'a Record,
    node: &'a str,
    stream_time: i64,
    out: Updates,
    /// Window updates to write and emit, in order: `(start, end, aggregate, timestamp)`.
    writes: Vec<(i64, i64, Value, i64)>,
}

/// A window's aggregate and the timestamp it carries (Kafka Streams' `ValueAndTimestamp`).
#[derive(Debug, Clone)]
struct Agg {
    value: Value,
    timestamp: i64,
}

impl Windows<'_> {
    /// The initial aggregate: 0 for `count`, nothing for `reduce`, the initializer's value.
    fn initial(&self) -> Result<Option<Value>, NodeError> {
        Ok(match self.how {
            Aggregation::Count => Some(Value::Long(0)),
            Aggregation::Reduce { .. } => None,
            Aggregation::Aggregate { initializer, .. } => Some(call_value(initializer, &[])?),
        })
    }

    /// The aggregate with the record added.
    fn add(&self, current: Option<Value>) -> Result<Value, NodeError> {
        let r = self.r;
        Ok(match (self.how, current) {
            (Aggregation::Count, current) => {
                let n = match current {
                    None => 0,
                    Some(current) => stored_count(&self.spec.name, current)?,
                };
                Value::Long(n.saturating_add(1))
            }
            (Aggregation::Reduce { .. }, None | Some(Value::Null)) => r.value.to_value().map_err(NodeError::Other)?,
            (Aggregation::Reduce { reducer }, Some(current)) => call_value(reducer, &[&Datum::Value(current), &r.value])?,
            (Aggregation::Aggregate { aggregator, .. }, current) => {
                call_value(aggregator, &[&r.key, &r.value, &Datum::Value(current.unwrap_or(Value::Null))])?
            }
        })
    }

    /// An aggregate brought to the store's value type.
    fn fit(&self, v: Value) -> Result<Value, NodeError> {
        convert(v, &self.spec.value_type).map_err(|e| {
            NodeError::Other(format!("the aggregate does not fit state store '{}' ({}): {e}", self.spec.name, self.spec.value_type))
        })
    }

    fn emit(&mut self, start: i64, end: i64, value: Value, timestamp: i64) {
        let key = Datum::Value(windowed_value(self.key.clone(), start, end));
        self.out.records.push(Record { key, value: Datum::Value(value), timestamp, headers: self.r.headers.clone() });
    }

    fn late(&mut self, start: i64, end: i64, close_time: i64) {
        tracing::warn!(
            operation = self.node,
            timestamp = self.r.timestamp,
            window = format!("[{start},{end}]"),
            expiration = close_time,
            stream_time = self.stream_time,
            "skipping a record for an expired window"
        );
        self.out.dropped += 1;
    }

    /// Tumbling and hopping windows.
    fn time(&mut self, size: i64, advance: i64, grace: i64) -> Result<(), NodeError> {
        let ts = self.r.timestamp;
        let close_time = self.stream_time.saturating_sub(grace);
        let advance = advance.max(1);
        let mut start = (ts.saturating_sub(size).saturating_add(advance)).max(0) / advance * advance;
        while start <= ts {
            let end = start.saturating_add(size);
            if end > close_time {
                let old = self.view.window_fetch(&self.key, start).map_err(failed)?;
                let (current, timestamp) = match old {
                    Some(old) => (Some(old.value), old.timestamp.max(ts)),
                    None => (self.initial()?, ts),
                };
                let updated = self.add(current)?;
                let updated = self.fit(updated)?;
                self.writes.push((start, end, updated, timestamp));
            } else {
                self.late(start, end, close_time);
            }
            start = start.saturating_add(advance);
        }
        Ok(())
    }

    /// The key's windows starting in `[from, to]`, in start order.
    fn windows(&self, from: i64, to: i64) -> Result<Vec<(i64, Agg)>, NodeError> {
        let mut found = Vec::new();
        for entry in self.view.window_fetch_key(&self.key, from, to, false).map_err(failed)? {
            let entry = entry.map_err(failed)?;
            if let EntryKey::WindowStart(start) = entry.key {
                found.push((start, Agg { value: entry.value, timestamp: entry.timestamp.unwrap_or(-1) }));
            }
        }
        Ok(found)
    }

    /// Adds the record to the window starting at `start` (whose aggregate is `agg`, if any),
    /// unless it has closed.
    fn update_sliding(&mut self, start: i64, td: i64, agg: Option<Agg>, close_time: i64) -> Result<(), NodeError> {
        let end = start.saturating_add(td);
        if end < close_time {
            self.late(start, end, close_time);
            return Ok(());
        }
        let ts = self.r.timestamp;
        let (current, timestamp) = match agg {
            Some(Agg { value: Value::Null, .. }) | None => (None, ts),
            Some(a) => (Some(a.value), a.timestamp.max(ts)),
        };
        let updated = self.add(current)?;
        let updated = self.fit(updated)?;
        self.writes.push((start, end, updated, timestamp));
        Ok(())
    }

    /// A new window starting at `start` with the initial aggregate, then the record added.
    fn new_sliding(&mut self, start: i64, td: i64, close_time: i64) -> Result<(), NodeError> {
        let initial = self.initial()?.map(|value| Agg { value, timestamp: self.r.timestamp });
        self.update_sliding(start, td, initial, close_time)
    }

    /// The record's right window `[ts + 1, ts + 1 + td]`, holding what `right` holds (the
    /// records after this one), without the record itself.
    fn right_window(&mut self, td: i64, right: Agg) -> Result<(), NodeError> {
        let start = self.r.timestamp.saturating_add(1);
        self.writes.push((start, start.saturating_add(td), right.value, right.timestamp));
        Ok(())
    }

    /// Sliding windows (Kafka Streams' in-order algorithm).
    fn sliding(&mut self, td: i64, grace: i64) -> Result<(), NodeError> {
        let ts = self.r.timestamp;
        let close_time = self.stream_time.saturating_sub(grace);
        if ts.saturating_add(td) < close_time {
            self.late(ts, ts.saturating_add(td), close_time);
            return Ok(());
        }
        if ts < td {
            return self.sliding_early(td, close_time);
        }
        let mut starts = HashSet::new();
        let (mut left_agg, mut right_agg): (Option<Agg>, Option<Agg>) = (None, None);
        let (mut left_created, mut right_created) = (false, false);
        let mut previous: Option<i64> = None;
        for (start, agg) in self.windows(ts.saturating_sub(2 * td).max(0), ts.saturating_add(1))? {
            starts.insert(start);
            let end = start.saturating_add(td);
            if end < ts {
                previous = Some(agg.timestamp);
                left_agg = Some(agg);
            } else if end == ts {
                left_created = true;
                if agg.timestamp < ts {
                    previous = Some(agg.timestamp);
                }
                self.update_sliding(start, td, Some(agg), close_time)?;
            } else if start <= ts {
                right_agg = Some(agg.clone());
                self.update_sliding(start, td, Some(agg), close_time)?;
            } else if start == ts + 1 {
                right_created = true;
            } else {
                return Err(self.unexpected_window(start));
            }
        }
        // The previous record's right window, when it does not exist and this record falls in it.
        if let Some(p) = previous {
            let start = p.saturating_add(1);
            if !starts.contains(&start) && start.saturating_add(td) >= ts {
                self.new_sliding(start, td, close_time)?;
            }
        }
        if !left_created {
            let start = ts - td;
            match left_agg {
                Some(left) if previous.is_some_and(|p| ts - td <= p) => {
                    self.update_sliding(start, td, Some(Agg { value: left.value, timestamp: ts }), close_time)?;
                }
                _ => self.new_sliding(start, td, close_time)?,
            }
        }
        if !right_created && let Some(right) = right_agg.filter(|a| a.timestamp > ts) {
            self.right_window(td, right)?;
        }
        Ok(())
    }

    fn unexpected_window(&self, start: i64) -> NodeError {
        let ts = self.r.timestamp;
        NodeError::Other(format!(
            "sliding windows of '{}': unexpected window starting at {start} for a record at {ts} (a bug in Weir)",
            self.node
        ))
    }

    /// A record earlier than the time difference: its windows would start before 0, so it goes
    /// into `[0, td]` (Kafka Streams' `processEarly`).
    fn sliding_early(&mut self, td: i64, close_time: i64) -> Result<(), NodeError> {
        let ts = self.r.timestamp;
        let mut combined: Option<Agg> = None;
        let mut right_agg: Option<Agg> = None;
        let mut right_created = false;
        let mut starts = HashSet::new();
        let mut previous: Option<i64> = None;
        for (start, agg) in self.windows(0, ts.saturating_add(1))? {
            starts.insert(start);
            if start == 0 {
                if agg.timestamp < ts {
                    previous = Some(agg.timestamp);
                }
                combined = Some(agg);
            } else if start <= ts {
                right_agg = Some(agg.clone());
                self.update_sliding(start, td, Some(agg), close_time)?;
            } else if start == ts + 1 {
                right_created = true;
            } else {
                return Err(self.unexpected_window(start));
            }
        }
        if right_agg.is_none()
            && let Some(c) = combined.as_ref().filter(|c| c.timestamp > ts)
        {
            right_agg = Some(c.clone());
        }
        if !right_created && let Some(right) = right_agg.filter(|a| a.timestamp > ts) {
            self.right_window(td, right)?;
        }
        if let Some(p) = previous
            && !starts.contains(&(p + 1))
        {
            self.new_sliding(p + 1, td, close_time)?;
        }
        match combined {
            None => self.new_sliding(0, td, close_time),
            Some(c) => self.update_sliding(0, td, Some(c), close_time),
        }
    }

    /// Two session aggregates combined: `count` adds, `reduce` reduces, `aggregate` calls the
    /// merger (`merger(key, value1, value2)`).
    fn merge(&self, merger: Option<&FnHandle>, agg: Option<Value>, session: Value) -> Result<Option<Value>, NodeError> {
        let long = |v: Value| stored_count(&self.spec.name, v);
        Ok(Some(match self.how {
            Aggregation::Count => Value::Long(long(agg.unwrap_or(Value::Long(0)))?.saturating_add(long(session)?)),
            Aggregation::Reduce { reducer } => match agg {
                None | Some(Value::Null) => session,
                Some(a) => call_value(reducer, &[&Datum::Value(a), &Datum::Value(session)])?,
            },
            Aggregation::Aggregate { .. } => {
                let Some(merger) = merger else {
                    return Err(NodeError::Other(format!("'{}' merges sessions without a merger (a bug in Weir)", self.node)));
                };
                call_value(merger, &[&self.r.key, &Datum::Value(agg.unwrap_or(Value::Null)), &Datum::Value(session)])?
            }
        }))
    }

    /// Session windows.
    fn session(&mut self, gap: i64, grace: i64, merger: Option<&FnHandle>) -> Result<(), NodeError> {
        let ts = self.r.timestamp;
        let close_time = self.stream_time.saturating_sub(grace).saturating_sub(gap);
        let mut merged = Vec::new();
        let (mut start, mut end) = (ts, ts);
        let mut agg = self.initial()?;
        let found = self
            .view
            .session_find(Some(&self.key), Some(&self.key), ts.saturating_sub(gap), ts.saturating_add(gap), false)
            .map_err(failed)?;
        for entry in found {
            let entry = entry.map_err(failed)?;
            let EntryKey::Windowed { start: s, end: e, .. } = entry.key else { continue };
            agg = self.merge(merger, agg, entry.value.clone())?;
            start = start.min(s);
            end = end.max(e);
            merged.push((s, e, entry.value));
        }
        if end < close_time {
            self.late(start, end, close_time);
            return Ok(());
        }
        // The aggregate before any change to the store (see `aggregate`).
        let updated = self.add(agg)?;
        let updated = self.fit(updated)?;
        if (start, end) != (ts, ts) {
            for (s, e, _) in merged {
                self.view.session_remove(&self.key, s, e).map_err(failed)?;
                self.emit(s, e, Value::Null, e);
            }
        }
        self.view.session_put(&self.key, start, end, updated.clone()).map_err(failed)?;
        self.emit(start, end, updated, end);
        Ok(())
    }
}
