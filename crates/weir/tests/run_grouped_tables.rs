//! `weir run` end to end for grouped tables (a table's `groupBy`, then `count`, `aggregate`
//! with adder and subtractor, `reduce` with adder and subtractor): the exact updates, with
//! Kafka Streams' semantics (the old value subtracted from its group, the new one added).

#[path = "run/common.rs"]
mod common;

use common::Dir;

#[test]
fn grouped_table_aggregations_subtract_the_old_value_and_add_the_new_one() {
    let dir = Dir::new("grouped-table");
    let def = dir.fixture("tables/grouped.yaml");
    dir.produce(
        "users",
        r#"{"key": "u1", "value": {"region": "north", "score": 5}, "timestamp": 1000}
           {"key": "u2", "value": {"region": "north", "score": 7}, "timestamp": 2000}
           {"key": "u1", "value": {"region": "south", "score": 5}, "timestamp": 3000}
           {"key": "u2", "value": {"region": "north", "score": 10}, "timestamp": 4000}
           {"key": "u2", "value": null, "timestamp": 5000}"#,
    );
    dir.run_ok(&[&def]);
    // u1 moving: north loses it, then south gains it (two updates); u2 changing within north:
    // one update (subtract, then add); u2 deleted: subtracted.
    dir.expect_topic(
        "region_counts",
        r#"{"key": "north", "value": "1", "timestamp": 1000} {"key": "north", "value": "2", "timestamp": 2000}
           {"key": "north", "value": "1", "timestamp": 3000} {"key": "south", "value": "1", "timestamp": 3000}
           {"key": "north", "value": "1", "timestamp": 4000} {"key": "north", "value": "0", "timestamp": 5000}"#,
    );
    const SUMS: &str = r#"{"key": "north", "value": "5"} {"key": "north", "value": "12"} {"key": "north", "value": "7"}
        {"key": "south", "value": "5"} {"key": "north", "value": "10"} {"key": "north", "value": "0"}"#;
    dir.expect_topic("region_scores", SUMS);
    dir.expect_topic("region_reduced", SUMS);

    // The aggregates and the mappings come back after a restart.
    dir.produce("users", r#"{"key": "u1", "value": {"region": "north", "score": 1}, "timestamp": 6000}"#);
    dir.run_ok(&[&def]);
    let last_two =
        |topic: &str| dir.consume(topic).iter().rev().take(2).map(|r| format!("{} {}", r["key"], r["value"])).collect::<Vec<_>>();
    assert_eq!(last_two("region_counts"), [r#""north" 1"#, r#""south" 0"#]);
    assert_eq!(last_two("region_scores"), [r#""north" 1"#, r#""south" 0"#]);
}

#[test]
fn a_grouped_tables_aggregate_can_be_joined() {
    let dir = Dir::new("grouped-table-join");
    let def = dir.fixture("tables/grouped_join.yaml");
    dir.produce(
        "users",
        r#"{"key": "u1", "value": {"region": "north"}, "timestamp": 1000} {"key": "u2", "value": {"region": "north"}, "timestamp": 3000}"#,
    );
    dir.produce("regions", r#"{"key": "north", "value": {"name": "North"}, "timestamp": 2000}"#);
    dir.run_ok(&[&def]);
    // The first count has no region yet (an inner join); the region's arrival joins the count
    // of the time; the second user's count joins the region.
    dir.expect_topic(
        "named_counts",
        r#"{"key": "north", "value": {"count": 1, "name": "North"}, "timestamp": 2000}
           {"key": "north", "value": {"count": 2, "name": "North"}, "timestamp": 3000}"#,
    );
}
