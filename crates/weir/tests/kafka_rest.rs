//! The REST API of an application scaled out on a real Apache Kafka broker
//! (`scripts/kafka.sh`; see `kafka/common.rs`): two `weir run` processes share a count store
//! over a 4-partition input, each holding the tasks of its partitions, and either one answers
//! for every key, forwarding to the other what the other holds (docs/operate.md, "Routing").

#[path = "kafka/common.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{App, bootstrap, create_topic, interrupt, produce, serial, unique, wait};
use serde_json::{Value as Json, json};
use weir_engine::partitioner::partition_for_key;

const COUNT: &str = "streams:\n  words:\n    topic: {IN}\n    keyType: string\n    valueType: string\npipelines:\n  p:\n    from: words\n    via:\n      - type: groupByKey\n      - type: count\n        name: word_count\n      - type: toStream\n    to:\n      topic: {OUT}\n      keyType: string\n      valueType: long\n";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Status, `Retry-After` and body of a GET.
fn get(url: &str) -> (u16, Option<String>, String) {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(20))).build().into();
    match agent.get(url).call() {
        Ok(mut r) => {
            let retry = r.headers().get("Retry-After").and_then(|v| v.to_str().ok()).map(str::to_string);
            (r.status().as_u16(), retry, r.body_mut().read_to_string().unwrap_or_default())
        }
        Err(e) => (0, None, e.to_string()),
    }
}

/// `{"key", "value"}` entries as (key, count).
fn entries(body: &str) -> Vec<(String, i64)> {
    let json: Json = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    json.as_array()
        .unwrap_or_else(|| panic!("not an array: {body}"))
        .iter()
        .map(|e| (e["key"].as_str().expect("key").to_string(), e["value"].as_i64().expect("value")))
        .collect()
}

