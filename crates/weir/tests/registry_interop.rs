//! Interop with Confluent's reference client: confluent-kafka's `SchemaRegistryClient`
//! (Python, installed by `scripts/python-deps-registry.sh` into `target/venv-registry`) and
//! Weir's client share the fake registry. What one registers, the other reads by id, as the
//! latest version and by lookup, with the same kind and references. This shows both that
//! Weir's client speaks Confluent's API as the reference client does, and that the fake the
//! other tests use answers the reference client's requests as a registry would.

#[path = "../src/registry.rs"]
#[allow(dead_code)]
mod registry;

#[path = "registry/common.rs"]
mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use common::{Fake, settings};
use serde_json::{Value as Json, json};
use weir_engine::registry::{RegistrySchema, SchemaKind, SchemaReference};

const ORDER: &str =
    r#"{"type":"record","name":"Order","namespace":"io.weir","fields":[{"name":"id","type":"long"},{"name":"note","type":"string"}]}"#;
const EVENT: &str = r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"at":{"type":"string"}}}"#;
const MONEY: &str = "syntax = \"proto3\";\npackage io.weir;\n\nmessage Money {\n  int64 cents = 1;\n}\n";
const PAYMENT: &str = "syntax = \"proto3\";\npackage io.weir;\n\nimport \"money.proto\";\n\nmessage Payment {\n  Money amount = 1;\n}\n";

/// The venv's python, installing confluent-kafka first if needed (once per test binary).
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = Command::new("bash")
            .arg(root.join("scripts/python-deps-registry.sh"))
            .current_dir(&root)
            .output()
            .expect("run python-deps-registry.sh");
        assert!(
            out.status.success(),
            "scripts/python-deps-registry.sh failed (it installs confluent-kafka from PyPI):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = String::from_utf8_lossy(&out.stdout).lines().last().expect("the script prints the venv's python").trim().to_string();
        root.join(path)
    })
}

/// Runs `ops` with confluent-kafka's client against `url`; returns its results.
fn confluent(url: &str, ops: Json) -> Vec<Json> {
    let mut child = Command::new(python())
        .arg(common::dir().join("confluent_client.py"))
        .arg(url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start confluent_client.py");
    child.stdin.take().expect("stdin").write_all(ops.to_string().as_bytes()).expect("write ops");
    let out = child.wait_with_output().expect("wait for confluent_client.py");
    assert!(out.status.success(), "confluent_client.py failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let results: Json = serde_json::from_slice(&out.stdout).expect("results JSON");
    results.as_array().expect("a list").clone()
}

fn id_of(result: &Json) -> u32 {
    result["id"].as_u64().unwrap_or_else(|| panic!("no id in {result}")) as u32
}

#[test]
fn weir_reads_what_confluents_client_registers() {
    let fake = Fake::start();
    let results = confluent(
        &fake.url,
        json!([
            {"op": "register", "subject": "py-orders-value", "schema": ORDER},
            {"op": "register", "subject": "py-events-value", "schema": EVENT, "schemaType": "JSON"},
            {"op": "register", "subject": "money.proto", "schema": MONEY, "schemaType": "PROTOBUF"},
            {"op": "register", "subject": "py-payments-value", "schema": PAYMENT, "schemaType": "PROTOBUF",
             "references": [{"name": "money.proto", "subject": "money.proto", "version": 1}]},
        ]),
    );
    let ids: Vec<u32> = results.iter().map(id_of).collect();
    let weir = registry::connect("interop", &settings(&[("schema.registry.url", &fake.url)])).unwrap();

    let order = RegistrySchema::new(SchemaKind::Avro, ORDER);
    assert_eq!(weir.by_id(ids[0]).unwrap(), order);
    assert_eq!(weir.latest("py-orders-value").unwrap(), (ids[0], order.clone()));
    assert_eq!(weir.lookup("py-orders-value", &order).unwrap(), Some(ids[0]));
    assert_eq!(weir.register("py-orders-value", &order).unwrap(), ids[0], "the same schema, so the same id");
    assert_eq!(weir.by_id(ids[1]).unwrap(), RegistrySchema::new(SchemaKind::Json, EVENT));
    let payment = weir.by_id(ids[3]).unwrap();
    assert_eq!(payment.kind, SchemaKind::Protobuf);
    assert_eq!(payment.text, PAYMENT);
    assert_eq!(payment.references, [SchemaReference { name: "money.proto".into(), subject: "money.proto".into(), version: 1 }]);
}

#[test]
fn confluents_client_reads_what_weir_registers() {
    let fake = Fake::start();
    let weir = registry::connect("interop", &settings(&[("schema.registry.url", &fake.url)])).unwrap();
    let order_id = weir.register("weir-orders-value", &RegistrySchema::new(SchemaKind::Avro, ORDER)).unwrap();
    let event_id = weir.register("weir-events-value", &RegistrySchema::new(SchemaKind::Json, EVENT)).unwrap();
    weir.register("money.proto", &RegistrySchema::new(SchemaKind::Protobuf, MONEY)).unwrap();
    let payment = RegistrySchema {
        kind: SchemaKind::Protobuf,
        text: PAYMENT.to_string(),
        references: vec![SchemaReference { name: "money.proto".into(), subject: "money.proto".into(), version: 1 }],
    };
    let payment_id = weir.register("weir-payments-value", &payment).unwrap();

    let results = confluent(
        &fake.url,
        json!([
            {"op": "get", "id": order_id},
            {"op": "get", "id": event_id},
            {"op": "get", "id": payment_id},
            {"op": "latest", "subject": "weir-payments-value"},
            {"op": "lookup", "subject": "weir-orders-value", "schema": ORDER},
            {"op": "lookup", "subject": "weir-orders-value", "schema": EVENT, "schemaType": "JSON"},
        ]),
    );
    assert_eq!(results[0], json!({"schema": ORDER, "schemaType": "AVRO", "references": []}));
    assert_eq!(results[1], json!({"schema": EVENT, "schemaType": "JSON", "references": []}));
    let refs = json!([{"name": "money.proto", "subject": "money.proto", "version": 1}]);
    assert_eq!(results[2], json!({"schema": PAYMENT, "schemaType": "PROTOBUF", "references": refs}));
    assert_eq!(results[3], json!({"schema": PAYMENT, "schemaType": "PROTOBUF", "references": refs, "id": payment_id, "version": 1}));
    assert_eq!(id_of(&results[4]), order_id);
    assert_eq!(results[5], json!({"error_code": 40403, "status": 404}), "a schema the subject does not have");
}
