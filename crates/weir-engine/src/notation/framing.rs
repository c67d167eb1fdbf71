//! The registry wire framing shared by the registry notations (Avro, JSON Schema, Protobuf):
//! a magic byte `0`, then the schema id, then the payload.
//!
//! * Confluent: `0x00`, a 4-byte big-endian schema id.
//! * Apicurio 3 (KSML's default for `apicurio_*`): `0x00`, the 4-byte content id.
//! * Apicurio 2 (`apicurio.registry.id-handler: ...Legacy4ByteIdHandler` not set): `0x00`, an
//!   8-byte global id ([`IdWidth::Eight`]).
//!
//! [`Framing`] also owns the registry side of a codec: the subject its schema is registered
//! under (Confluent's subject name strategies), auto-registration, `use.latest.version`, and
//! caches of the writer's id and of the schemas read by id, so that the registry is asked once
//! per schema, not once per record.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use indexmap::IndexMap;

use super::{CodecError, hex_preview};
use crate::registry::{RegistrySchema, SchemaRegistry};

/// How many bytes the schema id takes after the magic byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdWidth {
    Four,
    Eight,
}

/// The first byte of every framed record.
pub const MAGIC: u8 = 0;

/// Confluent's subject name strategies (`key.subject.name.strategy`,
/// `value.subject.name.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectStrategy {
    /// `<topic>-key` / `<topic>-value` (the default).
    TopicName,
    /// The record's full name.
    RecordName,
    /// `<topic>-<record full name>`.
    TopicRecordName,
}

impl SubjectStrategy {
    /// Reads a strategy from a serde property value: a class name ending in the strategy's
    /// name (`io.confluent.kafka.serializers.subject.RecordNameStrategy`) or the bare name.
    pub fn from_config(value: &str) -> Result<SubjectStrategy, String> {
        let short = value.rsplit('.').next().unwrap_or(value);
        match short {
            "TopicNameStrategy" | "TopicIdStrategy" => Ok(SubjectStrategy::TopicName),
            "RecordNameStrategy" | "RecordIdStrategy" => Ok(SubjectStrategy::RecordName),
            "TopicRecordNameStrategy" | "TopicRecordIdStrategy" => Ok(SubjectStrategy::TopicRecordName),
            _ => Err(format!(
                "unknown subject name strategy '{value}'; known: TopicNameStrategy, RecordNameStrategy, TopicRecordNameStrategy"
            )),
        }
    }
}

/// What a registry codec needs to know about its registry, built from the notation's serde
/// properties (see [`Framing::new`]).
#[derive(Debug)]
pub struct Framing<T> {
    notation: &'static str,
    registry: Arc<dyn SchemaRegistry>,
    /// The subject written schemas are registered under; `None` when the codec does not know
    /// its topic and the strategy needs it (then encoding is an error naming why).
    subject: Result<String, String>,
    id_width: IdWidth,
    auto_register: bool,
    use_latest: bool,
    /// The writer's schema id, once known.
    writer_id: OnceLock<u64>,
    /// Schemas read by id, parsed by the codec.
    readers: Mutex<HashMap<u64, Arc<T>>>,
}

/// Which topic and which half of a record a codec writes: what the subject name strategies
/// need.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    /// The topic, when the codec is for one topic (not for a `toTopicNameExtractor`).
    pub topic: Option<String>,
    pub is_key: bool,
}

