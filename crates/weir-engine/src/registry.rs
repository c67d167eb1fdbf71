//! Schema registries: the port the registry notations (`confluent_avro`, `apicurio_avro`,
//! `jsonschema`, `protobuf`) use to turn a schema into the id written in front of each record
//! and an id back into the writer's schema.
//!
//! [`SchemaRegistry`] is modelled on Confluent's REST API (Apicurio serves the same API under
//! `/apis/ccompat/v7`): subjects hold versions of schemas, and every distinct schema has one
//! global id. Implementations:
//!
//! * [`MemoryRegistry`], in this module: in-process, optionally saved to a file so that ids
//!   survive a restart. It is the registry of `weir test` (as KSML's test runner uses a mock
//!   registry) and of `weir run` on the embedded log when no registry is configured.
//! * The HTTP clients for Confluent and Apicurio registries, in the `weir` binary.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The kind of a schema, as Confluent's API names it (`schemaType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SchemaKind {
    Avro,
    Json,
    Protobuf,
}

impl SchemaKind {
    /// The name in Confluent's API: `AVRO`, `JSON`, `PROTOBUF`.
    pub fn api_name(self) -> &'static str {
        match self {
            SchemaKind::Avro => "AVRO",
            SchemaKind::Json => "JSON",
            SchemaKind::Protobuf => "PROTOBUF",
        }
    }
}

/// A reference from one schema to another (Protobuf imports, JSON Schema `$ref`s), as in
/// Confluent's API.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SchemaReference {
    /// The name the referring schema uses (an import path, a `$ref` URL).
    pub name: String,
    pub subject: String,
    pub version: u32,
}

/// A schema as a registry stores it: its kind, its text, and what it references.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RegistrySchema {
    pub kind: SchemaKind,
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<SchemaReference>,
}

impl RegistrySchema {
    pub fn new(kind: SchemaKind, text: impl Into<String>) -> Self {
        RegistrySchema { kind, text: text.into(), references: Vec::new() }
    }
}

/// A registry request failed. The message names the registry, the request and the cause,
/// e.g. `schema registry http://localhost:8081: GET /schemas/ids/7: 404 schema 7 not found`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RegistryError(pub String);

/// A schema registry: Confluent's model of subjects, versions and global schema ids.
///
/// Implementations cache what never changes (a schema by id, the id of a registered schema),
/// so codecs may call these for every record.
pub trait SchemaRegistry: Send + Sync + fmt::Debug {
    /// The id of `schema` under `subject`, registering it as a new version if the subject
    /// does not have it yet (Confluent's `auto.register.schemas`).
    fn register(&self, subject: &str, schema: &RegistrySchema) -> Result<u32, RegistryError>;
    /// The id of `schema` if `subject` has it, without registering it.
    fn lookup(&self, subject: &str, schema: &RegistrySchema) -> Result<Option<u32>, RegistryError>;
    /// The latest version of `subject`: its id and schema (Confluent's `use.latest.version`,
    /// and KSML's schema inference for a bare `avro` type).
    fn latest(&self, subject: &str) -> Result<(u32, RegistrySchema), RegistryError>;
    /// The schema with this id (what a reader needs to decode a record).
    fn by_id(&self, id: u32) -> Result<RegistrySchema, RegistryError>;
}

/// What a [`MemoryRegistry`] holds; also its file format.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Contents {
    /// Every distinct schema, its id being its index + 1.
    schemas: Vec<RegistrySchema>,
    /// The ids of each subject's versions, oldest first.
    subjects: HashMap<String, Vec<u32>>,
}

/// An in-process schema registry, optionally saved to a JSON file after every change.
///
/// Ids start at 1 and are shared by all subjects: the same schema registered under two
/// subjects has one id, as in Confluent's registry. Registering a schema a subject already
/// has returns its id without adding a version.
///
/// A persistent registry (`weir run`'s embedded one) enforces Confluent's default
/// compatibility rule, `BACKWARD`, on Avro subjects: a new version must be able to read what
/// the subject's latest version wrote (a field added needs a default; removing one is fine),
/// else the registration is refused with the reason. The in-memory one of `weir test` checks
/// nothing, like KSML's mock registry.
#[derive(Debug, Default)]
pub struct MemoryRegistry {
    contents: Mutex<Contents>,
    file: Option<PathBuf>,
}

