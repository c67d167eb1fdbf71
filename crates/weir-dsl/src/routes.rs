//! HTTP routes (`weir run --routes routes.yaml`): YAML text → a checked [`RouteTable`].
//!
//! A routes file lists HTTP routes that `weir run` serves on its REST API
//! (`ksml.applicationServer`) beside KSML's own paths: routes that **produce** the JSON body
//! of a request to a topic (ingest), and routes that **query** a key-value store by a key
//! taken from the path, waiting (long-poll) until the key is there or its value satisfies a
//! condition. They live in a file of their own because a runner config must stay a valid
//! KSML runner config (no keys are invented under `ksml`, see [`crate::runner`]).
//!
//! ```yaml
//! routes:
//!   - path: /v1/orders
//!     method: POST
//!     produce:
//!       topic: orders
//!       keyType: string
//!       valueType: avro:Order
//!       key: "{body.id}"
//!     response:
//!       status: 201
//!       location: /v1/orders/{key}
//!   - path: /v1/orders/{id}/validated
//!     method: GET
//!     query:
//!       store: orders_store
//!       key: "{id}"
//!       timeout: 10000
//!       until: {field: state, in: [VALIDATED, FAILED]}
//! ```
//!
//! This module checks what the file alone can say: its keys (unknown keys with a
//! did-you-mean), paths (`/literal/{param}`; the first segment literal and not one of the
//! REST API's own paths), methods, templates (`{param}` must be a path parameter of the
//! route, `{body.<field>}` only where there is a body, `{key}` only in `location`), duplicate
//! routes. What needs the application (the store exists and is a key-value store, the
//! topic's types) is checked by `weir` against the planned topology, at the same lines.
//! The format and the serving semantics are documented in docs/http-routes.md.

use crate::diag::{Diagnostic, Span};
use crate::model::Spanned;
use crate::read::{Cx, Obj, join_path};
use crate::shape::{Kind, Shape, opt, req};
use crate::types::UserType;
use crate::yaml::{self, Node, Value};

/// The default time a request waits, in milliseconds (`?timeout=` overrides it per request).
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// The first path segments the REST API answers itself; a route may not start with them.
pub const RESERVED_SEGMENTS: &[&str] = &["state", "startup", "ready", "live", "metrics"];

/// A parsed routes file.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteTable {
    /// The file name used in diagnostics.
    pub file: String,
    pub routes: Vec<Route>,
}

/// One route: a method and a path pattern, and what a request to it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub path: Spanned<String>,
    pub segments: Vec<Segment>,
    /// `GET`, `POST` or `PUT` (upper case).
    pub method: String,
    pub action: Action,
    /// The route's entry in the file, and its place in the list.
    pub span: Span,
    pub index: usize,
}

/// A segment of a path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    /// `{name}`: any one segment, named.
    Param(String),
}

/// What a route does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Produce(Produce),
    Query(Query),
}

/// `produce`: the request's JSON body becomes a record of `topic`.
#[derive(Debug, Clone, PartialEq)]
pub struct Produce {
    pub topic: Spanned<String>,
    /// `None`: the type a definition declares for the topic, else `string`.
    pub key_type: Option<Spanned<UserType>>,
    /// `None`: the type a definition declares for the topic, else `json`.
    pub value_type: Option<Spanned<UserType>>,
    /// `None`: records without a key.
    pub key: Option<Template>,
    /// The status of a success (default 201).
    pub status: u16,
    /// The `Location` header of a success.
    pub location: Option<Template>,
}

/// `query`: the value of a key-value store's key.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub store: Spanned<String>,
    pub key: Template,
    /// How long a request waits by default, in milliseconds.
    pub timeout_ms: u64,
    pub until: Option<Until>,
}

/// `until`: the stored value's field (a dotted path) must be one of some values.
#[derive(Debug, Clone, PartialEq)]
pub struct Until {
    pub field: Spanned<Vec<String>>,
    /// The accepted values, as text (a JSON string field compares its text, any other JSON
    /// scalar its JSON text: `true`, `42`).
    pub any_of: Vec<String>,
}

