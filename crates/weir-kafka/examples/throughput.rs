//! Produce and read throughput of the adapter against a running broker:
//!
//! ```text
//! cargo run --release -p weir-kafka --example throughput -- BOOTSTRAP [RECORDS] [VALUE_BYTES]
//! ```
//!
//! Appends RECORDS (1,000,000) records of VALUE_BYTES (100) to a new one-partition topic in
//! batches of 1,000 (as a stream thread appends a batch's outputs), syncs, then reads them
//! all back with `read` in a loop (as a stream thread or a restore does), and prints records/s
//! for both. A second read pass (a reader that has the partition assigned already and seeks
//! back) is printed too.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use weir_engine::broker::{Broker, NewRecord};
use weir_kafka::{KafkaBroker, KafkaConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bootstrap =
        args.next().or_else(|| std::env::var("WEIR_KAFKA_BOOTSTRAP").ok()).ok_or("usage: throughput BOOTSTRAP [RECORDS] [VALUE_BYTES]")?;
    let records: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let value_bytes: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(100);
    // Extra client properties to try: WEIR_KAFKA_PROPS="key=value,key=value".
    let extra: Vec<(String, String)> = std::env::var("WEIR_KAFKA_PROPS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
        .collect();
    let broker = KafkaBroker::connect(KafkaConfig::new(bootstrap).with_properties(extra)?)?;
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let topic = format!("weir-throughput-{nanos}");
    broker.ensure_topic(&topic, 1)?;

    let value = vec![b'v'; value_bytes];
    let started = Instant::now();
    let mut batch = Vec::with_capacity(1000);
    for i in 0..records {
        batch.push(NewRecord::new(1_700_000_000_000 + i as i64, Some(format!("key-{}", i % 10_000).as_bytes()), Some(&value)));
        if batch.len() == 1000 {
            broker.append(&topic, 0, &batch)?;
            batch.clear();
        }
    }
    broker.append(&topic, 0, &batch)?;
    broker.sync()?;
    let took = started.elapsed();
    println!("produce: {records} records of {value_bytes} B in {took:.2?}: {:.0} records/s", records as f64 / took.as_secs_f64());

    for pass in 1..=2 {
        let started = Instant::now();
        let (mut at, mut count) = (0u64, 0u64);
        let end = broker.end_offset(&topic, 0)?;
        while at < end {
            let read = broker.read(&topic, 0, at, 1 << 20)?;
            let Some(last) = read.last() else { break };
            at = last.offset + 1;
            count += read.len() as u64;
        }
        let took = started.elapsed();
        println!("read pass {pass}: {count} records in {took:.2?}: {:.0} records/s", count as f64 / took.as_secs_f64());
        if count != records {
            return Err(format!("read {count} records, expected {records}").into());
        }
    }
    Ok(())
}
