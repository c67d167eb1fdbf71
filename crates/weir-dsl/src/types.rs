//! KSML's *user type* grammar: the strings written in `keyType`, `valueType`, `resultType`,
//! function parameter `type`, `convertKey`/`convertValue` `into`, and similar places.
//!
//! This module owns:
//!
//! * the syntax tree ([`UserType`], [`TypeKind`]) and its parser ([`parse_user_type`]), which
//!   reports errors with a byte offset (for caret placement) and an optional did-you-mean hint;
//! * the canonical textual form ([`std::fmt::Display`]), such that parsing the displayed form of
//!   a parsed type yields the same value;
//! * the table of built-in notations ([`BUILTIN_NOTATIONS`], [`notation_info`]) and the semantic
//!   checks that depend on them ([`validate_user_type`]).
//!
//! Grammar (whitespace is allowed around every token):
//!
//! ```text
//! usertype := [ notation ":" ] type        -- the colon only counts before any '(' or '['
//! type     := "any" | "?" | "null" | "none" | "boolean" | "byte" | "short" | "int" | "integer"
//!           | "long" | "float" | "double" | "bytes" | "string" | "str" | "struct" | "map"
//!           | "map(" usertype ")" | "list(" usertype ")" | "[" usertype "]"
//!           | "tuple(" usertype {"," usertype} ")" | "(" usertype {"," usertype} ")"
//!           | "union(" usertype {"," usertype} ")" | "enum(" literal {"," literal} ")"
//!           | "windowed(" usertype ")"
//!           | notation                      -- bare notation name: its default type
//!           | SchemaName                    -- only when a notation prefix is in effect
//! literal  := [A-Za-z0-9_]+ | '...' | "..."
//! ```
//!
//! Type keywords are case-sensitive (KSML matches them exactly); notation names are
//! case-insensitive and are normalised to lowercase in the tree. When a word is both a type
//! keyword and a configured notation name, the keyword wins.
//!
//! Notation inheritance: a notation prefix applies to everything below it (`json:list(string)`
//! means a JSON list of strings). The tree records a notation only where it was *written*: the
//! outer node carries `Some("json")`, inner nodes carry `None` meaning "inherited from the nearest
//! ancestor with a notation, or the `default` (binary) notation at the top". An inner node may
//! override it explicitly, e.g. `(string, avro:SensorData)`.

use std::fmt;

/// A parsed user type: an optional explicitly written notation and the data type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserType {
    /// The notation written in front of this node (lowercase), or `None` when it is inherited.
    /// For [`TypeKind::NotationDefault`] this is the bare notation name itself and is always
    /// `Some` for parsed types.
    pub notation: Option<String>,
    pub kind: TypeKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeKind {
    /// `any` or `?`
    Any,
    /// `null` or `none`
    Null,
    Boolean,
    Byte,
    Short,
    /// `int` or `integer`
    Int,
    Long,
    Float,
    Double,
    Bytes,
    /// `string` or `str`
    String,
    /// bare `struct` (schemaless)
    Struct,
    /// `map` (schemaless values) or `map(T)`; keys are always strings
    Map(Option<Box<UserType>>),
    /// `[T]` or `list(T)`
    List(Box<UserType>),
    /// `(A, B)` or `tuple(A, B)`
    Tuple(Vec<UserType>),
    /// `union(A, B)`
    Union(Vec<UserType>),
    /// `enum(A, B)`. Literals are trimmed and `'..'` / `".."` quotes are removed.
    ///
    /// KSML itself splits on commas without trimming (so `enum(A, B)` yields the symbol `" B"`)
    /// and its unquoting drops the last character of the literal. Both are bugs; we
    /// deliberately do the sensible thing instead.
    Enum(Vec<String>),
    /// `windowed(T)`
    Windowed(Box<UserType>),
    /// A schema name under a schema-capable notation, e.g. `avro:SensorData`, `avro:io.x.Sensor`.
    Schema(String),
    /// A bare notation name (`json`, `avro`, `xml`, ...): that notation's default type, or for
    /// registry-backed notations an unresolved type whose schema is fetched from the registry.
    NotationDefault,
}

/// A parse error with a byte offset into the parsed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeError {
    /// Byte offset into the text passed to [`parse_user_type`] where the problem is.
    pub offset: usize,
    pub message: String,
    /// e.g. `did you mean 'string'?`
    pub hint: Option<String>,
}

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at offset {})", self.message, self.offset)?;
        if let Some(h) = &self.hint {
            write!(f, "; {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TypeError {}

/// Notation names that are always known.
///
/// As KSML registers them: `binary`, `default` and `json` are always registered; `csv`
/// and `xml` are registered under their own names; the Avro providers under `confluent_avro` and
/// `apicurio_avro`, JSON Schema under `apicurio_jsonschema`, Protobuf under `apicurio_protobuf`.
/// `avro`, `jsonschema` and `protobuf` are the names the runner config conventionally gives them
/// (and `avro` is auto-configured when `notations` is empty), so they are accepted here too.
/// `confluent_jsonschema` / `confluent_protobuf` are *not* included: KSML ships the providers but
/// cannot load them (Appendix A #22); `soap` was removed from KSML (#23).
pub const BUILTIN_NOTATIONS: &[&str] = &[
    "binary",
    "default",
    "json",
    "avro",
    "csv",
    "xml",
    "jsonschema",
    "protobuf",
    "confluent_avro",
    "apicurio_avro",
    "apicurio_jsonschema",
    "apicurio_protobuf",
];

/// The primitive (argument-less) type keywords, in the order used for hints.
const PRIMITIVE_KEYWORDS: &[&str] = &[
    "string", "str", "int", "integer", "long", "short", "byte", "boolean", "float", "double", "bytes", "null", "none", "any", "struct",
    "map",
];

/// Keywords that take arguments in parentheses.
const CONSTRUCTOR_KEYWORDS: &[&str] = &["list", "map", "tuple", "union", "enum", "windowed"];

/// Nesting limit; protects the recursive parser against stack exhaustion.
const MAX_DEPTH: usize = 64;

/// Parses a KSML user type.
///
/// `extra_notations` are the notation names configured in this context (runner config
/// `notations:` keys), matched case-insensitively in addition to [`BUILTIN_NOTATIONS`].
///
/// Never panics. Errors carry the byte offset of the problem.
pub fn parse_user_type(text: &str, extra_notations: &[String]) -> Result<UserType, TypeError> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
        extra: extra_notations.iter().map(|n| n.trim().to_ascii_lowercase()).collect(),
    };
    p.skip_ws();
    if p.pos >= p.bytes.len() {
        return Err(TypeError {
            offset: 0,
            message: "empty type".to_string(),
            hint: Some("write a type such as 'string', 'json' or 'avro:MySchema'".to_string()),
        });
    }
    let t = p.user_type(false)?;
    p.skip_ws();
    if p.pos < p.bytes.len() {
        let c = p.current_char();
        let message = match c {
            ')' | ']' => format!("unmatched '{c}'"),
            ',' => "unexpected ',' after the type: a list of types needs parentheses, e.g. '(string, long)'".to_string(),
            ':' => "unexpected ':': a type has at most one notation prefix, written before any '(' or '['".to_string(),
            _ => format!("unexpected '{c}' after the type"),
        };
        return Err(p.err(p.pos, message));
    }
    Ok(t)
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-'
}

