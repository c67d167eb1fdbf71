//! The HTTP schema registry clients (`crates/weir/src/registry.rs`) against a fake registry
//! (`tests/registry/fake_registry.py`) on a random loopback port: every port method on
//! Confluent's API, Apicurio's v3 and v2 APIs and Apicurio's Confluent-compatible path;
//! caching (the fake counts requests); errors (404, 401, connection refused, timeouts);
//! retries; comma-separated URL failover; authentication; TLS with a test CA and client
//! certificates; and the settings that are refused.

#[path = "../src/registry.rs"]
#[allow(dead_code)]
mod registry;

#[path = "registry/common.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Fake, Scratch, dead_url, settings};
use serde_json::json;
use weir_engine::registry::{RegistrySchema, SchemaKind, SchemaReference, SchemaRegistry};

const RECORD: &str = r#"{"type":"record","name":"Order","namespace":"io.weir","fields":[{"name":"id","type":"long"}]}"#;
const RECORD_V2: &str = r#"{"type":"record","name":"Order","namespace":"io.weir","fields":[{"name":"id","type":"long"},{"name":"note","type":["null","string"],"default":null}]}"#;
const JSON_SCHEMA: &str = r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"id":{"type":"integer"}}}"#;
const PROTO: &str = "syntax = \"proto3\";\npackage io.weir;\nimport \"common.proto\";\nmessage Order { Money total = 1; }\n";
const PROTO_COMMON: &str = "syntax = \"proto3\";\npackage io.weir;\nmessage Money { int64 cents = 1; }\n";

fn avro(text: &str) -> RegistrySchema {
    RegistrySchema::new(SchemaKind::Avro, text)
}

fn connect(pairs: &[(&str, &str)]) -> Arc<dyn SchemaRegistry> {
    registry::connect("test", &settings(pairs)).unwrap_or_else(|e| panic!("connect: {e}"))
}

fn connect_err(pairs: &[(&str, &str)]) -> String {
    match registry::connect("test", &settings(pairs)) {
        Ok(r) => panic!("expected an error for {pairs:?}, got {r:?}"),
        Err(e) => e,
    }
}

/// A protobuf schema referencing `common.proto`, registered under `<prefix>common-value`.
fn proto_with_reference(r: &dyn SchemaRegistry, prefix: &str) -> RegistrySchema {
    let common = RegistrySchema::new(SchemaKind::Protobuf, PROTO_COMMON);
    r.register(&format!("{prefix}common-value"), &common).expect("register common.proto");
    RegistrySchema {
        kind: SchemaKind::Protobuf,
        text: PROTO.to_string(),
        references: vec![SchemaReference { name: "common.proto".into(), subject: format!("{prefix}common-value"), version: 1 }],
    }
}

/// register, lookup, latest and by_id on one registry, whatever its API.
fn exercise_every_method(r: &dyn SchemaRegistry) -> (u32, u32) {
    let order = avro(RECORD);
    let id = r.register("orders-value", &order).expect("register");
    assert_eq!(r.register("orders-value", &order).expect("register again"), id, "registering again gives the same id");
    assert_eq!(r.lookup("orders-value", &order).expect("lookup"), Some(id));
    assert_eq!(r.lookup("orders-value", &avro(RECORD_V2)).expect("lookup unknown schema"), None);
    assert_eq!(r.lookup("no-such-subject", &order).expect("lookup unknown subject"), None);
    assert_eq!(r.latest("orders-value").expect("latest"), (id, order.clone()));
    let id2 = r.register("orders-value", &avro(RECORD_V2)).expect("register v2");
    assert_ne!(id2, id);
    assert_eq!(r.latest("orders-value").expect("latest after v2"), (id2, avro(RECORD_V2)));
    assert_eq!(r.by_id(id).expect("by_id"), order);

    let json_schema = RegistrySchema::new(SchemaKind::Json, JSON_SCHEMA);
    let jid = r.register("events-value", &json_schema).expect("register JSON Schema");
    assert_eq!(r.by_id(jid).expect("by_id JSON Schema"), json_schema);
    let proto = proto_with_reference(r, "");
    let pid = r.register("payments-value", &proto).expect("register protobuf with a reference");
    assert_eq!(r.by_id(pid).expect("by_id protobuf"), proto, "kind and references come back");
    assert_eq!(r.latest("payments-value").expect("latest protobuf"), (pid, proto));
    (id, id2)
}

// ---- Confluent ------------------------------------------------------------------------------

