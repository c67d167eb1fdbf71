//! The JSON schema of the DSL (`weir_dsl::schema`): well-formed, in line with KSML's own
//! generated spec, and accepting every KSML example definition.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use weir_dsl::schema::definition_schema;
use weir_dsl::yaml::{self, Node, Style};

fn ksml_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ksml")
}

fn ksml_spec() -> Value {
    let path = ksml_dir().join("spec/ksml-language-spec.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("KSML spec is JSON")
}

// ---- schema navigation (both schemas use `#/$defs/<name>` references) ------------------------

fn ref_name(v: &Value) -> Option<&str> {
    v.get("$ref")?.as_str()?.strip_prefix("#/$defs/")
}

/// Follows `$ref`s (siblings of a `$ref` are ignored).
fn deref<'a>(schema: &'a Value, v: &'a Value) -> &'a Value {
    match ref_name(v) {
        Some(name) => deref(schema, &schema["$defs"][name]),
        None => v,
    }
}

/// The object definitions a value schema allows: the `anyOf` options, flattened, dereferenced.
fn variants<'a>(schema: &'a Value, v: &'a Value) -> Vec<&'a Value> {
    let v = deref(schema, v);
    match v.get("anyOf").and_then(Value::as_array) {
        Some(options) => options.iter().flat_map(|o| variants(schema, o)).collect(),
        None => vec![v],
    }
}

fn keys(def: &Value) -> BTreeSet<String> {
    def["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default()
}

/// For each value of `type` (an enum in each variant): the union of the variants' keys.
fn keys_by_type(schema: &Value, v: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for def in variants(schema, v) {
        let names = def["properties"]["type"]["enum"].as_array().unwrap_or_else(|| panic!("variant without a `type` enum: {def}"));
        for name in names {
            out.entry(name.as_str().expect("type names are strings").to_string()).or_default().extend(keys(def));
        }
    }
    out
}

fn root(schema: &Value) -> &Value {
    deref(schema, schema)
}

fn ops_of(schema: &Value) -> &Value {
    let pipeline = deref(schema, &root(schema)["properties"]["pipelines"]["additionalProperties"]);
    &pipeline["properties"]["via"]["items"]
}

// ---- 1. well-formed ----------------------------------------------------------------------------

fn collect_refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(map) => {
            if let Some(r) = map.get("$ref") {
                out.push(r.as_str().expect("$ref is a string"));
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn schema_is_well_formed() {
    let schema = definition_schema();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2019-09/schema");
    let defs = schema["$defs"].as_object().expect("$defs");
    let mut refs = Vec::new();
    collect_refs(&schema, &mut refs);
    let mut used = BTreeSet::new();
    for r in refs {
        let name = r.strip_prefix("#/$defs/").unwrap_or_else(|| panic!("reference outside $defs: {r}"));
        assert!(defs.contains_key(name), "dangling reference {r}");
        used.insert(name);
    }
    for (name, def) in defs {
        assert!(used.contains(name.as_str()), "$defs entry '{name}' is never used");
        assert_eq!(def["type"], "object", "$defs entry '{name}' is not an object schema");
        assert_eq!(def["additionalProperties"], false, "$defs entry '{name}' is not closed");
        assert!(def["description"].is_string(), "$defs entry '{name}' has no description");
        for (key, prop) in def["properties"].as_object().expect("properties") {
            let doc = prop["description"].as_str().unwrap_or_else(|| panic!("{name}.{key} has no description"));
            let required = def["required"].as_array().is_some_and(|r| r.iter().any(|k| k == key));
            assert_eq!(!required, doc.starts_with("(optional) "), "{name}.{key}: description '{doc}'");
        }
    }
    // The schema is valid JSON text that round-trips.
    let text = serde_json::to_string_pretty(&schema).expect("serializes");
    assert_eq!(serde_json::from_str::<Value>(&text).expect("parses"), schema);
}

// ---- 2. against KSML's own spec -----------------------------------------------------------------

/// Compares two key maps: the same type names, ours a superset of KSML's keys per type.
/// Returns the `(type, key)` pairs only we allow.
fn compare(what: &str, ours: &BTreeMap<String, BTreeSet<String>>, ksml: &BTreeMap<String, BTreeSet<String>>) -> Vec<(String, String)> {
    let our_types: BTreeSet<_> = ours.keys().collect();
    let ksml_types: BTreeSet<_> = ksml.keys().collect();
    assert_eq!(our_types, ksml_types, "{what}: type names differ");
    let mut extra = Vec::new();
    for (ty, ksml_keys) in ksml {
        let our_keys = &ours[ty];
        let missing: Vec<_> = ksml_keys.difference(our_keys).collect();
        assert!(missing.is_empty(), "{what} '{ty}': KSML allows keys we do not: {missing:?}");
        extra.extend(our_keys.difference(ksml_keys).map(|k| (ty.clone(), k.clone())));
    }
    extra
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn operations_match_ksml_spec() {
    let (ours, ksml) = (definition_schema(), ksml_spec());
    let extra = compare("operation", &keys_by_type(&ours, ops_of(&ours)), &keys_by_type(&ksml, ops_of(&ksml)));
    let expected: &[(&str, &str)] = &[];
    assert_eq!(extra, pairs(expected), "keys only Weir allows in operations");
}

#[test]
fn functions_match_ksml_spec() {
    let (ours, ksml) = (definition_schema(), ksml_spec());
    let section = |s: &'static Value| -> &'static Value { &root(s)["properties"]["functions"]["additionalProperties"] };
    let (ours, ksml): (&'static Value, &'static Value) = (Box::leak(Box::new(ours)), Box::leak(Box::new(ksml)));
    let extra = compare("function", &keys_by_type(ours, section(ours)), &keys_by_type(ksml, section(ksml)));
    let expected: &[(&str, &str)] = &[];
    assert_eq!(extra, pairs(expected), "keys only Weir allows in functions");
}

#[test]
fn stores_match_ksml_spec() {
    let (ours, ksml) = (definition_schema(), ksml_spec());
    let o = keys_by_type(&ours, &root(&ours)["properties"]["stores"]["additionalProperties"]);
    let k = keys_by_type(&ksml, &root(&ksml)["properties"]["stores"]["additionalProperties"]);
    let extra = compare("store", &o, &k);
    let expected: &[(&str, &str)] = &[];
    assert_eq!(extra, pairs(expected), "keys only Weir allows in stores");
}

#[test]
fn sections_match_ksml_spec() {
    let (ours, ksml) = (definition_schema(), ksml_spec());
    let o = BTreeMap::from([("definition".to_string(), keys(root(&ours)))]);
    let k = BTreeMap::from([("definition".to_string(), keys(root(&ksml)))]);
    let extra = compare("top level", &o, &k);
    let expected: &[(&str, &str)] = &[];
    assert_eq!(extra, pairs(expected), "top-level keys only Weir allows");
}

// ---- 3. every KSML example validates ------------------------------------------------------------

/// YAML node → JSON, resolving plain scalars as the YAML 1.2 core schema does.
fn to_json(node: &Node) -> Value {
    match &node.value {
        yaml::Value::Scalar(s, Style::Plain) => plain_scalar(s),
        yaml::Value::Scalar(s, _) => Value::String(s.clone()),
        yaml::Value::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        yaml::Value::Map(entries) => Value::Object(entries.iter().map(|(k, v)| (k.text.clone(), to_json(v))).collect::<Map<_, _>>()),
    }
}

fn plain_scalar(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN" => {
            // Not representable in JSON; any number will do for validation.
            return Value::from(0.0);
        }
        _ => {}
    }
    let digits = |t: &str, radix: u32| !t.is_empty() && t.chars().all(|c| c.is_digit(radix));
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits(unsigned, 10) {
        if let Ok(n) = s.parse::<i64>() {
            return Value::from(n);
        }
        if let Ok(n) = s.trim_start_matches('+').parse::<u64>() {
            return Value::from(n);
        }
        return s.parse::<f64>().map_or_else(|_| Value::String(s.into()), Value::from);
    }
    if let Some(octal) = s.strip_prefix("0o").filter(|t| digits(t, 8)) {
        return i64::from_str_radix(octal, 8).map_or_else(|_| Value::String(s.into()), Value::from);
    }
    if let Some(hex) = s.strip_prefix("0x").filter(|t| digits(t, 16)) {
        return i64::from_str_radix(hex, 16).map_or_else(|_| Value::String(s.into()), Value::from);
    }
    if is_core_float(unsigned) {
        if let Ok(f) = s.parse::<f64>() {
            return Value::from(f);
        }
    }
    Value::String(s.into())
}

/// `( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?` (the sign is already gone).
fn is_core_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let all_digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => all_digits(int) && all_digits(frac) && (!int.is_empty() || !frac.is_empty()) && !(int.is_empty() && frac.is_empty()),
        None => !mantissa.is_empty() && all_digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok && (mantissa.contains('.') || exponent.is_some() || !mantissa.is_empty())
}

/// A validator for exactly the JSON Schema keywords `weir_dsl::schema` emits. `pattern` is
/// not checked; any other keyword it does not know fails the test, so the validator and the
/// generator cannot silently part ways.
struct Validator<'s> {
    schema: &'s Value,
}

#[derive(Debug)]
struct Problem {
    path: String,
    message: String,
}

impl Validator<'_> {
    fn validate(&self, schema: &Value, value: &Value, path: &str, out: &mut Vec<Problem>) {
        let Some(map) = schema.as_object() else { panic!("schema at {path} is not an object: {schema}") };
        let mut fail = |message: String| out.push(Problem { path: path.to_string(), message });
        for (keyword, arg) in map {
            match keyword.as_str() {
                "$schema" | "$defs" | "title" | "description" | "pattern" => {}
                "$ref" => {
                    let name = ref_name(schema).unwrap_or_else(|| panic!("unsupported $ref {arg}"));
                    let target = &self.schema["$defs"][name];
                    assert!(target.is_object(), "dangling $ref {name}");
                    self.validate(target, value, path, out);
                    // `fail` borrows `out`; re-create it after the nested call.
                    return self.validate_rest(map, value, path, out, keyword);
                }
                _ => self.keyword(keyword, arg, map, value, path, &mut fail_into(out, path)),
            }
        }
        let _ = &mut fail;
    }

    fn validate_rest(&self, map: &Map<String, Value>, value: &Value, path: &str, out: &mut Vec<Problem>, done: &str) {
        let mut rest = map.clone();
        rest.remove(done);
        self.validate(&Value::Object(rest), value, path, out);
    }
}

fn fail_into<'o>(out: &'o mut Vec<Problem>, path: &str) -> impl FnMut(String) + 'o {
    let path = path.to_string();
    move |message| out.push(Problem { path: path.clone(), message })
}
