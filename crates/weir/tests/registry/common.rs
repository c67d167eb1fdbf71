//! Helpers for the schema registry client tests: the fake registry (`fake_registry.py`,
//! started on a random loopback port per test), the reference Python (confluent-kafka, from
//! `scripts/python-deps.sh`), settings maps, and test certificates.

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;

use indexmap::IndexMap;
use serde_json::Value as Json;

/// This directory: the fake registry and the Python helpers.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/registry")
}

/// A running fake registry; stopped when dropped (its standard input closes).
pub struct Fake {
    child: Child,
    stdin: Option<ChildStdin>,
    /// `http://127.0.0.1:<port>` (or https).
    pub url: String,
}

impl Fake {
    pub fn start() -> Fake {
        Fake::with_args(&[])
    }

    pub fn with_args(args: &[&str]) -> Fake {
        let mut child = Command::new("python3")
            .arg(dir().join("fake_registry.py"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 fake_registry.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read the fake's address");
        let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("fake registry did not start: {line:?}")).to_string();
        let stdin = child.stdin.take();
        Fake { child, stdin, url }
    }

    fn control_agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .tls_config(ureq::tls::TlsConfig::builder().provider(ureq::tls::TlsProvider::NativeTls).disable_verification(true).build())
            .build()
            .new_agent()
    }

    /// Every request the fake served so far: `{"method", "path", "query", "authorization", "headers"}`.
    pub fn requests(&self) -> Vec<Json> {
        let mut response = Fake::control_agent().get(format!("{}/__requests", self.url)).call().expect("GET /__requests");
        let body: Json = response.body_mut().read_json().expect("requests JSON");
        body.as_array().expect("array").clone()
    }

    /// How many `method path` requests the fake served.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.requests().iter().filter(|r| r["method"] == method && r["path"] == path).count()
    }

    /// `GET <url><path>` on the fake's API (a request like any client's, so recorded).
    pub fn get(&self, path: &str) -> Json {
        let mut response = Fake::control_agent().get(format!("{}{path}", self.url)).call().unwrap_or_else(|e| panic!("GET {path}: {e}"));
        response.body_mut().read_json().unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// Sets the fake's behaviour: `{"delay_ms": n}`, `{"fail": [503, …]}`.
    pub fn control(&self, body: Json) {
        Fake::control_agent().post(format!("{}/__control", self.url)).send_json(body).expect("POST /__control");
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if self.child.wait().is_err() {
            let _ = self.child.kill();
        }
    }
}

/// The python of `.venv-test`, where `scripts/python-deps.sh` installs the reference
/// implementations pinned in `scripts/python-requirements.txt` (confluent-kafka's registry
/// client and serdes, fastavro), installing them first if needed (once per test binary; the
/// script takes a lock, so test binaries running at once share one install).
pub fn reference_python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = Command::new("bash").arg(root.join("scripts/python-deps.sh")).output().expect("run scripts/python-deps.sh");
        assert!(
            out.status.success(),
            "scripts/python-deps.sh failed (it installs scripts/python-requirements.txt from PyPI):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = String::from_utf8_lossy(&out.stdout).lines().last().expect("the script prints the venv's python").trim().to_string();
        PathBuf::from(path)
    })
}

/// A settings map.
pub fn settings(pairs: &[(&str, &str)]) -> IndexMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A loopback URL nothing listens on (a port bound, then released).
pub fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A scratch directory, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!("weir-registry-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create scratch dir");
        Scratch(path)
    }

    pub fn file(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A test CA (`ca.pem`), a server certificate for 127.0.0.1 (`server.pem`, `server.key`) and
/// a client certificate (`client.pem`, `client.key`, and both in `client-all.pem`), all
/// signed by the CA, made with the openssl command line. Keys are unencrypted PKCS#8.
pub fn certificates(scratch: &Scratch) {
    let d = &scratch.0;
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=weir test CA", "-keyout", "ca.key", "-out", "ca.pem"];
    ca.extend(ec);
    openssl(d, &ca);
    for (name, extra) in [("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"), ("client", "extendedKeyUsage=clientAuth")] {
        let subject = format!("/CN=weir test {name}");
        let (key, csr, pem) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"));
        let mut req = vec!["req", "-new", "-subj", &subject, "-keyout", &key, "-out", &csr];
        req.extend(ec);
        openssl(d, &req);
        let ext = format!("{name}.ext");
        std::fs::write(d.join(&ext), format!("{extra}\n")).expect("write ext file");
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-days",
                "2",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-extfile",
                &ext,
                "-out",
                &pem,
            ],
        );
    }
    let all = std::fs::read_to_string(d.join("client.pem")).expect("client.pem")
        + &std::fs::read_to_string(d.join("client.key")).expect("client.key");
    std::fs::write(d.join("client-all.pem"), all).expect("write client-all.pem");
}

/// KSML's `SensorData` Avro schema (from KSML's examples).
pub fn sensor_data_schema() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ksml/schemas/SensorData.avsc");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Runs `confluent_avro.py <url> <topic> <op>` (Confluent's AvroSerializer /
/// AvroDeserializer) with `input` on stdin; returns its JSON output.
pub fn confluent_avro(url: &str, topic: &str, op: &str, input: &Json) -> Json {
    use std::io::Write as _;
    let mut child = Command::new(reference_python())
        .arg(dir().join("confluent_avro.py"))
        .args([url, topic, op])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start confluent_avro.py");
    // A script that fails early stops reading: its stderr says why, below.
    let _ = child.stdin.take().expect("stdin").write_all(input.to_string().as_bytes());
    let out = child.wait_with_output().expect("wait for confluent_avro.py");
    assert!(out.status.success(), "confluent_avro.py {op} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("confluent_avro.py printed bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}
