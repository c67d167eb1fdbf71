//! What the adapter is configured with, and how a user's Kafka client properties (Java
//! names, as a KSML runner config or a Kafka Streams application gives them) become
//! librdkafka's.
//!
//! Every property is one of:
//! - **passed** to librdkafka, renamed where librdkafka spells it differently
//!   (`max.request.size` → `message.max.bytes`, `fetch.max.wait.ms` → `fetch.wait.max.ms`, …),
//!   its value rewritten where the meaning is the same but the spelling is not (a JAAS
//!   `PlainLoginModule` line → `sasl.username`/`sasl.password`, an empty
//!   `ssl.endpoint.identification.algorithm` → `none`);
//! - **used** by the adapter itself (`bootstrap.servers`, `isolation.level`,
//!   `replication.factor` for the topics it creates);
//! - **dropped**, with a reason the caller can report: Kafka Streams' own settings
//!   (`application.id`, `processing.guarantee`, `default.*`, `*.serde`, …, which the caller
//!   handles), Java-only client settings (class names, JKS stores, `buffer.memory`), and the
//!   settings the adapter owns (`group.id`, `enable.auto.commit`, `auto.offset.reset`, …).
//!
//! Kafka Streams' client prefixes route a property to one client: `producer.`, `consumer.`
//! (`main.consumer.`, `restore.consumer.`, `global.consumer.` all go to the reading
//! consumers and group members alike), `admin.`. Unprefixed client properties go to every
//! client, except the well-known ones of only one kind of client (so librdkafka does not warn
//! that a consumer property is ignored by a producer).

use std::time::Duration;

/// How the adapter connects and behaves. Build it with [`KafkaConfig::new`] or
/// [`KafkaConfig::from_properties`].
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// `bootstrap.servers`: `host:port[,host:port…]`.
    pub bootstrap_servers: String,
    /// Read only committed records (`isolation.level=read_committed`), as under exactly-once.
    /// Also what `end_offset` reports: the last stable offset instead of the high watermark.
    pub read_committed: bool,
    /// Exactly-once (Kafka Streams' `processing.guarantee: exactly_once_v2`): each group
    /// member writes through its own transactional producer and commits its positions in the
    /// transaction; every read is `read_committed` (docs/kafka.md, "Exactly-once"). Set it
    /// with [`KafkaConfig::exactly_once`].
    pub exactly_once: bool,
    /// Replication factor of the topics the adapter creates; `-1` is the broker's
    /// `default.replication.factor` (Kafka Streams' default since 3.0).
    pub replication_factor: i32,
    /// How long [`crate::KafkaBroker::connect`] tries to reach the cluster before failing.
    pub connect_timeout: Duration,
    /// How long a single request (metadata, offsets, topic creation, a commit) may take before
    /// it is reported as [`weir_engine::broker::ErrorKind::Unavailable`].
    pub request_timeout: Duration,
    /// The endpoint this process advertises to the other members of its groups (Kafka
    /// Streams' `application.server`: its REST API's base URL, `http://host:port`): carried
    /// in each group member's `client.id` (see `group::member_client_id`), read back by
    /// [`crate::KafkaBroker`]'s `group_owners`. Set it with [`KafkaConfig::advertising`].
    pub endpoint: Option<String>,
    /// The user's client properties, in the order given (Java names).
    properties: Vec<(String, String)>,
}

/// A property the adapter did not pass to any client, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedProperty {
    pub key: String,
    pub reason: &'static str,
}

/// Which clients a property goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Client {
    Producer,
    Consumer,
    Admin,
}

/// The properties each kind of client gets (librdkafka names), and what was dropped.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientProperties {
    pub producer: Vec<(String, String)>,
    pub consumer: Vec<(String, String)>,
    pub admin: Vec<(String, String)>,
    pub dropped: Vec<DroppedProperty>,
}

