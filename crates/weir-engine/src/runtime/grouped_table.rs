//! Running grouped tables ([`GroupedTableNode`]) with Kafka Streams' semantics.
//!
//! - **`groupBy`** (on each update of the table key `k`): `mapper(k, value)` gives the group
//!   key and value; the previous mapping of `k` (kept in the node's state store) is to be
//!   subtracted from its group and the new one added to its group. The change goes on as
//!   `{new, old}` keyed by the group key: one record when the group stayed the same, else the
//!   old group's (`{new: None, old}`) then the new group's (`{new, old: None}`). A delete of
//!   `k` only subtracts; a mapping with a null group key is left out.
//! - **Aggregation** (at the group's task): the subtractor removes the old value from the
//!   group's aggregate, then the adder adds the new one (`count` counts down and up, `reduce`
//!   starts from a group's first value, `aggregate` from `initializer()`); the result is put in
//!   the store (a null aggregate deletes the group) and goes on as the table's update, with
//!   the later of the record's and the aggregate's timestamps.

use indexmap::IndexMap;

use super::process::{Effect, NodeError, Record, call_value, key_value};
use crate::plan::{GroupedTableNode, TableAggregation};
use crate::store::{self, StoreError, StoreSpec, StoreView};
use crate::value::{Datum, Value, convert};

pub(super) fn apply(node: &GroupedTableNode, r: &Record) -> Result<Effect<'static>, NodeError> {
    match node {
        GroupedTableNode::GroupBy { mapper, state } => {
            let instances = [store::current(&state.name).map_err(failed)?];
            let state_view = view(&instances, state)?;
            let key = r.key.to_value().map_err(NodeError::Other)?;
            let new = match r.value.is_null() {
                true => None,
                false => Some(key_value(call_value(mapper, &[&r.key, &r.value])?, &mapper.qualified)?).filter(|(k, _)| *k != Value::Null),
            };
            let old = state_view.get(&key).map_err(failed)?.and_then(|s| match s.value {
                Value::Struct(mut f) => {
                    Some((f.shift_remove("key").unwrap_or(Value::Null), f.shift_remove("value").unwrap_or(Value::Null)))
                }
                _ => None,
            });
            let change = |new: Option<&Value>, old: Option<&Value>| {
                Value::Struct(IndexMap::from([
                    ("new".to_string(), new.cloned().unwrap_or(Value::Null)),
                    ("old".to_string(), old.cloned().unwrap_or(Value::Null)),
                ]))
            };
            let record = |key: &Value, value: Value| Record {
                key: key.clone().into(),
                value: value.into(),
                timestamp: r.timestamp,
                headers: r.headers.clone(),
            };
            let mut out = Vec::new();
            match (&old, &new) {
                (Some((ok, ov)), Some((nk, nv))) if ok == nk => out.push(record(nk, change(Some(nv), Some(ov)))),
                _ => {
                    if let Some((ok, ov)) = &old {
                        out.push(record(ok, change(None, Some(ov))));
                    }
                    if let Some((nk, nv)) = &new {
                        out.push(record(nk, change(Some(nv), None)));
                    }
                }
            }
            match new {
                Some((k, v)) => {
                    let mapping = Value::Struct(IndexMap::from([("key".to_string(), k), ("value".to_string(), v)]));
                    state_view.put(&key, mapping, r.timestamp).map(drop)
                }
                None => state_view.delete(&key).map(drop),
            }
            .map_err(failed)?;
            Ok(Effect::Records(out))
        }
        GroupedTableNode::Aggregate { store: spec, how } => aggregate(spec, how, r),
    }
}

fn failed(e: StoreError) -> NodeError {
    NodeError::Other(e.to_string())
}

fn view<'a>(instances: &'a [std::sync::Arc<store::StoreInstance>], spec: &StoreSpec) -> Result<StoreView<'a>, NodeError> {
    StoreView::new(instances).ok_or_else(|| NodeError::Other(format!("state store '{}' has no instance", spec.name)))
}

fn aggregate(spec: &StoreSpec, how: &TableAggregation, r: &Record) -> Result<Effect<'static>, NodeError> {
    let instances = [store::current(&spec.name).map_err(failed)?];
    let view = view(&instances, spec)?;
    let key = r.key.to_value().map_err(NodeError::Other)?;
    let change = r.value.to_value().map_err(NodeError::Other)?;
    let part = |name: &str| match &change {
        Value::Struct(f) => f.get(name).cloned().filter(|v| *v != Value::Null),
        _ => None,
    };
    let (new, old) = (part("new"), part("old"));
    let current = view.get(&key).map_err(failed)?;
    let timestamp = current.as_ref().map_or(r.timestamp, |c| c.timestamp.max(r.timestamp));
    let count = |v: Value| super::process::stored_count(&spec.name, v);
    let d = |v: &Value| Datum::Value(v.clone());
    let k = d(&key);
    let mut agg = current.map(|c| c.value);
    if let Some(o) = &old
        && let Some(a) = agg.take()
    {
        agg = Some(match how {
            TableAggregation::Count => Value::Long(count(a)?.saturating_sub(1)),
            TableAggregation::Reduce { subtractor, .. } => call_value(subtractor, &[&d(&a), &d(o)])?,
            TableAggregation::Aggregate { subtractor, .. } => call_value(subtractor, &[&k, &d(o), &d(&a)])?,
        })
        .filter(|v| *v != Value::Null);
    }
    if let Some(n) = &new {
        agg = Some(match (how, agg.take()) {
            (TableAggregation::Count, a) => Value::Long(a.map(count).transpose()?.unwrap_or(0).saturating_add(1)),
            (TableAggregation::Reduce { .. }, None) => n.clone(),
            (TableAggregation::Reduce { adder, .. }, Some(a)) => call_value(adder, &[&d(&a), &d(n)])?,
            (TableAggregation::Aggregate { initializer, adder, .. }, a) => {
                let a = match a {
                    Some(a) => a,
                    None => call_value(initializer, &[])?,
                };
                call_value(adder, &[&k, &d(n), &d(&a)])?
            }
        });
    }
    let updated = match agg {
        Some(v) => convert(v, &spec.value_type)
            .map_err(|e| NodeError::Other(format!("the aggregate does not fit state store '{}' ({}): {e}", spec.name, spec.value_type)))?,
        None => Value::Null,
    };
    view.put(&key, updated.clone(), timestamp).map_err(failed)?;
    Ok(Effect::Update(updated.into(), timestamp))
}
