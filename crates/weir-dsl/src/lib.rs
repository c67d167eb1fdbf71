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
pub mod guide;
pub mod model;
pub mod parse;
pub mod read;
pub mod routes;
pub mod runner;
pub mod schema;
pub mod shape;
pub mod suite;
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
    let def = definition_from_node(file, namespace, &root, notations, &mut diags);
    (Some(def), diags)
}

/// Parses and checks a definition that is already a YAML node (e.g. inline in a runner
/// config), appending its problems to `diags`, sorted by position.
pub fn definition_from_node(
    file: &str,
    namespace: &str,
    root: &yaml::Node,
    notations: &[String],
    diags: &mut Vec<Diagnostic>,
) -> Definition {
    let mut cx = read::Cx::new(file, notations);
    let def = parse::definition(&mut cx, root, namespace);
    let mut found = cx.diags;
    check::check(&def, &mut found);
    found.sort_by_key(|d| d.span.map(|s| (s.line, s.col)));
    diags.append(&mut found);
    def
}

/// Decodes a file's bytes as UTF-8; a file that is not text is reported at the line and
/// column of its first invalid byte.
pub fn source_text(file: &str, bytes: Vec<u8>) -> Result<String, Diagnostic> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let before = String::from_utf8_lossy(&bytes[..valid]);
        let line = before.matches('\n').count() as u32 + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
        Diagnostic::error(
            file,
            Some(Span::new(line, col, 1)),
            "",
            format!("the file is not UTF-8 text (invalid byte 0x{:02x})", bytes[valid]),
        )
        .with_hint("KSML definitions are YAML text files in UTF-8")
    })
}