#[test]
fn confluent_api_serves_every_method() {
    let fake = Fake::start();
    let r = connect(&[("schema.registry.url", &fake.url)]);
    exercise_every_method(&*r);
    // Requests as Confluent's clients send them.
    let posts: Vec<_> = fake.requests().into_iter().filter(|q| q["method"] == "POST").collect();
    let first = &posts[0];
    assert_eq!(first["path"], "/subjects/orders-value/versions");
    assert_eq!(first["headers"]["content-type"], "application/vnd.schemaregistry.v1+json");
    assert!(first["headers"]["accept"].as_str().unwrap().starts_with("application/vnd.schemaregistry.v1+json"));
}

#[test]
fn confluent_subjects_are_url_encoded() {
    let fake = Fake::start();
    let r = connect(&[("schema.registry.url", &fake.url)]);
    let subject = "io.weir/Order value";
    let id = r.register(subject, &avro(RECORD)).unwrap();
    assert_eq!(r.latest(subject).unwrap().0, id);
    let paths: Vec<String> = fake.requests().iter().map(|q| q["path"].as_str().unwrap().to_string()).collect();
    // On the wire, encoded; the fake decodes it back to the subject, or latest would not find it.
    assert_eq!(paths, ["/subjects/io.weir%2FOrder%20value/versions", "/subjects/io.weir%2FOrder%20value/versions/latest"]);
}

#[test]
fn by_id_and_registered_ids_are_cached_and_latest_is_not() {
    let fake = Fake::start();
    let r = connect(&[("schema.registry.url", &fake.url)]);
    let id = r.register("orders-value", &avro(RECORD)).unwrap();
    r.register("orders-value", &avro(RECORD)).unwrap();
    assert_eq!(r.lookup("orders-value", &avro(RECORD)).unwrap(), Some(id));
    assert_eq!(fake.count("POST", "/subjects/orders-value/versions"), 1, "the second register is served from the cache");
    assert_eq!(fake.count("POST", "/subjects/orders-value"), 0, "a lookup of a registered schema is served from the cache");

    let path = format!("/schemas/ids/{id}");
    r.by_id(id).unwrap();
    assert_eq!(fake.count("GET", &path), 1);
    r.by_id(id).unwrap();
    assert_eq!(fake.count("GET", &path), 1, "the second by_id does not reach the registry");

    r.latest("orders-value").unwrap();
    r.latest("orders-value").unwrap();
    assert_eq!(fake.count("GET", "/subjects/orders-value/versions/latest"), 2, "latest always asks");
    assert_eq!(fake.count("GET", &path), 1);

    // A lookup that finds nothing is not cached: registering later is seen.
    let other = connect(&[("schema.registry.url", &fake.url)]);
    assert_eq!(other.lookup("orders-value", &avro(RECORD_V2)).unwrap(), None);
    let id2 = r.register("orders-value", &avro(RECORD_V2)).unwrap();
    assert_eq!(other.lookup("orders-value", &avro(RECORD_V2)).unwrap(), Some(id2));
}

#[test]
fn errors_name_the_url_request_status_and_registry_message() {
    let fake = Fake::start();
    let r = connect(&[("schema.registry.url", &fake.url)]);
    let e = r.by_id(99).unwrap_err().0;
    let expected =
        format!("schema registry 'test' at {}: GET /schemas/ids/99: 404 Not Found: Schema 99 not found (error code 40403)", fake.url);
    assert_eq!(e, expected);
    let e = r.latest("nope-value").unwrap_err().0;
    assert!(
        e.contains("GET /subjects/nope-value/versions/latest: 404 Not Found: Subject 'nope-value' not found. (error code 40401)"),
        "{e}"
    );
    let e = r.register("bad-value", &avro("{not json")).unwrap_err().0;
    assert!(e.contains("POST /subjects/bad-value/versions: 422 Unprocessable Entity: Invalid schema") && e.contains("42201"), "{e}");
}