impl MemoryRegistry {
    /// An empty registry that lives as long as the process.
    pub fn new() -> Self {
        MemoryRegistry::default()
    }

    /// A registry kept in `file`: read now if it exists, rewritten after every registration.
    pub fn persistent(file: &Path) -> Result<Self, RegistryError> {
        let contents = match std::fs::read(file) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| RegistryError(format!("embedded schema registry '{}' is damaged: {e}", file.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Contents::default(),
            Err(e) => return Err(RegistryError(format!("cannot read the embedded schema registry '{}': {e}", file.display()))),
        };
        Ok(MemoryRegistry { contents: Mutex::new(contents), file: Some(file.to_path_buf()) })
    }

    fn contents(&self) -> std::sync::MutexGuard<'_, Contents> {
        // A panic while holding the lock cannot leave `Contents` half-changed (every change
        // is a single push), so a poisoned lock is still consistent.
        self.contents.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self, contents: &Contents) -> Result<(), RegistryError> {
        let Some(file) = &self.file else { return Ok(()) };
        let text = serde_json::to_vec_pretty(contents).map_err(|e| RegistryError(e.to_string()))?;
        let tmp = file.with_extension("tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, file))
            .map_err(|e| RegistryError(format!("cannot save the embedded schema registry '{}': {e}", file.display())))
    }
}

impl SchemaRegistry for MemoryRegistry {
    fn register(&self, subject: &str, schema: &RegistrySchema) -> Result<u32, RegistryError> {
        let mut c = self.contents();
        if let Some(id) = find(&c, subject, schema) {
            return Ok(id);
        }
        if self.file.is_some()
            && let Some(&latest) = c.subjects.get(subject).and_then(|v| v.last())
        {
            backward_compatible(subject, &c.schemas[latest as usize - 1], schema)?;
        }
        let id = match c.schemas.iter().position(|s| s == schema) {
            Some(i) => i as u32 + 1,
            None => {
                c.schemas.push(schema.clone());
                c.schemas.len() as u32
            }
        };
        c.subjects.entry(subject.to_string()).or_default().push(id);
        self.save(&c)?;
        Ok(id)
    }

    fn lookup(&self, subject: &str, schema: &RegistrySchema) -> Result<Option<u32>, RegistryError> {
        Ok(find(&self.contents(), subject, schema))
    }

    fn latest(&self, subject: &str) -> Result<(u32, RegistrySchema), RegistryError> {
        let c = self.contents();
        let id = c
            .subjects
            .get(subject)
            .and_then(|v| v.last().copied())
            .ok_or_else(|| RegistryError(format!("schema registry: subject '{subject}' not found")))?;
        Ok((id, c.schemas[id as usize - 1].clone()))
    }