/// A template such as `/v1/orders/{key}` or `order-{body.id}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub text: Spanned<String>,
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Literal(String),
    /// `{name}`: a path parameter.
    Param(String),
    /// `{body.a.b}`: a field of the JSON body.
    Body(Vec<String>),
    /// `{key}` (in `location`): the key the record was written with.
    Key,
}

// ---- shapes ---------------------------------------------------------------------------------

pub(crate) const FILE: Shape = Shape {
    name: "routesFile",
    doc: "HTTP routes served by `weir run --routes`",
    fields: &[req("routes", Kind::ListOf(&ROUTE), "The routes")],
};

const ROUTE: Shape = Shape {
    name: "route",
    doc: "One HTTP route",
    fields: &[
        req("path", Kind::Str, "The path: literal segments and {param} segments"),
        req("method", Kind::Enum(&["GET", "POST", "PUT"]), "GET (with query), POST or PUT (with produce)"),
        opt("produce", Kind::Obj(&PRODUCE), "Write the JSON body to a topic"),
        opt("response", Kind::Obj(&RESPONSE), "The answer of a produce route"),
        opt("query", Kind::Obj(&QUERY), "Answer a key-value store's value"),
    ],
};

const PRODUCE: Shape = Shape {
    name: "produce",
    doc: "Write the request's JSON body to a topic",
    fields: &[
        req("topic", Kind::Str, "The topic"),
        opt("keyType", Kind::Type, "The key type (default: the topic's in a definition, else string)"),
        opt("valueType", Kind::Type, "The value type (default: the topic's in a definition, else json)"),
        opt("key", Kind::Str, "The key: a template of {body.<field>} and {<path param>}"),
    ],
};

const RESPONSE: Shape = Shape {
    name: "response",
    doc: "The answer of a produce route",
    fields: &[
        opt("status", Kind::Int, "The status of a success (default 201)"),
        opt("location", Kind::Str, "A Location header: a template of {key}, {<path param>} and {body.<field>}"),
    ],
};

const QUERY: Shape = Shape {
    name: "query",
    doc: "Answer a key-value store's value, waiting for it",
    fields: &[
        req("store", Kind::Str, "A key-value store of the application"),
        req("key", Kind::Str, "The key: a template of {<path param>}"),
        opt("timeout", Kind::Int, "The default wait in milliseconds (default 10000); ?timeout= overrides"),
        opt("until", Kind::Obj(&UNTIL), "Wait until the value's field is one of some values"),
    ],
};

const UNTIL: Shape = Shape {
    name: "until",
    doc: "A condition on the stored value",
    fields: &[
        req("field", Kind::Str, "A field of the value (a dotted path)"),
        req("in", Kind::StrList, "The values that satisfy the condition"),
    ],
};

// ---- parsing --------------------------------------------------------------------------------

/// Parses and checks a routes file. The table is `None` when the YAML does not parse; with
/// other errors it holds the routes that read well (the caller stops on any error).
pub fn parse_routes(file: &str, text: &str) -> (Option<RouteTable>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let Some(root) = yaml::parse(file, text, &mut diags) else { return (None, diags) };
    let mut cx = Cx::new(file, &[]);
    let mut routes = Vec::new();
    if let Some(obj) = cx.obj(&root, "", &FILE, "the routes file") {
        match obj.get("routes").map(|n| &n.value) {
            Some(Value::Seq(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(route) = route(&mut cx, item, i) {
                        routes.push(route);
                    }
                }
            }
            Some(_) => {
                let node = obj.get("routes").unwrap_or(&root);
                cx.error(node.span, "routes", format!("'routes' must be a list of routes, found {}", node.describe()));
            }
            None => {}
        }
    }
    duplicates(&mut cx, &routes);
    diags.append(&mut cx.diags);
    diags.sort_by_key(|d| d.span.map(|s| (s.line, s.col)));
    (Some(RouteTable { file: file.to_string(), routes }), diags)
}