impl ClientProperties {
    pub fn for_client(&self, client: Client) -> &[(String, String)] {
        match client {
            Client::Producer => &self.producer,
            Client::Consumer => &self.consumer,
            Client::Admin => &self.admin,
        }
    }
}

const STREAMS: &str = "a Kafka Streams setting: the application handles it, the Kafka client does not";
const JAVA_ONLY: &str = "a Java client setting librdkafka has no equivalent for";
const OWNED: &str = "set by the adapter itself (see docs/kafka.md)";
const SERDE: &str = "a schema registry (serde) setting: Weir's registry notations read it (docs/registries.md), the Kafka client does not";
const JKS: &str = "librdkafka reads PEM files (ssl.ca.location) or PKCS#12 keystores, not JKS truststores";

/// Kafka Streams' own settings (`StreamsConfig`), never given to a client.
const STREAMS_KEYS: &[&str] = &[
    "application.id",
    "application.server",
    "processing.guarantee",
    "num.stream.threads",
    "commit.interval.ms",
    "num.standby.replicas",
    "state.dir",
    "state.cleanup.delay.ms",
    "topology.optimization",
    "cache.max.bytes.buffering",
    "statestore.cache.max.bytes",
    "buffered.records.per.partition",
    "max.task.idle.ms",
    "poll.ms",
    "rocksdb.config.setter",
    "windowstore.changelog.additional.retention.ms",
    "upgrade.from",
    "repartition.purge.interval.ms",
    "probing.rebalance.interval.ms",
    "acceptable.recovery.lag",
    "max.warmup.replicas",
    "task.timeout.ms",
    "task.assignor.class",
    "built.in.metrics.version",
    "metrics.recording.level",
    "rack.aware.assignment.tags",
    "rack.aware.assignment.strategy",
    "client.tag",
    "enable.metrics.push",
    "dsl.store.suppliers.class",
    "log.summary.interval.ms",
    "deserialization.exception.handler",
    "production.exception.handler",
    "processing.exception.handler",
    "window.size.ms",
    "windowed.inner.class.serde",
];

/// Java client settings with no librdkafka equivalent.
const JAVA_ONLY_KEYS: &[&str] = &[
    "key.serializer",
    "value.serializer",
    "key.deserializer",
    "value.deserializer",
    "interceptor.classes",
    "metric.reporters",
    "metrics.num.samples",
    "metrics.sample.window.ms",
    "partitioner.class",
    "partitioner.ignore.keys",
    "partitioner.adaptive.partitioning.enable",
    "partitioner.availability.timeout.ms",
    "buffer.memory",
    "max.block.ms",
    "exclude.internal.topics",
    "default.api.timeout.ms",
    "max.poll.records",
    "security.providers",
    "ssl.provider",
    "ssl.protocol",
    "ssl.enabled.protocols",
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.secure.random.implementation",
    "ssl.engine.factory.class",
    "ssl.keystore.type",
    "ssl.truststore.password",
    "sasl.client.callback.handler.class",
    "sasl.login.callback.handler.class",
    "sasl.login.class",
    "sasl.kerberos.ticket.renew.window.factor",
    "sasl.kerberos.ticket.renew.jitter",
    "sasl.kerberos.min.time.before.relogin",
    "auto.include.jmx.reporter",
    "client.dns.lookup",
    "retries",
    "upgrade",
];

/// Settings the adapter decides (how it reads, commits and joins groups).
const OWNED_KEYS: &[&str] = &[
    "group.id",
    "group.instance.id",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "enable.auto.offset.store",
    "auto.offset.reset",
    "enable.partition.eof",
    "partition.assignment.strategy",
    "group.protocol",
    "allow.auto.create.topics",
    "transactional.id",
];

