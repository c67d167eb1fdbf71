//! YAML text → a tree of spanned [`Node`]s.
//!
//! This is the only module that knows the YAML library. It keeps the position of every
//! node, reports duplicate keys at any level (as KSML does), expands aliases, and refuses
//! input it cannot represent faithfully (non-scalar keys, several documents, nesting deeper
//! than [`MAX_DEPTH`]) with a diagnostic instead of a panic. Hostile input is refused at its
//! line: control characters YAML does not allow (a NUL would otherwise end the parse there,
//! silently), and aliases that expand to more than [`MAX_EXPANDED_NODES`] nodes (an "alias
//! bomb": a few lines that would take gigabytes).

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::diag::{Diagnostic, Span};

/// Deeper nesting than this is refused (it is never meaningful in a KSML file, and it keeps
/// every recursive walk over the tree bounded).
pub const MAX_DEPTH: usize = 128;

/// The most nodes aliases may add to a file's tree, in all: far beyond any real KSML file
/// (whose anchors are shared settings), and a few megabytes at most.
pub const MAX_EXPANDED_NODES: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Quoted,
    /// `|` or `>` block scalar; the node's span starts at the first line of the content.
    Block,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(String, Style),
    Seq(Vec<Node>),
    /// Entries in file order; keys are scalar strings (with their own spans).
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

impl Node {
    /// The text of a scalar, whatever its YAML type.
    pub fn scalar(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    /// A plain scalar that YAML reads as null (`~`, `null`, or nothing).
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar(s, Style::Plain) if matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A plain scalar that YAML 1.2 reads as a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Scalar(s, Style::Plain) => match s.as_str() {
                "true" | "True" | "TRUE" => Some(true),
                "false" | "False" | "FALSE" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// A plain scalar that reads as an integer.
    pub fn as_i64(&self) -> Option<i64> {
        match &self.value {
            Value::Scalar(s, Style::Plain) => s.parse().ok(),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The value under `key` when this node is a map.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|(k, _)| k.text == key).map(|(_, v)| v)
    }

    /// What kind of YAML this is, for messages ("a string", "a list", …).
    pub fn describe(&self) -> &'static str {
        match &self.value {
            Value::Map(_) => "a mapping",
            Value::Seq(_) => "a list",
            Value::Scalar(_, Style::Plain) if self.is_null() => "nothing (null)",
            Value::Scalar(_, Style::Plain) if self.as_bool().is_some() => "a boolean",
            Value::Scalar(s, Style::Plain) if s.parse::<f64>().is_ok() => "a number",
            Value::Scalar(..) => "a string",
        }
    }
}

/// Parses one YAML document. On a syntax error, returns the diagnostic and no tree. Duplicate
/// keys are reported in `diags` and the first occurrence is kept.
pub fn parse(file: &str, text: &str, diags: &mut Vec<Diagnostic>) -> Option<Node> {
    let controls = control_characters(file, text);
    if !controls.is_empty() {
        diags.extend(controls);
        return None;
    }
    let mut builder = Builder {
        file,
        stack: Vec::new(),
        anchors: HashMap::new(),
        docs: Vec::new(),
        diags: Vec::new(),
        too_deep: false,
        expanded: 0,
        bomb: None,
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, true) {
        let m = e.marker();
        let span = Span::new(m.line() as u32, m.col() as u32 + 1, 1);
        diags.push(Diagnostic::error(file, Some(span), "", format!("invalid YAML: {}", e.info())).with_hint(yaml_hint(e.info())));
        return None;
    }
    diags.append(&mut builder.diags);
    if let Some(span) = builder.bomb {
        diags.push(
            Diagnostic::error(file, Some(span), "", format!("the aliases of this file expand to more than {MAX_EXPANDED_NODES} nodes"))
                .with_hint("refused: an alias repeating an anchor that itself repeats aliases grows exponentially (an 'alias bomb'); write the values out, or share less"),
        );
        return None;
    }
    if builder.too_deep {
        diags.push(Diagnostic::error(file, None, "", format!("YAML nesting is deeper than {MAX_DEPTH} levels")));
        return None;
    }
    let mut docs = builder.docs;
    if docs.len() > 1 {
        let span = docs[1].span;
        diags.push(
            Diagnostic::error(file, Some(span), "", "more than one YAML document in this file")
                .with_hint("a KSML file holds one document; remove the '---' separator or split the file"),
        );
    }
    if docs.is_empty() {
        return Some(Node { span: Span::new(1, 1, 1), value: Value::Map(Vec::new()) });
    }
    Some(docs.swap_remove(0))
}

/// Errors for the control characters YAML does not allow (all of C0 but tab, line feed and
/// carriage return; DEL), at their lines; at most 5, then one more saying how many.
fn control_characters(file: &str, text: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut count = 0;
    for (n, line) in text.split('\n').enumerate() {
        for (col, c) in line.chars().enumerate() {
            if (c < ' ' && c != '\t' && c != '\r') || c == '\u{7f}' {
                count += 1;
                if out.len() < 5 {
                    let name = match c {
                        '\0' => " (NUL)".to_string(),
                        '\u{1b}' => " (ESC)".to_string(),
                        '\u{7f}' => " (DEL)".to_string(),
                        _ => String::new(),
                    };
                    let span = Span::new(n as u32 + 1, col as u32 + 1, 1);
                    out.push(
                        Diagnostic::error(file, Some(span), "", format!("control character U+{:04X}{name} in the file", c as u32))
                            .with_hint("YAML does not allow control characters: remove it (is this a binary file, or was it saved in another encoding?)"),
                    );
                }
            }
        }
    }
    if count > out.len() {
        out.push(Diagnostic::error(file, None, "", format!("{} more control characters in the file", count - out.len())));
    }
    out
}

fn yaml_hint(info: &str) -> &'static str {
    if info.contains("mapping values are not allowed") {
        "check the indentation of this line against the line above, and quote values that contain ': '"
    } else if info.contains("did not find expected key") || info.contains("block") {
        "check the indentation: keys of one mapping must start in the same column"
    } else if info.contains("tab") {
        "YAML does not allow tabs for indentation; use spaces"
    } else {
        "the file is not valid YAML"
    }
}