fn route(cx: &mut Cx, node: &Node, index: usize) -> Option<Route> {
    let path = &format!("routes[{index}]");
    let obj = cx.obj(node, path, &ROUTE, "a route")?;
    let pattern = cx.string(&obj, "path");
    let segments = pattern.as_ref().and_then(|p| segments(cx, p, &obj.path_of("path")));
    let method = obj.get("method").and_then(|n| {
        let text = cx.string_node(n, &obj.path_of("method"))?;
        let upper = text.value.trim().to_ascii_uppercase();
        if ["GET", "POST", "PUT"].contains(&upper.as_str()) {
            Some(upper)
        } else {
            cx.error_hint(n.span, &obj.path_of("method"), format!("unknown method '{}'", text.value), Some("use GET, POST or PUT".into()));
            None
        }
    });
    let params: Vec<String> = segments
        .iter()
        .flatten()
        .filter_map(|s| match s {
            Segment::Param(p) => Some(p.clone()),
            Segment::Literal(_) => None,
        })
        .collect();
    let action = match (obj.get("produce"), obj.get("query")) {
        (Some(_), Some(q)) => {
            cx.error(q.span, &obj.path_of("query"), "a route either produces or queries: give 'produce' or 'query', not both");
            None
        }
        (None, None) => {
            cx.error(node.span, path, "a route needs 'produce' (POST, PUT) or 'query' (GET)");
            None
        }
        (Some(p), None) => {
            if let Some(m) = method.as_deref().filter(|m| *m == "GET") {
                cx.error(
                    obj.get("method").map_or(node.span, |n| n.span),
                    &obj.path_of("method"),
                    format!("a produce route takes POST or PUT, not {m}"),
                );
            }
            produce(cx, p, &obj, &params).map(Action::Produce)
        }
        (None, Some(q)) => {
            if let Some(m) = method.as_deref().filter(|m| *m != "GET") {
                cx.error(
                    obj.get("method").map_or(node.span, |n| n.span),
                    &obj.path_of("method"),
                    format!("a query route takes GET, not {m}"),
                );
            }
            if let Some(r) = obj.get("response") {
                cx.error(r.span, &obj.path_of("response"), "'response' belongs to produce routes (a query answers the stored value)");
            }
            query(cx, q, &obj.path_of("query"), &params).map(Action::Query)
        }
    };
    Some(Route { path: pattern?, segments: segments?, method: method?, action: action?, span: node.span, index })
}

/// The segments of a path pattern.
fn segments(cx: &mut Cx, pattern: &Spanned<String>, path: &str) -> Option<Vec<Segment>> {
    let text = pattern.value.trim();
    let fail = |cx: &mut Cx, message: String, hint: Option<String>| {
        cx.error_hint(pattern.span, path, message, hint);
        None
    };
    if !text.starts_with('/') {
        return fail(cx, format!("the path '{text}' must start with '/'"), None);
    }
    if text.contains('?') || text.contains('#') {
        return fail(cx, format!("the path '{text}' must not hold a query or fragment"), Some("?timeout= is taken by every route".into()));
    }
    let mut out = Vec::new();
    for raw in text.split('/').filter(|s| !s.is_empty()) {
        if let Some(name) = raw.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            if !is_name(name) {
                return fail(cx, format!("'{raw}' in path '{text}': a parameter is {{name}}, a name of letters, digits and '_'"), None);
            }
            if out.contains(&Segment::Param(name.to_string())) {
                return fail(cx, format!("path '{text}' names parameter '{name}' twice"), None);
            }
            out.push(Segment::Param(name.to_string()));
        } else if raw.contains('{') || raw.contains('}') {
            return fail(
                cx,
                format!("'{raw}' in path '{text}': a parameter must be a whole segment"),
                Some("write /orders/{id}, not /orders/id-{id}".into()),
            );
        } else {
            out.push(Segment::Literal(raw.to_string()));
        }
    }
    match out.first() {
        None => fail(cx, "the path '/' is not a route".to_string(), None),
        Some(Segment::Param(p)) => fail(
            cx,
            format!("the path '{text}' starts with parameter '{{{p}}}', which would take the REST API's own paths"),
            Some(format!("start it with literal text (such as /v1/…); taken: /{}", RESERVED_SEGMENTS.join(", /"))),
        ),
        Some(Segment::Literal(first)) if RESERVED_SEGMENTS.contains(&first.as_str()) => fail(
            cx,
            format!("the path '{text}' clashes with the REST API's own path /{first}"),
            Some(format!("the REST API answers /{} itself", RESERVED_SEGMENTS.join(", /"))),
        ),
        _ => Some(out),
    }
}