/// Java names librdkafka spells differently (librdkafka accepts most Java names as they are).
const RENAMED: &[(&str, &str)] = &[
    ("max.request.size", "message.max.bytes"),
    ("fetch.max.wait.ms", "fetch.wait.max.ms"),
    ("max.partition.fetch.bytes", "fetch.message.max.bytes"),
    ("receive.buffer.bytes", "socket.receive.buffer.bytes"),
    ("send.buffer.bytes", "socket.send.buffer.bytes"),
    ("sasl.mechanism", "sasl.mechanisms"),
    ("delivery.timeout.ms", "message.timeout.ms"),
    ("max.in.flight.requests.per.connection", "max.in.flight"),
];

/// Well-known settings of only one kind of client (librdkafka warns when a client is given
/// another kind's).
const CONSUMER_ONLY: &[&str] = &[
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "fetch.min.bytes",
    "fetch.max.bytes",
    "fetch.wait.max.ms",
    "fetch.message.max.bytes",
    "fetch.error.backoff.ms",
    "isolation.level",
    "check.crcs",
    "queued.min.messages",
    "queued.max.messages.kbytes",
    "coordinator.query.interval.ms",
];
const PRODUCER_ONLY: &[&str] = &[
    "acks",
    "request.required.acks",
    "linger.ms",
    "queue.buffering.max.ms",
    "batch.size",
    "batch.num.messages",
    "compression.type",
    "compression.codec",
    "compression.level",
    "enable.idempotence",
    "message.timeout.ms",
    "message.send.max.retries",
    "queue.buffering.max.messages",
    "queue.buffering.max.kbytes",
    "max.in.flight",
    "transaction.timeout.ms",
    "request.timeout.ms",
    "partitioner",
    "sticky.partitioning.linger.ms",
];

impl KafkaConfig {
    /// A config for the cluster at `bootstrap_servers`, with no client properties.
    pub fn new(bootstrap_servers: impl Into<String>) -> KafkaConfig {
        KafkaConfig {
            bootstrap_servers: bootstrap_servers.into(),
            read_committed: false,
            exactly_once: false,
            replication_factor: -1,
            connect_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            endpoint: None,
            properties: Vec::new(),
        }
    }

    /// A config from a map of Kafka properties (Java names), e.g. a runner config's `kafka:`
    /// section: `bootstrap.servers` is required; `isolation.level` and `replication.factor`
    /// set [`KafkaConfig::read_committed`] and [`KafkaConfig::replication_factor`]; the rest
    /// are client properties (see docs/kafka.md).
    pub fn from_properties<K: Into<String>, V: Into<String>>(properties: impl IntoIterator<Item = (K, V)>) -> Result<KafkaConfig, String> {
        let mut config = KafkaConfig::new(String::new());
        config = config.with_properties(properties)?;
        if config.bootstrap_servers.trim().is_empty() {
            return Err("the Kafka properties have no 'bootstrap.servers'".to_string());
        }
        Ok(config)
    }

    /// Adds client properties (Java names); the settings the adapter itself reads
    /// (`bootstrap.servers`, `isolation.level`, `replication.factor`) are taken here.
    pub fn with_properties<K: Into<String>, V: Into<String>>(
        mut self,
        properties: impl IntoIterator<Item = (K, V)>,
    ) -> Result<KafkaConfig, String> {
        for (key, value) in properties {
            let (key, value): (String, String) = (key.into(), value.into());
            match key.trim() {
                "bootstrap.servers" => self.bootstrap_servers = value.trim().to_string(),
                "isolation.level" | "consumer.isolation.level" | "main.consumer.isolation.level" => {
                    self.read_committed = match value.trim() {
                        "read_committed" => true,
                        "read_uncommitted" => false,
                        other => {
                            return Err(format!("'{key}' is '{other}': expected 'read_committed' or 'read_uncommitted'"));
                        }
                    }
                }
                "replication.factor" | "topic.replication.factor" => {
                    self.replication_factor = value
                        .trim()
                        .parse::<i32>()
                        .ok()
                        .filter(|n| *n == -1 || *n >= 1)
                        .ok_or_else(|| format!("'{key}' is '{value}': expected -1 (the broker's default) or a count of at least 1"))?;
                }
                _ => self.properties.push((key.trim().to_string(), value)),
            }
        }
        Ok(self)
    }

