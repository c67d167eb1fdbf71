//! `weir-dsl`: KSML definitions and runner configs, from YAML text to a validated, spanned
//! model.
//!
//! Pure and synchronous: no runtime, no Python, no Kafka. The stages are
//! [`yaml`] (text → spanned nodes, duplicate keys) → [`parse`] (nodes → [`model`], checking
//! each mapping against its [`shape`]) → [`check`] (cross-references over the whole
//! definition). Every problem becomes a [`Diagnostic`]; nothing here panics on input.

pub mod check;
pub mod diag;
pub mod duration;
pub mod model;
pub mod parse;
pub mod read;
pub mod runner;
pub mod schema;
pub mod shape;
pub mod types;
pub mod yaml;

pub use diag::{Diagnostic, Severity, Span};
pub use model::Definition;

/// Parses and checks one KSML definition file.
///
/// `file` is the name used in diagnostics, `namespace` the definition's namespace (the key
/// in the runner config, or the file stem), `notations` the extra notation names configured
/// in the runner config. Returns the definition when it could be read at all, and every
/// problem found; the definition is only fit to run when no diagnostic is an error.
pub fn parse_definition(file: &str, namespace: &str, text: &str, notations: &[String]) -> (Option<Definition>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let Some(root) = yaml::parse(file, text, &mut diags) else {
        return (None, diags);
    };
    let mut cx = read::Cx::new(file, notations);
    let def = parse::definition(&mut cx, &root, namespace);
    diags.append(&mut cx.diags);
    check::check(&def, &mut diags);
    diags.sort_by_key(|d| d.span.map(|s| (s.line, s.col)));
    (Some(def), diags)
}