fn is_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn produce(cx: &mut Cx, node: &Node, route: &Obj, params: &[String]) -> Option<Produce> {
    let path = route.path_of("produce");
    let obj = cx.obj(node, &path, &PRODUCE, "produce")?;
    let topic = obj.get("topic").and_then(|n| cx.name_node(n, &obj.path_of("topic")));
    let key_type = cx.user_type(&obj, "keyType", true);
    let value_type = cx.user_type(&obj, "valueType", true);
    let allowed = Allowed { params, body: true, key: false };
    let key = obj.get("key").map(|n| template(cx, n, &obj.path_of("key"), &allowed));
    let (mut status, mut location) = (201, None);
    if let Some(response) = route.get("response") {
        let rpath = route.path_of("response");
        if let Some(r) = cx.obj(response, &rpath, &RESPONSE, "response") {
            if let Some(n) = cx.uint(&r, "status") {
                match u16::try_from(n).ok().filter(|s| (200..300).contains(s)) {
                    Some(s) => status = s,
                    None => cx.error(
                        r.get("status").map_or(response.span, |n| n.span),
                        &r.path_of("status"),
                        format!("'status' is the status of a success: 200 to 299, found {n}"),
                    ),
                }
            }
            let allowed = Allowed { params, body: true, key: true };
            location = r.get("location").map(|n| template(cx, n, &r.path_of("location"), &allowed));
        }
    }
    let key = key.transpose().ok()?;
    let location = location.transpose().ok()?;
    if let Some(l) = location.as_ref().filter(|l| key.is_none() && l.parts.contains(&Part::Key)) {
        let path = join_path(&route.path_of("response"), "location");
        cx.error_hint(
            l.text.span,
            &path,
            format!("template '{}': {{key}} is the record's key, but 'produce' gives none", l.text.value),
            Some("add 'key' to 'produce'".into()),
        );
        return None;
    }
    Some(Produce { topic: topic?, key_type, value_type, key, status, location })
}

fn query(cx: &mut Cx, node: &Node, path: &str, params: &[String]) -> Option<Query> {
    let obj = cx.obj(node, path, &QUERY, "query")?;
    let store = obj.get("store").and_then(|n| cx.name_node(n, &obj.path_of("store")));
    let allowed = Allowed { params, body: false, key: false };
    let key = obj.get("key").map(|n| template(cx, n, &obj.path_of("key"), &allowed));
    let timeout_ms = if obj.get("timeout").is_some() { cx.uint(&obj, "timeout")? } else { DEFAULT_TIMEOUT_MS };
    let until = match obj.get("until") {
        Some(n) => Some(until(cx, n, &obj.path_of("until"))?),
        None => None,
    };
    Some(Query { store: store?, key: key?.ok()?, timeout_ms, until })
}