impl<T> Framing<T> {
    /// Reads the registry settings from the notation's serde properties:
    /// `auto.register.schemas` / `apicurio.registry.auto-register` (default true),
    /// `use.latest.version` / `apicurio.registry.find-latest` (default false),
    /// `key.subject.name.strategy` / `value.subject.name.strategy`.
    /// `record_name` is the full name of the codec's schema (for the record strategies).
    pub fn new(
        notation: &'static str,
        registry: Arc<dyn SchemaRegistry>,
        config: &IndexMap<String, String>,
        target: &Target,
        record_name: Option<&str>,
        id_width: IdWidth,
    ) -> Result<Self, String> {
        let flag = |keys: &[&str], default: bool| -> Result<bool, String> {
            for key in keys {
                if let Some(v) = config.get(*key) {
                    return match v.trim().to_ascii_lowercase().as_str() {
                        "true" => Ok(true),
                        "false" => Ok(false),
                        _ => Err(format!("'{key}' must be true or false, found '{v}'")),
                    };
                }
            }
            Ok(default)
        };
        let auto_register = flag(&["auto.register.schemas", "apicurio.registry.auto-register"], true)?;
        let use_latest = flag(&["use.latest.version", "apicurio.registry.find-latest"], false)?;
        let strategy_key = if target.is_key { "key.subject.name.strategy" } else { "value.subject.name.strategy" };
        let strategy = config.get(strategy_key).map(|v| SubjectStrategy::from_config(v)).transpose()?.unwrap_or(SubjectStrategy::TopicName);
        let suffix = if target.is_key { "key" } else { "value" };
        let subject = match (strategy, &target.topic, record_name) {
            (SubjectStrategy::TopicName, Some(topic), _) => Ok(format!("{topic}-{suffix}")),
            (SubjectStrategy::RecordName, _, Some(name)) => Ok(name.to_string()),
            (SubjectStrategy::TopicRecordName, Some(topic), Some(name)) => Ok(format!("{topic}-{name}")),
            (_, None, _) => Err("the topic is only known per record here (a topic name extractor), so the subject name strategy \
                                 cannot name a subject; set 'value.subject.name.strategy' to RecordNameStrategy"
                .to_string()),
            (_, _, None) => Err("the schema has no record name for the record name strategy".to_string()),
        };
        Ok(Framing {
            notation,
            registry,
            subject,
            id_width,
            auto_register,
            use_latest,
            writer_id: OnceLock::new(),
            readers: Mutex::new(HashMap::new()),
        })
    }

    /// The subject this codec registers its schema under.
    pub fn subject(&self) -> Result<&str, String> {
        self.subject.as_deref().map_err(Clone::clone)
    }

    /// The registry, for codecs that resolve references.
    pub fn registry(&self) -> &Arc<dyn SchemaRegistry> {
        &self.registry
    }

    /// The id to write in front of records written with `schema` (registered or looked up
    /// once, then cached). `expected` names the type for error messages.
    pub fn writer_id(&self, schema: &RegistrySchema, expected: &str) -> Result<u64, CodecError> {
        if let Some(id) = self.writer_id.get() {
            return Ok(*id);
        }
        let fail = |found: String| CodecError::encode(self.notation, expected, found);
        let subject = self.subject().map_err(fail)?;
        let id = if self.use_latest {
            self.registry.latest(subject).map_err(|e| fail(e.0))?.0
        } else if self.auto_register {
            self.registry.register(subject, schema).map_err(|e| fail(e.0))?
        } else {
            self.registry
                .lookup(subject, schema)
                .map_err(|e| fail(e.0))?
                .ok_or_else(|| fail(format!("the schema is not registered under subject '{subject}' and auto-registration is off")))?
        };
        Ok(*self.writer_id.get_or_init(|| u64::from(id)))
    }

    /// Appends the magic byte and `id` to `out`.
    pub fn write_header(&self, out: &mut Vec<u8>, id: u64) {
        out.push(MAGIC);
        match self.id_width {
            IdWidth::Four => out.extend_from_slice(&(id as u32).to_be_bytes()),
            IdWidth::Eight => out.extend_from_slice(&id.to_be_bytes()),
        }
    }

