//! `weir topic` end to end: the built binary on a log in a temporary directory.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use weir_log::Log;

/// A fresh directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("weir-topic-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn storage(&self) -> PathBuf {
        self.0.join("state")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `weir topic <args> --storage <dir>/state` in `dir`, with `stdin` as input.
fn topic(dir: &TempDir, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("topic")
        .args(args)
        .arg("--storage")
        .arg(dir.storage())
        .current_dir(&dir.0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run weir");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("wait for weir")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and expects success; returns stdout.
fn ok(dir: &TempDir, args: &[&str], stdin: &str) -> String {
    let out = topic(dir, args, stdin);
    assert_eq!(out.status.code(), Some(0), "weir topic {args:?}\nstdout:\n{}\nstderr:\n{}", stdout(&out), stderr(&out));
    stdout(&out)
}

/// Runs and expects failure (exit 2); returns stderr.
fn fails(dir: &TempDir, args: &[&str], stdin: &str) -> String {
    let out = topic(dir, args, stdin);
    assert_eq!(out.status.code(), Some(2), "weir topic {args:?}\nstdout:\n{}\nstderr:\n{}", stdout(&out), stderr(&out));
    stderr(&out)
}

const RECORDS: &str = r#"{"key": "alice", "value": {"amount": 10, "items": ["a", "b"]}, "timestamp": 1795316400000, "headers": {"source": "web", "version": 2}, "partition": 0}
{"key": "bob", "value": "plain text", "timestamp": 1795316400001, "partition": 1}

{"value": 42, "timestamp": 1795316400002, "partition": 0}
{"key": "carol", "value": null, "timestamp": 0, "partition": 1}
{"key": {"id": 7}, "value": "line\nbreak", "timestamp": 1795316400003, "partition": 0}
"#;

#[test]
fn create_list_and_describe() {
    let dir = TempDir::new("describe");
    assert!(fails(&dir, &["list"], "").contains("no embedded log in"));
    assert_eq!(
        ok(&dir, &["create", "orders", "--partitions", "2"], ""),
        "created topic 'orders': 2 partitions, cleanup.policy=delete, retention 7d\n"
    );
    assert_eq!(
        ok(&dir, &["create", "totals", "--compact"], ""),
        "created topic 'totals': 1 partition, cleanup.policy=compact, retention forever\n"
    );
    assert_eq!(
        ok(&dir, &["create", "events", "--compact", "--retention", "90m"], ""),
        "created topic 'events': 1 partition, cleanup.policy=compact,delete, retention 90m\n"
    );
    assert!(fails(&dir, &["create", "orders"], "").contains("topic 'orders' already exists"));
    assert!(fails(&dir, &["create", "x", "--retention", "soon"], "").contains("invalid duration 'soon'"));
    ok(&dir, &["produce", "orders"], RECORDS);

    // A consumer group that has read part of partition 0.
    {
        let (log, _) = Log::open(dir.storage()).expect("open the log");
        log.commit("my-app", &[("orders", 0, 1)]).expect("commit");
        log.commit("other", &[("totals", 0, 0)]).expect("commit");
    }

    assert_eq!(
        ok(&dir, &["list"], ""),
        "TOPIC   PARTITIONS  CLEANUP         START  END\n\
         events  1           compact,delete  0      0\n\
         orders  2           delete          0      5\n\
         totals  1           compact         0      0\n"
    );
    assert_eq!(
        ok(&dir, &["describe", "orders"], ""),
        "topic 'orders'\n\
         \x20 partitions           2\n\
         \x20 cleanup.policy       delete\n\
         \x20 retention.ms         604800000 (7d)\n\
         \x20 retention.bytes      -1 (unlimited)\n\
         \x20 segment.bytes        67108864\n\
         \x20 delete.retention.ms  86400000 (1d)\n\
         \n\
         PARTITION  START  END  RECORDS  SEGMENTS  BYTES\n\
         0          0      3    3        1         200\n\
         1          0      2    2        1         92\n\
         \n\
         GROUP   PARTITION  COMMITTED  END  LAG\n\
         my-app  0          1          3    2\n"
    );
    assert!(
        ok(&dir, &["describe", "totals"], "").ends_with("\nGROUP  PARTITION  COMMITTED  END  LAG\nother  0          0          0    0\n")
    );
    assert!(ok(&dir, &["describe", "events"], "").ends_with("\nno consumer group has committed offsets for 'events'\n"));
    let err = fails(&dir, &["describe", "order"], "");
    assert!(err.contains("unknown topic 'order'") && err.contains("did you mean 'orders'?"), "{err}");
}

#[test]
fn produce_then_consume_in_both_formats() {
    let dir = TempDir::new("consume");
    ok(&dir, &["create", "orders", "--partitions", "2"], "");
    let out = topic(&dir, &["produce", "orders"], RECORDS);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "produced 5 records to 'orders'\n  partition 0: 3 records, offsets 0..=2\n  partition 1: 2 records, offsets 0..=1\n"
    );
    assert_eq!(stderr(&out), "");

    let text = ok(&dir, &["consume", "orders", "--from-beginning"], "");
    assert_eq!(
        text,
        "p0@0 2026-11-22T03:00:00.000Z key=alice value={\"amount\":10,\"items\":[\"a\",\"b\"]} headers={source=web, version=2}\n\
         p0@1 2026-11-22T03:00:00.002Z key=null value=42 headers={}\n\
         p0@2 2026-11-22T03:00:00.003Z key={\"id\":7} value=line\\nbreak headers={}\n\
         p1@0 2026-11-22T03:00:00.001Z key=bob value=plain text headers={}\n\
         p1@1 1970-01-01T00:00:00.000Z key=carol value=null headers={}\n"
    );
    let json = ok(&dir, &["consume", "orders", "--from-beginning", "--format", "json"], "");
    assert_eq!(
        json,
        r#"{"partition":0,"offset":0,"timestamp":1795316400000,"time":"2026-11-22T03:00:00.000Z","key":"alice","value":{"amount":10,"items":["a","b"]},"headers":{"source":"web","version":"2"}}
{"partition":0,"offset":1,"timestamp":1795316400002,"time":"2026-11-22T03:00:00.002Z","key":null,"value":42,"headers":{}}
{"partition":0,"offset":2,"timestamp":1795316400003,"time":"2026-11-22T03:00:00.003Z","key":{"id":7},"value":"line\nbreak","headers":{}}
{"partition":1,"offset":0,"timestamp":1795316400001,"time":"2026-11-22T03:00:00.001Z","key":"bob","value":"plain text","headers":{}}
{"partition":1,"offset":1,"timestamp":0,"time":"1970-01-01T00:00:00.000Z","key":"carol","value":null,"headers":{}}
"#
    );

    // --partition, --max, and --follow that stops at --max.
    assert_eq!(ok(&dir, &["consume", "orders", "--from-beginning", "--partition", "1", "--max", "1"], "").lines().count(), 1);
    assert!(ok(&dir, &["consume", "orders", "--from-beginning", "--partition", "1"], "").starts_with("p1@0 "));
    assert_eq!(ok(&dir, &["consume", "orders", "--from-beginning", "--follow", "--max", "5"], ""), text);
    // From the end (the default) there is nothing to print.
    let out = topic(&dir, &["consume", "orders"], "");
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(0), ""));
    assert!(stderr(&out).contains("add --from-beginning"), "{}", stderr(&out));

    let err = fails(&dir, &["consume", "orders", "--partition", "2"], "");
    assert!(err.contains("partition 2 out of range for topic 'orders' (it has 2 partitions)"), "{err}");
    assert!(fails(&dir, &["consume", "nope"], "").contains("unknown topic 'nope'"));
}