fn is_literal_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_builtin_notation(lower: &str) -> bool {
    BUILTIN_NOTATIONS.contains(&lower)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    /// lowercase
    extra: Vec<String>,
}

impl Parser<'_> {
    fn err(&self, offset: usize, message: impl Into<String>) -> TypeError {
        TypeError { offset, message: message.into(), hint: None }
    }

    fn skip_ws(&mut self) {
        while self.pos < self.bytes.len() && self.bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// The (possibly multi-byte) character at `pos`; only called when `pos` is in bounds and on a
    /// char boundary (we only ever advance over ASCII bytes).
    fn current_char(&self) -> char {
        self.text.get(self.pos..).and_then(|s| s.chars().next()).unwrap_or('?')
    }

    fn read_word(&mut self) -> (usize, &str) {
        let start = self.pos;
        while self.pos < self.bytes.len() && is_word_byte(self.bytes[self.pos]) {
            self.pos += 1;
        }
        // Word bytes are ASCII, so both ends are char boundaries.
        (start, self.text.get(start..self.pos).unwrap_or(""))
    }

    fn is_notation(&self, word: &str) -> bool {
        let lower = word.to_ascii_lowercase();
        is_builtin_notation(&lower) || self.extra.contains(&lower)
    }

    fn notation_candidates(&self) -> Vec<String> {
        let mut v: Vec<String> = BUILTIN_NOTATIONS.iter().map(|s| s.to_string()).collect();
        v.extend(self.extra.iter().cloned());
        v
    }

    /// `usertype := [notation ":"] type`. `effective` tells whether an ancestor wrote a notation.
    fn user_type(&mut self, effective: bool) -> Result<UserType, TypeError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(self.pos, format!("type is nested too deeply (more than {MAX_DEPTH} levels)")));
        }
        let r = self.user_type_inner(effective);
        self.depth -= 1;
        r
    }

    fn user_type_inner(&mut self, effective: bool) -> Result<UserType, TypeError> {
        self.skip_ws();
        let start = self.pos;
        if self.peek().is_some_and(is_word_byte) {
            let (_, word) = self.read_word();
            let word = word.to_string();
            self.skip_ws();
            if self.peek() == Some(b':') {
                if word.is_empty() || !self.is_notation(&word) {
                    let mut e = self.err(start, format!("unknown notation '{word}'"));
                    e.hint = notation_hint(&word, &self.notation_candidates());
                    return Err(e);
                }
                let colon = self.pos;
                self.pos += 1;
                self.skip_ws();
                if self.pos >= self.bytes.len() {
                    return Err(self.err(colon + 1, format!("expected a type after '{word}:'")));
                }
                let inner = self.type_term(true, true)?;
                return Ok(UserType { notation: Some(word.to_ascii_lowercase()), kind: inner.kind });
            }
            self.pos = start;
        }
        self.type_term(effective, false)
    }

    /// One type without a notation prefix. `after_prefix`: directly after `notation:`, where a
    /// bare word is a schema name even if it equals a notation name.
    fn type_term(&mut self, effective: bool, after_prefix: bool) -> Result<UserType, TypeError> {
        self.skip_ws();
        let start = self.pos;
        let plain = |kind| Ok(UserType { notation: None, kind });
        let Some(b) = self.peek() else {
            return Err(self.err(start, "expected a type"));
        };
        match b {
            b'[' => {
                self.pos += 1;
                self.skip_ws();
                if self.peek() == Some(b']') {
                    return Err(self.err(self.pos, "empty list type: write the element type, e.g. '[string]'"));
                }
                let inner = self.user_type(effective)?;
                self.expect_close(start, b'[', b']', "a list has exactly one element type")?;
                plain(TypeKind::List(Box::new(inner)))
            }
            b'(' => {
                self.pos += 1;
                let items = self.type_list(start, effective, "tuple")?;
                plain(TypeKind::Tuple(items))
            }
            b'?' => {
                self.pos += 1;
                plain(TypeKind::Any)
            }
            _ if is_word_byte(b) => {
                let (wstart, word) = self.read_word();
                let word = word.to_string();
                let after_word = self.pos;
                self.skip_ws();
                let paren = (self.peek() == Some(b'(')).then_some(self.pos);
                if paren.is_none() {
                    self.pos = after_word;
                }
                if let Some(open) = paren
                    && CONSTRUCTOR_KEYWORDS.contains(&word.as_str())
                {
                    self.pos = open + 1;
                    return self.constructor(&word, open, effective);
                }
                let kind = match word.as_str() {
                    "any" => Some(TypeKind::Any),
                    "null" | "none" => Some(TypeKind::Null),
                    "boolean" => Some(TypeKind::Boolean),
                    "byte" => Some(TypeKind::Byte),
                    "short" => Some(TypeKind::Short),
                    "int" | "integer" => Some(TypeKind::Int),
                    "long" => Some(TypeKind::Long),
                    "float" => Some(TypeKind::Float),
                    "double" => Some(TypeKind::Double),
                    "bytes" => Some(TypeKind::Bytes),
                    "string" | "str" => Some(TypeKind::String),
                    "struct" => Some(TypeKind::Struct),
                    "map" => Some(TypeKind::Map(None)),
                    "list" | "tuple" | "union" | "enum" | "windowed" => {
                        let example = match word.as_str() {
                            "list" => "list(string)",
                            "tuple" => "tuple(string, long)",
                            "union" => "union(null, string)",
                            "enum" => "enum(RED, GREEN)",
                            _ => "windowed(string)",
                        };
                        return Err(self.err(wstart, format!("'{word}' needs its arguments in parentheses, e.g. '{example}'")));
                    }
                    _ => None,
                };
                if let Some(kind) = kind {
                    if let Some(open) = paren {
                        return Err(self.err(open, format!("type '{word}' does not take arguments")));
                    }
                    return plain(kind);
                }
                if !after_prefix && self.is_notation(&word) {
                    if let Some(open) = paren {
                        return Err(self.err(open, format!("notation '{word}' does not take arguments")));
                    }
                    return Ok(UserType { notation: Some(word.to_ascii_lowercase()), kind: TypeKind::NotationDefault });
                }
                if effective && paren.is_none() {
                    return plain(TypeKind::Schema(word));
                }
                let mut e = self.err(wstart, format!("unknown type '{word}'"));
                let mut candidates: Vec<String> = PRIMITIVE_KEYWORDS.iter().chain(CONSTRUCTOR_KEYWORDS).map(|s| s.to_string()).collect();
                candidates.extend(self.notation_candidates());
                e.hint = closest(&word, &candidates).map(|c| format!("did you mean '{c}'?"));
                if e.hint.is_none() && paren.is_none() {
                    e.hint = Some(format!("a schema name needs a notation prefix, e.g. 'avro:{word}'"));
                }
                Err(e)
            }
            _ => {
                let c = self.current_char();
                let message = match c {
                    ')' | ']' | ',' => format!("expected a type before '{c}'"),
                    _ => format!("unexpected '{c}': expected a type"),
                };
                Err(self.err(start, message))
            }
        }
    }

    /// After `word(`; `open` is the offset of the '('.
    fn constructor(&mut self, word: &str, open: usize, effective: bool) -> Result<UserType, TypeError> {
        let kind = match word {
            "tuple" => TypeKind::Tuple(self.type_list(open, effective, "tuple")?),
            "union" => TypeKind::Union(self.type_list(open, effective, "union")?),
            "enum" => TypeKind::Enum(self.literal_list(open)?),
            _ => {
                self.skip_ws();
                if self.peek() == Some(b')') {
                    return Err(self.err(self.pos, format!("'{word}()' needs a type between the parentheses")));
                }
                let inner = Box::new(self.user_type(effective)?);
                self.expect_close(open, b'(', b')', &format!("'{word}' takes exactly one type"))?;
                match word {
                    "list" => TypeKind::List(inner),
                    "map" => TypeKind::Map(Some(inner)),
                    _ => TypeKind::Windowed(inner),
                }
            }
        };
        Ok(UserType { notation: None, kind })
    }

    /// Expects `close` (after optional whitespace) for the bracket opened at `open_at`.
    fn expect_close(&mut self, open_at: usize, open: u8, close: u8, on_comma: &str) -> Result<(), TypeError> {
        self.skip_ws();
        match self.peek() {
            Some(c) if c == close => {
                self.pos += 1;
                Ok(())
            }
            None => Err(self.err(open_at, format!("'{}' is never closed: expected '{}'", char::from(open), char::from(close)))),
            Some(b',') => Err(self.err(self.pos, on_comma.to_string())),
            Some(_) => {
                let c = self.current_char();
                Err(self.err(self.pos, format!("expected '{}' but found '{c}'", char::from(close))))
            }
        }
    }

    /// `usertype {"," usertype} ")"`, after the '(' at `open`.
    fn type_list(&mut self, open: usize, effective: bool, what: &str) -> Result<Vec<UserType>, TypeError> {
        self.skip_ws();
        if self.peek() == Some(b')') {
            return Err(self.err(self.pos, format!("empty {what}: expected at least one type")));
        }
        let mut items = Vec::new();
        loop {
            items.push(self.user_type(effective)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b')') => {
                    self.pos += 1;
                    return Ok(items);
                }
                None => return Err(self.err(open, "'(' is never closed: expected ')'")),
                Some(_) => {
                    let c = self.current_char();
                    return Err(self.err(self.pos, format!("expected ',' or ')' but found '{c}'")));
                }
            }
        }
    }

    /// `literal {"," literal} ")"`, after the '(' at `open`.
    fn literal_list(&mut self, open: usize) -> Result<Vec<String>, TypeError> {
        self.skip_ws();
        if self.peek() == Some(b')') {
            return Err(self.err(self.pos, "empty enum: expected at least one literal"));
        }
        let mut out: Vec<String> = Vec::new();
        loop {
            self.skip_ws();
            let start = self.pos;
            let literal = match self.peek() {
                Some(q @ (b'\'' | b'"')) => {
                    let content_start = self.pos + 1;
                    let Some(len) = self.bytes[content_start..].iter().position(|&b| b == q) else {
                        return Err(self.err(start, "unterminated quoted enum literal"));
                    };
                    // Quote bytes are ASCII, so these are char boundaries.
                    let s = self.text.get(content_start..content_start + len).unwrap_or("");
                    self.pos = content_start + len + 1;
                    if s.is_empty() {
                        return Err(self.err(start, "empty enum literal"));
                    }
                    s.to_string()
                }
                Some(b) if is_literal_byte(b) => {
                    while self.peek().is_some_and(is_literal_byte) {
                        self.pos += 1;
                    }
                    self.text.get(start..self.pos).unwrap_or("").to_string()
                }
                None => return Err(self.err(open, "'(' is never closed: expected ')'")),
                Some(b',' | b')') => return Err(self.err(start, "empty enum literal")),
                Some(_) => {
                    let c = self.current_char();
                    return Err(
                        self.err(start, format!("unexpected '{c}' in enum literal: literals are letters, digits and '_', or quoted"))
                    );
                }
            };
            if out.contains(&literal) {
                return Err(self.err(start, format!("duplicate enum literal '{literal}'")));
            }
            out.push(literal);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b')') => {
                    self.pos += 1;
                    return Ok(out);
                }
                None => return Err(self.err(open, "'(' is never closed: expected ')'")),
                Some(_) => {
                    let c = self.current_char();
                    return Err(self.err(self.pos, format!("expected ',' or ')' but found '{c}'")));
                }
            }
        }
    }
}

