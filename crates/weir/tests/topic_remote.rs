//! `weir topic` against a running `weir run`: the commands go through the control socket to
//! the process that holds the embedded log, so a running pipeline can be fed and watched.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn weir(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_weir"));
    c.current_dir(dir);
    c
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("weir-remote-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn produce(dir: &Path, topic: &str, lines: &str) -> Output {
    let mut child = weir(dir)
        .args(["topic", "produce", topic])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    use std::io::Write as _;
    child.stdin.take().expect("stdin").write_all(lines.as_bytes()).expect("write");
    child.wait_with_output().expect("wait")
}

/// `upper.yaml`: a pipeline from `input` to `output` that upper-cases `value.text`.
fn write_upper(dir: &Path) {
    std::fs::write(
        dir.join("upper.yaml"),
        "pipelines:\n  upper:\n    from:\n      topic: input\n      keyType: string\n      valueType: json\n    via:\n      - type: mapValues\n        mapper:\n          expression: '{\"text\": value[\"text\"].upper()}'\n          resultType: json\n    to:\n      topic: output\n      keyType: string\n      valueType: json\n",
    )
    .expect("write definition");
}

/// Starts `weir run upper.yaml` in `dir`; returns it once its control socket exists, and the
/// socket's path.
fn start_upper(dir: &Path) -> (Child, PathBuf) {
    let run = weir(dir).args(["run", "upper.yaml"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start weir run");
    let socket = dir.join(".weir-state/weir.sock");
    let started = Instant::now();
    while !socket.exists() {
        assert!(started.elapsed() < Duration::from_secs(20), "weir run did not open its control socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    (run, socket)
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    let status = child.wait().expect("wait");
    assert!(status.success(), "weir run did not stop cleanly: {status}");
}

#[test]
fn a_running_pipeline_is_fed_and_read_through_its_socket() {
    let dir = temp_dir("feed");
    write_upper(&dir);
    let (mut run, socket) = start_upper(&dir);
    let out =
        produce(&dir, "input", "{\"key\": \"a\", \"value\": {\"text\": \"hello\"}}\n{\"key\": \"b\", \"value\": {\"text\": \"weir\"}}\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("produced 2 records to 'input'"), "{}", String::from_utf8_lossy(&out.stdout));
    // The pipeline's output, read while it runs (--follow --max waits for both records).
    let out = weir(&dir)
        .args(["topic", "consume", "output", "--from-beginning", "--follow", "--max", "2", "--format", "json"])
        .output()
        .expect("consume");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let values: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(values.len(), 2, "{text}");
    assert_eq!(values[0]["value"], serde_json::json!({"text": "HELLO"}));
    assert_eq!(values[1]["key"], "b");
    // The log-level flags are the client's: a command given them runs remotely too.
    for args in [["-q", "topic", "list"], ["topic", "-v", "list"]] {
        let out = weir(&dir).args(args).output().expect("list");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("output"), "{args:?}: {}", String::from_utf8_lossy(&out.stdout));
    }
    // A failing remote command reports its own error and fails.
    let out = weir(&dir).args(["topic", "describe", "nope"]).output().expect("describe");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown topic 'nope'"), "{}", String::from_utf8_lossy(&out.stderr));
    stop(&mut run);
    assert!(!socket.exists() || std::os::unix::net::UnixStream::connect(&socket).is_err(), "the socket outlived weir run");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A consumer never holds the application out: `consume --follow` opens the free log itself,
/// then hands it over when `weir run` starts on the same storage, and goes on printing the
/// run's output through the run's control socket.
#[test]
fn a_following_consumer_hands_the_log_over_to_a_run_started_after_it() {
    let dir = temp_dir("handover");
    write_upper(&dir);
    for topic in ["input", "output"] {
        let out = weir(&dir).args(["topic", "create", topic]).output().expect("create");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let consumer = weir(&dir)
        .args(["topic", "consume", "output", "--follow", "--max", "3", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the consumer");
    // The consumer holds the log (the lock file names its pid) before the run starts.
    let lock = dir.join(".weir-state/.lock");
    let started = Instant::now();
    while std::fs::read_to_string(&lock).unwrap_or_default().trim() != consumer.id().to_string() {
        assert!(started.elapsed() < Duration::from_secs(20), "the consumer did not open the log");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut run = weir(&dir).args(["run", "upper.yaml"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("start weir run");
    let socket = dir.join(".weir-state/weir.sock");
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        if let Some(status) = run.try_wait().expect("poll weir run") {
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(&mut run.stderr.take().expect("stderr"), &mut err);
            panic!("weir run did not start ({status}): {err}");
        }
        assert!(started.elapsed() < Duration::from_secs(30), "weir run did not open its control socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Fed in two goes: the consumer prints what the run writes after it took the log over.
    let out = produce(&dir, "input", "{\"key\": \"a\", \"value\": {\"text\": \"hello\"}}\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out =
        produce(&dir, "input", "{\"key\": \"b\", \"value\": {\"text\": \"weir\"}}\n{\"key\": \"c\", \"value\": {\"text\": \"log\"}}\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(consumer.wait_with_output());
    });
    let out = finished.recv_timeout(Duration::from_secs(30)).expect("the consumer printed 3 records and ended").expect("wait");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let values: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    let texts: Vec<&serde_json::Value> = values.iter().map(|v| &v["value"]["text"]).collect();
    assert_eq!(texts, ["HELLO", "WEIR", "LOG"], "{text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("handed it over"), "{}", String::from_utf8_lossy(&out.stderr));
    stop(&mut run);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The frames a connection to the control socket gets until its exit status: (stderr text,
/// status).
fn answer(stream: &mut std::os::unix::net::UnixStream) -> (String, u8) {
    use std::io::Read as _;
    let mut stderr = String::new();
    loop {
        let mut head = [0u8; 5];
        stream.read_exact(&mut head).expect("a frame");
        let mut body = vec![0; u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize];
        stream.read_exact(&mut body).expect("the frame's body");
        match head[0] {
            b'e' => stderr.push_str(&String::from_utf8_lossy(&body)),
            b'x' => return (stderr, body[0]),
            _ => {}
        }
    }
}

/// The control socket is the user's alone (mode 0600, the peer checked on connect), takes a
/// bounded request line, and serves a bounded number of connections; a refused or malformed
/// request is answered with an error and leaves the run serving the next command.
#[test]
fn the_control_socket_is_private_and_bounded() {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt as _;
    use std::os::unix::net::UnixStream;
    let dir = temp_dir("bounds");
    write_upper(&dir);
    let (mut run, socket) = start_upper(&dir);
    let mode = std::fs::metadata(&socket).expect("socket").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "only its user may connect");

    // A request line with no end: refused at 64 KiB, not read on.
    let mut long = UnixStream::connect(&socket).expect("connect");
    long.write_all(&vec![b'['; 70 * 1024]).expect("write");
    let (stderr, status) = answer(&mut long);
    assert_eq!(status, 2);
    assert!(stderr.contains("must end within 65536 bytes"), "{stderr}");

    // 32 connections that send nothing hold every slot; the next is refused at once.
    let idle: Vec<UnixStream> = (0..32).map(|_| UnixStream::connect(&socket).expect("connect")).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut one_more = UnixStream::connect(&socket).expect("connect");
    let (stderr, status) = answer(&mut one_more);
    assert_eq!(status, 2);
    assert!(stderr.contains("already serves 32"), "{stderr}");
    // Closed, they free their slots: a command goes through again.
    drop(idle);
    let started = Instant::now();
    loop {
        let out = weir(&dir).args(["topic", "list"]).output().expect("list");
        if out.status.success() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{}", String::from_utf8_lossy(&out.stderr));
        std::thread::sleep(Duration::from_millis(100));
    }
    stop(&mut run);
    let _ = std::fs::remove_dir_all(&dir);
}