/// Polls `url` until it answers 200 and `done` holds on the body, or `timeout` passes; the
/// last answer. A 503 on the way must carry `Retry-After`.
fn until(url: &str, timeout: Duration, done: impl Fn(&str) -> bool) -> (u16, String) {
    let start = Instant::now();
    loop {
        let (status, retry, body) = get(url);
        if status == 503 {
            assert!(retry.is_some(), "a 503 without Retry-After from {url}: {body}");
        }
        if (status == 200 && done(&body)) || start.elapsed() > timeout {
            return (status, body);
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn either_process_answers_for_every_key_of_a_store_split_between_two() {
    let _serial = serial();
    let b = bootstrap();
    let (input, output) = (unique("rest-words"), unique("rest-counts"));
    create_topic(b, &input, 4);
    create_topic(b, &output, 4);
    let app = App::new("rest", b, &COUNT.replace("{IN}", &input).replace("{OUT}", &output), "");
    let config = std::fs::read_to_string(app.dir.join("ksml-runner.yaml")).expect("config");
    let ports = [free_port(), free_port()];
    for (name, port) in ["first", "second"].iter().zip(ports) {
        let with_rest = config.replacen(
            "ksml:\n",
            &format!("ksml:\n  applicationServer:\n    enabled: true\n    host: 127.0.0.1\n    port: {port}\n"),
            1,
        );
        std::fs::write(app.dir.join(format!("{name}.yaml")), with_rest).expect("config");
    }
    let mut first = app.spawn_config("first", "first.yaml");
    let mut second = app.spawn_config("second", "second.yaml");
    let urls: Vec<String> = ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect();

    // Keys partitioned as Kafka's default partitioner (and a Kafka Streams producer) puts them;
    // 24 keys, key k counted k % 5 + 1 times.
    let keys: Vec<String> = (0..24).map(|k| format!("word-{k}")).collect();
    let by_partition: BTreeSet<u32> = keys.iter().map(|k| partition_for_key(k.as_bytes(), 4)).collect();
    assert_eq!(by_partition.len(), 4, "the keys cover every partition");
    let mut records = Vec::new();
    let mut expected = BTreeMap::new();
    for (k, key) in keys.iter().enumerate() {
        let times = k % 5 + 1;
        expected.insert(key.clone(), times as i64);
        for _ in 0..times {
            records.push(json!({"key": key, "value": "x", "partition": partition_for_key(key.as_bytes(), 4)}));
        }
    }
    produce(b, &input, &records);

    // Both ready, and every count in: /all from each answers the whole store.
    for url in &urls {
        let start = Instant::now();
        while get(&format!("{url}/ready")).0 != 204 {
            let metrics = get(&format!("{url}/state/keyValue/word_count/local/all"));
            assert!(start.elapsed() < Duration::from_secs(60), "{url} never ready ({metrics:?})\n{}", app.stderr_of("first"));
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    let complete = |body: &str| entries(body).into_iter().collect::<BTreeMap<_, _>>() == expected;
    for url in &urls {
        let (status, body) = until(&format!("{url}/state/keyValue/word_count/all"), Duration::from_secs(120), complete);
        assert_eq!(status, 200, "{url}: {body}\nfirst:\n{}\nsecond:\n{}", app.stderr_of("first"), app.stderr_of("second"));
        assert!(complete(&body), "{url}/all is not complete: {body}");
    }

    // /all is the same, in the same order, from either.
    let alls: Vec<String> = urls.iter().map(|u| get(&format!("{u}/state/keyValue/word_count/all")).2).collect();
    assert_eq!(entries(&alls[0]), entries(&alls[1]), "/all differs between the processes");
    let in_order: Vec<String> = entries(&alls[0]).into_iter().map(|(k, _)| k).collect();
    let mut sorted = in_order.clone();
    sorted.sort();
    assert_eq!(in_order, sorted, "/all in the store's key order");

    // Each process holds part of the store: /local/all are strict subsets that partition it.
    let locals: Vec<BTreeMap<String, i64>> = urls
        .iter()
        .map(|u| {
            let (status, _, body) = get(&format!("{u}/state/keyValue/word_count/local/all"));
            assert_eq!(status, 200, "{u}/local/all: {body}");
            entries(&body).into_iter().collect()
        })
        .collect();
    for (url, local) in urls.iter().zip(&locals) {
        assert!(!local.is_empty() && local.len() < expected.len(), "{url}/local/all is not a strict subset: {local:?}");
    }
    assert!(locals[0].keys().all(|k| !locals[1].contains_key(k)), "a key held by both: {locals:?}");
    let mut union = locals[0].clone();
    union.extend(locals[1].clone());
    assert_eq!(union, expected, "the /local/all of both are the store");

    // Every key from either process, whichever holds it; an absent key is null from both.
    for url in &urls {
        for (key, count) in &expected {
            let (status, _, body) = get(&format!("{url}/state/keyValue/word_count/get/{key}"));
            assert_eq!(status, 200, "{url} get {key}: {body}");
            let json: Json = serde_json::from_str(&body).expect("JSON");
            assert_eq!((&json["key"], &json["value"]), (&json!(key), &json!(count)), "{url} get {key}: {body}");
        }
        let (status, _, body) = get(&format!("{url}/state/keyValue/word_count/get/no-such-word"));
        assert_eq!((status, serde_json::from_str::<Json>(&body).ok()), (200, Some(json!({"key": "no-such-word", "value": null}))), "{url}");
        // Paging over the merged store: the first 5 keys.
        let (status, _, body) = get(&format!("{url}/state/keyValue/word_count/all?limit=5"));
        assert_eq!(status, 200, "{body}");
        assert_eq!(entries(&body).into_iter().map(|(k, _)| k).collect::<Vec<_>>(), sorted[..5].to_vec(), "{url} limit=5");
    }

    // The second process stops: its tasks move to the first, which then answers for every key
    // alone; meanwhile answers are complete or 503 with Retry-After, never partial.
    interrupt(&second);
    assert_eq!(wait(&mut second, Duration::from_secs(60), "second weir"), Some(0), "{}", app.stderr_of("second"));
    let start = Instant::now();
    loop {
        let (status, retry, body) = get(&format!("{}/state/keyValue/word_count/all", urls[0]));
        match status {
            200 => {
                assert!(complete(&body), "a partial /all while tasks moved: {body}");
                let local = get(&format!("{}/state/keyValue/word_count/local/all", urls[0])).2;
                if entries(&local).len() == expected.len() {
                    break;
                }
            }
            503 => assert!(retry.is_some(), "503 without Retry-After: {body}"),
            other => panic!("/all answered {other} while tasks moved: {body}"),
        }
        assert!(start.elapsed() < Duration::from_secs(120), "the first process never took over\n{}", app.stderr_of("first"));
        std::thread::sleep(Duration::from_millis(200));
    }
    interrupt(&first);
    assert_eq!(wait(&mut first, Duration::from_secs(60), "first weir"), Some(0), "{}", app.stderr_of("first"));
    let log = app.stderr_of("first");
    assert!(log.contains(&format!("advertising the REST API at {}", urls[0])), "{log}");
}
