//! Planning grouped tables: a table's `groupBy` and the `count`, `reduce` (`adder`,
//! `subtractor`) and `aggregate` (`initializer`, `adder`, `subtractor`) that follow, as Kafka
//! Streams builds them ([`GroupedTableNode`]).
//!
//! `groupBy` maps each update of the table to its group key and value, and sends the change
//! through a repartition topic `<application.id>-<name>-repartition` keyed by the group key:
//! the previous mapping of the table key (to be subtracted) and the new one (to be added), as
//! one record when the group key stayed the same (Kafka Streams' KIP-904: the subtractor runs
//! before the adder), else as two, the old one first. The aggregation then keeps each group's
//! aggregate in its store (the operation's `store`, else an internal logged one), as a
//! non-windowed stream aggregation does.

use std::sync::Arc;

use weir_dsl::model::{Op, Operation, StoreKind};
use weir_dsl::types::UserType;

use super::join::internal_store;
use super::{DefPlanner, Flow, FnHandle, NodeKind, Planned, Sink, Tail, any_type, long_type, pair_types};
use crate::store::StoreSpec;

/// The work of a grouped-table node ([`NodeKind::GroupedTable`]).
// Its variants' sizes differ (three function handles against one), but it is made once per
// plan and kept boxed in `NodeKind::GroupedTable`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum GroupedTableNode {
    /// A table's `groupBy`: `mapper(key, value)` gives the group key and value; `state` keeps
    /// each table key's current mapping (Kafka Streams maps the table's old value instead).
    GroupBy { mapper: FnHandle, state: Arc<StoreSpec> },
    /// The aggregation of a grouped table, kept in `store`.
    Aggregate { store: Arc<StoreSpec>, how: TableAggregation },
}

/// How a grouped table's aggregate takes in an added value and gives back a removed one.
#[derive(Debug, Clone)]
pub enum TableAggregation {
    /// The number of values in the group (a `long`).
    Count,
    /// `adder(aggregate, value)` and `subtractor(aggregate, value)`; a group's first value is
    /// its aggregate.
    Reduce { adder: FnHandle, subtractor: FnHandle },
    /// `initializer()`, `adder(key, value, aggregate)` and `subtractor(key, value, aggregate)`.
    Aggregate { initializer: FnHandle, adder: FnHandle, subtractor: FnHandle },
}

impl DefPlanner<'_, '_> {
    /// The operations that make and aggregate a grouped table; [`Planned::NotMine`] for the others.
    pub(super) fn grouped_table_op(&mut self, op: &Operation, tail: &Tail, pipeline: &str, name: &str) -> Planned {
        let (k, v) = (tail.key_type.clone(), tail.value_type.clone());
        let (how, store, value_type) = match (&tail.flow, &op.op) {
            (Flow::Table, Op::GroupBy { mapper, .. }) => return self.table_group_by(op, tail, mapper, pipeline, name).into(),
            (Flow::GroupedTable, Op::Count { store }) => (TableAggregation::Count, store, long_type()),
            (Flow::GroupedTable, Op::Reduce { adder: Some(adder), subtractor: Some(subtractor), store, .. }) => {
                let value_type = self.result_type(adder).filter(|t| t.kind != weir_dsl::types::TypeKind::Any).unwrap_or(v);
                (TableAggregation::Reduce { adder: self.handle(adder), subtractor: self.handle(subtractor) }, store, value_type)
            }
            (Flow::GroupedTable, Op::Aggregate { initializer, adder: Some(adder), subtractor: Some(subtractor), store, .. }) => {
                let value_type = self.result_type(adder).or_else(|| self.result_type(initializer)).unwrap_or_else(any_type);
                let how = TableAggregation::Aggregate {
                    initializer: self.handle(initializer),
                    adder: self.handle(adder),
                    subtractor: self.handle(subtractor),
                };
                (how, store, value_type)
            }
            (Flow::GroupedTable, _) => {
                self.error(
                    op.span,
                    &op.path,
                    format!(
                        "'{}' does not apply to a grouped table: 'count', 'reduce' (adder, subtractor) and 'aggregate' (initializer, adder, subtractor) do",
                        op.type_name
                    ),
                );
                return Planned::Refused;
            }
            _ => return Planned::NotMine,
        };
        let Some(store) = self.aggregation_store(store.as_ref(), name, &k, &value_type, op) else { return Planned::Refused };
        let node = GroupedTableNode::Aggregate { store, how };
        let added = self.add(tail, pipeline, name.to_string(), NodeKind::GroupedTable(Box::new(node)), k, value_type);
        Planned::Next(Tail { flow: Flow::Table, ..added })
    }

    fn table_group_by(&mut self, op: &Operation, tail: &Tail, mapper: &weir_dsl::model::FnRef, pipeline: &str, name: &str) -> Option<Tail> {
        let (gk, gv) = self.result_type(mapper).as_ref().map(pair_types).unwrap_or((any_type(), any_type()));
        if gk.kind == weir_dsl::types::TypeKind::Any {
            self.error(
                op.span,
                &op.path,
                "the groupBy of a table needs the mapper's 'resultType' (a (key, value) tuple) to write its repartition topic",
            );
            return None;
        }
        let json: UserType = weir_dsl::types::parse_user_type("json", &[]).ok()?;
        let state_def = internal_store(
            format!("{name}-groupby-state"),
            StoreKind::KeyValue,
            Some(tail.key_type.clone()),
            Some(json.clone()),
            true,
            op.span,
        );
        let state = self.register_store(&state_def, op.span, &op.path)?;
        let node = GroupedTableNode::GroupBy { mapper: self.handle(mapper), state };
        let mapped = self.add(tail, pipeline, name.to_string(), NodeKind::GroupedTable(Box::new(node)), gk.clone(), json.clone());
        let topic = format!("{}-{name}-repartition", self.p.application_id);
        let format = self.format(Some(&topic), Some(&gk), Some(&json), op.span, &op.path)?;
        let sink = Sink { format: format.clone(), partitioner: None };
        self.add(&mapped, pipeline, name.to_string(), NodeKind::To { topic: topic.clone(), sink }, gk.clone(), json);
        let source = self.internal_source(&topic, format, None);
        Some(Tail { value_type: gv, flow: Flow::GroupedTable, ..source })
    }
}