#[test]
fn auto_created_topics_have_one_partition() {
    let dir = TempDir::new("auto");
    let out = topic(&dir, &["produce", "new"], "{\"value\": 1, \"partition\": 1}\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("note: created topic 'new' (1 partition, cleanup.policy=delete, retention 7d)"), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 1 of stdin: partition 1 out of range for topic 'new' (it has 1 partition)"), "{}", stderr(&out));
    assert_eq!(stdout(&out), "produced 0 records to 'new'\n");
}

#[test]
fn json_output_produces_back_the_same_records() {
    let dir = TempDir::new("roundtrip");
    ok(&dir, &["create", "a", "--partitions", "2"], "");
    ok(&dir, &["create", "b", "--partitions", "2"], "");
    let input = format!(
        "{RECORDS}{}\n",
        [
            r#"{"key": "null", "value": "\"quoted\"", "timestamp": 7}"#,
            r#"{"key": "007", "value": "1e5", "timestamp": 8}"#,
            r#"{"keyHex": "00ff", "valueHex": "c328", "timestamp": 9, "partition": 1}"#,
            r#"{"key": "k", "value": " {\"a\": 1}", "timestamp": 10}"#,
        ]
        .join("\n")
    );
    ok(&dir, &["produce", "a"], &input);
    let from_a = ok(&dir, &["consume", "a", "--from-beginning", "--format", "json"], "");
    assert!(from_a.contains(r#""keyHex":"00ff","valueHex":"c328""#), "{from_a}");
    assert!(from_a.contains(r#""key":"null","value":"\"quoted\"""#), "{from_a}");
    assert!(from_a.contains(r#""key":"007","value":"1e5""#), "{from_a}");
    assert!(from_a.contains(r#""key":"k","value":" {\"a\": 1}""#), "{from_a}");
    // Through a file, as `consume ... > a.jsonl; produce --file a.jsonl` would.
    std::fs::write(dir.0.join("a.jsonl"), &from_a).expect("write");
    assert!(ok(&dir, &["produce", "b", "--file", "a.jsonl"], "").starts_with("produced 9 records to 'b'\n"));
    let from_b = ok(&dir, &["consume", "b", "--from-beginning", "--format", "json"], "");
    assert_eq!(from_b, from_a);
    // And the bytes themselves are the same: the text rendering agrees too.
    assert_eq!(ok(&dir, &["consume", "b", "--from-beginning"], ""), ok(&dir, &["consume", "a", "--from-beginning"], ""));
}

/// `toPositive(murmur2(key)) % n` from the values in Kafka's `UtilsTest.testMurmur2`.
const KAFKA_MURMUR2: &[(&str, i32)] = &[
    ("21", -973_932_308),
    ("foobar", -790_332_482),
    ("a-little-bit-long-string", -985_981_536),
    ("a-little-bit-longer-string", -1_486_304_829),
    ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
    ("abc", 479_470_107),
];

#[test]
fn keyed_records_are_partitioned_as_kafka_does() {
    let dir = TempDir::new("partitioner");
    ok(&dir, &["create", "keyed", "--partitions", "7"], "");
    let lines: String = KAFKA_MURMUR2.iter().map(|(k, _)| format!("{{\"key\": \"{k}\", \"value\": 1}}\n")).collect();
    ok(&dir, &["produce", "keyed"], &lines);
    ok(&dir, &["produce", "keyed"], &lines);
    let json = ok(&dir, &["consume", "keyed", "--from-beginning", "--format", "json"], "");
    let mut seen = 0;
    for line in json.lines() {
        let record: serde_json::Value = serde_json::from_str(line).expect("json line");
        // The key "21" is shown as the JSON number it reads as.
        let key = match &record["key"] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let &(_, hash) = KAFKA_MURMUR2.iter().find(|(k, _)| *k == key).expect("known key");
        let expected = ((hash as u32) & 0x7fff_ffff) % 7;
        assert_eq!(record["partition"], expected, "{key}");
        seen += 1;
    }
    assert_eq!(seen, 2 * KAFKA_MURMUR2.len());

    // Records without key and without partition go round-robin.
    ok(&dir, &["create", "rr", "--partitions", "3"], "");
    assert_eq!(
        ok(&dir, &["produce", "rr", "--raw"], "one\ntwo\nthree\nfour\n"),
        "produced 4 records to 'rr'\n  partition 0: 2 records, offsets 0..=1\n  partition 1: 1 record, offset 0\n  partition 2: 1 record, offset 0\n"
    );
    let text = ok(&dir, &["consume", "rr", "--from-beginning", "--partition", "0"], "");
    let values: Vec<&str> = text.lines().map(|l| l.split(" key=null value=").nth(1).expect("value")).collect();
    assert_eq!(values, ["one headers={}", "four headers={}"]);
}

#[test]
fn a_bad_line_stops_produce_with_its_line_number() {
    let dir = TempDir::new("badline");
    let out = topic(&dir, &["produce", "t"], "{\"value\": 1}\n\n{\"value\": 2}\n{\"value\": 3,}\n{\"value\": 4}\n");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("error: line 4 of stdin: invalid JSON: "), "{err}");
    assert!(err.contains("stopped there (the records before it were produced)"), "{err}");
    assert_eq!(stdout(&out), "produced 2 records to 't'\n  partition 0: 2 records, offsets 0..=1\n");
    assert_eq!(ok(&dir, &["consume", "t", "--from-beginning"], "").lines().count(), 2);

    for (line, message) in [
        ("{\"key\": 1}", "line 1 of stdin: no \"value\""),
        ("[1, 2]", "line 1 of stdin: expected a JSON object"),
        ("{\"vaule\": 1}", "unknown field 'vaule' (fields: key, value, timestamp, headers, partition); did you mean 'value'?"),
        ("{\"value\": 1, \"timestamp\": \"now\"}", "\"timestamp\" must be milliseconds since the epoch (an integer), not a string"),
        ("{\"value\": 1, \"headers\": {\"h\": null}}", "header 'h' must not be null"),
        ("{\"valueHex\": \"abc\"}", "\"valueHex\" is not hexadecimal"),
    ] {
        let err = fails(&dir, &["produce", "t"], &format!("{line}\n"));
        assert!(err.contains(message), "{line}: {err}");
    }
    ok(&dir, &["create", "c", "--compact"], "");
    assert!(fails(&dir, &["produce", "c"], "{\"value\": 1}\n").contains("record without key for compacted topic 'c'"));
    assert!(fails(&dir, &["produce", "t", "--file", "missing.jsonl"], "").contains("cannot open 'missing.jsonl'"));
}

#[test]
fn a_log_locked_without_a_control_socket_names_the_process_holding_it() {
    let dir = TempDir::new("locked");
    ok(&dir, &["create", "t"], "");
    // Held by this test process, which (unlike `weir run`) serves no control socket.
    let (log, _) = Log::open(dir.storage()).expect("open the log");
    for args in [&["list"][..], &["consume", "t", "--from-beginning"], &["produce", "t"]] {
        let err = fails(&dir, args, "{\"value\": 1}\n");
        assert!(err.contains(&format!("is in use by process {}", std::process::id())), "{err}");
        assert!(err.contains("which is not a `weir run` (nothing answers at '"), "{err}");
        assert!(err.contains("wait for it to end or stop it, then try again"), "{err}");
    }
    drop(log);
    assert!(ok(&dir, &["list"], "").contains("\nt  "));
}

#[test]
fn storage_defaults_to_weir_state_in_the_current_directory() {
    let dir = TempDir::new("default");
    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
            .arg("topic")
            .args(args)
            .current_dir(&dir.0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run weir");
        child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
        child.wait_with_output().expect("wait")
    };
    assert_eq!(run(&["produce", "t", "--raw"], "hello\n").status.code(), Some(0));
    assert!(Path::new(&dir.0).join(".weir-state/topics/t/topic.properties").is_file());
    assert!(stdout(&run(&["consume", "t", "--from-beginning"], "")).ends_with(" key=null value=hello headers={}\n"));
}