fn notation_hint(word: &str, candidates: &[String]) -> Option<String> {
    let lower = word.to_ascii_lowercase();
    match lower.as_str() {
        "confluent_jsonschema" | "confluent_protobuf" => {
            return Some(format!(
                "KSML ships a '{lower}' provider but cannot load it; use '{}' instead",
                lower.replace("confluent_", "apicurio_")
            ));
        }
        "soap" => return Some("the SOAP notation was removed from KSML (1.3.0)".to_string()),
        _ => {}
    }
    closest(word, candidates).map(|c| format!("did you mean '{c}'?"))
}

/// The closest candidate: a case-insensitive exact match first, otherwise the first candidate
/// with the smallest edit distance, if that distance is at most 2 and smaller than the word.
fn closest<'c>(word: &str, candidates: &'c [String]) -> Option<&'c str> {
    if let Some(c) = candidates.iter().find(|c| c.eq_ignore_ascii_case(word)) {
        return Some(c);
    }
    let lower = word.to_ascii_lowercase();
    let len = lower.chars().count();
    candidates
        .iter()
        .map(|c| (levenshtein(&lower, c), c))
        .filter(|(d, _)| *d <= 2 && *d < len)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.as_str())
}

/// Classic edit distance over chars.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

impl fmt::Display for UserType {
    /// Canonical form: keywords in their primary spelling (`int`, `string`, `null`, `any`),
    /// `list(T)` and `tuple(A, B)` instead of the bracket forms, `", "` between arguments, enum
    /// literals quoted only when needed. A `NotationDefault` without a notation (not produced by
    /// the parser) prints as `default`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.notation, &self.kind) {
            (Some(n), TypeKind::NotationDefault) => f.write_str(n),
            (None, TypeKind::NotationDefault) => f.write_str("default"),
            (Some(n), kind) => write!(f, "{n}:{kind}"),
            (None, kind) => write!(f, "{kind}"),
        }
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, name: &str, items: &[UserType]) -> fmt::Result {
    write!(f, "{name}(")?;
    for (i, t) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{t}")?;
    }
    f.write_str(")")
}