#[test]
fn basic_auth_user_info_url_credentials_and_bad_credentials() {
    let fake = Fake::with_args(&["--user", "weir", "--password", "s3cr:t"]);
    let good = connect(&[
        ("schema.registry.url", &fake.url),
        ("basic.auth.credentials.source", "USER_INFO"),
        ("basic.auth.user.info", "weir:s3cr:t"),
    ]);
    let id = good.register("orders-value", &avro(RECORD)).unwrap();
    let old_key = connect(&[
        ("schema.registry.url", &fake.url),
        ("basic.auth.credentials.source", "USER_INFO"),
        ("schema.registry.basic.auth.user.info", "weir:s3cr:t"),
    ]);
    assert_eq!(old_key.by_id(id).unwrap(), avro(RECORD));
    let in_url = fake.url.replace("http://", "http://weir:s3cr%3At@");
    let from_url = connect(&[("schema.registry.url", &in_url)]);
    assert_eq!(from_url.by_id(id).unwrap(), avro(RECORD));
    let auth = fake.requests().last().unwrap()["authorization"].clone();
    assert_eq!(auth, "Basic d2VpcjpzM2NyOnQ=", "base64 of weir:s3cr:t");

    let bad = connect(&[("schema.registry.url", &in_url.replace("s3cr%3At", "wrong"))]);
    let e = bad.by_id(id).unwrap_err().0;
    assert!(e.contains("GET /schemas/ids/1: 401 Unauthorized: Unauthorized (error code 401)"), "{e}");
    assert!(!e.contains("wrong"), "credentials never appear in messages: {e}");
    let none = connect(&[("schema.registry.url", &fake.url)]);
    assert!(none.latest("orders-value").unwrap_err().0.contains("401"));
}

#[test]
fn bearer_tokens_and_confluent_cloud_headers_are_sent() {
    let fake = Fake::start();
    let r = connect(&[
        ("schema.registry.url", &fake.url),
        ("bearer.auth.credentials.source", "STATIC_TOKEN"),
        ("bearer.auth.token", "tok-123"),
        ("bearer.auth.logical.cluster", "lsrc-1"),
    ]);
    r.register("orders-value", &avro(RECORD)).unwrap();
    let q = &fake.requests()[0];
    assert_eq!(q["authorization"], "Bearer tok-123");
    assert_eq!(q["headers"]["target-sr-cluster"], "lsrc-1");
}

#[test]
fn normalize_schemas_is_passed_to_the_registry() {
    let fake = Fake::start();
    let r = connect(&[("schema.registry.url", &fake.url), ("normalize.schemas", "true")]);
    r.register("orders-value", &avro(RECORD)).unwrap();
    r.lookup("orders-value", &avro(RECORD_V2)).unwrap();
    let queries: Vec<_> = fake.requests().iter().map(|q| q["query"].as_str().unwrap().to_string()).collect();
    assert_eq!(queries, ["normalize=true", "normalize=true"]);
}

