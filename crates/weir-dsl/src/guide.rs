//! The pipeline shape of KSML's microservices guide, recognised and translated.
//!
//! That guide writes a definition as a list of pipelines, each with `inputs`, `operations` and
//! `outputs` (topics with `keyType: STRING`, `valueType: AVRO`, `valueSchema: Order`,
//! `schemaRegistry: …`), plus a `configuration:` block at the root. It is not KSML — KSML
//! rejects it too — but users copy it. Instead of one "must be a mapping" error, `weir check`
//! says what each part is in KSML and prints the definition rewritten in KSML's shape
//! (streams named after their topics, `from`/`via`/`to`, KSML's type names), so the user can
//! paste it.

use std::fmt::Write as _;

use crate::read::Cx;
use crate::yaml::{Node, Style, Value};

/// True when `pipelines` is a list: the guide's shape (KSML's is a mapping).
pub fn is_guide_shape(root: &Node) -> bool {
    matches!(root.get("pipelines").map(|p| &p.value), Some(Value::Seq(_)))
}

/// Reports the guide's shape: one error on the `pipelines` list with the KSML rewrite as its
/// hint, and one on a root `configuration:` block saying where its settings go.
pub fn explain(cx: &mut Cx, root: &Node) {
    let Some(pipelines) = root.get("pipelines") else { return };
    let Some(items) = pipelines.as_seq() else { return };
    let mut streams = String::new();
    let mut declared: Vec<String> = Vec::new();
    let mut body = String::new();
    let mut registry_named = false;
    for (i, item) in items.iter().enumerate() {
        let name = item.get("name").and_then(Node::scalar).map(ident).unwrap_or_else(|| format!("pipeline_{}", i + 1));
        let inputs = topics(item.get("inputs").or_else(|| item.get("input")));
        let outputs = topics(item.get("outputs").or_else(|| item.get("output")));
        registry_named |= inputs.iter().chain(&outputs).any(|t| t.registry);
        for t in inputs.iter().chain(&outputs) {
            if !declared.contains(&t.stream) {
                declared.push(t.stream.clone());
                let _ = write!(streams, "  {}:\n    topic: {}\n", t.stream, t.topic);
                if let Some(k) = &t.key_type {
                    let _ = writeln!(streams, "    keyType: {k}");
                }
                if let Some(v) = &t.value_type {
                    let _ = writeln!(streams, "    valueType: {v}");
                }
            }
        }
        let _ = writeln!(body, "  {name}:");
        match inputs.as_slice() {
            [] => body.push_str("    from: <a stream>\n"),
            [one] => {
                let _ = writeln!(body, "    from: {}", one.stream);
            }
            [first, rest @ ..] => {
                let _ = writeln!(body, "    from: {}", first.stream);
                body.push_str("    via:\n");
                for r in rest {
                    let _ = writeln!(body, "      - type: merge\n        stream: {}", r.stream);
                }
            }
        }
        if let Some(ops) = item.get("operations").or_else(|| item.get("via")).and_then(Node::as_seq) {
            if inputs.len() <= 1 && !ops.is_empty() {
                body.push_str("    via:\n");
            }
            for op in ops {
                emit_item(&mut body, op, 6);
            }
        }
        match outputs.as_slice() {
            [] => {}
            [one] => {
                let _ = writeln!(body, "    to: {}", one.stream);
            }
            many => {
                body.push_str("    branch:\n");
                for o in many {
                    let _ = writeln!(body, "      - to: {}", o.stream);
                }
            }
        }
    }
    let mut hint = String::from(
        "KSML writes 'pipelines' as a mapping of names to {from, via, to}; topics are declared under 'streams' \
         (or 'tables') with lower-case types ('string', 'avro:Order'); 'operations' is 'via'. In KSML this file reads:\n",
    );
    if !streams.is_empty() {
        let _ = write!(hint, "streams:\n{streams}");
    }
    let _ = write!(hint, "pipelines:\n{body}");
    if registry_named {
        hint.push_str(
            "and a topic's 'schemaRegistry' is not written in the definition: name the registry in ksml-runner.yaml \
             (ksml.schemaRegistries.<name>.config.schema.registry.url) and give the 'avro' notation \
             'schemaRegistry: <name>' (see docs/registries.md)",
        );
    }
    cx.error_hint(
        pipelines.span,
        "pipelines",
        "'pipelines' is a list of inputs/operations/outputs (the shape of KSML's microservices guide), which KSML does not read",
        Some(hint.trim_end().to_string()),
    );
    if let Some((key, _)) = root.as_map().and_then(|m| m.iter().find(|(k, _)| k.text == "configuration")) {
        cx.error_hint(
            key.span,
            "configuration",
            "a definition has no 'configuration' block",
            Some(
                "settings go in ksml-runner.yaml: Kafka properties (application.id, bootstrap.servers, …) under 'kafka', \
                 schema registries under 'ksml.schemaRegistries', notations under 'ksml.notations'"
                    .into(),
            ),
        );
    }
}