    /// The same config under exactly-once: transactional group members, reads
    /// `read_committed`.
    pub fn exactly_once(mut self) -> KafkaConfig {
        self.exactly_once = true;
        self.read_committed = true;
        self
    }

    /// The same config, advertising `endpoint` (`http://host:port`) to the groups it joins.
    pub fn advertising(mut self, endpoint: impl Into<String>) -> KafkaConfig {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Whether reads see only committed records (`read_committed`, always under exactly-once).
    pub fn reads_committed(&self) -> bool {
        self.read_committed || self.exactly_once
    }

    /// The client properties as given (Java names), except those taken into fields.
    pub fn properties(&self) -> &[(String, String)] {
        &self.properties
    }

    /// The properties no client will get, and why (for the caller to report).
    pub fn dropped_properties(&self) -> Vec<DroppedProperty> {
        self.client_properties().dropped
    }

    /// Sorts the user's properties out per client, in librdkafka's names.
    pub(crate) fn client_properties(&self) -> ClientProperties {
        let mut out = ClientProperties::default();
        for (key, value) in &self.properties {
            let (clients, bare) = route(key);
            let drop = |out: &mut ClientProperties, reason| out.dropped.push(DroppedProperty { key: key.clone(), reason });
            if let Some(reason) = drop_reason(bare) {
                drop(&mut out, reason);
                continue;
            }
            if bare == "ssl.truststore.location" {
                let pem = self.properties.iter().any(|(k, v)| route(k).1 == "ssl.truststore.type" && v.eq_ignore_ascii_case("PEM"));
                if !pem {
                    drop(&mut out, JKS);
                    continue;
                }
            }
            if bare == "ssl.truststore.type" {
                drop(&mut out, "librdkafka needs no store type (PEM files are read as such)");
                continue;
            }
            let mapped = match map_property(bare, value) {
                Ok(mapped) => mapped,
                Err(reason) => {
                    drop(&mut out, reason);
                    continue;
                }
            };
            for (name, value) in mapped {
                let targets: Vec<Client> = match clients {
                    Some(only) => vec![only],
                    None if CONSUMER_ONLY.contains(&name.as_str()) => vec![Client::Consumer],
                    None if PRODUCER_ONLY.contains(&name.as_str()) => vec![Client::Producer],
                    None => vec![Client::Producer, Client::Consumer, Client::Admin],
                };
                for target in targets {
                    let list = match target {
                        Client::Producer => &mut out.producer,
                        Client::Consumer => &mut out.consumer,
                        Client::Admin => &mut out.admin,
                    };
                    list.retain(|(k, _)| *k != name);
                    list.push((name.clone(), value.clone()));
                }
            }
        }
        out
    }
}

/// The client a prefixed key is for (Kafka Streams' prefixes) and the key without prefix.
fn route(key: &str) -> (Option<Client>, &str) {
    const PREFIXES: &[(&str, Client)] = &[
        ("producer.", Client::Producer),
        ("main.consumer.", Client::Consumer),
        ("restore.consumer.", Client::Consumer),
        ("global.consumer.", Client::Consumer),
        ("consumer.", Client::Consumer),
        ("admin.", Client::Admin),
    ];
    for (prefix, client) in PREFIXES {
        if let Some(bare) = key.strip_prefix(prefix) {
            return (Some(*client), bare);
        }
    }
    (None, key)
}

/// Whether `key` (with or without a client prefix) is one of Kafka Streams' own settings
/// (`StreamsConfig`), which the application, not a Kafka client, acts on.
pub fn is_streams_setting(key: &str) -> bool {
    drop_reason(route(key).1) == Some(STREAMS)
}

/// Settings of Confluent's and Apicurio's serializers (the registry's address and
/// credentials, subject strategies, auto-registration), which Kafka Streams applications keep
/// in their properties beside the clients' and which Weir's registry notations read.
fn is_serde_setting(key: &str) -> bool {
    const PREFIXES: &[&str] = &["schema.registry.", "basic.auth.", "bearer.auth.", "apicurio.", "avro.", "json.", "protobuf."];
    const KEYS: &[&str] = &[
        "auto.register.schemas",
        "use.latest.version",
        "latest.compatibility.strict",
        "normalize.schemas",
        "key.subject.name.strategy",
        "value.subject.name.strategy",
        "specific.avro.reader",
        "use.schema.id",
    ];
    KEYS.contains(&key) || PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Why a property (without its client prefix) is dropped, if it is.
fn drop_reason(key: &str) -> Option<&'static str> {
    if STREAMS_KEYS.contains(&key)
        || key.starts_with("default.")
        || key.ends_with(".serde")
        || key.starts_with("topic.")
        || key.starts_with("repartition.")
        || key.starts_with("internal.")
    {
        Some(STREAMS)
    } else if is_serde_setting(key) {
        Some(SERDE)
    } else if OWNED_KEYS.contains(&key) {
        Some(OWNED)
    } else if JAVA_ONLY_KEYS.contains(&key) || key.ends_with(".class") || key.ends_with(".classes") {
        Some(JAVA_ONLY)
    } else {
        None
    }
}

/// A property in librdkafka's terms (maybe more than one), or why it cannot be.
fn map_property(key: &str, value: &str) -> Result<Vec<(String, String)>, &'static str> {
    let renamed = RENAMED.iter().find(|(java, _)| *java == key).map_or(key, |(_, rd)| *rd);
    match renamed {
        "security.protocol" => Ok(vec![(renamed.to_string(), value.trim().to_ascii_lowercase())]),
        "ssl.endpoint.identification.algorithm" if value.trim().is_empty() => Ok(vec![(renamed.to_string(), "none".to_string())]),
        "ssl.truststore.location" => Ok(vec![("ssl.ca.location".to_string(), value.to_string())]),
        "sasl.jaas.config" => jaas(value),
        _ => Ok(vec![(renamed.to_string(), value.to_string())]),
    }
}

