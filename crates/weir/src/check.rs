//! `weir check`: validate definitions and runner configs like a compiler.
//!
//! Each file is classified by its top-level keys: a runner config (`ksml:`) brings its
//! definitions, checked with the notations it configures; a test suite (`tests:`) is left
//! to `weir test`; anything else is a definition whose namespace is its file stem. Every
//! function's Python code is compiled (not run) so syntax errors show at their YAML line. All
//! diagnostics are printed (with the source line), then a summary; the result is `false`
//! when any error was found.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use weir_dsl::model::Definition;
use weir_dsl::runner::{DefinitionSource, base_dir_of, parse_inline_definition};
use weir_dsl::{Diagnostic, yaml};
use weir_engine::notation::Notations;

/// What was found in one run, for the summary line.
#[derive(Default)]
struct Tally {
    /// Definition files read (not the runner configs, nor files that could not be read).
    files: usize,
    runners: usize,
    unreadable: usize,
    errors: usize,
    warnings: usize,
    skipped: Vec<PathBuf>,
}

pub fn run(paths: &[PathBuf], show_warnings: bool, routes: Option<&Path>) -> anyhow::Result<bool> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files).with_context(|| format!("cannot read '{}'", path.display()))?;
    }
    let mut tally = Tally::default();
    let mut from_runners = BTreeSet::new();
    let mut standalone = Vec::new();
    let mut runners = Vec::new();
    for file in &files {
        let name = file.display().to_string();
        let text = match std::fs::read(file)
            .map_err(|e| Diagnostic::error(&name, None, "", format!("cannot read file: {e}")))
            .and_then(|b| weir_dsl::source_text(&name, b))
        {
            Ok(text) => text,
            Err(d) => {
                tally.unreadable += 1;
                report(&mut tally, show_warnings, vec![d], None);
                continue;
            }
        };
        match classify(&text) {
            FileKind::Runner => {
                runners.push(file.clone());
                check_runner(file, &text, &mut tally, show_warnings, &mut from_runners)
            }
            FileKind::TestSuite => tally.skipped.push(file.clone()),
            FileKind::Definition => standalone.push((file.clone(), text)),
        }
    }
    for (file, text) in standalone {
        if from_runners.contains(&canonical(&file)) {
            continue;
        }
        let name = file.display().to_string();
        let ns = file.file_stem().and_then(|s| s.to_str()).unwrap_or("default").to_string();
        let schemas = crate::notations::for_plan(None, base_dir_of(&file)).ok();
        let diags = definition_diagnostics(&name, &ns, &text, &[], schemas.as_ref(), true);
        tally.files += 1;
        report(&mut tally, show_warnings, diags, Some(&text));
    }
    if let Some(routes) = routes {
        check_routes(routes, &runners, &mut tally, show_warnings)?;
    }
    for skipped in &tally.skipped {
        eprintln!("note: skipped '{}': a test suite (run it with 'weir test')", skipped.display());
    }
    let mut checked = format!("{} definition file{}", tally.files, plural(tally.files));
    if tally.runners > 0 {
        checked.push_str(&format!(" and {} runner config{}", tally.runners, plural(tally.runners)));
    }
    if tally.unreadable > 0 {
        checked.push_str(&format!(" ({} unreadable file{})", tally.unreadable, plural(tally.unreadable)));
    }
    let summary =
        format!("checked {checked}: {} error{}, {} warning{}", tally.errors, plural(tally.errors), tally.warnings, plural(tally.warnings));
    eprintln!("{summary}");
    Ok(tally.errors == 0)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// Directories are searched recursively for `*.yaml` / `*.yml`, in name order.
fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    std::fs::metadata(path)?;
    if !path.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            collect(&entry, out)?;
        } else if entry.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(entry);
        }
    }
    Ok(())
}

enum FileKind {
    Runner,
    TestSuite,
    Definition,
}

fn classify(text: &str) -> FileKind {
    let mut ignored = Vec::new();
    let Some(root) = yaml::parse("", text, &mut ignored) else { return FileKind::Definition };
    if weir_dsl::runner::is_runner_config(&root) {
        FileKind::Runner
    } else if root.get("tests").is_some() && root.get("definition").is_some() {
        FileKind::TestSuite
    } else {
        FileKind::Definition
    }
}

