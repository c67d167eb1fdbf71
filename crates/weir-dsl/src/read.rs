//! Reading YAML nodes into typed values, collecting every problem as a diagnostic.
//!
//! [`Cx`] holds the file name and the diagnostics of one file. [`Cx::obj`] checks a mapping
//! against its [`Shape`] once (unknown keys, missing required keys); the typed readers then
//! take fields out of the checked [`Obj`]. A reader that finds a bad value reports it and
//! returns `None`, so parsing goes on and all problems of a file surface in one run.

use crate::diag::{Diagnostic, Span, did_you_mean};
use crate::duration::{OffsetResetPolicy, parse_duration, parse_offset_reset_policy};
use crate::model::{Code, Spanned};
use crate::shape::Shape;
use crate::types::{UserType, parse_user_type, validate_user_type};
use crate::yaml::{Node, Style, Value};

pub struct Cx<'a> {
    pub file: &'a str,
    pub diags: Vec<Diagnostic>,
    /// Notation names configured in the runner config, on top of the built-in ones.
    pub notations: &'a [String],
    /// Every schema a type names (`avro:SensorData`), where it is named.
    pub schema_refs: Vec<SchemaRef>,
}

/// A schema named by a type: its notation (as written, lowercase), its name, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaRef {
    pub notation: String,
    pub name: String,
    pub span: Span,
    pub path: String,
}

/// A mapping that has been checked against its shape.
#[derive(Clone, Copy)]
pub struct Obj<'n, 'p> {
    pub node: &'n Node,
    pub path: &'p str,
    pub shape: &'static Shape,
}

impl<'n> Obj<'n, '_> {
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.node.get(key)
    }
    pub fn path_of(&self, key: &str) -> String {
        join_path(self.path, key)
    }
}

