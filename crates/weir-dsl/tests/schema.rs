//! The JSON schema of the DSL (`weir_dsl::schema`): well-formed, in line with KSML's own
//! generated spec, and accepting every KSML example definition.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use weir_dsl::schema::{definition_schema, routes_schema, runner_schema};
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
fn schemas_are_well_formed() {
    well_formed(&definition_schema());
    well_formed(&runner_schema());
    well_formed(&routes_schema());
}

#[test]
fn the_routes_schema_takes_the_test_routes_and_refuses_unknown_keys() {
    let schema = routes_schema();
    let validator = Validator { schema: &schema };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../weir/tests/run/routes/routes.yaml");
    let text = std::fs::read_to_string(&path).expect("the test routes");
    let mut diags = Vec::new();
    let node = yaml::parse("routes.yaml", &text, &mut diags).expect("YAML parses");
    let problems: Vec<String> =
        validator.check(&schema, &to_json(&node), "").into_iter().map(|p| format!("{}: {}", p.path, p.message)).collect();
    assert!(problems.is_empty(), "{problems:?}");
    let bad = "routes:\n  - path: /a\n    method: GET\n    query: {store: s, key: a, timout: 5}\n";
    let node = yaml::parse("bad.yaml", bad, &mut diags).expect("YAML parses");
    let problems: Vec<String> =
        validator.check(&schema, &to_json(&node), "").into_iter().map(|p| format!("{}: {}", p.path, p.message)).collect();
    assert!(problems.iter().any(|p| p.contains("timout: unknown key")), "{problems:?}");
}

fn well_formed(schema: &Value) {
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2019-09/schema");
    let defs = schema["$defs"].as_object().expect("$defs");
    let mut refs = Vec::new();
    collect_refs(schema, &mut refs);
    let mut used = BTreeSet::new();
    for r in refs {
        let name = r.strip_prefix("#/$defs/").unwrap_or_else(|| panic!("reference outside $defs: {r}"));
        assert!(defs.contains_key(name), "dangling reference {r}");
        used.insert(name);
    }
    for (name, def) in defs {
        assert!(used.contains(name.as_str()), "$defs entry '{name}' is never used");
        assert_eq!(def["type"], "object", "$defs entry '{name}' is not an object schema");
        // `kafka` takes any Kafka property; every other object is closed.
        if name == "kafkaConfig" {
            assert_eq!(def["additionalProperties"]["type"], serde_json::json!(["string", "number", "boolean"]));
        } else {
            assert_eq!(def["additionalProperties"], false, "$defs entry '{name}' is not closed");
        }
        assert!(def["description"].is_string(), "$defs entry '{name}' has no description");
        for (key, prop) in def["properties"].as_object().expect("properties") {
            let doc = prop["description"].as_str().unwrap_or_else(|| panic!("{name}.{key} has no description"));
            let required = def["required"].as_array().is_some_and(|r| r.iter().any(|k| k == key));
            assert_eq!(!required, doc.starts_with("(optional) "), "{name}.{key}: description '{doc}'");
        }
    }
    // The schema is valid JSON text that round-trips.
    let text = serde_json::to_string_pretty(schema).expect("serializes");
    assert_eq!(&serde_json::from_str::<Value>(&text).expect("parses"), schema);
}

// ---- 2. against KSML's own spec -----------------------------------------------------------------

/// `(type or object, key)` pairs.
type Keys = Vec<(String, String)>;

/// Compares two key maps: the same type names (asserted), then the keys only we allow and
/// the keys only KSML allows, per type.
fn compare(what: &str, ours: &BTreeMap<String, BTreeSet<String>>, ksml: &BTreeMap<String, BTreeSet<String>>) -> (Keys, Keys) {
    let our_types: BTreeSet<_> = ours.keys().collect();
    let ksml_types: BTreeSet<_> = ksml.keys().collect();
    assert_eq!(our_types, ksml_types, "{what}: type names differ");
    let (mut extra, mut missing) = (Vec::new(), Vec::new());
    for (ty, ksml_keys) in ksml {
        let our_keys = &ours[ty];
        extra.extend(our_keys.difference(ksml_keys).map(|k| (ty.clone(), k.clone())));
        missing.extend(ksml_keys.difference(our_keys).map(|k| (ty.clone(), k.clone())));
    }
    (extra, missing)
}

