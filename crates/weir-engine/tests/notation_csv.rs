//! The `csv` notation: the byte layout KSML writes, what it reads (short rows, comments,
//! quoting), errors, round trips of random values, hostile bytes, and interop with Python's
//! `csv` module.

mod notation_support;

use std::path::Path;

use std::sync::Arc;

use indexmap::IndexMap;
use notation_support::{Rng, record, s, schema_dir, ty};
use weir_engine::Value;
use weir_engine::notation::csv::CsvCodec;
use weir_engine::notation::{Codec, Notations, Target};

const SENSOR: &str = "name,timestamp,value,type,unit,color,city,owner\n";

fn codec_in(dir: &Path, text: &str) -> Result<Arc<dyn Codec>, String> {
    Notations::builtin().with_schema_directory(Some(dir.to_path_buf())).codec(&ty(text), &Target::default())
}

fn sensor() -> Arc<dyn Codec> {
    codec_in(&schema_dir(&[("SensorData.csv", SENSOR)]), "csv:SensorData").expect("csv:SensorData")
}

fn decode(codec: &Arc<dyn Codec>, text: &str) -> Value {
    codec.decode(Some(text.as_bytes())).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn encode(codec: &Arc<dyn Codec>, value: &Value) -> String {
    String::from_utf8(codec.encode(value).expect("encodes").expect("not null")).expect("utf-8")
}

#[test]
fn writes_every_field_quoted_in_schema_order_without_a_line_feed() {
    let codec = sensor();
    // Fields given in another order than the schema's; a field the schema lacks is left out.
    let value = record(&[
        ("owner", s("alice")),
        ("name", s("sensor001")),
        ("city", s("Amsterdam")),
        ("timestamp", s("1234567890")),
        ("value", s("23.5")),
        ("type", s("temperature")),
        ("unit", s("celsius")),
        ("color", s("red")),
        ("extra", s("dropped")),
    ]);
    assert_eq!(encode(&codec, &value), r#""sensor001","1234567890","23.5","temperature","celsius","red","Amsterdam","alice""#);

    // Quotes doubled, separators and line breaks kept inside the quotes (KSML's own test
    // asserts this exact text).
    let list = sensor_list(&["say \"hi\"", "line1\nline2"]);
    let codec = codec_in(&schema_dir(&[]), "csv:list(string)").expect("list");
    assert_eq!(encode(&codec, &list), "\"say \"\"hi\"\"\",\"line1\nline2\"");

    // Other values in KSML's text form; null and missing columns empty.
    let codec = codec_in(&schema_dir(&[("T.csv", "a,b,c,d,e")]), "csv:T").expect("csv:T");
    let value = record(&[("a", Value::Long(42)), ("b", Value::Bool(true)), ("c", Value::Null), ("d", Value::Double(23.5))]);
    assert_eq!(encode(&codec, &value), r#""42","true","","23.5","""#);
    assert_eq!(codec.encode(&Value::Null), Ok(None));
}

fn sensor_list(items: &[&str]) -> Value {
    Value::List(items.iter().map(|i| s(i)).collect())
}

#[test]
fn reads_a_line_into_the_schema_columns() {
    let codec = sensor();
    let line = r#""sensor001","1234567890","23.5","temperature","celsius","red","Amsterdam","alice""#;
    let value = decode(&codec, line);
    let Value::Struct(fields) = &value else { panic!("struct: {value:?}") };
    let keys: Vec<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(keys, ["name", "timestamp", "value", "type", "unit", "color", "city", "owner"]);
    assert_eq!(fields["timestamp"], s("1234567890"), "CSV columns are strings");
    assert_eq!(encode(&codec, &value), line, "what is read writes back the same");

    // Unquoted fields, a trailing line feed, CRLF.
    assert_eq!(decode(&codec, "a,b,c,d,e,f,g,h\r\n"), decode(&codec, "\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\""));

    // A short row: the missing columns are empty strings; a long row: extra fields ignored.
    let codec = codec_in(&schema_dir(&[("P.csv", "name,age,city")]), "csv:P").expect("csv:P");
    assert_eq!(decode(&codec, "\"Alice\",\"30\""), record(&[("name", s("Alice")), ("age", s("30")), ("city", s(""))]));
    assert_eq!(decode(&codec, "Alice,30,Amsterdam,extra"), record(&[("name", s("Alice")), ("age", s("30")), ("city", s("Amsterdam"))]));
    assert_eq!(decode(&codec, "Alice,,\"\""), record(&[("name", s("Alice")), ("age", s("")), ("city", s(""))]));
    // Blank and comment lines before the record are skipped, later lines ignored.
    assert_eq!(
        decode(&codec, "\n   \n# a comment\n\"a, b\",\"say \"\"hi\"\"\",\"x\ny\"\nsecond,line,ignored\n"),
        record(&[("name", s("a, b")), ("age", s("say \"hi\"")), ("city", s("x\ny"))])
    );
    // A field that is only whitespace is a field, not a blank line.
    assert_eq!(decode(&codec, "\"  \""), record(&[("name", s("  ")), ("age", s("")), ("city", s(""))]));
    assert_eq!(codec.decode(None), Ok(Value::Null));
}

#[test]
fn list_types_read_and_write_lists_of_fields() {
    let codec = codec_in(&schema_dir(&[]), "csv:list(string)").expect("list");
    assert_eq!(decode(&codec, "value1,\"value, 2\",\"\""), sensor_list(&["value1", "value, 2", ""]));
    assert_eq!(decode(&codec, ""), Value::List(vec![]), "no line reads as an empty list, as KSML does");
    assert_eq!(decode(&codec, "# only a comment\n"), Value::List(vec![]));
    assert_eq!(encode(&codec, &Value::Tuple(vec![Value::Int(1), s("x")])), r#""1","x""#);
    assert_eq!(encode(&codec, &Value::List(vec![])), "");

    // KSML's default type union(struct, list): reads a list, writes either.
    let either = codec_in(&schema_dir(&[]), "csv:union(struct, list(string))").expect("union");
    assert_eq!(decode(&either, "a,b"), sensor_list(&["a", "b"]));
    assert_eq!(encode(&either, &record(&[("x", s("1")), ("y", s("2"))])), r#""1","2""#);

    // csv:struct writes a struct's fields in order but cannot read a line: no column names.
    let plain = codec_in(&schema_dir(&[]), "csv:struct").expect("struct");
    assert_eq!(encode(&plain, &record(&[("b", s("2")), ("a", s("1"))])), r#""2","1""#);
    let e = plain.decode(Some(b"a,b")).expect_err("no columns");
    assert_eq!(
        e.to_string(),
        "csv notation: cannot decode csv:struct: found a CSV line of 2 fields but a struct needs column names: write 'csv:<SchemaName>' for a schema file <SchemaName>.csv"
    );
}

#[test]
fn types_and_schema_files_are_checked_when_the_codec_is_built() {
    let dir = schema_dir(&[("Dup.csv", "a,b,a"), ("Empty.csv", "\n# nothing\n"), ("Hole.csv", "a,,b")]);
    let err = |t: &str| codec_in(&dir, t).expect_err(t);
    assert_eq!(err("csv"), "notation 'csv' requires a schema: write 'csv:<SchemaName>' (a file <SchemaName>.csv holding the column names)");
    assert!(err("csv:string").starts_with("notation 'csv' does not allow data type 'csv:string'"), "{}", err("csv:string"));
    assert!(err("csv:map(string)").contains("does not allow data type"));
    assert!(err("csv:Missing").starts_with("schema 'Missing' not found: there is no file"), "{}", err("csv:Missing"));
    assert!(err("csv:Dup").ends_with("the header line names column 'a' twice"), "{}", err("csv:Dup"));
    assert!(err("csv:Empty").contains("found no header line"), "{}", err("csv:Empty"));
    assert!(err("csv:Hole").ends_with("column 2 of the header line has no name"), "{}", err("csv:Hole"));
    // A dotted name finds its file with the namespace stripped, as KSML looks schemas up.
    let dir = schema_dir(&[("SensorData.csv", SENSOR)]);
    assert!(codec_in(&dir, "csv:io.axual.SensorData").is_ok());
    // And a schema directory is needed at all.
    let e = Notations::builtin().codec(&ty("csv:SensorData"), &Target::default()).expect_err("no dir");
    assert!(e.contains("no schemaDirectory is configured"), "{e}");
}

#[test]
fn errors_name_the_type_the_expected_and_the_found() {
    let codec = sensor();
    let e = codec.encode(&sensor_list(&["a"])).expect_err("list for a schema type");
    assert_eq!(e.to_string(), "csv notation: cannot encode csv:SensorData: expected a struct, found list of 1 elements");
    let e = codec.encode(&Value::Long(3)).expect_err("number");
    assert_eq!(e.to_string(), "csv notation: cannot encode csv:SensorData: expected a struct, found long 3");
    let e = codec.decode(Some(b"")).expect_err("empty record");
    assert!(e.to_string().contains("found no CSV line"), "{e}");
    assert!(e.to_string().contains("name,timestamp,value"), "{e}");
    let e = codec.decode(Some(b"ok,\n\xff\xfe")).expect_err("not UTF-8");
    assert_eq!(e.to_string(), "csv notation: cannot decode csv:SensorData: invalid UTF-8 at byte 4 (line 2, column 1): found bytes ff fe");
    assert_eq!(e.position.map(|p| (p.offset, p.line, p.column)), Some((4, 2, 1)));
    let list = codec_in(&schema_dir(&[]), "csv:[string]").expect("list");
    let e = list.encode(&record(&[("a", s("1"))])).expect_err("struct for a list");
    assert_eq!(e.to_string(), "csv notation: cannot encode csv:list(string): expected a list, found struct with 1 fields");
}

/// Strings with the characters that matter to CSV: quotes, separators, line breaks, `#`,
/// spaces, and the rest of Unicode.
fn csv_string(rng: &mut Rng) -> String {
    let len = rng.below(10);
    (0..len)
        .map(|_| match rng.below(10) {
            0 => ['"', ',', '\n', '\r', '#', ' ', '\t'][rng.below(7)],
            1 => char::from_u32(0x80 + rng.below(0x780) as u32).unwrap_or('?'),
            2 => char::from_u32(0x1F600 + rng.below(80) as u32).unwrap_or('?'),
            3 => char::from_u32(rng.below(0x20) as u32).unwrap_or('?'),
            _ => char::from(b'a' + rng.below(26) as u8),
        })
        .collect()
}

#[test]
fn random_records_round_trip() {
    let mut rng = Rng::new(0x5eed_c5f0);
    for round in 0..3000 {
        let columns: Vec<String> = (0..1 + rng.below(8)).map(|i| format!("c{i}")).collect();
        let codec: Arc<dyn Codec> = Arc::new(CsvCodec::with_columns("csv:T", columns.clone()));
        let value = Value::Struct(columns.iter().map(|c| (c.clone(), Value::String(csv_string(&mut rng)))).collect());
        let bytes = codec.encode(&value).expect("encodes").expect("bytes");
        let back = codec.decode(Some(&bytes)).unwrap_or_else(|e| panic!("round {round}: {e}: {:?}", String::from_utf8_lossy(&bytes)));
        assert_eq!(back, value, "round {round}: {:?}", String::from_utf8_lossy(&bytes));

        let list = codec_in(&schema_dir(&[]), "csv:list(string)").expect("list");
        let items = Value::List((0..rng.below(6)).map(|_| Value::String(csv_string(&mut rng))).collect());
        let bytes = list.encode(&items).expect("encodes").expect("bytes");
        assert_eq!(list.decode(Some(&bytes)).expect("decodes"), items, "{:?}", String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    let codecs = [sensor(), codec_in(&schema_dir(&[]), "csv:list(string)").expect("list")];
    let seeds: &[&[u8]] = &[
        br#""sensor001","1234567890","23.5","temperature","celsius","red","Amsterdam","alice""#,
        b"\"a\"\"b\",c\r\n# comment\n\"unterminated",
        b"\n\n  \n#x\n,,,,",
    ];
    let mut rng = Rng::new(0x5eed_c5f1);
    for round in 0..20_000 {
        let bytes = if round % 2 == 0 {
            rng.bytes(64)
        } else {
            let mut b = seeds[rng.below(seeds.len())].to_vec();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(b.len() + 1);
                match rng.below(3) {
                    0 if at < b.len() => b[at] = rng.next() as u8,
                    1 => b.insert(at, [b'"', b',', b'\n', b'#', b'\r', 0xff][rng.below(6)]),
                    _ => b.truncate(at),
                }
            }
            b
        };
        for codec in &codecs {
            if let Ok(value) = codec.decode(Some(&bytes)) {
                let again = codec.encode(&value).unwrap_or_else(|e| panic!("{bytes:?} decoded to {value:?} but: {e}"));
                assert_eq!(codec.decode(again.as_deref()).expect("reads what it wrote"), value);
            }
        }
    }
}

fn python(code: &str, input: &[u8]) -> Vec<u8> {
    notation_support::run_python(std::path::Path::new("python3"), code, input)
}

/// Python's `csv.writer` in each quoting style writes rows (one per record, joined by NUL
/// bytes, which the rows do not hold); we read each row as Python's reader does.
#[test]
fn we_read_what_python_writes() {
    let code = r#"
import csv, io, json, sys
rows = json.loads(sys.stdin.read())
out = []
for i, row in enumerate(rows):
    buf = io.StringIO()
    quoting = [csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC][i % 3]
    # Python quotes a field holding a character of its line terminator: with '\r\n' both.
    csv.writer(buf, quoting=quoting, lineterminator='\r\n').writerow(row)
    text = buf.getvalue()
    assert next(csv.reader(io.StringIO(text, newline=''))) == row, (text, row)
    out.append(text)
sys.stdout.write('\0'.join(out))
"#;
    let mut rng = Rng::new(0x5eed_c5f2);
    // Python's reader ends a field at a bare CR outside quotes; its writer quotes them, so
    // any string works. A lone empty field is written by Python as `""` (so it is a row).
    let rows: Vec<Vec<String>> =
        (0..300).map(|_| (0..1 + rng.below(6)).map(|_| csv_string(&mut rng).replace('\0', "")).collect()).collect();
    let json = serde_json::to_vec(&rows).expect("json");
    let out = String::from_utf8(python(code, &json)).expect("utf-8");
    let texts: Vec<&str> = out.split('\0').collect();
    assert_eq!(texts.len(), rows.len());
    let codec = codec_in(&schema_dir(&[]), "csv:list(string)").expect("list");
    let mut comments = 0;
    for (text, row) in texts.iter().zip(&rows) {
        let expected = if text.starts_with('#') {
            // Python does not quote a leading '#'; KSML (and so Weir) reads such a line as a
            // comment.
            comments += 1;
            Value::List(vec![])
        } else {
            Value::List(row.iter().map(|f| Value::String(f.clone())).collect())
        };
        assert_eq!(decode(&codec, text), expected, "{text:?}");
    }
    assert!(comments < rows.len() / 10, "most rows are data: {comments} comments");
    // And a struct through a schema from what Python writes with a header line.
    let header_and_row =
        python("import csv, sys\nw = csv.writer(sys.stdout)\nw.writerow(['name', 'city'])\nw.writerow(['Café \"Zürich\"', 'a,b'])", b"");
    let text = String::from_utf8(header_and_row).expect("utf-8");
    let (header, row) = text.split_once('\n').expect("two lines");
    let codec = codec_in(&schema_dir(&[("Cafe.csv", header)]), "csv:Cafe").expect("schema");
    assert_eq!(decode(&codec, row), record(&[("name", s("Café \"Zürich\"")), ("city", s("a,b"))]));
}

/// What we write, Python's `csv.reader` reads as the same fields.
#[test]
fn python_reads_what_we_write() {
    let mut rng = Rng::new(0x5eed_c5f3);
    let codec = codec_in(&schema_dir(&[]), "csv:list(string)").expect("list");
    let rows: Vec<Vec<String>> = (0..300).map(|_| (0..1 + rng.below(6)).map(|_| csv_string(&mut rng)).collect()).collect();
    let mut records = Vec::new();
    for row in &rows {
        let value = Value::List(row.iter().map(|f| Value::String(f.clone())).collect());
        records.push(String::from_utf8(codec.encode(&value).expect("encodes").expect("bytes")).expect("utf-8"));
    }
    let input = serde_json::to_vec(&records).expect("json");
    let code = r#"
import csv, io, json, sys
records = json.loads(sys.stdin.read())
print(json.dumps([list(csv.reader(io.StringIO(r, newline=''))) for r in records]))
"#;
    let out = python(code, &input);
    let parsed: Vec<Vec<Vec<String>>> = serde_json::from_slice(&out).expect("python's json");
    assert_eq!(parsed.len(), rows.len());
    for (records, row) in parsed.iter().zip(&rows) {
        assert_eq!(records.len(), 1, "one record for {row:?}: {records:?}");
        assert_eq!(&records[0], row);
    }
}

/// KSML's rule 4 for `csv`: `convertValue` from a string into a `csv` type reads the line, and
/// from a `csv` type into `string` writes it.
#[test]
fn conversions_read_and_write_lines() {
    let notations = Notations::builtin().with_schema_directory(Some(schema_dir(&[("P.csv", "name,age")])));
    let read = notations.text_conversion(&ty("string"), &ty("csv:P")).expect("read");
    assert!(read.is_active());
    assert_eq!(read.apply(s("Alice,30")), Ok(record(&[("name", s("Alice")), ("age", s("30"))])));
    assert_eq!(read.apply(Value::Long(3)), Ok(Value::Long(3)), "only strings are read");
    let e = read.apply(s("")).expect_err("no line");
    assert!(e.to_string().starts_with("csv notation: cannot decode csv:P: found no CSV line"), "{e}");

    let write = notations.text_conversion(&ty("csv:P"), &ty("string")).expect("write");
    let value = record(&[("age", Value::Int(31)), ("name", s("Bob"))]);
    assert_eq!(write.apply(value), Ok(s(r#""Bob","31""#)));
    let lists = notations.text_conversion(&ty("csv:list(string)"), &ty("string")).expect("write");
    assert_eq!(lists.apply(sensor_list(&["a", "b"])), Ok(s(r#""a","b""#)));

    // Nothing to do between other notations; a schema that cannot be read is an error.
    assert!(!notations.text_conversion(&ty("json"), &ty("string")).expect("none").is_active());
    assert!(!notations.text_conversion(&ty("csv:P"), &ty("json")).expect("none").is_active());
    let e = notations.text_conversion(&ty("string"), &ty("csv:Missing")).expect_err("missing");
    assert!(e.starts_with("schema 'Missing' not found"), "{e}");
    // A configured notation of type csv converts too.
    let mut configured = notations.clone();
    configured.configure("lines", "csv", None, IndexMap::new()).expect("configure");
    let read = configured.text_conversion(&ty_with("string", &["lines"]), &ty_with("lines:P", &["lines"])).expect("read");
    assert_eq!(read.apply(s("x,1")), Ok(record(&[("name", s("x")), ("age", s("1"))])));
}

fn ty_with(text: &str, notations: &[&str]) -> weir_dsl::types::UserType {
    let names: Vec<String> = notations.iter().map(|n| n.to_string()).collect();
    weir_dsl::types::parse_user_type(text, &names).unwrap_or_else(|e| panic!("{text}: {e}"))
}