impl fmt::Display for TypeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeKind::Any => f.write_str("any"),
            TypeKind::Null => f.write_str("null"),
            TypeKind::Boolean => f.write_str("boolean"),
            TypeKind::Byte => f.write_str("byte"),
            TypeKind::Short => f.write_str("short"),
            TypeKind::Int => f.write_str("int"),
            TypeKind::Long => f.write_str("long"),
            TypeKind::Float => f.write_str("float"),
            TypeKind::Double => f.write_str("double"),
            TypeKind::Bytes => f.write_str("bytes"),
            TypeKind::String => f.write_str("string"),
            TypeKind::Struct => f.write_str("struct"),
            TypeKind::Map(None) => f.write_str("map"),
            TypeKind::Map(Some(t)) => write!(f, "map({t})"),
            TypeKind::List(t) => write!(f, "list({t})"),
            TypeKind::Tuple(ts) => write_list(f, "tuple", ts),
            TypeKind::Union(ts) => write_list(f, "union", ts),
            TypeKind::Enum(ls) => {
                f.write_str("enum(")?;
                for (i, l) in ls.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if !l.is_empty() && l.bytes().all(is_literal_byte) {
                        f.write_str(l)?;
                    } else if l.contains('"') {
                        write!(f, "'{l}'")?;
                    } else {
                        write!(f, "\"{l}\"")?;
                    }
                }
                f.write_str(")")
            }
            TypeKind::Windowed(t) => write!(f, "windowed({t})"),
            TypeKind::Schema(name) => f.write_str(name),
            TypeKind::NotationDefault => f.write_str("default"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Semantic validation
// ---------------------------------------------------------------------------------------------

/// How a notation uses schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaUse {
    /// Schemaless only; `notation:Name` is invalid.
    None,
    /// `notation` and `notation:Name` are both fine.
    Optional,
    /// `notation:Name` is needed (except where the schema can come from a registry).
    Required,
}

/// Static facts about a built-in notation (as KSML's notations have them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotationInfo {
    pub name: &'static str,
    pub schema: SchemaUse,
    /// A bare name is allowed on topic definitions, the schema being fetched from the registry.
    /// Only the Avro family implements this (Appendix A #21).
    pub registry_inferable: bool,
    /// Human description of the notation's default type.
    pub default_kind: &'static str,
    /// The default type is `any`, so explicit `notation:<primitive>` is fine (binary/default).
    /// Otherwise the default type is struct-like and only `struct` is accepted among the keyword
    /// types when the notation is written explicitly (`json:string` is an error).
    pub accepts_any_type: bool,
}

const fn info(
    name: &'static str,
    schema: SchemaUse,
    registry_inferable: bool,
    default_kind: &'static str,
    accepts_any_type: bool,
) -> NotationInfo {
    NotationInfo { name, schema, registry_inferable, default_kind, accepts_any_type }
}

