//! Weir publishing to a real RabbitMQ (`scripts/rabbitmq.sh`) with publisher confirms, through
//! `examples/queue-publish`, end to end with the built `weir`:
//!
//! - `confirmed_publishes_are_all_in_the_queue`: N records in, N messages in the queue, one
//!   per record (by message id), read back with pika.
//! - `an_unconfirmed_publish_is_not_committed`: with the broker unreachable the function
//!   retries, then raises; the run stops (stopOnFail) without committing the record, so a
//!   restart with the broker up publishes it.
//! - `a_nacked_publish_stops_the_run_uncommitted`: a queue that rejects publishes when full
//!   (`x-overflow: reject-publish`) nacks the third message: the function raises `NackError`,
//!   the run stops with the two confirmed records committed and the nacked one not.

#[path = "run/common.rs"]
mod common;
#[path = "external/common.rs"]
mod external;

use std::time::Duration;

use common::Dir;
use external::{Service, example, run_python, spawn, terminate, wait_for};
use serde_json::json;

/// Messages in `queue` now (0 if it does not exist yet).
fn queue_depth(url: &str, queue: &str) -> u64 {
    const CODE: &str = r#"
import sys, pika, pika.exceptions
c = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
try:
    print(c.channel().queue_declare(queue=sys.argv[2], passive=True).method.message_count)
except pika.exceptions.ChannelClosedByBroker:
    print(0)
"#;
    run_python(CODE, &[url, queue]).trim().parse().expect("a count")
}

/// Takes every message off `queue`: their message ids, in order.
fn drain(url: &str, queue: &str) -> Vec<String> {
    const CODE: &str = r#"
import sys, pika
c = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
ch = c.channel()
while True:
    method, props, body = ch.basic_get(sys.argv[2], auto_ack=True)
    if method is None:
        break
    print(props.message_id)
"#;
    run_python(CODE, &[url, queue]).lines().map(str::to_string).collect()
}

fn notifications(range: std::ops::Range<u64>) -> String {
    range.map(|i| json!({"key": format!("n{i}"), "value": {"n": i}}).to_string()).collect::<Vec<_>>().join("\n")
}

#[test]
fn confirmed_publishes_are_all_in_the_queue() {
    let amqp = Service::get("WEIR_AMQP_URL", "rabbitmq.sh", "amqp-publish");
    let queue = format!("notifications_{}", std::process::id());
    let dir = Dir::new("queue-publish");
    example(&dir, "queue-publish", &[("pipeline.yaml", "defaultValue: notifications", &format!("defaultValue: {queue}"))]);
    let run = spawn(&dir, &[("WEIR_AMQP_URL", &amqp.url)]);
    const N: u64 = 300;
    dir.produce("notifications", &notifications(0..N));
    wait_for(&dir, "every message in the queue", Duration::from_secs(60), || (queue_depth(&amqp.url, &queue) >= N).then_some(()));
    terminate(&dir, run);

    let ids = drain(&amqp.url, &queue);
    let expected: Vec<String> = (0..N).map(|i| format!("n{i}")).collect();
    assert_eq!(ids, expected, "one message per record, in order");
}

#[test]
fn an_unconfirmed_publish_is_not_committed() {
    let amqp = Service::get("WEIR_AMQP_URL", "rabbitmq.sh", "amqp-nack");
    let queue = format!("unconfirmed_{}", std::process::id());
    let dir = Dir::new("queue-unconfirmed");
    example(
        &dir,
        "queue-publish",
        &[
            ("pipeline.yaml", "defaultValue: notifications", &format!("defaultValue: {queue}")),
            ("pipeline.yaml", "defaultValue: 60", "defaultValue: 1"),
        ],
    );
    dir.produce("notifications", &notifications(0..3));
    // A port nothing listens on: no publish is ever confirmed.
    let nobody = "amqp://guest:guest@127.0.0.1:1/%2F";
    let mut run = spawn(&dir, &[("WEIR_AMQP_URL", nobody)]);
    let status = wait_for(&dir, "the run to stop on the error", Duration::from_secs(60), || run.0.try_wait().expect("poll"));
    assert_ne!(status.code(), Some(0), "the run went on without the broker:\n{}", dir.read("run.stderr"));
    let log = dir.read("run.stderr");
    assert!(log.contains("broker unreachable") && log.contains("notifications/0@0"), "the error names the record and the cause:\n{log}");

    // Nothing was committed: with the broker back, every record is published.
    let run = spawn(&dir, &[("WEIR_AMQP_URL", &amqp.url)]);
    wait_for(&dir, "the three messages", Duration::from_secs(60), || (queue_depth(&amqp.url, &queue) >= 3).then_some(()));
    terminate(&dir, run);
    assert_eq!(drain(&amqp.url, &queue), ["n0", "n1", "n2"]);
}

/// A publish the broker refuses (nacks: the queue is full and rejects new messages) raises
/// in the function: the run stops (stopOnFail) with that record uncommitted, and the records
/// before it, confirmed, are in the queue once.
#[test]
fn a_nacked_publish_stops_the_run_uncommitted() {
    let amqp = Service::get("WEIR_AMQP_URL", "rabbitmq.sh", "amqp-nacked");
    let queue = format!("full_{}", std::process::id());
    let dir = Dir::new("queue-nacked");
    example(
        &dir,
        "queue-publish",
        &[
            ("pipeline.yaml", "defaultValue: notifications", &format!("defaultValue: {queue}")),
            ("pipeline.yaml", r#"defaultValue: "{}""#, r#"defaultValue: '{"x-max-length": 2, "x-overflow": "reject-publish"}'"#),
        ],
    );
    dir.produce("notifications", &notifications(0..5));
    let mut run = spawn(&dir, &[("WEIR_AMQP_URL", &amqp.url)]);
    let status = wait_for(&dir, "the run to stop on the nack", Duration::from_secs(60), || run.0.try_wait().expect("poll"));
    assert_ne!(status.code(), Some(0), "the run went on past a nacked publish:\n{}", dir.read("run.stderr"));
    let log = dir.read("run.stderr");
    assert!(log.contains("NackError") && log.contains("notifications/0@2"), "the error names the nack and the record:\n{log}");
    let out = dir.weir(&["topic", "describe", "notifications"], "");
    common::assert_ok(&out, "weir topic describe");
    let described = common::stdout(&out);
    let committed = described.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() == 5 && f[0] == "queue-publish" && f[1] == "0").then(|| f[2].to_string())
    });
    // The two confirmed records are committed, the nacked one (offset 2) is not: a restart
    // starts with it.
    assert_eq!(committed.as_deref(), Some("2"), "the group's committed offset:\n{described}");
    assert_eq!(drain(&amqp.url, &queue), ["n0", "n1"], "the confirmed messages, once");
}