/// `sasl.username`/`sasl.password` from a JAAS line of the PLAIN or SCRAM login modules.
fn jaas(value: &str) -> Result<Vec<(String, String)>, &'static str> {
    const UNSUPPORTED: &str = "only the PLAIN and SCRAM login modules' username/password map to librdkafka (sasl.username, sasl.password)";
    if !(value.contains("PlainLoginModule") || value.contains("ScramLoginModule")) {
        return Err(UNSUPPORTED);
    }
    let option = |name: &str| -> Option<String> {
        let at = value.find(&format!("{name}="))? + name.len() + 1;
        let rest = &value[at..];
        if let Some(quoted) = rest.strip_prefix('"') {
            quoted.find('"').map(|end| quoted[..end].to_string())
        } else {
            Some(rest.split([' ', ';']).next().unwrap_or_default().to_string())
        }
    };
    match (option("username"), option("password")) {
        (Some(user), Some(password)) => Ok(vec![("sasl.username".to_string(), user), ("sasl.password".to_string(), password)]),
        _ => Err(UNSUPPORTED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(props: &[(&str, &str)]) -> KafkaConfig {
        KafkaConfig::from_properties(props.iter().map(|(k, v)| (*k, *v))).expect("config")
    }

    #[test]
    fn registry_settings_are_not_given_to_the_client() {
        let c = config(&[
            ("bootstrap.servers", "b:9092"),
            ("schema.registry.url", "http://localhost:8081"),
            ("basic.auth.user.info", "u:p"),
            ("auto.register.schemas", "false"),
        ]);
        let p = c.client_properties();
        assert!(
            p.producer.iter().chain(&p.consumer).all(|(k, _)| !k.contains("schema") && !k.contains("auth") && !k.contains("register")),
            "{p:?}"
        );
        assert_eq!(
            p.dropped.iter().map(|d| d.key.as_str()).collect::<Vec<_>>(),
            ["schema.registry.url", "basic.auth.user.info", "auto.register.schemas"]
        );
        assert!(p.dropped.iter().all(|d| d.reason == SERDE));
    }

    #[test]
    fn streams_keys_are_dropped_and_reported() {
        let c = config(&[
            ("bootstrap.servers", "b:9092"),
            ("application.id", "app"),
            ("processing.guarantee", "exactly_once_v2"),
            ("default.key.serde", "x"),
            ("my.value.serde", "x"),
            ("state.dir", "/tmp"),
            ("group.id", "g"),
            ("key.serializer", "org.X"),
            ("linger.ms", "7"),
        ]);
        let dropped: Vec<String> = c.dropped_properties().into_iter().map(|d| d.key).collect();
        assert_eq!(
            dropped,
            ["application.id", "processing.guarantee", "default.key.serde", "my.value.serde", "state.dir", "group.id", "key.serializer"]
        );
        let props = c.client_properties();
        assert_eq!(props.producer, vec![("linger.ms".to_string(), "7".to_string())]);
        assert!(props.consumer.is_empty() && props.admin.is_empty());
        assert_eq!(c.bootstrap_servers, "b:9092");
    }

    #[test]
    fn java_names_map_to_librdkafka() {
        let c = config(&[
            ("bootstrap.servers", "b:9092"),
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="s3 cr;et";"#,
            ),
            ("ssl.endpoint.identification.algorithm", ""),
            ("max.request.size", "2000000"),
            ("consumer.max.partition.fetch.bytes", "4096"),
            ("isolation.level", "read_committed"),
            ("replication.factor", "3"),
        ]);
        let props = c.client_properties();
        let get = |list: &[(String, String)], k: &str| list.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        for list in [&props.producer, &props.consumer, &props.admin] {
            assert_eq!(get(list, "security.protocol").as_deref(), Some("sasl_ssl"));
            assert_eq!(get(list, "sasl.mechanisms").as_deref(), Some("SCRAM-SHA-512"));
            assert_eq!(get(list, "sasl.username").as_deref(), Some("alice"));
            assert_eq!(get(list, "sasl.password").as_deref(), Some("s3 cr;et"));
            assert_eq!(get(list, "ssl.endpoint.identification.algorithm").as_deref(), Some("none"));
            assert_eq!(get(list, "message.max.bytes").as_deref(), Some("2000000"));
        }
        assert_eq!(get(&props.consumer, "fetch.message.max.bytes").as_deref(), Some("4096"));
        assert_eq!(get(&props.producer, "fetch.message.max.bytes"), None);
        assert!(c.read_committed);
        assert_eq!(c.replication_factor, 3);
        assert!(props.dropped.is_empty(), "{:?}", props.dropped);
    }

    #[test]
    fn bad_values_and_missing_bootstrap_are_errors() {
        assert!(KafkaConfig::from_properties([("linger.ms", "1")]).expect_err("no bootstrap").contains("bootstrap.servers"));
        assert!(KafkaConfig::from_properties([("bootstrap.servers", "b"), ("isolation.level", "x")]).is_err());
        assert!(KafkaConfig::from_properties([("bootstrap.servers", "b"), ("replication.factor", "0")]).is_err());
        let jks = config(&[
            ("bootstrap.servers", "b"),
            ("ssl.truststore.location", "/t.jks"),
            ("sasl.jaas.config", "x.OAuthLoginModule required;"),
        ]);
        let dropped: Vec<String> = jks.dropped_properties().into_iter().map(|d| d.key).collect();
        assert_eq!(dropped, ["ssl.truststore.location", "sasl.jaas.config"]);
        let pem = config(&[("bootstrap.servers", "b"), ("ssl.truststore.type", "PEM"), ("ssl.truststore.location", "/ca.pem")]);
        assert!(pem.client_properties().admin.contains(&("ssl.ca.location".to_string(), "/ca.pem".to_string())));
    }
}