fn until(cx: &mut Cx, node: &Node, path: &str) -> Option<Until> {
    let obj = cx.obj(node, path, &UNTIL, "until")?;
    let field = cx.string(&obj, "field")?;
    let parts: Vec<String> = field.value.split('.').map(|s| s.trim().to_string()).collect();
    if parts.iter().any(String::is_empty) {
        cx.error(
            field.span,
            &obj.path_of("field"),
            format!("'{}' is not a field: a name, or a dotted path such as 'customer.level'", field.value),
        );
        return None;
    }
    let any_of: Vec<String> = match obj.get("in") {
        Some(n) => match &n.value {
            Value::Seq(items) => {
                items.iter().enumerate().filter_map(|(i, item)| scalar(cx, item, &format!("{}[{i}]", obj.path_of("in")))).collect()
            }
            _ => {
                cx.error(n.span, &obj.path_of("in"), format!("'in' must be a list of values, found {}", n.describe()));
                return None;
            }
        },
        None => return None,
    };
    if any_of.is_empty() {
        cx.error(node.span, &obj.path_of("in"), "'in' lists no value, so the condition could never hold");
        return None;
    }
    Some(Until { field: Spanned::new(parts, field.span), any_of })
}

fn scalar(cx: &mut Cx, node: &Node, path: &str) -> Option<String> {
    match &node.value {
        Value::Scalar(s, _) => Some(s.clone()),
        _ => {
            cx.error(node.span, path, format!("expected a value (a string, number or boolean), found {}", node.describe()));
            None
        }
    }
}

/// What a template may name.
struct Allowed<'a> {
    params: &'a [String],
    body: bool,
    key: bool,
}

/// A template; `Err(())` when it is wrong (reported).
fn template(cx: &mut Cx, node: &Node, path: &str, allowed: &Allowed) -> Result<Template, ()> {
    let text = cx.string_node(node, path).ok_or(())?;
    let mut parts = Vec::new();
    let mut rest = text.value.as_str();
    let bad = |cx: &mut Cx, message: String, hint: Option<String>| {
        cx.error_hint(node.span, path, message, hint);
        Err(())
    };
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            None => {
                parts.push(Part::Literal(rest.to_string()));
                rest = "";
            }
            Some(at) if rest.as_bytes()[at] == b'}' => return bad(cx, format!("template '{}': a '}}' without its '{{'", text.value), None),
            Some(at) => {
                if at > 0 {
                    parts.push(Part::Literal(rest[..at].to_string()));
                }
                let Some(end) = rest[at..].find('}') else {
                    return bad(cx, format!("template '{}': a '{{' without its '}}'", text.value), None);
                };
                let name = rest[at + 1..at + end].trim();
                rest = &rest[at + end + 1..];
                let what = |allowed: &Allowed| {
                    let mut names: Vec<String> = allowed.params.iter().map(|p| format!("{{{p}}}")).collect();
                    if allowed.key {
                        names.push("{key}".into());
                    }
                    if allowed.body {
                        names.push("{body.<field>}".into());
                    }
                    if names.is_empty() { "this route's path has no parameter".to_string() } else { format!("use {}", names.join(", ")) }
                };
                if let Some(field) = name.strip_prefix("body.").or((name == "body").then_some("")) {
                    if !allowed.body {
                        return bad(
                            cx,
                            format!("template '{}': {{{name}}}: there is no body here (a GET)", text.value),
                            Some(what(allowed)),
                        );
                    }
                    let fields: Vec<String> = field.split('.').map(|s| s.trim().to_string()).collect();
                    if fields.iter().any(String::is_empty) {
                        return bad(
                            cx,
                            format!("template '{}': {{{name}}} names no field", text.value),
                            Some("write {body.id} or {body.customer.id}".into()),
                        );
                    }
                    parts.push(Part::Body(fields));
                } else if allowed.params.iter().any(|p| p == name) {
                    parts.push(Part::Param(name.to_string()));
                } else if name == "key" && allowed.key {
                    parts.push(Part::Key);
                } else {
                    let hint = crate::diag::did_you_mean(name, allowed.params.iter().map(String::as_str)).or_else(|| Some(what(allowed)));
                    return bad(cx, format!("template '{}': '{{{name}}}' is not a parameter of the route's path", text.value), hint);
                }
            }
        }
    }
    Ok(Template { text, parts })
}