fn check_runner(file: &Path, text: &str, tally: &mut Tally, show_warnings: bool, seen: &mut BTreeSet<PathBuf>) {
    let name = file.display().to_string();
    let (config, diags) = weir_dsl::runner::parse_runner_config(&name, text);
    tally.runners += 1;
    report(tally, show_warnings, diags, Some(text));
    let Some(config) = config else { return };
    report(tally, show_warnings, crate::settings::ignored_settings(&config, text), Some(text));
    let notations = config.notation_names();
    let base = base_dir_of(file);
    // The notations as a run sets them up (nothing connected or written), to find schema files.
    let schemas = crate::notations::for_plan(Some(&config), config.schema_directory(&base)).ok();
    for (namespace, source) in &config.ksml.definitions {
        match source {
            DefinitionSource::Inline(node) => {
                let (def, mut diags) = parse_inline_definition(&name, namespace, node, &notations);
                diags.extend(weir_python::check_definition(&def));
                diags.extend(missing_schemas(&def, schemas.as_ref(), false));
                report(tally, show_warnings, diags, Some(text));
            }
            DefinitionSource::File(path) => {
                let def_path = config.config_directory(&base).join(&path.value);
                seen.insert(canonical(&def_path));
                let def_name = def_path.display().to_string();
                match std::fs::read(&def_path)
                    .map_err(|e| e.to_string())
                    .and_then(|b| weir_dsl::source_text(&def_name, b).map_err(|d| d.message))
                {
                    Ok(def_text) => {
                        tally.files += 1;
                        let diags = definition_diagnostics(&def_name, namespace, &def_text, &notations, schemas.as_ref(), false);
                        report(tally, show_warnings, diags, Some(&def_text));
                    }
                    Err(e) => {
                        let d = crate::settings::unreadable_definition(&name, namespace, path, &def_path, &e);
                        report(tally, show_warnings, vec![d], Some(text));
                    }
                }
            }
        }
    }
}

/// A routes file (`--routes`): its own checks, then those against the application of the one
/// runner config given (its stores, its topics' types), as `weir run --routes` does them.
fn check_routes(path: &Path, runners: &[PathBuf], tally: &mut Tally, show_warnings: bool) -> anyhow::Result<()> {
    let (table, diags, (_, text)) = crate::run::read_routes(path)?;
    tally.files += 1;
    let syntax_errors = diags.iter().any(Diagnostic::is_error);
    report(tally, show_warnings, diags, Some(&text));
    let Some(table) = table.filter(|_| !syntax_errors) else { return Ok(()) };
    let [runner] = runners else {
        anyhow::bail!(
            "--routes '{}' is checked against the application of a runner config: give exactly one (found {})",
            path.display(),
            runners.len()
        );
    };
    // The runner config's own problems were reported above.
    let Ok(loaded) = crate::run::load_with(std::slice::from_ref(runner), crate::run::BackendChoice::PlanOnly, false)? else {
        return Ok(());
    };
    if !loaded.endpoints.as_ref().is_some_and(|(rest, _)| rest.enabled) {
        let d = Diagnostic::error(
            &runner.display().to_string(),
            None,
            "ksml.applicationServer",
            "the routes are served on the REST API, which is off",
        )
        .with_hint(format!("enable 'ksml.applicationServer' to serve '{}'", path.display()));
        report(tally, show_warnings, vec![d], None);
    }
    let definitions = loaded.options.definitions.clone();
    match crate::describe::plan_only(loaded.options)? {
        Ok(planned) => {
            let diags = crate::rest::routes::check_table(&table, &planned.topology, &definitions, &planned.notations);
            report(tally, show_warnings, diags, Some(&text));
        }
        Err(crate::app::StartError::Functions(diags) | crate::app::StartError::Plan(diags)) => {
            let sources = loaded.sources;
            for d in diags {
                let source = sources.iter().find(|(f, _)| *f == d.file).map(|(_, t)| t.as_str());
                report(tally, show_warnings, vec![d], source);
            }
        }
        Err(crate::app::StartError::Other(e)) => return Err(e),
    }
    Ok(())
}

/// Everything wrong with one definition file: the front end's diagnostics, Python syntax
/// errors in its functions, and schemas its types name that have no file.
fn definition_diagnostics(
    name: &str,
    namespace: &str,
    text: &str,
    notations: &[String],
    schemas: Option<&Notations>,
    standalone: bool,
) -> Vec<Diagnostic> {
    let (def, mut diags) = weir_dsl::parse_definition(name, namespace, text, notations);
    if let Some(def) = def {
        diags.extend(weir_python::check_definition(&def));
        diags.extend(missing_schemas(&def, schemas, standalone));
    }
    diags
}

/// An error at each type naming a schema whose file is not there (or cannot be read), as
/// `weir run` would refuse it; once per schema and place.
fn missing_schemas(def: &Definition, schemas: Option<&Notations>, standalone: bool) -> Vec<Diagnostic> {
    let Some(schemas) = schemas else { return Vec::new() };
    let mut out: Vec<Diagnostic> = Vec::new();
    for r in &def.schema_refs {
        if let Err(e) = schemas.schema_file(&r.notation, &r.name) {
            let mut d = Diagnostic::error(&def.file, Some(r.span), &r.path, format!("type '{}:{}': {e}", r.notation, r.name));
            if standalone {
                d = d.with_hint(
                    "without a runner config, schema files are looked for beside the definition (as `weir run` on it does); \
                     check the runner config that names it to use its schemaDirectory",
                );
            }
            if !out.iter().any(|o| o.span == d.span && o.message == d.message) {
                out.push(d);
            }
        }
    }
    out
}

fn report(tally: &mut Tally, show_warnings: bool, diags: Vec<Diagnostic>, source: Option<&str>) {
    for d in diags {
        if d.is_error() {
            tally.errors += 1;
        } else {
            tally.warnings += 1;
            if !show_warnings {
                continue;
            }
        }
        eprintln!("{}", d.render(source));
    }
}