pub fn join_path(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

impl<'a> Cx<'a> {
    pub fn new(file: &'a str, notations: &'a [String]) -> Self {
        Cx { file, diags: Vec::new(), notations, schema_refs: Vec::new() }
    }

    pub fn error(&mut self, span: Span, path: &str, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(self.file, Some(span), path, message));
    }

    pub fn error_hint(&mut self, span: Span, path: &str, message: impl Into<String>, hint: Option<String>) {
        let mut d = Diagnostic::error(self.file, Some(span), path, message);
        d.hint = hint;
        self.diags.push(d);
    }

    /// Checks that `node` is a mapping whose keys all belong to `shape` and that the required
    /// ones are there. `what` names the object in messages (e.g. "stream 'sensors'").
    pub fn obj<'n, 'p>(&mut self, node: &'n Node, path: &'p str, shape: &'static Shape, what: &str) -> Option<Obj<'n, 'p>> {
        self.obj_except(node, path, shape, what, &[])
    }

    /// Like [`Cx::obj`], with extra keys that the caller handles itself.
    pub fn obj_except<'n, 'p>(
        &mut self,
        node: &'n Node,
        path: &'p str,
        shape: &'static Shape,
        what: &str,
        extra: &[&'static str],
    ) -> Option<Obj<'n, 'p>> {
        let Some(entries) = node.as_map() else {
            self.error(node.span, path, format!("{what} must be a mapping, found {}", node.describe()));
            return None;
        };
        for (key, _) in entries {
            if shape.field(&key.text).is_none() && !extra.contains(&key.text.as_str()) {
                let hint = did_you_mean(&key.text, shape.keys().chain(extra.iter().copied())).or_else(|| {
                    Some(format!("{what} takes: {}", shape.keys().chain(extra.iter().copied()).collect::<Vec<_>>().join(", ")))
                });
                self.error_hint(key.span, &join_path(path, &key.text), format!("unknown key '{}' in {what}", key.text), hint);
            }
        }
        for field in shape.fields.iter().filter(|f| f.required) {
            if node.get(field.key).is_none() {
                self.error(node.span, path, format!("{what} is missing required key '{}'", field.key));
            }
        }
        Some(Obj { node, path, shape })
    }

    /// A string scalar (any YAML scalar is accepted as text, as KSML does).
    pub fn string(&mut self, obj: &Obj, key: &str) -> Option<Spanned<String>> {
        let node = obj.get(key)?;
        self.string_node(node, &obj.path_of(key))
    }

    pub fn string_node(&mut self, node: &Node, path: &str) -> Option<Spanned<String>> {
        match &node.value {
            Value::Scalar(s, _) if !node.is_null() => Some(Spanned::new(s.clone(), node.span)),
            _ => {
                self.error(node.span, path, format!("expected a string, found {}", node.describe()));
                None
            }
        }
    }

    /// A name (of a function, store, stream…): a non-empty string.
    pub fn name_node(&mut self, node: &Node, path: &str) -> Option<Spanned<String>> {
        let name = self.string_node(node, path)?;
        if name.value.trim().is_empty() {
            self.error(node.span, path, "expected a name, found an empty string");
            return None;
        }
        Some(name)
    }

    pub fn bool(&mut self, obj: &Obj, key: &str) -> Option<bool> {
        let node = obj.get(key)?;
        if let Some(b) = node.as_bool() {
            return Some(b);
        }
        match node.scalar().map(str::to_ascii_lowercase).as_deref() {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => {
                self.error_hint(node.span, &obj.path_of(key), format!("'{key}' must be true or false, found {}", node.describe()), None);
                None
            }
        }
    }

    /// A non-negative integer; quoted numbers are accepted (KSML takes some limits as strings).
    pub fn uint(&mut self, obj: &Obj, key: &str) -> Option<u64> {
        let node = obj.get(key)?;
        match node.scalar().map(|s| s.trim().parse::<u64>()) {
            Some(Ok(n)) if !matches!(node.value, Value::Scalar(_, Style::Block)) => Some(n),
            _ => {
                let found = node.scalar().map_or_else(|| node.describe().to_string(), |s| format!("'{s}'"));
                self.error(node.span, &obj.path_of(key), format!("'{key}' must be a whole number ≥ 0, found {found}"));
                None
            }
        }
    }

    pub fn duration(&mut self, obj: &Obj, key: &str) -> Option<u64> {
        let node = obj.get(key)?;
        let path = obj.path_of(key);
        let Some(text) = node.scalar().filter(|_| !node.is_null()) else {
            self.error(node.span, &path, format!("'{key}' must be a duration such as '30s' or '5m', found {}", node.describe()));
            return None;
        };
        match parse_duration(text) {
            Ok(ms) if ms >= 0 => Some(ms as u64),
            Ok(_) => {
                self.error(node.span, &path, format!("'{key}' must not be negative, found '{text}'"));
                None
            }
            Err(message) => {
                self.error_hint(node.span, &path, message, Some("write a number with a unit: ms, s, m, h, d or w (e.g. '30s')".into()));
                None
            }
        }
    }

    pub fn offset_reset(&mut self, obj: &Obj, key: &str) -> Option<OffsetResetPolicy> {
        let node = obj.get(key)?;
        let text = self.string_node(node, &obj.path_of(key))?;
        match parse_offset_reset_policy(&text.value) {
            Ok(policy) => policy,
            Err(message) => {
                self.error_hint(node.span, &obj.path_of(key), message, Some("use earliest, latest, none or by_duration:<duration>".into()));
                None
            }
        }
    }

    /// A KSML user type. `on_topic` allows the forms only topic definitions take (bare `avro`).
    pub fn user_type(&mut self, obj: &Obj, key: &str, on_topic: bool) -> Option<Spanned<UserType>> {
        let node = obj.get(key)?;
        self.user_type_node(node, &obj.path_of(key), on_topic)
    }

    pub fn user_type_node(&mut self, node: &Node, path: &str, on_topic: bool) -> Option<Spanned<UserType>> {
        // An unquoted `[string]` is a YAML list; KSML rebuilds the text, so do we.
        let text = match &node.value {
            Value::Seq(items) if items.len() == 1 && items[0].scalar().is_some() => {
                format!("[{}]", items[0].scalar().unwrap_or_default())
            }
            Value::Scalar(s, _) if !node.is_null() => s.clone(),
            _ => {
                self.error(node.span, path, format!("expected a type such as 'string' or 'json', found {}", node.describe()));
                return None;
            }
        };
        match parse_user_type(&text, self.notations) {
            Ok(ty) => {
                for problem in validate_user_type(&ty, on_topic) {
                    self.error(node.span, path, format!("type '{text}': {problem}"));
                }
                // The type's own schema; schemas nested in lists or tuples are not read by a run
                // (their elements are encoded in the outer type's notation).
                if let (crate::types::TypeKind::Schema(name), Some(notation)) = (&ty.kind, &ty.notation) {
                    let (notation, name) = (notation.clone(), name.clone());
                    self.schema_refs.push(SchemaRef { notation, name, span: node.span, path: path.to_string() });
                }
                Some(Spanned::new(ty, node.span))
            }
            Err(e) => {
                let mut span = node.span;
                if matches!(node.value, Value::Scalar(_, Style::Plain)) {
                    span.col += e.offset as u32;
                    span.len = 1;
                }
                self.error_hint(span, path, format!("invalid type '{text}': {}", e.message), e.hint);
                None
            }
        }
    }

    /// Python code: any scalar; YAML booleans and numbers become their Python text.
    pub fn code(&mut self, obj: &Obj, key: &str) -> Option<Code> {
        let node = obj.get(key)?;
        match &node.value {
            Value::Scalar(s, style) => {
                let text = match (style, node.as_bool()) {
                    (Style::Plain, Some(true)) => "True".to_string(),
                    (Style::Plain, Some(false)) => "False".to_string(),
                    (Style::Plain, _) if node.is_null() => "None".to_string(),
                    _ => s.clone(),
                };
                let col = if *style == Style::Quoted { node.span.col + 1 } else { node.span.col };
                Some(Code { text, line: node.span.line, col })
            }
            _ => {
                self.error(node.span, &obj.path_of(key), format!("'{key}' must be Python code (a string), found {}", node.describe()));
                None
            }
        }
    }

    pub fn str_list(&mut self, obj: &Obj, key: &str) -> Vec<Spanned<String>> {
        let Some(node) = obj.get(key) else { return Vec::new() };
        let path = obj.path_of(key);
        match &node.value {
            Value::Seq(items) => items.iter().enumerate().filter_map(|(i, item)| self.name_node(item, &format!("{path}[{i}]"))).collect(),
            Value::Scalar(..) if !node.is_null() => self.name_node(node, &path).into_iter().collect(),
            _ => {
                self.error(node.span, &path, format!("'{key}' must be a list of names, found {}", node.describe()));
                Vec::new()
            }
        }
    }

    /// Entries of a `name → object` section such as `streams:`.
    pub fn section<'n>(&mut self, root: &'n Node, key: &str) -> Vec<(Spanned<String>, &'n Node)> {
        match root.get(key) {
            Some(node) => self.entries(node, key, &format!("'{key}'")),
            None => Vec::new(),
        }
    }

    /// The entries of a `name → object` mapping; null means none. `what` names the mapping
    /// in the message when it is not one.
    pub fn entries<'n>(&mut self, node: &'n Node, path: &str, what: &str) -> Vec<(Spanned<String>, &'n Node)> {
        if node.is_null() {
            return Vec::new();
        }
        let Some(entries) = node.as_map() else {
            self.error(node.span, path, format!("{what} must be a mapping of names to definitions, found {}", node.describe()));
            return Vec::new();
        };
        entries.iter().map(|(k, v)| (Spanned::new(k.text.clone(), k.span), v)).collect()
    }
}
