//! Diagnostics: what went wrong in a user's file, where, and how to fix it.
//!
//! Every problem the front end finds becomes a [`Diagnostic`] carrying the file, a
//! [`Span`] (1-based line and column), the YAML path of the offending node, a message that
//! names the offending thing in quotes and, where it helps, a hint. Diagnostics are
//! collected, never thrown: a file's problems are all reported in one run.
//!
//! [`Diagnostic::render`] prints them like a compiler does, with the source line and a caret.

use std::fmt::{self, Write as _};

/// A position in a source file: 1-based line and column (in characters), and the length
/// of the marked text in characters (at least 1 when rendered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Span {
    pub line: u32,
    pub col: u32,
    pub len: u32,
}

impl Span {
    pub fn new(line: u32, col: u32, len: u32) -> Self {
        Span { line, col, len }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    /// `None` when the problem concerns the whole file (e.g. it could not be read).
    pub span: Option<Span>,
    /// YAML path of the offending node, e.g. `pipelines.main.via[2].mapper`; empty for the root.
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(file: &str, span: Option<Span>, path: &str, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, file: file.to_string(), span, path: path.to_string(), message: message.into(), hint: None }
    }

    pub fn warning(file: &str, span: Option<Span>, path: &str, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(file, span, path, message) }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic like a compiler: a headline, the location, the source line
    /// with a caret under the offending text, and the hint. `source` is the file's text
    /// (pass `None` when it is not available).
    pub fn render(&self, source: Option<&str>) -> String {
        let mut out = String::new();
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{level}: {}", self.message);
        let location = match self.span {
            Some(span) => format!("{}:{}", self.file, span),
            None => self.file.clone(),
        };
        if self.path.is_empty() {
            let _ = writeln!(out, "  --> {location}");
        } else {
            let _ = writeln!(out, "  --> {location} (at {})", self.path);
        }
        if let (Some(span), Some(source)) = (self.span, source)
            && let Some(text) = source.lines().nth(span.line.saturating_sub(1) as usize)
        {
            let number = span.line.to_string();
            let pad = " ".repeat(number.len());
            let shown: String = text.chars().map(|c| if c == '\t' { ' ' } else { c }).collect();
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{number} | {shown}");
            let col = span.col.max(1) as usize;
            let width = shown.chars().count().saturating_sub(col - 1).max(1);
            let len = (span.len.max(1) as usize).min(width);
            let _ = writeln!(out, "{pad} | {}{}", " ".repeat(col - 1), "^".repeat(len));
        }
        if let Some(hint) = &self.hint {
            // A hint of several lines (a rewritten definition) keeps its own indentation.
            let mut lines = hint.lines();
            let _ = writeln!(out, "  = help: {}", lines.next().unwrap_or(""));
            for line in lines {
                let _ = writeln!(out, "          {line}");
            }
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.span {
            Some(span) => write!(f, "{}:{}: {}", self.file, span, self.message)?,
            None => write!(f, "{}: {}", self.file, self.message)?,
        }
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// The closest candidate to `word` by edit distance, if it is close enough to be a
/// plausible typo (distance ≤ 2, or ≤ a third of the word's length, or equal ignoring case).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        if candidate.to_lowercase() == lower {
            return Some(candidate);
        }
        let d = edit_distance(&lower, &candidate.to_lowercase());
        let limit = (word.chars().count() / 3).max(2);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// `did you mean 'x'?` for the closest candidate, if any.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    closest(word, candidates).map(|c| format!("did you mean '{c}'?"))
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys() {
        let keys = ["keyType", "valueType", "topic"];
        assert_eq!(closest("valuType", keys), Some("valueType"));
        assert_eq!(closest("VALUETYPE", keys), Some("valueType"));
        assert_eq!(closest("partitions", keys), None);
    }

    #[test]
    fn renders_caret_under_the_span() {
        let d = Diagnostic::error("f.yaml", Some(Span::new(2, 3, 8)), "streams.s.valuType", "unknown key 'valuType'")
            .with_hint("did you mean 'valueType'?");
        let text = d.render(Some("streams:\n  valuType: json\n"));
        assert_eq!(
            text,
            "error: unknown key 'valuType'\n  --> f.yaml:2:3 (at streams.s.valuType)\n  |\n2 |   valuType: json\n  |   ^^^^^^^^\n  = help: did you mean 'valueType'?\n"
        );
    }
}
