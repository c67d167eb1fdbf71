//! Schema registry clients over HTTP: Confluent's REST API and Apicurio's (being built).

use std::sync::Arc;

use indexmap::IndexMap;
use weir_engine::registry::SchemaRegistry;

/// A client for the registry described by `settings` (a runner config's
/// `schemaRegistries.<name>` entry, or the `kafka` section's `schema.registry.url`).
pub fn connect(name: &str, settings: &IndexMap<String, String>) -> Result<Arc<dyn SchemaRegistry>, String> {
    let url = settings.get("schema.registry.url").or_else(|| settings.get("apicurio.registry.url"));
    Err(format!("schema registry '{name}' ({}): HTTP schema registries are not supported yet", url.map_or("no url", |u| u.as_str())))
}