static NOTATIONS: &[NotationInfo] = &[
    info("binary", SchemaUse::None, false, "any ('?'); Kafka's standard serdes per primitive, complex types as JSON", true),
    info("default", SchemaUse::None, false, "any ('?'); same as binary", true),
    info("json", SchemaUse::None, false, "union(struct, list)", false),
    info("csv", SchemaUse::Required, false, "union(struct, list)", false),
    info("xml", SchemaUse::Optional, false, "struct", false),
    info("avro", SchemaUse::Required, true, "struct", false),
    info("confluent_avro", SchemaUse::Required, true, "struct", false),
    info("apicurio_avro", SchemaUse::Required, true, "struct", false),
    info("jsonschema", SchemaUse::Required, false, "union(struct, list)", false),
    info("apicurio_jsonschema", SchemaUse::Required, false, "union(struct, list)", false),
    info("protobuf", SchemaUse::Required, false, "struct", false),
    info("apicurio_protobuf", SchemaUse::Required, false, "struct", false),
];

/// Facts about a built-in notation name (case-insensitive); `None` for unknown or user-only names.
pub fn notation_info(name: &str) -> Option<&'static NotationInfo> {
    NOTATIONS.iter().find(|n| n.name.eq_ignore_ascii_case(name))
}

/// Semantic problems with a parsed type. `on_topic`: the type is the key/value type of a topic
/// definition (streams, tables, globalTables, inline topics), the only place where a bare
/// registry-backed notation (`avro`) is allowed. Returns human-readable messages; empty = fine.
///
/// Notation names that are not built in (user-configured names such as `myavro`) are accepted
/// without checks, since their underlying notation type is not known here.
///
/// Checks:
/// * bare notation needing a schema → `notation 'csv' requires a schema: write 'csv:<SchemaName>'`,
///   except bare Avro-family names at the top of a topic type;
/// * schema name under a schemaless notation (`json:Foo`, also inherited: `json:list(Foo)`);
/// * an explicitly written notation with a keyword type its default type does not accept
///   (`json:string`; only `struct` is accepted by struct-like notations). Inherited notations are
///   not checked (`json:windowed(string)` is fine), matching KSML where implicit falls back to
///   the default notation.
pub fn validate_user_type(t: &UserType, on_topic: bool) -> Vec<String> {
    let mut out = Vec::new();
    validate(t, None, on_topic, &mut out);
    out
}

