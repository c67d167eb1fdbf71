//! The notations of a run: KSML's built-in ones plus those a runner config declares, with
//! their schema directory and schema registries.
//!
//! Registries: a notation whose `schemaRegistry` names an entry of `schemaRegistries` talks to
//! that registry over HTTP ([`crate::registry`]), configured by the entry's `config` with the
//! notation's `config` on top. Registry notations with no registry of their
//! own use the default registry: the one at the `kafka` section's `schema.registry.url` if it
//! is set (as KSML's auto-configured `avro` does), else Weir's embedded registry, kept in
//! `<storage>/schemas.json` so that schema ids stay valid across restarts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use weir_dsl::runner::RunnerConfig;
use weir_engine::notation::Notations;
use weir_engine::registry::{MemoryRegistry, SchemaRegistry};

/// The file the embedded schema registry is kept in, inside the storage directory.
pub const EMBEDDED_REGISTRY_FILE: &str = "schemas.json";

/// Builds the notations for a run. `schema_directory` is where schema files are read from;
/// `storage` is the storage directory (it must exist).
pub fn for_run(config: Option<&RunnerConfig>, schema_directory: PathBuf, storage: &Path) -> anyhow::Result<Notations> {
    build(config, schema_directory, || {
        let file = storage.join(EMBEDDED_REGISTRY_FILE);
        Ok(Arc::new(MemoryRegistry::persistent(&file).with_context(|| "cannot open the embedded schema registry")?))
    })
}

/// The notations of a run, for planning only (`weir describe`): as [`for_run`], but the
/// embedded schema registry is a fresh one in memory, so nothing is written.
pub fn for_plan(config: Option<&RunnerConfig>, schema_directory: PathBuf) -> anyhow::Result<Notations> {
    build(config, schema_directory, || Ok(Arc::new(MemoryRegistry::new())))
}

fn build(
    config: Option<&RunnerConfig>,
    schema_directory: PathBuf,
    embedded: impl FnOnce() -> anyhow::Result<Arc<dyn SchemaRegistry>>,
) -> anyhow::Result<Notations> {
    let default: Arc<dyn SchemaRegistry> = match config.and_then(|c| c.kafka.get("schema.registry.url")) {
        Some(_) => {
            let kafka = &config.map(|c| c.kafka.clone()).unwrap_or_default();
            crate::registry::connect("kafka", kafka).map_err(|e| anyhow!("{e}"))?
        }
        None => embedded()?,
    };
    let mut notations = Notations::builtin().with_schema_directory(Some(schema_directory)).with_default_registry(default);
    let Some(config) = config else { return Ok(notations) };
    for (name, n) in &config.ksml.notations {
        let registry = match &n.schema_registry {
            Some(r) => match config.ksml.schema_registries.get(r) {
                Some(settings) => {
                    // KSML's serdes build their registry client from the registry's config
                    // and the notation's own `config` (e.g. `normalize.schemas`,
                    // `apicurio.registry.use-id`), the notation's winning.
                    let mut settings = settings.clone();
                    settings.extend(n.config.iter().map(|(k, v)| (k.clone(), v.clone())));
                    Some(crate::registry::connect(r, &settings).map_err(|e| anyhow!("notation '{name}': {e}"))?)
                }
                // A registry name that is not defined is a warning from the config parser.
                None => None,
            },
            None => None,
        };
        let serde = config.notation_serde_config(name).unwrap_or_default();
        notations.configure(name, n.type_.name(), registry, serde).map_err(|e| anyhow!("notation '{name}': {e}"))?;
    }
    Ok(notations)
}