/// Two routes with one method and the same pattern (parameter names aside).
fn duplicates(cx: &mut Cx, routes: &[Route]) {
    for (i, route) in routes.iter().enumerate() {
        let index = route.index;
        let shape = |r: &Route| -> Vec<Option<String>> {
            r.segments
                .iter()
                .map(|s| match s {
                    Segment::Literal(l) => Some(l.clone()),
                    Segment::Param(_) => None,
                })
                .collect()
        };
        if let Some(first) = routes[..i].iter().find(|r| r.method == route.method && shape(r) == shape(route)) {
            cx.error(
                route.path.span,
                &route_path(index, "path"),
                format!(
                    "duplicate route: {} {} is already the route at line {} ({})",
                    route.method, route.path.value, first.span.line, first.path.value
                ),
            );
        }
    }
}

/// A request's path parameters: (name, value).
pub type PathParams<'r, 's> = Vec<(&'r str, &'s str)>;

impl Route {
    /// The path parameters of `segments` (a request path, split and decoded) when they match
    /// this route's pattern.
    pub fn matches<'s>(&self, segments: &[&'s str]) -> Option<PathParams<'_, 's>> {
        if segments.len() != self.segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (pattern, given) in self.segments.iter().zip(segments) {
            match pattern {
                Segment::Literal(l) if l == given => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => params.push((name.as_str(), *given)),
            }
        }
        Some(params)
    }

    /// How specific the pattern is: literal segments earlier beat parameters (so
    /// `/orders/latest` wins over `/orders/{id}`).
    pub fn specificity(&self) -> Vec<bool> {
        self.segments.iter().map(|s| matches!(s, Segment::Literal(_))).collect()
    }
}

impl RouteTable {
    /// The route for `method` and a request path's segments, with its parameters; the most
    /// specific when several match. `Err` lists the methods the path takes (none: no route).
    pub fn find<'s>(&self, method: &str, segments: &[&'s str]) -> Result<(&Route, PathParams<'_, 's>), Vec<&str>> {
        let matching: Vec<(&Route, PathParams<'_, 's>)> = self.routes.iter().filter_map(|r| r.matches(segments).map(|p| (r, p))).collect();
        let best = matching.iter().filter(|(r, _)| r.method == method).max_by(|(a, _), (b, _)| a.specificity().cmp(&b.specificity()));
        match best {
            Some((route, params)) => Ok((route, params.clone())),
            None => Err(matching.iter().map(|(r, _)| r.method.as_str()).collect()),
        }
    }
}