    /// Splits a framed record into its schema id and payload.
    pub fn read_header<'b>(&self, bytes: &'b [u8], expected: &str) -> Result<(u64, &'b [u8]), CodecError> {
        let width = match self.id_width {
            IdWidth::Four => 4,
            IdWidth::Eight => 8,
        };
        let fail = |found: String| CodecError::decode(self.notation, expected, found);
        match bytes.first() {
            None => return Err(fail("no bytes (a registry-framed record starts with the magic byte 0)".to_string())),
            Some(&MAGIC) => {}
            Some(&b) => {
                return Err(fail(format!(
                    "unknown magic byte {b:#04x}: the record was not written by a schema registry serializer ({})",
                    hex_preview(bytes)
                )));
            }
        }
        if bytes.len() < 1 + width {
            return Err(fail(format!("the record is {} bytes, too short for the {width}-byte schema id", bytes.len())));
        }
        let mut id = 0u64;
        for b in &bytes[1..1 + width] {
            id = (id << 8) | u64::from(*b);
        }
        Ok((id, &bytes[1 + width..]))
    }

    /// The parsed schema with `id`, fetched from the registry and parsed by `parse` the first
    /// time, then cached.
    pub fn reader(&self, id: u64, expected: &str, parse: impl FnOnce(&RegistrySchema) -> Result<T, String>) -> Result<Arc<T>, CodecError> {
        let fail = |found: String| CodecError::decode(self.notation, expected, found);
        if let Some(t) = self.readers.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
            return Ok(Arc::clone(t));
        }
        let short = u32::try_from(id).map_err(|_| fail(format!("schema id {id} is out of range")))?;
        let schema = self.registry.by_id(short).map_err(|e| fail(format!("cannot fetch the writer's schema {id}: {}", e.0)))?;
        let parsed = Arc::new(parse(&schema).map_err(|e| fail(format!("the writer's schema {id} is not usable: {e}")))?);
        self.readers.lock().unwrap_or_else(|p| p.into_inner()).insert(id, Arc::clone(&parsed));
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{MemoryRegistry, SchemaKind};

    fn framing(config: &[(&str, &str)], topic: Option<&str>, width: IdWidth) -> Result<Framing<String>, String> {
        let config = config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let target = Target { topic: topic.map(str::to_string), is_key: false };
        Framing::new("confluent_avro", Arc::new(MemoryRegistry::new()), &config, &target, Some("io.weir.Rec"), width)
    }

    #[test]
    fn subjects_follow_the_strategies() {
        assert_eq!(framing(&[], Some("orders"), IdWidth::Four).unwrap().subject().unwrap(), "orders-value");
        let rn = [("value.subject.name.strategy", "io.confluent.kafka.serializers.subject.RecordNameStrategy")];
        assert_eq!(framing(&rn, None, IdWidth::Four).unwrap().subject().unwrap(), "io.weir.Rec");
        let trn = [("value.subject.name.strategy", "TopicRecordNameStrategy")];
        assert_eq!(framing(&trn, Some("t"), IdWidth::Four).unwrap().subject().unwrap(), "t-io.weir.Rec");
        assert!(framing(&[], None, IdWidth::Four).unwrap().subject().unwrap_err().contains("RecordNameStrategy"));
        assert!(framing(&[("value.subject.name.strategy", "Nope")], None, IdWidth::Four).unwrap_err().contains("unknown subject"));
        assert!(framing(&[("auto.register.schemas", "maybe")], None, IdWidth::Four).unwrap_err().contains("true or false"));
    }

    #[test]
    fn headers_round_trip_and_bad_headers_are_named() {
        for width in [IdWidth::Four, IdWidth::Eight] {
            let f = framing(&[], Some("t"), width).unwrap();
            let mut out = Vec::new();
            f.write_header(&mut out, 7);
            out.extend_from_slice(b"payload");
            assert_eq!(f.read_header(&out, "x").unwrap(), (7, &b"payload"[..]));
        }
        let f = framing(&[], Some("t"), IdWidth::Four).unwrap();
        assert!(f.read_header(b"", "x").unwrap_err().found.contains("no bytes"));
        assert!(f.read_header(b"{\"a\":1}", "x").unwrap_err().found.contains("magic byte 0x7b"));
        assert!(f.read_header(&[0, 0, 1], "x").unwrap_err().found.contains("too short"));
    }

    #[test]
    fn writer_ids_register_once_and_respect_auto_register() {
        let f = framing(&[], Some("t"), IdWidth::Four).unwrap();
        let s = RegistrySchema::new(SchemaKind::Avro, "\"int\"");
        assert_eq!(f.writer_id(&s, "x").unwrap(), 1);
        assert_eq!(f.registry().latest("t-value").unwrap().0, 1);
        let off = framing(&[("auto.register.schemas", "false")], Some("t"), IdWidth::Four).unwrap();
        assert!(off.writer_id(&s, "x").unwrap_err().found.contains("auto-registration is off"));
        let missing = f.reader(9, "x", |s| Ok(s.text.clone())).unwrap_err();
        assert!(missing.found.contains("cannot fetch the writer's schema 9"), "{missing}");
        assert_eq!(*f.reader(1, "x", |s| Ok(s.text.clone())).unwrap(), "\"int\"");
    }
}