#[test]
fn connection_refused_is_reported_after_the_retries() {
    let url = dead_url();
    let r = connect(&[("schema.registry.url", &url), ("max.retries", "2"), ("retries.wait.ms", "50")]);
    let start = Instant::now();
    let e = r.by_id(1).unwrap_err().0;
    let elapsed = start.elapsed();
    assert!(e.starts_with(&format!("schema registry 'test' at {url}: GET /schemas/ids/1: cannot connect")), "{e}");
    assert!(e.to_lowercase().contains("refused"), "{e}");
    // Two retries after 50 and 100 ms.
    assert!(elapsed >= Duration::from_millis(150) && elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[test]
fn a_slow_registry_times_out() {
    let fake = Fake::start();
    fake.control(json!({"delay_ms": 3000}));
    let r = connect(&[("schema.registry.url", &fake.url), ("http.read.timeout.ms", "300"), ("max.retries", "0")]);
    let start = Instant::now();
    let e = r.by_id(1).unwrap_err().0;
    assert!(e.contains("GET /schemas/ids/1: timed out after 300 ms (receive response)"), "{e}");
    assert!(start.elapsed() < Duration::from_millis(2500), "{:?}", start.elapsed());
}

#[test]
fn retriable_statuses_are_retried_and_others_are_not() {
    let fake = Fake::start();
    let r = connect(&[("schema.registry.url", &fake.url), ("max.retries", "2"), ("retries.wait.ms", "10")]);
    let id = r.register("orders-value", &avro(RECORD)).unwrap();
    fake.control(json!({"fail": [503, 502]}));
    assert_eq!(r.by_id(id).unwrap(), avro(RECORD), "two failures, then the third try answers");
    assert_eq!(fake.count("GET", &format!("/schemas/ids/{id}")), 3);

    fake.control(json!({"fail": [503, 503, 503]}));
    let e = r.latest("orders-value").unwrap_err().0;
    assert!(e.contains("GET /subjects/orders-value/versions/latest: 503 Service Unavailable: injected failure 503"), "{e}");

    fake.control(json!({"fail": [400]}));
    let e = r.latest("orders-value").unwrap_err().0;
    assert!(e.contains("400 Bad Request"), "{e}");
    assert_eq!(fake.count("GET", "/subjects/orders-value/versions/latest"), 4, "3 tries for the 503s, 1 for the 400");
}

#[test]
fn comma_separated_urls_fail_over_and_stick_to_the_one_that_answers() {
    let fake = Fake::start();
    let dead = dead_url();
    let r = connect(&[("schema.registry.url", &format!("{dead}, {}", fake.url)), ("max.retries", "0")]);
    let id = r.register("orders-value", &avro(RECORD)).unwrap();
    assert_eq!(r.latest("orders-value").unwrap().0, id);
    assert_eq!(fake.requests().len(), 2);

    // Every URL down: the error names each one and why.
    let dead2 = dead_url();
    let r = connect(&[("schema.registry.url", &format!("{dead},{dead2}")), ("max.retries", "0")]);
    let e = r.by_id(1).unwrap_err().0;
    assert!(
        e.starts_with(&format!("schema registry 'test' at {dead}, {dead2}: GET /schemas/ids/1: every URL failed: {dead}: cannot connect")),
        "{e}"
    );
    assert!(e.contains(&format!("; {dead2}: cannot connect")), "{e}");

    // A registry that answers with an error is not failed over: its answer stands.
    let r = connect(&[("schema.registry.url", &format!("{},{dead}", fake.url)), ("max.retries", "0")]);
    assert!(r.by_id(77).unwrap_err().0.contains("404 Not Found"));
}

#[test]
fn malformed_responses_are_errors_naming_what_is_wrong() {
    let fake = Fake::start();
    let r = connect(&[("schema.registry.url", &fake.url), ("max.retries", "0")]);
    let cases = [
        ("not json", "the response is not JSON"),
        (r#"{"id": "seven"}"#, "no 'id' in the response"),
        (r#"{"id": 5000000000}"#, "'id' 5000000000 is out of range"),
        (r#"{"id": 1, "schema": 7}"#, "no 'schema' in the response"),
        (r#"{"id": 1, "schema": "x", "schemaType": "XML"}"#, "unknown schemaType 'XML'"),
        (r#"{"id": 1, "schema": "x", "references": [{"name": 1}]}"#, "bad 'references'"),
    ];
    for (body, expected) in cases {
        fake.control(json!({"reply": [{"status": 200, "body": body}]}));
        let e = r.latest("orders-value").unwrap_err().0;
        assert!(e.starts_with(&format!("schema registry 'test' at {}: GET /subjects/orders-value/versions/latest: ", fake.url)), "{e}");
        assert!(e.contains(expected), "{body}: expected '{expected}' in: {e}");
    }
    fake.control(json!({"reply": [{"status": 500, "body": "<html>proxy error</html>"}]}));
    let e = r.by_id(1).unwrap_err().0;
    assert!(e.ends_with("GET /schemas/ids/1: 500 Internal Server Error: <html>proxy error</html>"), "{e}");

    let apicurio = connect(&[("apicurio.registry.url", &fake.url), ("apicurio.registry.retry-count", "0")]);
    let id = apicurio.register("orders-value", &avro(RECORD)).unwrap();
    fake.control(json!({"reply": [{"status": 200, "body": "\"string\""}, {"status": 200, "body": "[{\"name\": \"x.proto\"}]"}]}));
    let e = apicurio.by_id(id).unwrap_err().0;
    assert!(e.contains("GET /ids/contentIds/1/references: a reference without name or artifactId"), "{e}");
    fake.control(json!({"reply": [{"status": 200, "body": "{\"version\": {\"contentId\": -1}}"}]}));
    let e = apicurio.register("other-value", &avro(RECORD)).unwrap_err().0;
    assert!(e.contains("'contentId' -1 is out of range"), "{e}");
}

// ---- Apicurio ---------------------------------------------------------------------------------

#[test]
fn apicurio_ccompat_path_speaks_confluents_api() {
    let fake = Fake::start();
    let r = connect(&[("apicurio.registry.url", &format!("{}/apis/ccompat/v7", fake.url))]);
    exercise_every_method(&*r);
    assert!(fake.requests().iter().all(|q| q["path"].as_str().unwrap().starts_with("/apis/ccompat/v7/")));
}

#[test]
fn apicurio_v3_serves_every_method_with_content_ids() {
    let fake = Fake::start();
    let r = connect(&[("apicurio.registry.url", &format!("{}/apis/registry/v3", fake.url))]);
    let (id, _) = exercise_every_method(&*r);
    // Content ids: the same content under another subject has the same id, and Confluent's
    // API of the same registry agrees (the fake, like Apicurio, shares its store).
    assert_eq!(r.register("copy-value", &avro(RECORD)).unwrap(), id);
    let confluent = connect(&[("schema.registry.url", &fake.url)]);
    assert_eq!(confluent.by_id(id).unwrap(), avro(RECORD));
    let paths: Vec<String> =
        fake.requests().iter().map(|q| format!("{} {}", q["method"].as_str().unwrap(), q["path"].as_str().unwrap())).collect();
    for expected in [
        "POST /apis/registry/v3/groups/default/artifacts",
        "POST /apis/registry/v3/search/versions",
        "GET /apis/registry/v3/groups/default/artifacts/orders-value/versions/branch=latest",
        "GET /apis/registry/v3/ids/contentIds/1",
        "GET /apis/registry/v3/ids/contentIds/1/references",
    ] {
        assert!(paths.iter().any(|p| p == expected), "{expected} not in {paths:?}");
    }
    let create = fake.requests().into_iter().find(|q| q["method"] == "POST").unwrap();
    assert_eq!(create["query"], "ifExists=FIND_OR_CREATE_VERSION&canonical=false");
}

#[test]
fn a_bare_apicurio_url_gets_the_v3_path() {
    let fake = Fake::start();
    let r = connect(&[("apicurio.registry.url", &fake.url)]);
    let id = r.register("orders-value", &avro(RECORD)).unwrap();
    assert_eq!(r.by_id(id).unwrap(), avro(RECORD));
    assert!(fake.requests().iter().all(|q| q["path"].as_str().unwrap().starts_with("/apis/registry/v3/")));
}

#[test]
fn apicurio_v3_errors_carry_the_problem_detail() {
    let fake = Fake::start();
    let base = format!("{}/apis/registry/v3", fake.url);
    let r = connect(&[("apicurio.registry.url", &base)]);
    let e = r.by_id(42).unwrap_err().0;
    assert_eq!(
        e,
        format!(
            "schema registry 'test' at {base}: GET /ids/contentIds/42: 404 Not Found: No content with ID '42' was found. (no schema with contentId 42)"
        )
    );
    let e = r.latest("missing").unwrap_err().0;
    assert!(
        e.contains("GET /groups/default/artifacts/missing/versions/branch=latest: 404 Not Found: No artifact with ID 'missing'"),
        "{e}"
    );
}

#[test]
fn apicurio_v3_global_ids_group_and_if_exists() {
    let fake = Fake::start();
    let base = format!("{}/apis/registry/v3", fake.url);
    let r = connect(&[
        ("apicurio.registry.url", &base),
        ("apicurio.registry.use-id", "globalId"),
        ("apicurio.registry.artifact.group-id", "payments"),
    ]);
    let a = r.register("orders-value", &avro(RECORD)).unwrap();
    let b = r.register("copy-value", &avro(RECORD)).unwrap();
    assert!(a > 100 && b > a, "global ids are per version ({a}, {b})");
    assert_eq!(r.by_id(b).unwrap(), avro(RECORD));
    assert_eq!(r.latest("orders-value").unwrap(), (a, avro(RECORD)));
    assert_eq!(r.lookup("orders-value", &avro(RECORD)).unwrap(), Some(a));
    assert!(fake.requests().iter().any(|q| q["path"] == format!("/apis/registry/v3/ids/globalIds/{b}")));
    assert!(fake.requests().iter().any(|q| q["path"] == "/apis/registry/v3/groups/payments/artifacts"));

    let fail = connect(&[
        ("apicurio.registry.url", &base),
        ("apicurio.registry.auto-register.if-exists", "FAIL"),
        ("apicurio.registry.artifact.group-id", "payments"),
    ]);
    let e = fail.register("orders-value", &avro(RECORD_V2)).unwrap_err().0;
    assert!(e.contains("409 Conflict: An artifact with ID 'orders-value' in group 'payments' already exists."), "{e}");
}

#[test]
fn apicurio_v2_serves_every_method() {
    let fake = Fake::start();
    let r = connect(&[("apicurio.registry.url", &format!("{}/apis/registry/v2", fake.url))]);
    exercise_every_method(&*r);
    let paths: Vec<String> =
        fake.requests().iter().map(|q| format!("{} {}", q["method"].as_str().unwrap(), q["path"].as_str().unwrap())).collect();
    for expected in [
        "POST /apis/registry/v2/groups/default/artifacts",
        "POST /apis/registry/v2/groups/default/artifacts/orders-value/meta",
        "GET /apis/registry/v2/groups/default/artifacts/orders-value/meta",
        "GET /apis/registry/v2/ids/contentIds/1",
        "GET /apis/registry/v2/search/artifacts",
    ] {
        assert!(paths.iter().any(|p| p == expected), "{expected} not in {paths:?}");
    }
    let create = fake.requests().into_iter().find(|q| q["method"] == "POST").unwrap();
    assert_eq!(create["headers"]["x-registry-artifactid"], "orders-value");
    assert_eq!(create["query"], "ifExists=RETURN_OR_UPDATE&canonical=false");
    let e = r.by_id(42).unwrap_err().0;
    assert!(e.contains("GET /ids/contentIds/42: 404 Not Found: No content with ID '42' was found. (error code 404)"), "{e}");
}

#[test]
fn apicurio_url_version_setting_selects_v2() {
    let fake = Fake::start();
    // A URL rewritten by a proxy: only the setting tells the API.
    let r = connect(&[("apicurio.registry.url", &format!("{}/apis/registry/v2", fake.url)), ("apicurio.registry.url.version", "2")]);
    r.register("orders-value", &avro(RECORD)).unwrap();
    assert_eq!(fake.requests()[0]["headers"]["x-registry-artifacttype"], "AVRO");
}

#[test]
fn apicurio_basic_auth() {
    let fake = Fake::with_args(&["--user", "reg", "--password", "pw"]);
    let base = format!("{}/apis/registry/v3", fake.url);
    let good =
        connect(&[("apicurio.registry.url", &base), ("apicurio.registry.auth.username", "reg"), ("apicurio.registry.auth.password", "pw")]);
    let id = good.register("orders-value", &avro(RECORD)).unwrap();
    let bad = connect(&[
        ("apicurio.registry.url", &base),
        ("apicurio.registry.auth.username", "reg"),
        ("apicurio.registry.auth.password", "nope"),
    ]);
    let e = bad.by_id(id).unwrap_err().0;
    assert!(e.contains("401 Unauthorized"), "{e}");
}

#[test]
fn apicurio_by_id_is_cached() {
    let fake = Fake::start();
    let r = connect(&[("apicurio.registry.url", &format!("{}/apis/registry/v3", fake.url))]);
    let id = r.register("orders-value", &avro(RECORD)).unwrap();
    r.by_id(id).unwrap();
    let before = fake.requests().len();
    assert_eq!(r.by_id(id).unwrap(), avro(RECORD));
    assert_eq!(fake.requests().len(), before, "the second by_id does not reach the registry");
}

// ---- mock:// ----------------------------------------------------------------------------------

#[test]
fn mock_urls_share_an_in_process_registry_per_scope() {
    let a = connect(&[("schema.registry.url", "mock://scope-a")]);
    let a2 = connect(&[("schema.registry.url", "mock://scope-a")]);
    let b = connect(&[("schema.registry.url", "mock://scope-b")]);
    let id = a.register("orders-value", &avro(RECORD)).unwrap();
    assert_eq!(a2.by_id(id).unwrap(), avro(RECORD));
    assert!(b.by_id(id).is_err());
}

// ---- TLS --------------------------------------------------------------------------------------

#[test]
fn tls_trusts_the_configured_pem_certificates_only() {
    let scratch = Scratch::new("tls");
    common::certificates(&scratch);
    let fake = Fake::with_args(&["--tls-cert", &scratch.file("server.pem"), "--tls-key", &scratch.file("server.key")]);
    assert!(fake.url.starts_with("https://"));

    let untrusted = connect(&[("schema.registry.url", &fake.url), ("max.retries", "0")]);
    let e = untrusted.by_id(1).unwrap_err().0;
    assert!(e.contains(&format!("at {}: GET /schemas/ids/1:", fake.url)) && e.to_lowercase().contains("certificate"), "{e}");

    let ca = scratch.file("ca.pem");
    let r = connect(&[("schema.registry.url", &fake.url), ("schema.registry.ssl.ca.location", &ca)]);
    let id = r.register("orders-value", &avro(RECORD)).unwrap();
    let pem_store = connect(&[
        ("schema.registry.url", &fake.url),
        ("schema.registry.ssl.truststore.type", "PEM"),
        ("schema.registry.ssl.truststore.location", &ca),
    ]);
    assert_eq!(pem_store.by_id(id).unwrap(), avro(RECORD));
    let ca_text = std::fs::read_to_string(&ca).unwrap();
    let inline = connect(&[
        ("schema.registry.url", &fake.url),
        ("schema.registry.ssl.truststore.type", "PEM"),
        ("schema.registry.ssl.truststore.certificates", &ca_text),
    ]);
    assert_eq!(inline.by_id(id).unwrap(), avro(RECORD));

    let apicurio =
        connect(&[("apicurio.registry.url", &format!("{}/apis/registry/v3", fake.url)), ("apicurio.registry.tls.certificates", &ca)]);
    assert_eq!(apicurio.by_id(id).unwrap(), avro(RECORD));
    let trust_all = connect(&[("apicurio.registry.url", &fake.url), ("apicurio.registry.tls.trust-all", "true")]);
    assert_eq!(trust_all.by_id(id).unwrap(), avro(RECORD));
}

#[test]
fn tls_client_certificates_for_registries_that_require_them() {
    let scratch = Scratch::new("mtls");
    common::certificates(&scratch);
    let ca = scratch.file("ca.pem");
    let fake =
        Fake::with_args(&["--tls-cert", &scratch.file("server.pem"), "--tls-key", &scratch.file("server.key"), "--tls-client-ca", &ca]);

    let anonymous = connect(&[("schema.registry.url", &fake.url), ("schema.registry.ssl.ca.location", &ca), ("max.retries", "0")]);
    assert!(anonymous.by_id(1).is_err(), "the fake requires a client certificate");

    let (cert, key, all) = (scratch.file("client.pem"), scratch.file("client.key"), scratch.file("client-all.pem"));
    let r = connect(&[
        ("schema.registry.url", &fake.url),
        ("schema.registry.ssl.ca.location", &ca),
        ("schema.registry.ssl.certificate.location", &cert),
        ("schema.registry.ssl.key.location", &key),
    ]);
    let id = r.register("orders-value", &avro(RECORD)).unwrap();
    let store = connect(&[
        ("schema.registry.url", &fake.url),
        ("schema.registry.ssl.ca.location", &ca),
        ("schema.registry.ssl.keystore.type", "PEM"),
        ("schema.registry.ssl.keystore.location", &all),
    ]);
    assert_eq!(store.by_id(id).unwrap(), avro(RECORD));
    let apicurio = connect(&[
        ("apicurio.registry.url", &fake.url),
        ("apicurio.registry.tls.certificates", &ca),
        ("apicurio.registry.tls.client-certificate", &cert),
        ("apicurio.registry.tls.client-key", &key),
    ]);
    assert_eq!(apicurio.by_id(id).unwrap(), avro(RECORD));
}

// ---- settings ---------------------------------------------------------------------------------

#[test]
fn unsupported_settings_are_refused_with_what_to_do_instead() {
    let url = "http://127.0.0.1:1";
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "no registry URL: set 'schema.registry.url'"),
        (&[("schema.registry.url", url), ("apicurio.registry.url", url)], "set only one"),
        (&[("schema.registry.url", "localhost:8081")], "'schema.registry.url' has an invalid URL 'localhost:8081'"),
        (&[("schema.registry.url", "http://u:hunter2@/x")], "invalid URL 'http://***@/x': no host"),
        (&[("schema.registry.url", url), ("schema.registry.ssl.truststore.location", "/x.jks")], "is a JKS store unless"),
        (&[("schema.registry.url", url), ("schema.registry.ssl.truststore.type", "JKS")], "'JKS' stores cannot be read"),
        (&[("schema.registry.url", url), ("schema.registry.ssl.truststore.password", "pw")], "Weir cannot read"),
        (
            &[("schema.registry.url", url), ("schema.registry.ssl.cipher.suites", "X")],
            "'schema.registry.ssl.cipher.suites' is not supported",
        ),
        (&[("schema.registry.url", url), ("schema.registry.ssl.endpoint.identification.algorithm", "")], "cannot be turned off"),
        (&[("schema.registry.url", url), ("basic.auth.credentials.source", "SASL_INHERIT")], "'SASL_INHERIT' is not supported"),
        (&[("schema.registry.url", url), ("basic.auth.user.info", "u:p")], "is not USER_INFO"),
        (&[("schema.registry.url", url), ("basic.auth.credentials.source", "USER_INFO")], "'basic.auth.user.info' is not set"),
        (
            &[("schema.registry.url", url), ("basic.auth.credentials.source", "USER_INFO"), ("basic.auth.user.info", "nopassword")],
            "must be user:password",
        ),
        (&[("schema.registry.url", url), ("bearer.auth.credentials.source", "OAUTHBEARER")], "use STATIC_TOKEN"),
        (&[("schema.registry.url", url), ("bearer.auth.client.secret", "x")], "OAuth token retrieval"),
        (&[("schema.registry.url", url), ("bearer.auth.token", "t")], "'bearer.auth.credentials.source' is not"),
        (&[("schema.registry.url", url), ("proxy.host", "p")], "HTTPS_PROXY"),
        (&[("schema.registry.url", url), ("http.read.timeout.ms", "soon")], "'http.read.timeout.ms' must be a whole number"),
        (&[("schema.registry.url", url), ("http.connect.timeout.ms", "0")], "must be more than 0"),
        (&[("schema.registry.url", url), ("normalize.schemas", "yes")], "'normalize.schemas' must be true or false"),
        (&[("schema.registry.url", url), ("apicurio.registry.auth.username", "u")], "belongs to the other registry client"),
        (&[("schema.registry.url", "http://h/apis/registry/v3")], "points at Apicurio's own API"),
        (&[("apicurio.registry.url", url), ("apicurio.auth.username", "u")], "use 'apicurio.registry.auth.username'"),
        (&[("apicurio.registry.url", url), ("apicurio.registry.request.ssl.truststore.location", "x")], "Apicurio 2 client setting"),
        (&[("apicurio.registry.url", url), ("apicurio.registry.auth.client.secret", "x")], "is OAuth"),
        (&[("apicurio.registry.url", url), ("apicurio.registry.proxy.host", "p")], "HTTPS_PROXY"),
        (&[("apicurio.registry.url", url), ("apicurio.registry.auto-register.if-exists", "RETURN")], "FIND_OR_CREATE_VERSION"),
        (&[("apicurio.registry.url", url), ("apicurio.registry.use-id", "hash")], "contentId or globalId"),
        (&[("apicurio.registry.url", url), ("apicurio.registry.tls.verify-host", "false")], "trust-all"),
        (&[("apicurio.registry.url", url), ("apicurio.registry.auth.username", "u")], "without 'apicurio.registry.auth.password'"),
        (&[("apicurio.registry.url", url), ("basic.auth.user.info", "u:p")], "belongs to the other registry client"),
        (&[("apicurio.registry.url", &format!("{url},{url}"))], "takes one URL"),
        (&[("schema.registry.url", url), ("schema.registry.ssl.ca.location", "/no/such/ca.pem")], "cannot read '/no/such/ca.pem'"),
    ];
    for (pairs, expected) in cases {
        let e = connect_err(pairs);
        assert!(e.starts_with("schema registry 'test': "), "{e}");
        assert!(e.contains(expected), "{pairs:?}: expected '{expected}' in: {e}");
        assert!(!e.contains("hunter2"), "credentials never appear in messages: {e}");
    }
}

#[test]
fn keys_outside_the_clients_namespaces_are_not_the_clients_business() {
    // The kafka section holds Kafka's own settings (broker TLS, serde settings); the client
    // reads only its keys.
    let r = registry::connect(
        "kafka",
        &settings(&[
            ("schema.registry.url", "mock://kafka-section"),
            ("bootstrap.servers", "b:9092"),
            ("ssl.truststore.location", "/broker.jks"),
            ("auto.register.schemas", "true"),
        ]),
    );
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn pkcs1_and_encrypted_keys_are_refused_with_the_conversion() {
    let scratch = Scratch::new("keys");
    common::certificates(&scratch);
    let rsa = scratch.file("rsa.key");
    let out = std::process::Command::new("openssl").args(["genrsa", "-traditional", "-out", &rsa, "2048"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let e = connect_err(&[
        ("schema.registry.url", "https://127.0.0.1:1"),
        ("schema.registry.ssl.certificate.location", &scratch.file("client.pem")),
        ("schema.registry.ssl.key.location", &rsa),
    ]);
    assert!(e.contains("unencrypted PKCS#8") && e.contains("openssl pkcs8 -topk8 -nocrypt"), "{e}");
}