    fn by_id(&self, id: u32) -> Result<RegistrySchema, RegistryError> {
        let c = self.contents();
        id.checked_sub(1)
            .and_then(|i| c.schemas.get(i as usize))
            .cloned()
            .ok_or_else(|| RegistryError(format!("schema registry: no schema with id {id}")))
    }
}

/// Confluent's `BACKWARD` rule for Avro: `new` reads what `latest` wrote. Schemas that are not
/// Avro, or that reference others, are not checked (their registries check them).
fn backward_compatible(subject: &str, latest: &RegistrySchema, new: &RegistrySchema) -> Result<(), RegistryError> {
    use apache_avro::schema_compatibility::SchemaCompatibility;
    if latest.kind != SchemaKind::Avro || new.kind != SchemaKind::Avro || !latest.references.is_empty() || !new.references.is_empty() {
        return Ok(());
    }
    let parse = |s: &RegistrySchema| apache_avro::Schema::parse_str(&s.text);
    let (Ok(writer), reader) = (parse(latest), parse(new)) else { return Ok(()) };
    let reader =
        reader.map_err(|e| RegistryError(format!("schema registry: subject '{subject}': the new schema is not valid Avro: {e}")))?;
    SchemaCompatibility::can_read(&writer, &reader).map_err(|e| {
        RegistryError(format!(
            "schema registry: the schema being registered is incompatible with the latest version of subject '{subject}' \
             (compatibility BACKWARD: the new schema must read what the latest wrote): {e}"
        ))
    })
}

fn find(c: &Contents, subject: &str, schema: &RegistrySchema) -> Option<u32> {
    c.subjects.get(subject)?.iter().copied().find(|&id| c.schemas.get(id as usize - 1) == Some(schema))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avro(text: &str) -> RegistrySchema {
        RegistrySchema::new(SchemaKind::Avro, text)
    }

    #[test]
    fn ids_are_global_and_registration_is_idempotent() {
        let r = MemoryRegistry::new();
        let a = r.register("t-value", &avro("\"string\"")).unwrap();
        let b = r.register("t-value", &avro("\"long\"")).unwrap();
        assert_eq!((a, b), (1, 2));
        assert_eq!(r.register("t-value", &avro("\"string\"")).unwrap(), 1);
        assert_eq!(r.register("u-value", &avro("\"string\"")).unwrap(), 1, "same schema, other subject: same id");
        assert_eq!(r.latest("t-value").unwrap(), (2, avro("\"long\"")));
        assert_eq!(r.latest("u-value").unwrap().0, 1);
        assert_eq!(r.lookup("u-value", &avro("\"long\"")).unwrap(), None);
        assert_eq!(r.by_id(2).unwrap(), avro("\"long\""));
        assert!(r.by_id(0).is_err() && r.by_id(3).is_err());
        assert!(r.latest("nope").unwrap_err().0.contains("'nope'"));
    }

    #[test]
    fn a_persistent_registry_keeps_its_ids() {
        let dir = std::env::temp_dir().join(format!("weir-registry-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("schemas.json");
        let _ = std::fs::remove_file(&file);
        let r = MemoryRegistry::persistent(&file).unwrap();
        assert_eq!(r.register("t-value", &avro("\"int\"")).unwrap(), 1);
        drop(r);
        let r = MemoryRegistry::persistent(&file).unwrap();
        assert_eq!(r.register("t-value", &avro("\"int\"")).unwrap(), 1);
        assert_eq!(r.register("t-value", &avro("\"long\"")).unwrap(), 2, "int → long: a long reads an int");
        let err = r.register("t-value", &avro("\"string\"")).unwrap_err().0;
        assert!(err.contains("incompatible with the latest version of subject 't-value'"), "{err}");
        std::fs::write(&file, b"{not json").unwrap();
        assert!(MemoryRegistry::persistent(&file).unwrap_err().0.contains("damaged"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_embedded_registry_keeps_subjects_backward_compatible() {
        let dir = std::env::temp_dir().join(format!("weir-registry-compat-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("schemas.json");
        let _ = std::fs::remove_file(&file);
        let r = MemoryRegistry::persistent(&file).unwrap();
        let record = |fields: &str| avro(&format!(r#"{{"type": "record", "name": "Order", "fields": [{fields}]}}"#));
        let v1 = record(r#"{"name": "id", "type": "string"}, {"name": "note", "type": "string"}"#);
        // v2: a field added with a default, one removed.
        let v2 = record(r#"{"name": "id", "type": "string"}, {"name": "qty", "type": "int", "default": 1}"#);
        // v3: a field added without a default cannot be read from v2's records.
        let v3 = record(
            r#"{"name": "id", "type": "string"}, {"name": "qty", "type": "int", "default": 1}, {"name": "price", "type": "double"}"#,
        );
        assert_eq!(r.register("orders-value", &v1).unwrap(), 1);
        assert_eq!(r.register("orders-value", &v2).unwrap(), 2);
        let err = r.register("orders-value", &v3).unwrap_err().0;
        assert!(err.contains("subject 'orders-value'") && err.contains("BACKWARD") && err.contains("price"), "{err}");
        assert_eq!(r.latest("orders-value").unwrap().0, 2, "a refused schema adds no version");
        assert_eq!(r.register("other-value", &v3).unwrap(), 3, "another subject has its own versions");
        // The in-memory registry of `weir test` checks nothing, like KSML's mock registry.
        let m = MemoryRegistry::new();
        m.register("orders-value", &v2).unwrap();
        m.register("orders-value", &v3).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
