//! `weir describe`: prints the topology `weir run` would run for a runner config or
//! definition files, as Kafka Streams' `Topology.describe()` text, a Mermaid flowchart or a
//! Graphviz digraph ([`weir_engine::plan::describe`]).
//!
//! The definitions are read, checked and planned exactly as `weir run` does (the same
//! loading, the same warnings, the same planner), with nothing opened or written: no backend,
//! no storage directory, and an in-memory schema registry where a run would keep one in the
//! storage directory.

use std::io::Write as _;
use std::path::PathBuf;

use crate::app::{NotationSetup, Planned, StartError, plan_definitions};
use crate::run::{BackendChoice, Loaded, load, report};

/// How `weir describe` prints the topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Kafka Streams' `Topology.describe()` text, then producers, stores and internal topics.
    Text,
    /// A Mermaid flowchart (one subgraph per sub-topology).
    Mermaid,
    /// A Graphviz digraph (one cluster per sub-topology).
    Dot,
}

/// Plans loaded options without opening anything: the notations as a run sets them up
/// (nothing connected or written). `Err` only for what is not a diagnostic.
pub(crate) fn plan_only(options: crate::app::AppOptions) -> anyhow::Result<Result<Planned, StartError>> {
    let notations = match options.notations {
        NotationSetup::ForRun { config, schema_directory, .. } => {
            NotationSetup::Given(crate::notations::for_plan(config.as_deref(), schema_directory)?)
        }
        given => given,
    };
    Ok(plan_definitions(&options.definitions, &options.run.application_id, options.pipelines, options.producers, options.python, notations))
}

pub fn run(paths: &[PathBuf], format: Format) -> anyhow::Result<bool> {
    let Loaded { options, sources, .. } = match load(paths, BackendChoice::PlanOnly)? {
        Ok(loaded) => loaded,
        Err((diags, sources)) => return Ok(report(&diags, &sources)),
    };
    let Planned { topology, .. } = match plan_only(options)? {
        Ok(planned) => planned,
        Err(StartError::Functions(diags) | StartError::Plan(diags)) => return Ok(report(&diags, &sources)),
        Err(StartError::Other(e)) => return Err(e),
    };
    let description = weir_engine::plan::describe(&topology);
    let text = match format {
        Format::Text => description.text(),
        Format::Mermaid => description.mermaid(),
        Format::Dot => description.dot(),
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()) {
        // `weir describe | head` closes the pipe early: not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(true),
    }
}