fn validate(t: &UserType, inherited: Option<&str>, top_of_topic: bool, out: &mut Vec<String>) {
    let own = t.notation.as_deref();
    let effective = own.or(inherited);
    match &t.kind {
        TypeKind::NotationDefault => {
            let Some(name) = effective else { return };
            let Some(info) = notation_info(name) else {
                return;
            };
            if info.schema == SchemaUse::Required {
                if info.registry_inferable {
                    if !top_of_topic {
                        out.push(format!(
                            "bare '{name}' (schema taken from the schema registry) is only allowed as the key or \
                             value type of a topic definition (streams, tables, globalTables, inline topics); \
                             write '{name}:<SchemaName>' here"
                        ));
                    }
                } else {
                    out.push(format!("notation '{name}' requires a schema: write '{name}:<SchemaName>'"));
                }
            }
        }
        TypeKind::Schema(schema) => match effective {
            None => out.push(format!("schema name '{schema}' needs a notation prefix, e.g. 'avro:{schema}'")),
            Some(name) => {
                if let Some(info) = notation_info(name)
                    && info.schema == SchemaUse::None
                {
                    out.push(format!("notation '{name}' does not use schemas, so schema name '{schema}' is not allowed"));
                }
            }
        },
        TypeKind::Any
        | TypeKind::Null
        | TypeKind::Boolean
        | TypeKind::Byte
        | TypeKind::Short
        | TypeKind::Int
        | TypeKind::Long
        | TypeKind::Float
        | TypeKind::Double
        | TypeKind::Bytes
        | TypeKind::String
        | TypeKind::Struct => {
            if let Some(name) = own
                && let Some(info) = notation_info(name)
                && !info.accepts_any_type
                && t.kind != TypeKind::Struct
            {
                out.push(format!("notation '{name}' does not allow data type '{}' (its values are {})", t.kind, info.default_kind));
            }
        }
        TypeKind::Map(inner) => {
            if let Some(i) = inner {
                validate(i, effective, false, out);
            }
        }
        TypeKind::List(i) | TypeKind::Windowed(i) => validate(i, effective, false, out),
        TypeKind::Tuple(items) | TypeKind::Union(items) => {
            for i in items {
                validate(i, effective, false, out);
            }
        }
        TypeKind::Enum(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<UserType, TypeError> {
        parse_user_type(s, &[])
    }
    fn ok(s: &str) -> UserType {
        p(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }
    fn plain(kind: TypeKind) -> UserType {
        UserType { notation: None, kind }
    }
    fn with(n: &str, kind: TypeKind) -> UserType {
        UserType { notation: Some(n.to_string()), kind }
    }
    fn err(s: &str) -> TypeError {
        match p(s) {
            Ok(t) => panic!("{s:?} parsed as {t:?}"),
            Err(e) => e,
        }
    }

    /// Every distinct keyType/valueType/resultType/`into`/parameter `type` string in KSML's
    /// example YAML (gathered with grep over /work/shared/ksml; quotes removed, trailing blanks
    /// kept where they occur). Grep artefacts that are not type strings (YAML comments inside
    /// literal blocks, e.g. "integer work correctly") are left out.
    const EXAMPLE_TYPES: &[&str] = &[
        "(string,avro:SensorData)",
        "[(json,json)]",
        "[(string,string)]",
        "[string]  ",
        "avro:SensorData",
        "(string, json)",
        "(string, json)                    ",
        "(string, long)",
        "(string, map(int))  ",
        "(string, map(string))  ",
        "(string, string)",
        "(string, struct)  ",
        "(string, union(null, json))  ",
        "(string,json)",
        "(string,string)",
        "apicurio_avro",
        "avro:SensorAlertSettings",
        "avro:SensorDataNoColor",
        "boolean",
        "confluent_avro",
        "double",
        "enum(PENDING, PROCESSING, SHIPPED, DELIVERED, CANCELLED)",
        "float",
        "int         ",
        "integer",
        "json  ",
        "json                ",
        "json:windowed(string)  ",
        "list(int)    ",
        "list(json)",
        "list(string)  ",
        "list(tuple(string, json))         ",
        "list(tuple(string, string))",
        "list(tuple(string, struct))",
        "long  ",
        "map(int)     ",
        "map(string)  ",
        "string      ",
        "struct  ",
        "tuple(double, double, string)    ",
        "tuple(string, json)  ",
        "tuple(string, string)",
        "union(null, json)  ",
        "windowed(string)  ",
        "xml  ",
        "any  ",
        "?",
    ];

    #[test]
    fn all_example_types_parse_validate_and_round_trip() {
        for s in EXAMPLE_TYPES {
            let t = ok(s);
            assert_eq!(validate_user_type(&t, true), Vec::<String>::new(), "{s}");
            assert_eq!(ok(&t.to_string()), t, "{s}");
        }
        // The one parameter type in the examples that is not a KSML type (a docs bug in
        // use-cases/fraud-detection/fraud-detection-machine-learning.yaml).
        let e = err("object");
        assert_eq!(e.message, "unknown type 'object'");
    }

    #[test]
    fn primitives_and_aliases() {
        use TypeKind::*;
        for (s, k) in [
            ("any", Any),
            ("?", Any),
            ("null", Null),
            ("none", Null),
            ("boolean", Boolean),
            ("byte", Byte),
            ("short", Short),
            ("int", Int),
            ("integer", Int),
            ("long", Long),
            ("float", Float),
            ("double", Double),
            ("bytes", Bytes),
            ("string", String),
            ("str", String),
            ("struct", Struct),
            ("map", Map(None)),
            ("  string \t", String),
        ] {
            assert_eq!(ok(s), plain(k), "{s}");
        }
    }

    #[test]
    fn composites() {
        use TypeKind::*;
        let s = || Box::new(plain(String));
        assert_eq!(ok("[string]"), plain(List(s())));
        assert_eq!(ok("list(string)"), plain(List(s())));
        assert_eq!(ok(" list ( string ) "), plain(List(s())));
        assert_eq!(ok("map(string)"), plain(Map(Some(s()))));
        assert_eq!(ok("windowed(string)"), plain(Windowed(s())));
        assert_eq!(ok("(string,long)"), plain(Tuple(vec![plain(String), plain(Long)])));
        assert_eq!(ok("tuple( string , long )"), plain(Tuple(vec![plain(String), plain(Long)])));
        assert_eq!(ok("(string)"), plain(Tuple(vec![plain(String)])));
        assert_eq!(ok("union(null, json)"), plain(Union(vec![plain(Null), with("json", NotationDefault)])));
        assert_eq!(ok("[(string, [int])]"), plain(List(Box::new(plain(Tuple(vec![plain(String), plain(List(Box::new(plain(Int))))]))))));
    }

    #[test]
    fn enums_are_trimmed_and_unquoted() {
        let e = |v: &[&str]| plain(TypeKind::Enum(v.iter().map(|s| s.to_string()).collect()));
        assert_eq!(ok("enum(A,B)"), e(&["A", "B"]));
        assert_eq!(ok("enum( A , B )"), e(&["A", "B"]));
        assert_eq!(ok("enum(\"A\", 'B')"), e(&["A", "B"]));
        assert_eq!(ok("enum('a b', \"x,y\", 'say \"hi\"', \"it's\", '(p)')"), e(&["a b", "x,y", "say \"hi\"", "it's", "(p)"]));
        assert_eq!(ok("enum(A)"), e(&["A"]));
    }

    #[test]
    fn notations() {
        use TypeKind::*;
        assert_eq!(ok("json"), with("json", NotationDefault));
        assert_eq!(ok("JSON"), with("json", NotationDefault));
        assert_eq!(ok("avro"), with("avro", NotationDefault));
        assert_eq!(ok("avro:SensorData"), with("avro", Schema("SensorData".into())));
        assert_eq!(ok("AVRO : io.axual.Sensor"), with("avro", Schema("io.axual.Sensor".into())));
        assert_eq!(ok("json:string"), with("json", String));
        assert_eq!(ok("json:avro"), with("json", Schema("avro".into())));
        assert_eq!(ok("json:windowed(string)"), with("json", Windowed(Box::new(plain(String)))));
        assert_eq!(ok("json:[string]"), with("json", List(Box::new(plain(String)))));
        // inherited notation makes schema names legal below it
        assert_eq!(ok("avro:list(Sensor)"), with("avro", List(Box::new(plain(Schema("Sensor".into()))))));
        assert_eq!(ok("[avro:Sensor]"), plain(List(Box::new(with("avro", Schema("Sensor".into()))))));
        assert_eq!(ok("(string,avro:SensorData)"), plain(Tuple(vec![plain(String), with("avro", Schema("SensorData".into()))])));
        // extra notations, case-insensitive, normalised to lowercase
        let extra = vec!["MyAvro".to_string()];
        assert_eq!(parse_user_type("myavro:Foo", &extra), Ok(with("myavro", Schema("Foo".into()))));
        assert_eq!(parse_user_type("MYAVRO", &extra), Ok(with("myavro", NotationDefault)));
        // a configured notation named like a keyword does not shadow the keyword
        assert_eq!(parse_user_type("string", &["string".to_string()]), Ok(plain(String)));
    }

    #[test]
    fn errors_with_offsets_and_hints() {
        let cases: &[(&str, usize, &str, Option<&str>)] = &[
            ("", 0, "empty type", Some("write a type such as 'string', 'json' or 'avro:MySchema'")),
            ("   ", 0, "empty type", Some("write a type such as 'string', 'json' or 'avro:MySchema'")),
            ("Foo", 0, "unknown type 'Foo'", Some("a schema name needs a notation prefix, e.g. 'avro:Foo'")),
            ("String", 0, "unknown type 'String'", Some("did you mean 'string'?")),
            ("strng", 0, "unknown type 'strng'", Some("did you mean 'string'?")),
            ("jsn", 0, "unknown type 'jsn'", Some("did you mean 'json'?")),
            ("lst(string)", 0, "unknown type 'lst'", Some("did you mean 'list'?")),
            ("list(Strin)", 5, "unknown type 'Strin'", Some("did you mean 'string'?")),
            ("SensorData", 0, "unknown type 'SensorData'", Some("a schema name needs a notation prefix, e.g. 'avro:SensorData'")),
            ("avr:SensorData", 0, "unknown notation 'avr'", Some("did you mean 'avro'?")),
            (
                "confluent_protobuf:X",
                0,
                "unknown notation 'confluent_protobuf'",
                Some("KSML ships a 'confluent_protobuf' provider but cannot load it; use 'apicurio_protobuf' instead"),
            ),
            ("soap:X", 0, "unknown notation 'soap'", Some("the SOAP notation was removed from KSML (1.3.0)")),
            ("json:", 5, "expected a type after 'json:'", None),
            ("json:avro:X", 9, "unexpected ':': a type has at most one notation prefix, written before any '(' or '['", None),
            ("union()", 6, "empty union: expected at least one type", None),
            ("tuple()", 6, "empty tuple: expected at least one type", None),
            ("()", 1, "empty tuple: expected at least one type", None),
            ("enum()", 5, "empty enum: expected at least one literal", None),
            ("[]", 1, "empty list type: write the element type, e.g. '[string]'", None),
            ("list()", 5, "'list()' needs a type between the parentheses", None),
            ("list(string", 4, "'(' is never closed: expected ')'", None),
            ("[string", 0, "'[' is never closed: expected ']'", None),
            ("(string, long", 0, "'(' is never closed: expected ')'", None),
            ("enum(A, B", 4, "'(' is never closed: expected ')'", None),
            ("list(string]", 11, "expected ')' but found ']'", None),
            ("[string)", 7, "expected ']' but found ')'", None),
            ("list(string))", 12, "unmatched ')'", None),
            ("string]", 6, "unmatched ']'", None),
            ("string long", 7, "unexpected 'l' after the type", None),
            ("string, long", 6, "unexpected ',' after the type: a list of types needs parentheses, e.g. '(string, long)'", None),
            ("list(string, long)", 11, "'list' takes exactly one type", None),
            ("[string, long]", 7, "a list has exactly one element type", None),
            ("list", 0, "'list' needs its arguments in parentheses, e.g. 'list(string)'", None),
            ("windowed", 0, "'windowed' needs its arguments in parentheses, e.g. 'windowed(string)'", None),
            ("string(x)", 6, "type 'string' does not take arguments", None),
            ("json(x)", 4, "notation 'json' does not take arguments", None),
            ("(string,)", 8, "expected a type before ')'", None),
            ("(,string)", 1, "expected a type before ','", None),
            ("enum(A,,B)", 7, "empty enum literal", None),
            ("enum(A,A)", 7, "duplicate enum literal 'A'", None),
            ("enum(A, 'A')", 8, "duplicate enum literal 'A'", None),
            ("enum('')", 5, "empty enum literal", None),
            ("enum('abc)", 5, "unterminated quoted enum literal", None),
            ("enum(a b)", 7, "expected ',' or ')' but found 'b'", None),
            ("enum(a-b)", 6, "expected ',' or ')' but found '-'", None),
            ("enum(é)", 5, "unexpected 'é' in enum literal: literals are letters, digits and '_', or quoted", None),
            ("é", 0, "unexpected 'é': expected a type", None),
            ("(string long)", 8, "expected ',' or ')' but found 'l'", None),
            (":string", 0, "unexpected ':': expected a type", None),
        ];
        for (s, off, msg, hint) in cases {
            let e = err(s);
            assert_eq!((e.offset, e.message.as_str(), e.hint.as_deref()), (*off, *msg, *hint), "{s:?}");
        }
        let deep = "list(".repeat(100) + "string" + &")".repeat(100);
        assert!(err(&deep).message.starts_with("type is nested too deeply"));
    }

    #[test]
    fn levenshtein_basics() {
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("json", "json"), 0);
        assert_eq!(levenshtein("jsn", "json"), 1);
    }

    #[test]
    fn validation() {
        let v = |s: &str, on_topic: bool| validate_user_type(&ok(s), on_topic);
        let none: Vec<String> = vec![];
        for s in [
            "string",
            "json",
            "xml",
            "xml:Order",
            "binary:string",
            "default:long",
            "json:struct",
            "avro:struct",
            "csv:Order",
            "jsonschema:Order",
            "protobuf:Order",
            "json:windowed(string)",
            "json:list(string)",
            "(string, avro:SensorData)",
            "json:map(string)",
            "windowed(string)",
            "any",
            "binary",
        ] {
            assert_eq!(v(s, false), none, "{s}");
            assert_eq!(v(s, true), none, "{s}");
        }
        for s in ["avro", "confluent_avro", "apicurio_avro", "AVRO"] {
            assert_eq!(v(s, true), none, "{s}");
            assert_eq!(
                v(s, false),
                vec![format!(
                    "bare '{}' (schema taken from the schema registry) is only allowed as the key or value type of a \
                     topic definition (streams, tables, globalTables, inline topics); write '{}:<SchemaName>' here",
                    s.to_lowercase(),
                    s.to_lowercase()
                )]
            );
        }
        // nested bare avro is never on a topic
        assert_eq!(v("(string, avro)", true).len(), 1);
        assert_eq!(v("csv", true), vec!["notation 'csv' requires a schema: write 'csv:<SchemaName>'".to_string()]);
        assert_eq!(v("protobuf", true), vec!["notation 'protobuf' requires a schema: write 'protobuf:<SchemaName>'".to_string()]);
        assert_eq!(v("jsonschema", false), vec!["notation 'jsonschema' requires a schema: write 'jsonschema:<SchemaName>'".to_string()]);
        assert_eq!(
            v("json:string", true),
            vec!["notation 'json' does not allow data type 'string' (its values are union(struct, list))".to_string()]
        );
        assert_eq!(v("avro:int", true), vec!["notation 'avro' does not allow data type 'int' (its values are struct)".to_string()]);
        assert_eq!(v("json:Order", true), vec!["notation 'json' does not use schemas, so schema name 'Order' is not allowed".to_string()]);
        assert_eq!(
            v("json:list(Order)", true),
            vec!["notation 'json' does not use schemas, so schema name 'Order' is not allowed".to_string()]
        );
        assert_eq!(v("binary:Order", true).len(), 1);
        assert_eq!(v("(json:string, csv)", true).len(), 2);
        // user-configured notation names are not checked
        let t = parse_user_type("myavro", &["myavro".to_string()]).expect("parses");
        assert!(validate_user_type(&t, false).is_empty());
        assert!(validate_user_type(&plain(TypeKind::Schema("X".into())), true)[0].contains("needs a notation prefix"));
        assert_eq!(notation_info("JSON").map(|i| i.name), Some("json"));
        assert!(notation_info("myavro").is_none());
        for n in BUILTIN_NOTATIONS {
            assert!(notation_info(n).is_some(), "{n}");
        }
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const GEN_NOTATIONS: &[&str] = &["json", "avro", "xml", "csv", "binary", "default", "apicurio_avro", "myavro"];
    const GEN_SCHEMAS: &[&str] = &["SensorData", "io.axual.Sensor", "X1", "my_schema", "a-b"];
    const GEN_LITERALS: &[&str] = &["A", "b_2", "9", "with space", "x,y", "it's", "say \"hi\"", "(p)", "é"];

    fn gen_type(r: &mut Rng, depth: usize, effective: bool) -> UserType {
        use TypeKind::*;
        // maybe write a notation on this node
        let mut notation = (r.below(4) == 0).then(|| GEN_NOTATIONS[r.below(GEN_NOTATIONS.len())].to_string());
        let eff = effective || notation.is_some();
        let leaf = depth >= 4 || r.below(3) == 0;
        let choice = if leaf { r.below(15) } else { 15 + r.below(7) };
        let sub = |r: &mut Rng| Box::new(gen_type(r, depth + 1, eff));
        let kind = match choice {
            0 => Any,
            1 => Null,
            2 => Boolean,
            3 => Byte,
            4 => Short,
            5 => Int,
            6 => Long,
            7 => Float,
            8 => Double,
            9 => Bytes,
            10 => String,
            11 => Struct,
            12 => Map(None),
            13 => {
                if notation.is_none() {
                    notation = Some(GEN_NOTATIONS[r.below(GEN_NOTATIONS.len())].to_string());
                }
                NotationDefault
            }
            14 => {
                if !eff {
                    notation = Some(GEN_NOTATIONS[r.below(GEN_NOTATIONS.len())].to_string());
                }
                Schema(GEN_SCHEMAS[r.below(GEN_SCHEMAS.len())].to_string())
            }
            15 => Map(Some(sub(r))),
            16 => List(sub(r)),
            17 => Windowed(sub(r)),
            18 | 19 => {
                let n = 1 + r.below(3);
                let items = (0..n).map(|_| *sub(r)).collect();
                if choice == 18 { Tuple(items) } else { Union(items) }
            }
            _ => {
                let mut lits: Vec<std::string::String> = Vec::new();
                for _ in 0..1 + r.below(4) {
                    let l = GEN_LITERALS[r.below(GEN_LITERALS.len())].to_string();
                    if !lits.contains(&l) {
                        lits.push(l);
                    }
                }
                Enum(lits)
            }
        };
        UserType { notation, kind }
    }

    #[test]
    fn display_round_trip_generated() {
        let extra = vec!["MyAvro".to_string()];
        let mut r = Rng(0x2545_F491_4F6C_DD1D);
        for _ in 0..5_000 {
            let t = gen_type(&mut r, 0, false);
            let text = t.to_string();
            assert_eq!(parse_user_type(&text, &extra).as_ref(), Ok(&t), "{text}");
        }
    }

    #[test]
    fn display_examples() {
        assert_eq!(ok("[ (string,avro:SensorData) ]").to_string(), "list(tuple(string, avro:SensorData))");
        assert_eq!(ok("JSON:windowed(str)").to_string(), "json:windowed(string)");
        assert_eq!(ok("enum( A ,'b c')").to_string(), "enum(A, \"b c\")");
        assert_eq!(ok("?").to_string(), "any");
        assert_eq!(ok("Avro").to_string(), "avro");
    }

    #[test]
    fn never_panics_on_random_input() {
        let tokens: &[&str] = &[
            "(",
            ")",
            "[",
            "]",
            ",",
            ":",
            " ",
            "?",
            "'",
            "\"",
            "é",
            "\u{1F600}",
            "string",
            "json",
            "avro",
            "list",
            "map",
            "tuple",
            "union",
            "enum",
            "windowed",
            "struct",
            "Sensor",
            "a",
            "1",
            ".",
            "-",
            "_",
            "\t",
            "int",
        ];
        let extra = vec!["custom".to_string()];
        let mut r = Rng(0xDEAD_BEEF_CAFE_F00D);
        let mut parsed = 0;
        for _ in 0..20_000 {
            let n = r.below(16);
            let s: std::string::String = (0..n).map(|_| tokens[r.below(tokens.len())]).collect();
            if let Ok(t) = parse_user_type(&s, &extra) {
                parsed += 1;
                let _ = validate_user_type(&t, r.below(2) == 0);
                // anything that parses must round-trip through its canonical form
                assert_eq!(parse_user_type(&t.to_string(), &extra).as_ref(), Ok(&t), "{s:?}");
            } else if let Err(e) = parse_user_type(&s, &extra) {
                assert!(e.offset <= s.len(), "{s:?}");
                assert!(s.is_char_boundary(e.offset), "{s:?}");
            }
        }
        eprintln!("random inputs that parsed: {parsed}");
        assert!(parsed > 100, "the generator should also hit valid inputs ({parsed})");
    }
}
