//! What `weir check`, `weir run` and `weir describe` all say about a runner config beyond
//! its parse: the settings Weir accepts but does not act on, and a definition file it names
//! that cannot be read. One function each, so the commands cannot disagree.
//!
//! No setting is ignored silently: a key KSML documents that Weir reads but does not do what
//! KSML does with is a warning naming the key, at its line, saying what Weir does instead.
//! (Definition keys of that kind are warned about by the definition parser itself, which all
//! commands share.)

use std::path::Path;

use weir_dsl::Diagnostic;
use weir_dsl::diag::{Span, closest};
use weir_dsl::model::Spanned;
use weir_dsl::runner::RunnerConfig;
use weir_dsl::yaml::{self, Node};

use crate::run::WEIR_KEYS;

/// The runner config's keys Weir accepts but does not act on, as warnings at their lines.
/// `text` is the runner config's text (for the positions of keys the config keeps none of).
pub fn ignored_settings(config: &RunnerConfig, text: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut ignored = Vec::new();
    let Some(root) = yaml::parse(&config.file, text, &mut ignored) else { return out };
    let warn = |out: &mut Vec<Diagnostic>, span: Span, path: &str, message: String| {
        out.push(Diagnostic::warning(&config.file, Some(span), path, message));
    };
    if let Some(file) = &config.ksml.prometheus.config_file {
        warn(
            &mut out,
            file.span,
            "ksml.prometheus.configFile",
            format!(
                "'prometheus.configFile' ('{}') is not read: it holds JMX-exporter rules for KSML's Java metrics, and Weir's \
                 metrics have names of their own",
                file.value
            ),
        );
    }
    // retryOnFail where retrying cannot change the outcome.
    let handlers = root.get("ksml").and_then(|k| k.get("errorHandling"));
    for (phase, why) in [
        ("consume", "a record that does not decode fails the same way again; it acts as 'stopOnFail'"),
        (
            "produce",
            "a record that cannot be encoded fails the same way again, so it acts as 'stopOnFail' for those; writes the \
             broker refuses for a while (unreachable, leader moving) are retried until they succeed, whatever the handler",
        ),
    ] {
        if let Some(node) = handlers.and_then(|h| h.get(phase)).and_then(|p| p.get("handler"))
            && node.scalar() == Some("retryOnFail")
        {
            warn(
                &mut out,
                node.span,
                &format!("ksml.errorHandling.{phase}.handler"),
                format!("'retryOnFail' of errorHandling.{phase} is not acted on: {why}"),
            );
        }
    }
    if let Some(entries) = root.get("kafka").and_then(Node::as_map) {
        for (key, _) in entries {
            if weir_kafka::is_streams_setting(&key.text) && !WEIR_KEYS.contains(&key.text.as_str()) {
                warn(
                    &mut out,
                    key.span,
                    &format!("kafka.{}", key.text),
                    format!(
                        "Kafka Streams setting '{}' is not acted on: Weir implements 'application.id', 'application.server', \
                         'num.stream.threads', 'commit.interval.ms', 'processing.guarantee' and 'repartition.purge.interval.ms' \
                         of Kafka Streams' settings, and runs as if the others had their defaults",
                        key.text
                    ),
                );
            }
        }
    }
    out
}

/// The error for a definition file of namespace `namespace` that cannot be read, at the
/// runner config's line that names it, with a did-you-mean for a file of a near name in the
/// same directory.
pub fn unreadable_definition(config_file: &str, namespace: &str, named: &Spanned<String>, path: &Path, error: &str) -> Diagnostic {
    let d = Diagnostic::error(
        config_file,
        Some(named.span),
        &format!("ksml.definitions.{namespace}"),
        format!("cannot read definition '{}': {error}", path.display()),
    );
    let Some(dir) = path.parent() else { return d };
    let Some(wanted) = path.file_name().and_then(|n| n.to_str()) else { return d };
    let names: Vec<String> = std::fs::read_dir(if dir.as_os_str().is_empty() { Path::new(".") } else { dir })
        .map(|entries| entries.flatten().filter_map(|e| e.file_name().to_str().map(str::to_string)).collect())
        .unwrap_or_default();
    match closest(wanted, names.iter().map(String::as_str).filter(|n| *n != wanted)) {
        Some(near) => {
            let suggested = Path::new(&named.value).with_file_name(near);
            d.with_hint(format!("did you mean '{}'?", suggested.display()))
        }
        None => d,
    }
}