/// One topic of the guide's `inputs`/`outputs`, in KSML terms.
struct Topic {
    stream: String,
    topic: String,
    key_type: Option<String>,
    value_type: Option<String>,
    registry: bool,
}

fn topics(node: Option<&Node>) -> Vec<Topic> {
    let Some(node) = node else { return Vec::new() };
    let items: Vec<&Node> = match &node.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![node],
    };
    items
        .into_iter()
        .filter_map(|item| {
            let topic =
                item.scalar().or_else(|| item.get("topic").and_then(Node::scalar)).or_else(|| item.get("name").and_then(Node::scalar))?;
            let field = |k: &str| item.get(k).and_then(Node::scalar);
            Some(Topic {
                stream: ident(item.get("name").and_then(Node::scalar).unwrap_or(topic)),
                topic: topic.to_string(),
                key_type: field("keyType").map(|t| ksml_type(t, field("keySchema"))),
                value_type: field("valueType").map(|t| ksml_type(t, field("valueSchema"))),
                registry: item.get("schemaRegistry").is_some(),
            })
        })
        .collect()
}

/// The guide's `STRING` / `AVRO` + schema name as KSML's type text.
fn ksml_type(written: &str, schema: Option<&str>) -> String {
    let lower = written.to_ascii_lowercase();
    let base = match lower.as_str() {
        "integer" => "int",
        "str" => "string",
        other => other,
    };
    match schema {
        Some(s) if !base.contains(':') => format!("{base}:{s}"),
        _ => base.to_string(),
    }
}