enum Frame {
    Seq { span: Span, anchor: usize, items: Vec<Node> },
    Map { span: Option<Span>, anchor: usize, entries: Vec<(Key, Node)>, pending: Option<Key>, bad_key: bool },
}

struct Builder<'a> {
    file: &'a str,
    stack: Vec<Frame>,
    /// Anchored nodes and their sizes (nodes in all).
    anchors: HashMap<usize, (Node, usize)>,
    docs: Vec<Node>,
    diags: Vec<Diagnostic>,
    too_deep: bool,
    /// Nodes added by aliases so far.
    expanded: usize,
    /// Where the aliases went past [`MAX_EXPANDED_NODES`] (the parse then stops building).
    bomb: Option<Span>,
}

/// The number of nodes of a tree.
fn size(node: &Node) -> usize {
    1 + match &node.value {
        Value::Scalar(..) => 0,
        Value::Seq(items) => items.iter().map(size).sum(),
        Value::Map(entries) => entries.iter().map(|(_, v)| 1 + size(v)).sum(),
    }
}

fn span_of(mark: Marker, len: usize) -> Span {
    Span::new(mark.line() as u32, mark.col() as u32 + 1, len.max(1) as u32)
}

impl Builder<'_> {
    fn path(&self) -> String {
        let mut path = String::new();
        for frame in &self.stack {
            match frame {
                Frame::Seq { items, .. } => path.push_str(&format!("[{}]", items.len())),
                Frame::Map { pending: Some(k), .. } => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(&k.text);
                }
                Frame::Map { .. } => {}
            }
        }
        path
    }

    /// Attaches a finished node to its parent (or makes it a document).
    fn push_node(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size(&node)));
        }
        let path = self.path();
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { span, entries, pending, bad_key, .. }) => match pending.take() {
                Some(key) => {
                    if let Some((first, _)) = entries.iter().find(|(k, _)| k.text == key.text) {
                        self.diags.push(
                            Diagnostic::error(self.file, Some(key.span), &path, format!("duplicate key '{}'", key.text))
                                .with_hint(format!("'{}' is already defined at line {}", key.text, first.span.line)),
                        );
                    } else {
                        entries.push((key, node));
                    }
                }
                None if *bad_key => *bad_key = false,
                None => match node.value {
                    Value::Scalar(text, _) => {
                        if span.is_none() {
                            *span = Some(node.span);
                        }
                        *pending = Some(Key { text, span: node.span });
                    }
                    _ => {
                        self.diags.push(Diagnostic::error(
                            self.file,
                            Some(node.span),
                            &path,
                            "a mapping key must be a plain string, not a list or mapping",
                        ));
                        *bad_key = true;
                    }
                },
            },
        }
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.too_deep || self.bomb.is_some() {
            return;
        }
        match ev {
            Event::Scalar(text, style, anchor, _tag) => {
                let len = text.chars().take_while(|c| *c != '\n').count();
                let style = match style {
                    TScalarStyle::Plain => Style::Plain,
                    TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => Style::Quoted,
                    TScalarStyle::Literal | TScalarStyle::Folded => Style::Block,
                };
                let len = if style == Style::Quoted { len + 2 } else { len };
                self.push_node(Node { span: span_of(mark, len), value: Value::Scalar(text, style) }, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    self.too_deep = true;
                    return;
                }
                self.stack.push(Frame::Seq { span: span_of(mark, 1), anchor, items: Vec::new() });
            }
            Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    self.too_deep = true;
                    return;
                }
                self.stack.push(Frame::Map { span: None, anchor, entries: Vec::new(), pending: None, bad_key: false });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { span, anchor, items }) = self.stack.pop() {
                    self.push_node(Node { span, value: Value::Seq(items) }, anchor);
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map { span, anchor, entries, .. }) = self.stack.pop() {
                    let span = span.unwrap_or_else(|| span_of(mark, 1));
                    self.push_node(Node { span, value: Value::Map(entries) }, anchor);
                }
            }
            Event::Alias(id) => {
                let added = self.anchors.get(&id).map_or(1, |(_, n)| *n);
                self.expanded = self.expanded.saturating_add(added);
                if self.expanded > MAX_EXPANDED_NODES {
                    self.bomb = Some(span_of(mark, 1));
                    return;
                }
                let node = self
                    .anchors
                    .get(&id)
                    .map(|(node, _)| node.clone())
                    .unwrap_or(Node { span: span_of(mark, 1), value: Value::Scalar(String::new(), Style::Plain) });
                let mut node = node;
                node.span = span_of(mark, 1);
                self.push_node(node, 0);
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentStart | Event::DocumentEnd | Event::Nothing => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> (Option<Node>, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let node = parse("t.yaml", text, &mut diags);
        (node, diags)
    }

    #[test]
    fn an_alias_bomb_is_refused_at_the_alias_that_goes_too_far() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for (name, prev) in [("b", "a"), ("c", "b"), ("d", "c"), ("e", "d"), ("f", "e"), ("g", "f"), ("h", "g"), ("i", "h")] {
            text.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        let (node, diags) = load(&text);
        assert!(node.is_none());
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(diags[0].message.contains("expand to more than 100000 nodes"), "{}", diags[0].message);
        // Up to e's line (5) the aliases add 74,718 nodes; f's first alias (line 6) adds
        // e's 66,430 more.
        assert_eq!(diags[0].span.map(|s| s.line), Some(6));
        // Shared settings, as real files use anchors, are fine.
        let (node, diags) = load("base: &base {a: 1, b: 2}\none: *base\ntwo: *base\n");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(node.unwrap().get("two").unwrap().get("b").unwrap().scalar(), Some("2"));
    }

    #[test]
    fn control_characters_are_refused_at_their_line() {
        let (node, diags) = load("a: 1\nb: x\0y\nc: 3\n");
        assert!(node.is_none(), "nothing after a NUL may be dropped silently");
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].message, "control character U+0000 (NUL) in the file");
        assert_eq!(diags[0].span, Some(Span::new(2, 5, 1)));
        let (_, diags) = load("a: \u{1b}[31m\nb: \u{7}\n");
        assert_eq!(diags.iter().map(|d| d.span.map(|s| s.line)).collect::<Vec<_>>(), vec![Some(1), Some(2)]);
        // Tabs inside values and Windows line ends are not control characters here.
        let (node, diags) = load("a: 'x\ty'\r\nb: 2\r\n");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(node.unwrap().get("b").unwrap().scalar(), Some("2"));
    }

    #[test]
    fn keeps_positions() {
        let (node, diags) = load("a: 1\nb:\n  c: |\n    x = 1\n");
        assert!(diags.is_empty());
        let node = node.unwrap();
        let c = node.get("b").unwrap().get("c").unwrap();
        assert_eq!(c.span.line, 4, "block scalars start at their first content line");
        assert_eq!(c.scalar(), Some("x = 1\n"));
        assert_eq!(node.get("a").unwrap().span, Span::new(1, 4, 1));
    }

    #[test]
    fn reports_duplicate_keys_at_any_depth() {
        let (_, diags) = load("a:\n  b: 1\n  b: 2\n");
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].message, "duplicate key 'b'");
        assert_eq!(diags[0].span, Some(Span::new(3, 3, 1)));
        assert_eq!(diags[0].path, "a.b");
    }

    #[test]
    fn syntax_errors_have_positions() {
        let (node, diags) = load("a: 1\n b: 2\n");
        assert!(node.is_none());
        assert_eq!(diags[0].span.map(|s| s.line), Some(2));
    }

    #[test]
    fn aliases_are_expanded() {
        let (node, diags) = load("a: &x {k: v}\nb: *x\n");
        assert!(diags.is_empty());
        assert_eq!(node.unwrap().get("b").unwrap().get("k").unwrap().scalar(), Some("v"));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "[".repeat(10_000);
        let (node, diags) = load(&text);
        assert!(node.is_none());
        assert!(!diags.is_empty());
    }
}