/// A diagnostic path for route `index`'s `key`.
pub fn route_path(index: usize, key: &str) -> String {
    join_path(&format!("routes[{index}]"), key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "routes:
  - path: /v1/orders
    method: POST
    produce:
      topic: orders
      keyType: string
      valueType: json
      key: \"{body.id}\"
    response:
      status: 201
      location: /v1/orders/{key}
  - path: /v1/orders/{id}
    method: GET
    query:
      store: orders_store
      key: \"{id}\"
      timeout: 5000
  - path: /v1/orders/{id}/validated
    method: get
    query:
      store: orders_store
      key: \"order-{id}\"
      until: {field: state, in: [VALIDATED, FAILED]}
";

    #[test]
    fn a_good_table_parses_and_finds_routes() {
        let (table, diags) = parse_routes("r.yaml", GOOD);
        assert!(diags.is_empty(), "{diags:?}");
        let table = table.expect("table");
        assert_eq!(table.routes.len(), 3);
        let Action::Produce(p) = &table.routes[0].action else { panic!("produce") };
        assert_eq!(p.key.as_ref().map(|k| k.parts.clone()), Some(vec![Part::Body(vec!["id".into()])]));
        assert_eq!(p.location.as_ref().map(|k| k.parts.clone()), Some(vec![Part::Literal("/v1/orders/".into()), Part::Key]));
        let Action::Query(q) = &table.routes[2].action else { panic!("query") };
        assert_eq!(q.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert_eq!(q.key.parts, vec![Part::Literal("order-".into()), Part::Param("id".into())]);
        assert_eq!(q.until.as_ref().map(|u| u.any_of.clone()), Some(vec!["VALIDATED".to_string(), "FAILED".to_string()]));
        let (route, params) = table.find("GET", &["v1", "orders", "7", "validated"]).expect("found");
        assert_eq!((route.path.value.as_str(), params), ("/v1/orders/{id}/validated", vec![("id", "7")]));
        assert_eq!(table.find("POST", &["v1", "orders"]).map(|(r, _)| r.span.line).ok(), Some(2));
        assert_eq!(table.find("DELETE", &["v1", "orders"]).err(), Some(vec!["POST"]));
        assert_eq!(table.find("GET", &["v2"]).err(), Some(vec![]));
    }

    fn errors(text: &str) -> Vec<(u32, String)> {
        let (_, diags) = parse_routes("r.yaml", text);
        diags
            .iter()
            .filter(|d| d.is_error())
            .map(|d| (d.span.map_or(0, |s| s.line), format!("{} {}", d.message, d.hint.clone().unwrap_or_default())))
            .collect()
    }

    #[test]
    fn mistakes_are_errors_at_their_line() {
        let text = "routes:
  - path: /v1/orders/{id}
    method: GET
    query:
      store: s
      key: \"{idd}\"
      timout: 5
  - path: /state/x
    method: GET
    query: {store: s, key: a}
  - path: /{x}
    method: GET
    query: {store: s, key: a}
  - path: /v1/orders/{other}
    method: GET
    query: {store: s, key: a}
  - path: /v1/a
    method: GET
    produce: {topic: t}
  - path: /v1/b
    method: POST
    produce: {topic: t, key: \"{body.}\"}
    response: {status: 404}
";
        let found = errors(text);
        let at = |line: u32, what: &str| found.iter().any(|(l, m)| *l == line && m.contains(what));
        assert!(at(6, "'{idd}' is not a parameter") && at(6, "did you mean 'id'"), "{found:?}");
        assert!(at(7, "unknown key 'timout'") && at(7, "timeout"), "{found:?}");
        assert!(at(8, "clashes with the REST API's own path /state"), "{found:?}");
        assert!(at(11, "starts with parameter '{x}'"), "{found:?}");
        assert!(at(18, "a produce route takes POST or PUT, not GET"), "{found:?}");
        assert!(at(22, "{body.} names no field"), "{found:?}");
        assert!(at(23, "200 to 299, found 404"), "{found:?}");
        assert_eq!(found.len(), 7, "{found:?}");
        let dup = "routes:\n  - path: /v1/o/{id}\n    method: GET\n    query: {store: s, key: \"{id}\"}\n  - path: /v1/o/{other}\n    method: GET\n    query: {store: s, key: a}\n";
        assert_eq!(errors(dup), vec![(5, "duplicate route: GET /v1/o/{other} is already the route at line 2 (/v1/o/{id}) ".to_string())]);
        assert!(errors("routes:\n  - path: /a\n    method: GET\n").iter().any(|(l, m)| *l == 2 && m.contains("needs 'produce'")));
        assert!(
            errors("routes:\n  - path: /a/{b}\n    method: GET\n    query: {store: s, key: \"{body.id}\"}\n")
                .iter()
                .any(|(l, m)| *l == 4 && m.contains("no body here"))
        );
        assert!(
            errors("routes:\n  - path: /a\n    method: POST\n    produce: {topic: t}\n    response: {location: \"/a/{key}\"}\n")
                .iter()
                .any(|(l, m)| *l == 5 && m.contains("{key} is the record's key, but 'produce' gives none"))
        );
        assert!(errors("rutes: []\n").iter().any(|(l, m)| *l == 1 && m.contains("unknown key 'rutes'") && m.contains("routes")));
    }
}