/// A topic name as a stream name: KSML names are free text, but `-` and `.` make them hard
/// to use as Python identifiers in functions, so they become `_`.
fn ident(name: &str) -> String {
    name.chars().map(|c| if c.is_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

/// Appends `node` as a block-style YAML list item at `indent` spaces.
fn emit_item(out: &mut String, node: &Node, indent: usize) {
    let pad = " ".repeat(indent);
    match &node.value {
        Value::Map(entries) if !entries.is_empty() => {
            for (i, (k, v)) in entries.iter().enumerate() {
                let lead = if i == 0 { format!("{pad}- ") } else { format!("{pad}  ") };
                emit_entry(out, &lead, &k.text, v, indent + 2);
            }
        }
        _ => {
            out.push_str(&pad);
            out.push_str("- ");
            emit_inline(out, node, indent + 2);
        }
    }
}

fn emit_entry(out: &mut String, lead: &str, key: &str, value: &Node, indent: usize) {
    // The guide's `operations` may name their parameters with the guide's types too.
    out.push_str(lead);
    out.push_str(&scalar_text(key));
    out.push(':');
    match &value.value {
        Value::Map(entries) if !entries.is_empty() => {
            out.push('\n');
            for (k, v) in entries {
                emit_entry(out, &" ".repeat(indent + 2), &k.text, v, indent + 2);
            }
        }
        Value::Seq(items) if !items.is_empty() => {
            out.push('\n');
            for item in items {
                emit_item(out, item, indent + 2);
            }
        }
        _ => {
            out.push(' ');
            emit_inline(out, value, indent + 2);
        }
    }
}

/// A scalar (or an empty collection) after `key: ` or `- `, ending the line.
fn emit_inline(out: &mut String, node: &Node, indent: usize) {
    match &node.value {
        Value::Scalar(text, Style::Block) => {
            out.push_str("|\n");
            for line in text.lines() {
                let _ = writeln!(out, "{}{line}", " ".repeat(indent));
            }
        }
        Value::Scalar(text, Style::Quoted) => {
            let _ = writeln!(out, "{}", quoted(text));
        }
        Value::Scalar(text, Style::Plain) => {
            let _ = writeln!(out, "{}", scalar_text(text));
        }
        Value::Seq(_) => out.push_str("[]\n"),
        Value::Map(_) => out.push_str("{}\n"),
    }
}

fn scalar_text(text: &str) -> String {
    let plain = !text.is_empty()
        && !text.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c) || c.is_whitespace())
        && !text.ends_with(char::is_whitespace)
        && !text.contains(": ")
        && !text.contains(" #")
        && !text.contains('\n');
    if plain { text.to_string() } else { quoted(text) }
}

/// A double-quoted YAML scalar: JSON's string escapes are YAML's.
fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use crate::diag::Diagnostic;

    fn check(text: &str) -> Vec<Diagnostic> {
        crate::parse_definition("guide.yaml", "guide", text, &[]).1
    }

    const GUIDE: &str = "\
pipelines:
  - name: order-processor
    inputs:
      - topic: orders
        keyType: STRING
        valueType: AVRO
        valueSchema: Order
        schemaRegistry: http://schema-registry:8081
    operations:
      - type: filter
        if:
          expression: value['amount'] > 100
    outputs:
      - topic: large-orders
        keyType: STRING
        valueType: AVRO
        valueSchema: Order
configuration:
  application.id: order-processor
";

    #[test]
    fn the_guide_shape_is_explained_with_its_ksml_rewrite() {
        let diags = check(GUIDE);
        let list = diags.iter().find(|d| d.path == "pipelines").expect("an error on the pipelines list");
        assert!(list.message.contains("microservices guide"), "{}", list.message);
        let hint = list.hint.as_deref().unwrap();
        for part in [
            "streams:\n  orders:\n    topic: orders\n    keyType: string\n    valueType: avro:Order\n",
            "  large_orders:\n    topic: large-orders\n",
            "pipelines:\n  order_processor:\n    from: orders\n    via:\n      - type: filter\n        if:\n          expression: value['amount'] > 100\n    to: large_orders",
            "ksml.schemaRegistries",
        ] {
            assert!(hint.contains(part), "missing {part:?} in:\n{hint}");
        }
        let config = diags.iter().find(|d| d.path == "configuration").expect("an error on 'configuration'");
        assert!(config.hint.as_deref().unwrap().contains("under 'kafka'"));
        assert!(!diags.iter().any(|d| d.message.contains("must be a mapping of names")), "{diags:?}");
        assert!(!diags.iter().any(|d| d.message.contains("unknown key 'configuration'")), "{diags:?}");
    }

    #[test]
    fn the_rewrite_is_a_definition_weir_reads() {
        let diags = check(GUIDE);
        let hint = diags.iter().find(|d| d.path == "pipelines").unwrap().hint.clone().unwrap();
        let rewrite = &hint[hint.find("streams:").unwrap()..hint.find("and a topic's").unwrap()];
        let again = check(&rewrite.replace("avro:Order", "json"));
        assert!(again.iter().all(|d| !d.is_error()), "{rewrite}\n{again:?}");
    }
}
