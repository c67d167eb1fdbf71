//! Source tables whose store has no changelog (a `tables:` entry without `logging` or
//! `persistent`, KSML's default) are rebuilt from their own topic when a task opens: the topic
//! is the table's changelog, as Kafka Streams makes it with its source-topic optimization.
//! Without this, a restart would start such a table empty and read its topic on from the
//! committed position, so every key written before the restart would be missing (joins
//! dropping records, lookups answering `None`).
//!
//! The partition's records from its start up to the task's position (the committed offset:
//! what the table held when the application stopped) are decoded with the topic's codecs and
//! put in the store; records after the position are then processed as usual. A record with a
//! null key is skipped, as processing skips it; one that cannot be decoded is skipped too (it
//! met the consume error handler when it was first read). Timestamps are the records' own (a
//! `timestampExtractor` is not run again).

use std::sync::Arc;

use crate::broker::Broker;
use crate::plan::{NodeKind, Source, Topology};
use crate::store::{StoreInstance, StoreSpec, StoreView, TaskStores};
use crate::value::Value;

/// How many bytes one read asks for while rebuilding.
const READ_BYTES: usize = 1 << 20;

/// The store of `source`'s table, when the table is rebuilt from the topic: a table source
/// right after it whose store writes no changelog.
pub(super) fn rebuilt_from(topology: &Topology, source: &Source) -> Option<Arc<StoreSpec>> {
    source.children.iter().find_map(|&child| match &topology.nodes[child].kind {
        NodeKind::TableSource { store: Some(spec) } if spec.changelog.is_none() => Some(Arc::clone(spec)),
        _ => None,
    })
}

/// Rebuilds task `partition`'s instance of `spec` from `source`'s topic up to offset `until`,
/// unless the instance holds something already (a task reopened in the same process keeps its
/// instances). Returns the number of records applied.
pub(super) fn rebuild(
    spec: &StoreSpec,
    source: &Source,
    partition: u32,
    until: u64,
    stores: &TaskStores,
    broker: &dyn Broker,
) -> Result<usize, String> {
    let Some(instance) = stores.get(&spec.name) else { return Ok(0) };
    let instances: [Arc<StoreInstance>; 1] = [Arc::clone(instance)];
    let Some(view) = StoreView::new(&instances) else { return Ok(0) };
    let fail = |e: String| format!("cannot rebuild table store '{}' from '{}' partition {partition}: {e}", spec.name, source.topic);
    if view.entry_count().map_err(|e| fail(e.to_string()))? > 0 {
        return Ok(0);
    }
    let mut at = broker.start_offset(&source.topic, partition).map_err(|e| fail(e.to_string()))?;
    let mut applied = 0;
    while at < until {
        let batch = broker.read(&source.topic, partition, at, READ_BYTES).map_err(|e| fail(e.to_string()))?;
        let Some(last) = batch.last().map(|r| r.offset) else { break };
        for record in batch.iter().filter(|r| r.offset >= at && r.offset < until) {
            let Ok(key) = source.format.key.decode(record.key.as_deref()) else { continue };
            if key == Value::Null {
                continue;
            }
            let Ok(value) = source.format.value.decode(record.value.as_deref()) else { continue };
            let put = super::join::table_write(&view, &key, value, record.timestamp);
            put.map_err(|e| fail(format!("offset {}: {e}", record.offset)))?;
            applied += 1;
        }
        at = last + 1;
    }
    Ok(applied)
}