fn pairs(list: &[(&str, &str)]) -> Keys {
    list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn operations_match_ksml_spec() {
    let (ours, ksml) = (definition_schema(), ksml_spec());
    let (extra, missing) = compare("operation", &keys_by_type(&ours, ops_of(&ours)), &keys_by_type(&ksml, ops_of(&ksml)));
    assert_eq!(extra, pairs(&[]), "keys only Weir allows in operations");
    assert_eq!(missing, pairs(&[]), "keys only KSML allows in operations");
}

#[test]
fn functions_match_ksml_spec() {
    let (ours, ksml) = (definition_schema(), ksml_spec());
    let o = keys_by_type(&ours, &root(&ours)["properties"]["functions"]["additionalProperties"]);
    let k = keys_by_type(&ksml, &root(&ksml)["properties"]["functions"]["additionalProperties"]);
    let (extra, missing) = compare("function", &o, &k);
    let expected_extra = [
        // The parser lets generic functions declare stores (they may be called from any slot).
        ("generic", "stores"),
    ];
    let expected_missing = [
        // forEach functions return nothing; the parser refuses a resultType for them.
        ("forEach", "resultType"),
    ];
    assert_eq!(extra, pairs(&expected_extra), "keys only Weir allows in functions");
    assert_eq!(missing, pairs(&expected_missing), "keys only KSML allows in functions");
}

#[test]
fn stores_match_ksml_spec() {
    let (ours, ksml) = (definition_schema(), ksml_spec());
    let o = keys_by_type(&ours, &root(&ours)["properties"]["stores"]["additionalProperties"]);
    let k = keys_by_type(&ksml, &root(&ksml)["properties"]["stores"]["additionalProperties"]);
    let (extra, missing) = compare("store", &o, &k);
    assert_eq!(extra, pairs(&[]), "keys only Weir allows in stores");
    assert_eq!(missing, pairs(&[]), "keys only KSML allows in stores");
}

#[test]
fn sections_match_ksml_spec() {
    let (ours, ksml) = (definition_schema(), ksml_spec());
    let o = BTreeMap::from([("definition".to_string(), keys(root(&ours)))]);
    let k = BTreeMap::from([("definition".to_string(), keys(root(&ksml)))]);
    let (extra, missing) = compare("top level", &o, &k);
    // KSML reads name, version and description (and logs them) but its spec omits them.
    let expected = [("definition", "description"), ("definition", "name"), ("definition", "version")];
    assert_eq!(extra, pairs(&expected), "top-level keys only Weir allows");
    assert_eq!(missing, pairs(&[]), "top-level keys only KSML allows");
}

/// Our `$defs` name → KSML's `$defs` name, for the objects that are not chosen by `type`.
const OBJECTS: &[(&str, &str)] = &[
    ("branch", "BranchDefinitionWithPipeline"),
    ("globalTable", "GlobalTableDefinition"),
    ("joinStream", "StreamDefinitionAsJoinTarget"),
    ("joinTable", "TableDefinitionAsJoinTarget"),
    ("keyValueStoreInline", "KeyValueStateStoreDefinitionWithImplicitStoreTypeWithImplicitKeyAndValueType"),
    ("keyValueStoreInlineTyped", "KeyValueStateStoreDefinitionWithImplicitKeyAndValueType"),
    ("parameter", "ParameterDefinition"),
    ("pipeline", "PipelineDefinition"),
    ("print", "PrintOperation"),
    ("producer", "ProducerDefinition"),
    ("producerTopic", "TopicDefinition"),
    ("sessionStoreInlineTyped", "SessionStateStoreDefinitionWithImplicitKeyAndValueType"),
    ("sourceTopic", "TopicDefinitionSource"),
    ("stream", "StreamDefinition"),
    ("table", "TableDefinition"),
    ("targetTopic", "ToTopicDefinition"),
    ("toTopicNameExtractor", "ToTopicNameExtractorDefinition"),
    ("windowStoreInline", "WindowStateStoreDefinitionWithImplicitStoreTypeWithImplicitKeyAndValueType"),
    ("windowStoreInlineTyped", "WindowStateStoreDefinitionWithImplicitKeyAndValueType"),
];

/// KSML's name for the definitions of a function type (`forEach` → `ForEachAction`).
fn ksml_function_name(fn_type: &str) -> String {
    match fn_type {
        "forEach" => "ForEachAction".to_string(),
        "generic" => "GenericFunction".to_string(),
        other => other[..1].to_ascii_uppercase() + &other[1..],
    }
}

#[test]
fn objects_match_ksml_spec() {
    let (ours, ksml) = (definition_schema(), ksml_spec());
    let (mut o, mut k) = (BTreeMap::new(), BTreeMap::new());
    for (our_name, ksml_name) in OBJECTS {
        let ours_def = &ours["$defs"][*our_name];
        let ksml_def = &ksml["$defs"][*ksml_name];
        assert!(ours_def.is_object() && ksml_def.is_object(), "{our_name} / {ksml_name} missing");
        o.insert(our_name.to_string(), keys(ours_def));
        k.insert(our_name.to_string(), keys(ksml_def));
    }
    // Inline functions, per slot type.
    for (name, def) in ours["$defs"].as_object().expect("$defs") {
        let Some(ty) = name.strip_prefix("inline").and_then(|n| n.strip_suffix("Function")) else { continue };
        let ksml_name = format!("{}DefinitionWithImplicitStoreType", ksml_function_name(&(ty[..1].to_ascii_lowercase() + &ty[1..])));
        let ksml_def = &ksml["$defs"][&ksml_name];
        assert!(ksml_def.is_object(), "KSML has no {ksml_name}");
        o.insert(name.clone(), keys(def));
        k.insert(name.clone(), keys(ksml_def));
    }
    let (extra, missing) = compare("object", &o, &k);
    // An inline function may name its type (the slot's, or one the parser finds fitting);
    // KSML's spec leaves `type` out of inline functions.
    let extra: Keys = extra.into_iter().filter(|(name, key)| !(name.starts_with("inline") && key == "type")).collect();
    let expected_extra = [
        // The parser accepts a partitioner on inline join streams and producer topics
        // (they are written to like any stream); KSML's spec does not list it.
        ("joinStream", "partitioner"),
        ("producerTopic", "partitioner"),
    ];
    let expected_missing = [
        // Inline forEach functions return nothing; the parser refuses a resultType.
        ("inlineForEachFunction", "resultType"),
    ];
    assert_eq!(extra, pairs(&expected_extra), "keys only Weir allows");
    assert_eq!(missing, pairs(&expected_missing), "keys only KSML allows");
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
    if is_core_float(unsigned)
        && let Ok(f) = s.parse::<f64>()
    {
        return Value::from(f);
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
        Some((int, frac)) => all_digits(int) && all_digits(frac) && (!int.is_empty() || !frac.is_empty()),
        None => !mantissa.is_empty() && all_digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok
}

/// A validator for exactly the JSON Schema keywords `weir_dsl::schema` emits. `pattern` is
/// not checked; any other keyword it does not know fails the test, so the validator and the
/// generator cannot silently part ways.
struct Validator<'s> {
    schema: &'s Value,
}

#[derive(Debug, Clone)]
struct Problem {
    path: String,
    message: String,
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn has_type(ty: &str, v: &Value) -> bool {
    match ty {
        "number" => v.is_number(),
        "integer" => json_kind(v) == "integer" || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        other => json_kind(v) == other,
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

impl Validator<'_> {
    fn check(&self, schema: &Value, value: &Value, path: &str) -> Vec<Problem> {
        let map = schema.as_object().unwrap_or_else(|| panic!("schema at {path} is not an object: {schema}"));
        let mut out = Vec::new();
        let mut fail = |message: String| out.push(Problem { path: path.to_string(), message });
        let mut nested = Vec::new();
        for (keyword, arg) in map {
            match keyword.as_str() {
                "$schema" | "$defs" | "title" | "description" | "pattern" => {}
                "$ref" => {
                    let name = ref_name(schema).unwrap_or_else(|| panic!("unsupported $ref {arg}"));
                    let target = &self.schema["$defs"][name];
                    assert!(target.is_object(), "dangling $ref {name}");
                    nested.extend(self.check(target, value, path));
                }
                "type" => {
                    let types: Vec<&str> = match arg {
                        Value::String(t) => vec![t.as_str()],
                        Value::Array(ts) => ts.iter().map(|t| t.as_str().expect("type names")).collect(),
                        _ => panic!("bad type {arg}"),
                    };
                    if !types.iter().any(|t| has_type(t, value)) {
                        fail(format!("expected {}, found {} {value}", types.join(" or "), json_kind(value)));
                    }
                }
                "enum" => {
                    if !arg.as_array().expect("enum is a list").contains(value) {
                        fail(format!("{value} is not one of {arg}"));
                    }
                }
                "minimum" => {
                    if value.as_f64().is_some_and(|v| v < arg.as_f64().expect("minimum is a number")) {
                        fail(format!("{value} is less than {arg}"));
                    }
                }
                "minItems" | "maxItems" => {
                    if let Some(items) = value.as_array() {
                        let bound = arg.as_u64().expect("a count") as usize;
                        if (keyword == "minItems" && items.len() < bound) || (keyword == "maxItems" && items.len() > bound) {
                            fail(format!("{} items violates {keyword} {bound}", items.len()));
                        }
                    }
                }
                "required" => {
                    if let Some(obj) = value.as_object() {
                        for key in arg.as_array().expect("required is a list") {
                            let key = key.as_str().expect("keys are strings");
                            if !obj.contains_key(key) {
                                fail(format!("missing required key '{key}'"));
                            }
                        }
                    }
                }
                "properties" => {
                    if let Some(obj) = value.as_object() {
                        for (key, sub) in arg.as_object().expect("properties is a map") {
                            if let Some(v) = obj.get(key) {
                                nested.extend(self.check(sub, v, &join(path, key)));
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    if let Some(obj) = value.as_object() {
                        let known = map.get("properties").and_then(Value::as_object);
                        for (key, v) in obj {
                            if known.is_some_and(|k| k.contains_key(key)) {
                                continue;
                            }
                            match arg {
                                Value::Bool(false) => {
                                    nested.push(Problem { path: join(path, key), message: format!("unknown key '{key}'") })
                                }
                                Value::Object(_) => nested.extend(self.check(arg, v, &join(path, key))),
                                _ => panic!("unsupported additionalProperties {arg}"),
                            }
                        }
                    }
                }
                "items" => {
                    if let Some(items) = value.as_array() {
                        for (i, item) in items.iter().enumerate() {
                            nested.extend(self.check(arg, item, &format!("{path}[{i}]")));
                        }
                    }
                }
                "anyOf" => {
                    let results: Vec<Vec<Problem>> =
                        arg.as_array().expect("anyOf is a list").iter().map(|o| self.check(o, value, path)).collect();
                    if !results.iter().any(Vec::is_empty) {
                        // Report the option that got furthest: one whose `type` matched, then
                        // the deepest problem, then the fewest problems.
                        let type_path = join(path, "type");
                        let type_ok = |ps: &Vec<Problem>| !ps.iter().any(|p| p.path == type_path);
                        let depth = |ps: &Vec<Problem>| ps.iter().map(|p| p.path.len()).max().unwrap_or(0);
                        let best =
                            results.into_iter().max_by_key(|ps| (type_ok(ps), depth(ps), std::cmp::Reverse(ps.len()))).unwrap_or_default();
                        nested.extend(best);
                    }
                }
                other => panic!("the test validator does not know the keyword '{other}' (at {path})"),
            }
        }
        out.extend(nested);
        out
    }
}

/// Every `*.yaml` under `dir` except runner configs, sorted.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())).map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") && path.file_name().is_some_and(|n| n != "ksml-runner.yaml") {
            out.push(path);
        }
    }
}

/// Example files our schema rejects, with why (paths relative to the KSML directory).
const EXCEPTIONS: &[(&str, &str)] = &[];

#[test]
fn ksml_examples_validate() {
    let schema = definition_schema();
    let validator = Validator { schema: &schema };
    let base = ksml_dir();
    let mut files = Vec::new();
    for dir in ["docs-examples", "pipelines", "test-runner/pipelines"] {
        yaml_files(&base.join(dir), &mut files);
    }
    assert!(files.len() > 200, "expected the KSML examples, found {} files", files.len());
    let mut failures = BTreeMap::new();
    for file in &files {
        let rel = file.strip_prefix(&base).expect("under base").to_string_lossy().to_string();
        let text = std::fs::read_to_string(file).expect("readable");
        let mut diags = Vec::new();
        let Some(node) = yaml::parse(&rel, &text, &mut diags) else {
            failures.insert(rel, vec![format!("YAML does not parse: {diags:?}")]);
            continue;
        };
        let problems = validator.check(&schema, &to_json(&node), "");
        if !problems.is_empty() {
            failures.insert(rel, problems.iter().map(|p| format!("{}: {}", p.path, p.message)).collect());
        }
    }
    let mut report = String::new();
    for (file, problems) in &failures {
        if !EXCEPTIONS.iter().any(|(f, _)| f == file) {
            report.push_str(&format!("{file}\n"));
            for p in problems {
                report.push_str(&format!("    {p}\n"));
            }
        }
    }
    for (file, _) in EXCEPTIONS {
        assert!(failures.contains_key(*file), "{file} is listed as an exception but validates (or is gone)");
    }
    assert!(report.is_empty(), "examples rejected by the schema:\n{report}");
}

#[test]
fn yaml_scalars_resolve_as_core_schema() {
    for (text, expected) in [
        ("", Value::Null),
        ("~", Value::Null),
        ("True", Value::Bool(true)),
        ("12", Value::from(12)),
        ("-3", Value::from(-3)),
        ("0x1F", Value::from(31)),
        ("0o17", Value::from(15)),
        ("1.5", Value::from(1.5)),
        ("1e3", Value::from(1000.0)),
        (".5", Value::from(0.5)),
        ("30s", Value::from("30s")),
        ("yes", Value::from("yes")),
        ("1.2.3", Value::from("1.2.3")),
        (".", Value::from(".")),
    ] {
        assert_eq!(plain_scalar(text), expected, "{text:?}");
    }
}
fn problems_in(text: &str) -> Vec<String> {
    let schema = definition_schema();
    let mut diags = Vec::new();
    let node = yaml::parse("test.yaml", text, &mut diags).expect("YAML parses");
    Validator { schema: &schema }.check(&schema, &to_json(&node), "").into_iter().map(|p| format!("{}: {}", p.path, p.message)).collect()
}

#[test]
fn leniencies_of_the_parser_are_accepted() {
    let text = r#"
streams:
  in: {topic: in, keyType: string, valueType: [string]}
functions:
  gen:
    code: return ("k", "v")
    stores: some_store
producers:
  p: {generator: gen, to: in, interval: 3s, count: "10"}
pipelines:
  a:
    from: in
    via:
      - type: count
        store: {type: session, retention: 1h}
      - type: filter
        if: {expression: True, type: generic}
        store: {persistent: true}
    print: true
  b:
    from: in
    via:
    toTopicNameExtractor: pick_topic
tables:
"#;
    assert_eq!(problems_in(text), Vec::<String>::new());
}

#[test]
fn mistakes_are_rejected() {
    for (text, expected) in [
        ("pipelines: {a: {from: in, via: [{type: fitler, if: f}]}}", "pipelines.a.via[0].type"),
        ("pipelines: {a: {from: in, via: [{type: filter, if: f, mapper: m}]}}", "pipelines.a.via[0].mapper: unknown key"),
        ("pipelines: {a: {from: in, via: [{type: filter}]}}", "missing required key 'if'"),
        ("pipelines: {a: {to: out}}", "missing required key 'from'"),
        ("pipelines: {a: {from: in, via: [{type: toTable, store: {keyType: string}}]}}", "store.keyType: unknown key"),
        ("pipelines: {a: {from: in, via: [{type: count, store: {retention: 1h}}]}}", "missing required key 'type'"),
        ("pipelines: {a: {from: in, forEach: {code: x, resultType: string}}}", "forEach.resultType: unknown key"),
        ("pipelines: {a: {from: in, to: {topic: t, bogus: 1}}}", "to.bogus: unknown key"),
        ("functions: {f: {type: nonsense, code: x}}", "functions.f.type"),
        ("functions: {f: {type: keyValueMapper, code: x, stores: [s]}}", "functions.f.stores: unknown key"),
        ("stores: {s: {persistent: true}}", "missing required key 'type'"),
        ("stores: {s: {type: window, versioned: true}}", "stores.s.versioned: unknown key"),
        ("producers: {p: {generator: g, to: t, batchSize: -1}}", "producers.p.batchSize"),
        ("producers: {p: {generator: g, to: t, interval: true}}", "producers.p.interval"),
        ("streams: {s: {topic: t, keyType: string}}", "missing required key 'valueType'"),
        ("bogus: 1", "bogus: unknown key"),
    ] {
        let problems = problems_in(text);
        assert!(problems.iter().any(|p| p.contains(expected)), "{text}\n  expected a problem containing {expected:?}, found {problems:?}");
    }
}

// ---- the runner config ---------------------------------------------------------------------------

#[test]
fn runner_matches_ksml_spec() {
    let ours = runner_schema();
    let path = ksml_dir().join("spec/ksml-runner-spec.json");
    let ksml: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("runner spec")).expect("JSON");
    let (mut o, mut k) = (BTreeMap::new(), BTreeMap::new());
    o.insert("runnerConfig".to_string(), keys(root(&ours)));
    k.insert("runnerConfig".to_string(), keys(&ksml));
    for (our_name, ksml_name) in [
        ("applicationServer", "ApplicationServerConfig"),
        ("errorHandling", "ErrorHandlingConfig"),
        ("errorTypeHandling", "ErrorTypeHandlingConfig"),
        ("kafkaConfig", "KafkaConfig"),
        ("ksmlConfig", "KSMLConfig"),
        ("notation", "NotationConfig"),
        ("prometheus", "PrometheusConfig"),
        ("pythonContext", "PythonContextConfig"),
        ("schemaRegistry", "SchemaRegistryConfig"),
    ] {
        let (od, kd) = (&ours["$defs"][our_name], &ksml["$defs"][ksml_name]);
        assert!(od.is_object() && kd.is_object(), "{our_name} / {ksml_name} missing");
        o.insert(our_name.to_string(), keys(od));
        k.insert(our_name.to_string(), keys(kd));
    }
    let (extra, missing) = compare("runner object", &o, &k);
    // Weir's dead-letter topic per error kind (KSML has none; docs/ksml-differences.md).
    assert_eq!(extra, pairs(&[("errorTypeHandling", "deadLetterTopic")]), "runner keys only Weir allows");
    assert_eq!(missing, pairs(&[]), "runner keys only KSML allows");
}

#[test]
fn ksml_runner_configs_validate() {
    let schema = runner_schema();
    let validator = Validator { schema: &schema };
    let base = ksml_dir();
    let mut files = Vec::new();
    find_runner_files(&base.join("docs-examples"), &mut files);
    assert!(!files.is_empty(), "expected KSML's runner configs");
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        let mut diags = Vec::new();
        let node = yaml::parse("ksml-runner.yaml", &text, &mut diags).expect("YAML parses");
        let problems: Vec<String> =
            validator.check(&schema, &to_json(&node), "").into_iter().map(|p| format!("{}: {}", p.path, p.message)).collect();
        assert!(problems.is_empty(), "{}: {problems:?}", file.display());
    }
    let inline = "ksml:\n  definitions:\n    a: a.yaml\n    b:\n      streams: {s: {topic: t, keyType: string, valueType: json}}\n  prometheus:\n  schemaRegistries: {r: }\n  errorHandling: {produce: {handler: retryOnFail}}\nkafka:\n  application.id: x\n  bootstrap.servers: localhost:9092\n  linger.ms: 5\n";
    let mut diags = Vec::new();
    let node = yaml::parse("inline.yaml", inline, &mut diags).expect("YAML parses");
    let problems = validator.check(&schema, &to_json(&node), "");
    assert!(problems.is_empty(), "{problems:?}");
    let bad = "ksml:\n  definitions:\n    b: {streams: {s: {topic: t, bogus: 1}}}\n  pythonModulePath: x\nkafka: {bootstrap.servers: y}\n";
    let node = yaml::parse("bad.yaml", bad, &mut diags).expect("YAML parses");
    let problems: Vec<String> =
        validator.check(&schema, &to_json(&node), "").into_iter().map(|p| format!("{}: {}", p.path, p.message)).collect();
    for expected in ["bogus: unknown key", "pythonModulePath: unknown key", "missing required key 'application.id'"] {
        assert!(problems.iter().any(|p| p.contains(expected)), "expected {expected:?} in {problems:?}");
    }
}

fn find_runner_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("listable").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            find_runner_files(&path, out);
        } else if path.file_name().is_some_and(|n| n == "ksml-runner.yaml") {
            out.push(path);
        }
    }
}
