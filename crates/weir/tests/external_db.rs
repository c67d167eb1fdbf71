//! Weir with a real PostgreSQL (`scripts/postgres.sh`), through the examples' functions
//! (`examples/db-write`, `examples/db-lookup`), end to end with the built `weir`:
//!
//! - `upsert_loses_and_duplicates_no_row_across_a_postgres_restart`: the database is stopped
//!   while records stream in and started again; the function retries until it is back, and
//!   the table ends with exactly one row per input record, each with its input's values.
//! - `lookup_refresh_changes_enrichment_without_pausing_the_stream`: a row changed in
//!   PostgreSQL changes the enrichment of the orders that follow, while the refresh query
//!   (made slow on purpose) never holds up the orders.

#[path = "run/common.rs"]
mod common;
#[path = "external/common.rs"]
mod external;

use std::time::{Duration, Instant};

use common::Dir;
use external::{Service, consume, example, fresh_database, spawn, sql, terminate, wait_for};
use serde_json::{Value as Json, json};

fn payments(range: std::ops::Range<u64>) -> String {
    range
        .map(|i| json!({"key": format!("p{i}"), "value": {"account": format!("a{}", i % 7), "amount": i}}).to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn row_count(url: &str) -> u64 {
    let out = sql(url, "SELECT to_regclass('payments') IS NOT NULL");
    if out.trim() != "True" {
        return 0;
    }
    sql(url, "SELECT count(*) FROM payments").trim().parse().expect("a count")
}

#[test]
fn upsert_loses_and_duplicates_no_row_across_a_postgres_restart() {
    // A server of this test alone: it is stopped and started mid-stream.
    let pg = Service::own("postgres.sh", "pg-restart");
    let dir = Dir::new("db-write");
    example(&dir, "db-write", &[]);
    let run = spawn(&dir, &[("WEIR_PG_URL", &pg.url)]);

    const N: u64 = 400;
    dir.produce("payments", &payments(0..N / 2));
    wait_for(&dir, "the first rows", Duration::from_secs(30), || (row_count(&pg.url) > 0).then_some(()));
    pg.stop_keeping_data();
    // These arrive while the database is down: each waits, retrying, until it is back.
    dir.produce("payments", &payments(N / 2..N));
    std::thread::sleep(Duration::from_secs(2));
    let url = pg.start();
    assert_eq!(url, pg.url, "the restarted server keeps its port");
    wait_for(&dir, "every row", Duration::from_secs(60), || (row_count(&pg.url) >= N).then_some(()));
    terminate(&dir, run);

    let log = dir.read("run.stderr");
    assert!(log.contains("database unreachable"), "the run never found the database down, so the test proved nothing:\n{log}");
    assert_eq!(row_count(&pg.url), N, "one row per input record");
    let rows = sql(&pg.url, "SELECT id, account, amount FROM payments");
    let mut rows: Vec<&str> = rows.lines().collect();
    rows.sort();
    let mut expected: Vec<String> = (0..N).map(|i| format!("p{i}|a{}|{i}", i % 7)).collect();
    expected.sort();
    assert_eq!(rows, expected, "rows hold their inputs' values");
    // Redeliveries (a write that reached the table but whose answer was lost) are upserts:
    // they show as `writes` above 1, never as extra rows.
    let writes: u64 = sql(&pg.url, "SELECT sum(writes) FROM payments").trim().parse().expect("a sum");
    eprintln!("{N} rows, {} writes ({} redelivered)", writes, writes - N);
}

/// Produces one order, then waits until its enriched record is out; returns it and how long
/// that took.
fn enrich_one(dir: &Dir, n: u32) -> (Json, Duration) {
    let key = format!("o{n}");
    let started = Instant::now();
    dir.produce("orders", &json!({"key": key, "value": {"customer": "c1", "amount": n}}).to_string());
    let record = wait_for(dir, &format!("order {key} enriched"), Duration::from_secs(30), || {
        consume(dir, "orders_enriched").into_iter().find(|r| r["key"] == key.as_str())
    });
    let value = match &record["value"] {
        Json::String(s) => serde_json::from_str(s).expect("JSON value"),
        v => v.clone(),
    };
    (value, started.elapsed())
}

#[test]
fn lookup_refresh_changes_enrichment_without_pausing_the_stream() {
    let pg = Service::get("WEIR_PG_URL", "postgres.sh", "pg-lookup");
    let db = fresh_database(&pg.url, "lookup");
    sql(&db, "CREATE TABLE customers (id text PRIMARY KEY, name text, tier text)");
    sql(&db, "INSERT INTO customers VALUES ('c1', 'Ann', 'gold'), ('c2', 'Bob', 'silver')");
    // The refresh query takes 3 s (pg_sleep) and runs again half a second after it ends: a
    // refresh is under way most of the time, so an order held up by it would take seconds.
    const QUERY_SECONDS: u64 = 3;
    let dir = Dir::new("db-lookup");
    example(
        &dir,
        "db-lookup",
        &[
            (
                "pipeline.yaml",
                "defaultValue: SELECT id, name, tier FROM customers",
                "defaultValue: SELECT id, name, tier FROM customers, pg_sleep(3)",
            ),
            ("pipeline.yaml", "defaultValue: 2000", "defaultValue: 500"),
        ],
    );
    let run = spawn(&dir, &[("WEIR_PG_URL", &db)]);
    wait_for(&dir, "the first refresh", Duration::from_secs(30), || (consume(&dir, "customers").len() == 2).then_some(()));

    let (first, _) = enrich_one(&dir, 0);
    assert_eq!(first["customer"]["tier"], "gold", "{first}");
    sql(&db, "UPDATE customers SET tier = 'platinum' WHERE id = 'c1'");
    let mut slowest = Duration::ZERO;
    let mut tiers = Vec::new();
    // A refresh that began before the update reads the old row; the next one (3.5 s later)
    // reads the new one: keep sending orders for up to 30 s, however fast each is enriched.
    let began = Instant::now();
    for n in 1.. {
        if began.elapsed() > Duration::from_secs(30) {
            break;
        }
        let (value, took) = enrich_one(&dir, n);
        slowest = slowest.max(took);
        tiers.push(value["customer"]["tier"].as_str().unwrap_or("none").to_string());
        if tiers.last().map(String::as_str) == Some("platinum") {
            break;
        }
    }
    terminate(&dir, run);

    assert_eq!(tiers.last().map(String::as_str), Some("platinum"), "the change never reached the enrichment: {tiers:?}");
    assert!(tiers.iter().all(|t| t == "gold" || t == "platinum"), "{tiers:?}");
    assert!(tiers.len() > 1, "the change was seen at once, before any refresh could have run: the test proves nothing ({tiers:?})");
    eprintln!("{} orders enriched while the refresh ran; slowest {slowest:?}", tiers.len());
    assert!(
        slowest < Duration::from_secs(QUERY_SECONDS) - Duration::from_millis(500),
        "an order took {slowest:?}, about as long as a refresh query ({QUERY_SECONDS} s): the refresh held up the stream"
    );
    // The changed row went to the table's topic once more, nothing else did.
    let updates: Vec<Json> = consume(&dir, "customers").into_iter().filter(|r| r["key"] == "c1").collect();
    assert_eq!(updates.len(), 2, "c1 written at the first refresh and after its change: {updates:?}");
}
