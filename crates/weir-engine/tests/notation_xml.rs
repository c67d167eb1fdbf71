//! The `xml` notation: the byte layout KSML writes, what it reads (attributes, repeated
//! elements, text, namespaces), XSD-typed values, errors, round trips of random values,
//! hostile bytes, and interop with Python's `xml.etree.ElementTree`.

mod notation_support;

use std::path::Path;

use std::sync::Arc;

use indexmap::IndexMap;
use notation_support::{Rng, record, s, schema_dir, ty};
use weir_engine::Value;
use weir_engine::notation::xml::XmlCodec;
use weir_engine::notation::{Codec, Notations, Target};

/// KSML's tutorial schema (`SensorData.xsd`).
const SENSOR_XSD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
    <xs:element name="SensorData">
        <xs:complexType>
            <xs:sequence>
                <xs:element name="name" type="xs:string"/>
                <xs:element name="timestamp" type="xs:long"/>
                <xs:element name="value" type="xs:string"/>
                <xs:element name="type" type="xs:string"/>
                <xs:element name="unit" type="xs:string"/>
                <xs:element name="color" type="xs:string" minOccurs="0" maxOccurs="1"/>
                <xs:element name="city" type="xs:string" minOccurs="0" maxOccurs="1"/>
                <xs:element name="owner" type="xs:string" minOccurs="0" maxOccurs="1"/>
            </xs:sequence>
        </xs:complexType>
    </xs:element>
</xs:schema>
"#;

fn codec_in(dir: &Path, text: &str) -> Result<Arc<dyn Codec>, String> {
    Notations::builtin().with_schema_directory(Some(dir.to_path_buf())).codec(&ty(text), &Target::default())
}

fn xml() -> Arc<dyn Codec> {
    Notations::builtin().codec(&ty("xml"), &Target::default()).expect("xml")
}

fn sensor() -> Arc<dyn Codec> {
    codec_in(&schema_dir(&[("SensorData.xsd", SENSOR_XSD)]), "xml:SensorData").expect("xml:SensorData")
}

fn typed(xsd: &str) -> XmlCodec {
    XmlCodec::with_schema("xml:T", "T", xsd).unwrap_or_else(|e| panic!("{e}"))
}

/// An XSD whose root element `T` has the given sequence content.
fn xsd(sequence: &str) -> String {
    format!(
        r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="T"><xs:complexType><xs:sequence>{sequence}</xs:sequence></xs:complexType></xs:element></xs:schema>"#
    )
}

fn decode(codec: &dyn Codec, text: &str) -> Value {
    codec.decode(Some(text.as_bytes())).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn encode(codec: &dyn Codec, value: &Value) -> String {
    String::from_utf8(codec.encode(value).unwrap_or_else(|e| panic!("{value:?}: {e}")).expect("not null")).expect("utf-8")
}

fn sensor_value() -> Value {
    record(&[
        ("name", s("sensor6")),
        ("timestamp", Value::Long(1754376106863)),
        ("value", s("12")),
        ("type", s("TEMPERATURE")),
        ("unit", s("%")),
        ("color", s("black")),
        ("city", s("Rotterdam")),
        ("owner", s("Alice")),
    ])
}

#[test]
fn writes_what_ksml_writes() {
    // XML 1.1 declaration (Jackson's WRITE_XML_1_1, single quotes as Woodstox writes them),
    // the root named after the schema, fields in the schema's order, no whitespace.
    let codec = sensor();
    let mut fields = match sensor_value() {
        Value::Struct(f) => f,
        _ => unreachable!(),
    };
    fields.move_index(7, 0); // owner first: the schema's order wins
    fields.insert("extra".into(), s("left out"));
    assert_eq!(
        encode(&*codec, &Value::Struct(fields)),
        "<?xml version='1.1' encoding='UTF-8'?><SensorData><name>sensor6</name><timestamp>1754376106863</timestamp><value>12</value>\
         <type>TEMPERATURE</type><unit>%</unit><color>black</color><city>Rotterdam</city><owner>Alice</owner></SensorData>"
    );
    // Required fields missing or null are written empty, optional ones left out.
    let partial = record(&[("name", s("n")), ("timestamp", Value::Null), ("city", s("c")), ("owner", Value::Null)]);
    assert_eq!(
        encode(&*codec, &partial),
        "<?xml version='1.1' encoding='UTF-8'?><SensorData><name>n</name><timestamp/><value/><type/><unit/><city>c</city><owner/></SensorData>"
    );

    // Schemaless: root <Struct>, struct order, lists repeat their element, null is empty, an
    // empty string is an empty pair of tags, escapes.
    let value = record(&[
        ("id", Value::Int(7)),
        ("ok", Value::Bool(true)),
        ("x", Value::Double(f64::NEG_INFINITY)),
        ("tags", Value::List(vec![s("a"), s("b & <c>")])),
        ("addr", record(&[("street", s("Main St")), ("zip", s(""))])),
        ("none", Value::Null),
        ("raw", Value::Bytes(vec![0xff, 0, 1])),
    ]);
    assert_eq!(
        encode(&*xml(), &value),
        "<?xml version='1.1' encoding='UTF-8'?><Struct><id>7</id><ok>true</ok><x>-Infinity</x><tags>a</tags><tags>b &amp; &lt;c></tags>\
         <addr><street>Main St</street><zip></zip></addr><none/><raw>/wAB</raw></Struct>"
    );
    assert_eq!(xml().encode(&Value::Null), Ok(None));
}

#[test]
fn the_converter_writes_indented_xml() {
    let codec = XmlCodec::with_schema("xml:SensorData", "SensorData", SENSOR_XSD).expect("schema");
    let text = codec
        .to_text(&record(&[("name", s("n")), ("timestamp", Value::Long(5)), ("value", s("1")), ("type", s("t")), ("unit", s("u"))]))
        .expect("writes");
    assert_eq!(
        text,
        "<?xml version='1.1' encoding='UTF-8'?>\n<SensorData>\n  <name>n</name>\n  <timestamp>5</timestamp>\n  <value>1</value>\n  <type>t</type>\n  <unit>u</unit>\n</SensorData>"
    );
    let plain = XmlCodec::with_schema("xml:T", "T", &xsd(r#"<xs:element name="a" type="xs:anyType"/>"#)).expect("schema");
    let nested = record(&[("a", record(&[("b", s("1")), ("c", Value::List(vec![s("2"), s("3")]))]))]);
    assert_eq!(
        plain.to_text(&nested).expect("writes"),
        "<?xml version='1.1' encoding='UTF-8'?>\n<T>\n  <a>\n    <b>1</b>\n    <c>2</c>\n    <c>3</c>\n  </a>\n</T>"
    );
    assert_eq!(plain.from_text(&plain.to_text(&nested).expect("writes")).expect("reads"), nested);
}

#[test]
fn reads_what_ksml_reads() {
    // KSML's test document: declaration, indentation, the long typed by the schema.
    let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<SensorData>
    <name>sensor001</name>
    <timestamp>1234567890</timestamp>
    <value>23.5</value>
    <type>temperature</type>
    <unit>celsius</unit>
    <color>red</color>
    <city>Amsterdam</city>
    <owner>alice</owner>
</SensorData>
"#;
    let value = decode(&*sensor(), doc);
    assert_eq!(
        value,
        record(&[
            ("name", s("sensor001")),
            ("timestamp", Value::Long(1234567890)),
            ("value", s("23.5")),
            ("type", s("temperature")),
            ("unit", s("celsius")),
            ("color", s("red")),
            ("city", s("Amsterdam")),
            ("owner", s("alice")),
        ])
    );
    // Without a schema everything is text.
    let Value::Struct(fields) = decode(&*xml(), doc) else { panic!("struct") };
    assert_eq!(fields["timestamp"], s("1234567890"));

    // Attributes, repeated elements, mixed text, nil, CDATA, references, namespaces.
    let doc = r#"<?xml version="1.0"?>
<!-- a comment --><?pi data?>
<ns:order xmlns:ns="urn:x" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="42" ns:kind="web">
  <ns:item sku="a">first</ns:item>
  <item>second</item>
  <note><![CDATA[<b>bold</b> & more]]> &amp; &#xE9;&#233; &lt;ok&gt;</note>
  <gone xsi:nil="true">ignored</gone>
  <empty/>
  <blank></blank>
  <price currency="EUR">12.50</price>
  <mixed>before<x>1</x>after</mixed>
</ns:order>"#;
    assert_eq!(
        decode(&*xml(), doc),
        record(&[
            ("id", s("42")),
            ("kind", s("web")),
            ("item", Value::List(vec![record(&[("sku", s("a")), ("", s("first"))]), s("second")])),
            ("note", s("<b>bold</b> & more & éé <ok>")),
            ("gone", Value::Null),
            ("empty", s("")),
            ("blank", s("")),
            ("price", record(&[("currency", s("EUR")), ("", s("12.50"))])),
            ("mixed", record(&[("x", s("1")), ("", s("beforeafter"))])),
        ])
    );
    // An empty root is an empty struct; a UTF-8 BOM is skipped; text is kept as it is.
    assert_eq!(decode(&*xml(), "<a/>"), record(&[]));
    assert_eq!(decode(&*xml(), "\u{feff}<a> <b>  x \n y </b> </a>"), record(&[("b", s("  x \n y "))]));
    assert_eq!(decode(&*xml(), "<a><b>x\r\ny&#xD;</b></a>"), record(&[("b", s("x\ny\r"))]));
    assert_eq!(xml().decode(None), Ok(Value::Null));
}

/// Every built-in type read, an enumeration, a named simple type restricting a built-in.
const TYPED_FIELDS: &str = r#"
    <xs:element name="b" type="xs:boolean"/>
    <xs:element name="i8" type="xs:byte"/>
    <xs:element name="i16" type="xs:short"/>
    <xs:element name="i32" type="xs:int"/>
    <xs:element name="integer" type="xs:integer"/>
    <xs:element name="i64" type="xs:long"/>
    <xs:element name="u8" type="xs:unsignedByte"/>
    <xs:element name="u16" type="xs:unsignedShort"/>
    <xs:element name="u32" type="xs:unsignedInt"/>
    <xs:element name="f" type="xs:float"/>
    <xs:element name="d" type="xs:double"/>
    <xs:element name="inf" type="xs:double"/>
    <xs:element name="raw" type="xs:base64Binary"/>
    <xs:element name="text" type="xs:token"/>
    <xs:element name="color"><xs:simpleType><xs:restriction base="xs:string">
        <xs:enumeration value="RED"/><xs:enumeration value="GREEN"/></xs:restriction></xs:simpleType></xs:element>
    <xs:element name="pct" type="Percent"/>
    <xs:element name="missing" type="xs:int" minOccurs="0"/>
    <xs:element name="nothing" type="xs:int"/>"#;

const PERCENT: &str = r#"<xs:simpleType name="Percent"><xs:annotation><xs:documentation>0 to 100</xs:documentation></xs:annotation><xs:restriction base="xs:double"><xs:maxInclusive value="100"/></xs:restriction></xs:simpleType>"#;

fn xsd_with_types(sequence: &str, types: &str) -> String {
    format!(
        r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="T"><xs:complexType><xs:sequence>{sequence}</xs:sequence></xs:complexType></xs:element>{types}</xs:schema>"#
    )
}

#[test]
fn xsd_types_type_the_values() {
    let codec = typed(&xsd_with_types(TYPED_FIELDS, PERCENT));
    let doc = "<T><b> 1 </b><i8>-128</i8><i16>32767</i16><i32>-5</i32><integer>+12</integer><i64>9223372036854775807</i64>\
               <u8>255</u8><u16>65535</u16><u32>4294967295</u32><f>1.5</f><d>-2.5e-3</d><inf>-INF</inf><raw>/wAB</raw>\
               <text> a b </text><color>GREEN</color><pct>99.5</pct><nothing></nothing></T>";
    let value = codec.from_text(doc).expect("reads");
    assert_eq!(
        value,
        record(&[
            ("b", Value::Bool(true)),
            ("i8", Value::Byte(-128)),
            ("i16", Value::Short(32767)),
            ("i32", Value::Int(-5)),
            ("integer", Value::Int(12)),
            ("i64", Value::Long(i64::MAX)),
            ("u8", Value::Short(255)),
            ("u16", Value::Int(65535)),
            ("u32", Value::Long(4294967295)),
            ("f", Value::Float(1.5)),
            ("d", Value::Double(-0.0025)),
            ("inf", Value::Double(f64::NEG_INFINITY)),
            ("raw", Value::Bytes(vec![0xff, 0, 1])),
            ("text", s(" a b ")),
            ("color", Value::Enum("GREEN".into())),
            ("pct", Value::Double(99.5)),
            ("nothing", Value::Null),
        ])
    );
    // Written back: typed values as text, the optional missing field left out, the required
    // null one empty.
    let text = encode(&codec, &value);
    assert_eq!(
        text,
        "<?xml version='1.1' encoding='UTF-8'?><T><b>true</b><i8>-128</i8><i16>32767</i16><i32>-5</i32><integer>12</integer>\
         <i64>9223372036854775807</i64><u8>255</u8><u16>65535</u16><u32>4294967295</u32><f>1.5</f><d>-0.0025</d><inf>-Infinity</inf>\
         <raw>/wAB</raw><text> a b </text><color>GREEN</color><pct>99.5</pct><nothing/></T>"
    );
    assert_eq!(codec.from_text(&text).expect("reads back"), value);
    // Values are brought to the declared types when written: a Python int for an xs:byte, a
    // numeric string for an xs:long, a string for a boolean.
    let text = encode(&codec, &record(&[("i8", Value::Long(5)), ("i64", s("77")), ("b", s("false"))]));
    assert!(text.contains("<T><b>false</b><i8>5</i8>") && text.contains("<i64>77</i64>"), "{text}");
}

#[test]
fn xsd_structures_nest_repeat_and_carry_attributes() {
    let schema = r#"<?xml version="1.0"?>
<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:shop" targetNamespace="urn:shop" elementFormDefault="qualified">
  <xsd:annotation><xsd:documentation>An order</xsd:documentation></xsd:annotation>
  <xsd:element name="Order" type="tns:OrderType"/>
  <xsd:complexType name="OrderType">
    <xsd:sequence>
      <xsd:element name="id" type="xsd:long"/>
      <xsd:element name="customer" type="tns:Customer"/>
      <xsd:element name="line" type="tns:Line" minOccurs="0" maxOccurs="unbounded"/>
      <xsd:element ref="tns:note" minOccurs="0"/>
      <xsd:element name="tags" minOccurs="0"><xsd:complexType><xsd:sequence>
        <xsd:element name="tag" type="xsd:string" maxOccurs="3"/></xsd:sequence></xsd:complexType></xsd:element>
    </xsd:sequence>
    <xsd:attribute name="version" type="xsd:int" use="required"/>
    <xsd:attribute name="channel" type="xsd:string"/>
  </xsd:complexType>
  <xsd:complexType name="Customer"><xsd:all><xsd:element name="name" type="xsd:string"/><xsd:element name="vip" type="xsd:boolean"/></xsd:all></xsd:complexType>
  <xsd:complexType name="Line">
    <xsd:sequence><xsd:element name="sku" type="xsd:string"/><xsd:element name="price" type="tns:Money"/></xsd:sequence>
  </xsd:complexType>
  <xsd:complexType name="Money">
    <xsd:simpleContent><xsd:extension base="xsd:double"><xsd:attribute name="currency" type="xsd:string"/></xsd:extension></xsd:simpleContent>
  </xsd:complexType>
  <xsd:element name="note" type="xsd:string"/>
</xsd:schema>"#;
    let codec = XmlCodec::with_schema("xml:Order", "Order", schema).expect("schema");
    assert_eq!(codec.root(), "Order");
    let doc = r#"<o:Order xmlns:o="urn:shop" version="3" extra="kept">
  <o:id>1001</o:id>
  <o:customer><o:vip>1</o:vip><o:name>Ann</o:name></o:customer>
  <o:line><o:sku>A</o:sku><o:price currency="EUR">2.5</o:price></o:line>
  <o:line><o:sku>B</o:sku><o:price>4</o:price></o:line>
  <o:tags><o:tag>x</o:tag></o:tags>
  <o:unknown>7</o:unknown>
</o:Order>"#;
    let value = codec.from_text(doc).expect("reads");
    let expected = record(&[
        ("version", Value::Int(3)),
        ("extra", s("kept")),
        ("id", Value::Long(1001)),
        ("customer", record(&[("vip", Value::Bool(true)), ("name", s("Ann"))])),
        (
            "line",
            Value::List(vec![
                record(&[("sku", s("A")), ("price", record(&[("currency", s("EUR")), ("", Value::Double(2.5))]))]),
                record(&[("sku", s("B")), ("price", record(&[("", Value::Double(4.0))]))]),
            ]),
        ),
        ("tags", record(&[("tag", Value::List(vec![s("x")]))])),
        ("unknown", s("7")),
    ]);
    assert_eq!(value, expected);
    // Written in the schema's order, attributes as attributes, undeclared fields left out.
    assert_eq!(
        encode(&codec, &value),
        "<?xml version='1.1' encoding='UTF-8'?><Order version=\"3\"><id>1001</id><customer><name>Ann</name><vip>true</vip></customer>\
         <line><sku>A</sku><price currency=\"EUR\">2.5</price></line><line><sku>B</sku><price>4</price></line>\
         <tags><tag>x</tag></tags></Order>"
    );
}

#[test]
fn unsupported_or_broken_schemas_are_refused_by_name() {
    let err = |body: &str| XmlCodec::with_schema("xml:T", "T", &xsd(body)).expect_err(body);
    let cases = [
        (
            r#"<xs:choice><xs:element name="a"/></xs:choice>"#,
            "xs:choice inside <xs:sequence> is not supported (supported there: xs:element, xs:sequence)",
        ),
        (r#"<xs:element name="a" type="xs:decimal"/>"#, "element 'a' has the type xs:decimal, which is not supported"),
        (r#"<xs:element name="a" type="xs:dateTime"/>"#, "element 'a' has the type xs:dateTime, which is not supported"),
        (r#"<xs:element name="a" type="Nope"/>"#, "element 'a' has the type 'Nope', which the schema does not define"),
        (r#"<xs:any/>"#, "xs:any inside <xs:sequence> is not supported"),
        (r#"<xs:element name="a" maxOccurs="many"/>"#, "<xs:element> 'a' has maxOccurs=\"many\", expected a number or 'unbounded'"),
        (r#"<xs:element name="a"/><xs:element name="a"/>"#, "element 'a' is declared twice in one sequence"),
        (
            r#"<xs:element name="a"><xs:simpleType><xs:list itemType="xs:int"/></xs:simpleType></xs:element>"#,
            "xs:list inside <xs:simpleType> is not supported",
        ),
    ];
    for (body, message) in cases {
        let e = err(body);
        assert!(e.contains(message), "{body}: {e}");
    }
    let top =
        |rest: &str| XmlCodec::with_schema("xml:T", "T", &xsd_with_types(r#"<xs:element name="a" type="Node"/>"#, rest)).expect_err(rest);
    let e = top(
        r#"<xs:complexType name="Node"><xs:sequence><xs:element name="next" type="Node" minOccurs="0"/></xs:sequence></xs:complexType>"#,
    );
    assert!(e.contains("complex type 'Node' contains itself; recursive types are not supported"), "{e}");
    let e = top(r#"<xs:complexType name="Node"><xs:complexContent><xs:extension base="Base"/></xs:complexContent></xs:complexType>"#);
    assert!(e.contains("xs:complexContent inside <xs:complexType> 'Node' is not supported"), "{e}");
    let e = top(
        r#"<xs:simpleType name="Node"><xs:restriction base="Other"/></xs:simpleType><xs:simpleType name="Other"><xs:restriction base="Node"/></xs:simpleType>"#,
    );
    assert!(e.contains("simple type Node restricts itself; recursive types are not supported"), "{e}");
    // A chain of named simple types is no recursion.
    let chained = r#"<xs:simpleType name="Node"><xs:restriction base="Code"><xs:maxLength value="3"/></xs:restriction></xs:simpleType>
        <xs:simpleType name="Code"><xs:restriction base="xs:int"/></xs:simpleType>"#;
    let codec = XmlCodec::with_schema("xml:T", "T", &xsd_with_types(r#"<xs:element name="a" type="Node"/>"#, chained)).expect("chain");
    assert_eq!(codec.from_text("<T><a>12</a></T>"), Ok(record(&[("a", Value::Int(12))])));
    let e = top(r#"<xs:import namespace="urn:other"/>"#);
    assert!(e.contains("<xs:import> is not supported (top-level import)"), "{e}");

    let e = XmlCodec::with_schema("xml:Other", "Other", SENSOR_XSD).expect_err("no such element");
    assert_eq!(e, "there is no top-level <xs:element name=\"Other\">; the schema declares: SensorData");
    let e = XmlCodec::with_schema(
        "xml:T",
        "T",
        r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="T" type="xs:string"/></xs:schema>"#,
    )
    .expect_err("simple root");
    assert!(e.contains("must have a complex type"), "{e}");
    let e = XmlCodec::with_schema("xml:T", "T", "<schema><element name='T'/></schema>").expect_err("no namespace");
    assert!(e.contains("expected <xs:schema> in the namespace http://www.w3.org/2001/XMLSchema"), "{e}");
    let e = XmlCodec::with_schema("xml:T", "T", "<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema'><xs:element name='T'>")
        .expect_err("broken");
    assert!(e.contains("not closed") || e.contains("invalid XML"), "{e}");

    // Through the notations: the file is named in the message; a dotted name finds its file
    // and element by the last segment.
    let dir = schema_dir(&[("T.xsd", &xsd("<xs:choice/>")), ("SensorData.xsd", SENSOR_XSD)]);
    let e = codec_in(&dir, "xml:T").expect_err("bad");
    assert!(e.starts_with("XML schema file '") && e.contains("T.xsd': xs:choice"), "{e}");
    assert!(codec_in(&dir, "xml:io.axual.SensorData").is_ok());
    assert!(codec_in(&dir, "xml:struct").is_ok() && codec_in(&dir, "xml:map(string)").is_ok());
    let e = codec_in(&dir, "xml:[string]").expect_err("list");
    assert!(e.starts_with("notation 'xml' does not allow data type 'xml:list(string)'"), "{e}");
}

#[test]
fn decode_errors_say_where_what_was_expected_and_what_was_found() {
    let sensor = sensor();
    let e = sensor.decode(Some(b"<SensorData><name>x</name><timestamp>soon</timestamp></SensorData>")).expect_err("typed");
    assert_eq!(e.to_string(), "xml notation: cannot decode xml:SensorData: element SensorData/timestamp holds \"soon\", expected xs:long");
    let e = sensor.decode(Some(b"<SensorData><name>a</name><name>b</name></SensorData>")).expect_err("twice");
    assert!(
        e.to_string()
            .ends_with("element SensorData/name appears 2 times, but the schema allows it once (maxOccurs=\"1\"); expected xs:string"),
        "{e}"
    );
    let e = sensor.decode(Some(b"<SensorData><timestamp><x>1</x></timestamp></SensorData>")).expect_err("structure");
    assert!(e.to_string().ends_with("element SensorData/timestamp holds child elements or attributes, expected xs:long"), "{e}");
    let codec = typed(&xsd_with_types(TYPED_FIELDS, PERCENT));
    let e = codec.from_text("<T><i8>300</i8></T>").expect_err("range");
    assert!(e.to_string().ends_with("element T/i8 holds \"300\", expected xs:byte (out of range -128..=127)"), "{e}");
    let e = codec.from_text("<T><color>BLUE</color></T>").expect_err("enum");
    assert!(e.to_string().ends_with("element T/color holds \"BLUE\", expected one of the enumeration values RED, GREEN"), "{e}");

    let xml = xml();
    let check = |doc: &str, message: &str| {
        let e = xml.decode(Some(doc.as_bytes())).expect_err(doc);
        assert!(e.to_string().contains(message), "{doc}: {e}");
        e
    };
    let e = check("<a>\n  <b>1</c>\n</a>", "invalid XML");
    assert_eq!(e.position.map(|p| p.line), Some(2));
    check("<a>1</a><b/>", "found a second root element <b> at byte 8 (line 1, column 9)");
    check("text<a/>", "found text outside the root element");
    check("<a>hello</a>", "the root element holds only text (\"hello\")");
    check("", "found no root element");
    check("<a><b>", "element <b> is not closed");
    check("<a>&nbsp;</a>", "undefined entity '&nbsp;'");
    check("<a>&#0;</a>", "invalid character reference");
    check("<a x='1' x='2'/>", "invalid attribute");
    // Entity expansion bombs cannot be built: any DTD is refused.
    let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>"#;
    check(bomb, "found a document type declaration (<!DOCTYPE …>): DTDs are refused");
    check(r#"<!DOCTYPE a SYSTEM "file:///etc/passwd"><a>&x;</a>"#, "DTDs are refused");
    // Deep nesting is refused, not a stack overflow.
    let deep = "<a>".repeat(100_000) + &"</a>".repeat(100_000);
    check(&deep, "found nesting deeper than 128 elements");
    let e = xml.decode(Some(b"<a>\xff</a>")).expect_err("not UTF-8");
    assert_eq!(e.to_string(), "xml notation: cannot decode xml: invalid UTF-8 at byte 3 (line 1, column 4): found bytes ff 3c 2f 61");
}

#[test]
fn encode_errors_name_the_field() {
    let xml = xml();
    let check = |value: Value, message: &str| {
        let e = xml.encode(&value).expect_err(message);
        assert_eq!(e.to_string(), format!("xml notation: cannot encode xml: {message}"));
    };
    check(Value::List(vec![]), "expected a struct, found list of 0 elements");
    check(record(&[("1st", s("x"))]), "field \"1st\" of Struct is not an XML element name");
    check(record(&[("a", record(&[("b c", s("x"))]))]), "field \"b c\" of Struct/a is not an XML element name");
    check(record(&[("ns:a", s("x"))]), "field \"ns:a\" of Struct is not an XML element name");
    check(record(&[("a", Value::List(vec![Value::List(vec![])]))]), "Struct/a holds a list inside a list, which XML cannot hold");
    check(record(&[("a", s("nul\0"))]), "Struct/a holds the character U+0000, which XML cannot hold");
    check(record(&[("", record(&[]))]), "the text of Struct (key \"\") is struct with 0 fields, expected a simple value");
    let mut deep = s("x");
    for _ in 0..200 {
        deep = record(&[("a", deep)]);
    }
    let e = xml.encode(&deep).expect_err("deep");
    assert!(e.to_string().contains("found nesting deeper than 128 levels"), "{e}");

    let sensor = sensor();
    let e = sensor.encode(&record(&[("name", s("n")), ("timestamp", s("soon"))])).expect_err("typed");
    assert_eq!(
        e.to_string(),
        "xml notation: cannot encode xml:SensorData: SensorData/timestamp is string \"soon\", expected xs:long (cannot convert string 'soon' to long)"
    );
    let codec = typed(&xsd_with_types(TYPED_FIELDS, PERCENT));
    let e = Codec::encode(&codec, &record(&[("u8", Value::Int(-1))])).expect_err("unsigned");
    assert!(e.to_string().ends_with("T/u8 is int -1, expected xs:unsignedByte (out of range 0..=255)"), "{e}");
    let e = Codec::encode(&codec, &record(&[("color", s("BLUE"))])).expect_err("enum");
    assert!(e.to_string().ends_with("T/color is string \"BLUE\", expected one of the enumeration values RED, GREEN"), "{e}");
}

/// An XML element name: ASCII and non-ASCII letters, digits, `-`, `_`, `.`.
fn xml_name(rng: &mut Rng) -> String {
    let first = ['a', 'B', '_', 'é', 'ж', '名'][rng.below(6)];
    let rest: String = (0..rng.below(6)).map(|_| ['a', 'z', 'Q', '0', '9', '-', '_', '.', 'ü', '·'][rng.below(10)]).collect();
    format!("{first}{rest}")
}

/// Text with what XML escapes or changes (`<`, `&`, `]]>`, CR, control characters, XML 1.1
/// line ends), and the rest of Unicode; `xml10` keeps to characters XML 1.0 allows.
fn xml_text(rng: &mut Rng, xml10: bool) -> String {
    let len = rng.below(10);
    let mut out: String = (0..len)
        .map(|_| match rng.below(10) {
            0 => ['<', '>', '&', '"', '\'', ']', ' ', '\n', '\t', '\r'][rng.below(10)],
            1 if !xml10 => char::from_u32(1 + rng.below(0x1f) as u32).unwrap_or('?'),
            1 => ['\u{85}', '\u{2028}', '\u{7f}', '\u{9f}'][rng.below(4)],
            2 => char::from_u32(0x80 + rng.below(0x780) as u32).unwrap_or('?'),
            3 => char::from_u32(0x1F600 + rng.below(80) as u32).unwrap_or('?'),
            _ => char::from(b'a' + rng.below(26) as u8),
        })
        .collect();
    if rng.chance(20) {
        out.push_str("]]>");
    }
    out
}

/// A struct that reads back as written without a schema: leaves are strings, nested structs
/// are not empty, lists have at least two items and hold no lists.
fn xml_struct(rng: &mut Rng, depth: usize, xml10: bool, allow_empty: bool) -> Value {
    let mut fields = IndexMap::new();
    let n = if allow_empty { rng.below(5) } else { 1 + rng.below(4) };
    while fields.len() < n {
        let name = xml_name(rng);
        let value = match rng.below(if depth == 0 { 1 } else { 3 }) {
            0 => Value::String(xml_text(rng, xml10)),
            1 => xml_struct(rng, depth - 1, xml10, false),
            _ => Value::List(
                (0..2 + rng.below(3))
                    .map(|_| if rng.chance(2) { Value::String(xml_text(rng, xml10)) } else { xml_struct(rng, depth - 1, xml10, false) })
                    .collect(),
            ),
        };
        fields.insert(name, value);
    }
    Value::Struct(fields)
}

#[test]
fn random_structs_round_trip_compact_and_indented() {
    let mut rng = Rng::new(0x5eed_0a11);
    let codec = XmlCodec::with_schema("xml:T", "T", &xsd(r#"<xs:element name="any" type="xs:anyType" minOccurs="0"/>"#)).expect("schema");
    let plain = xml();
    for round in 0..3000 {
        let value = xml_struct(&mut rng, 4, false, true);
        let bytes = plain.encode(&value).expect("encodes").expect("bytes");
        let back = plain.decode(Some(&bytes)).unwrap_or_else(|e| panic!("round {round}: {e}: {}", String::from_utf8_lossy(&bytes)));
        assert_eq!(back, value, "round {round}: {}", String::from_utf8_lossy(&bytes));
        // The converter's indented form reads back the same.
        let wrapped = record(&[("any", value.clone())]);
        let text = codec.to_text(&wrapped).expect("writes");
        let back = codec.from_text(&text).unwrap_or_else(|e| panic!("round {round}: {e}: {text}"));
        let expected = if value == record(&[]) { record(&[("any", s(""))]) } else { wrapped };
        assert_eq!(back, expected, "round {round}: {text}");
    }
}

#[test]
fn random_typed_values_round_trip() {
    let codec = typed(&xsd_with_types(TYPED_FIELDS, PERCENT));
    let mut rng = Rng::new(0x5eed_0a12);
    for round in 0..5000 {
        let special = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0];
        let d = if rng.chance(8) { special[rng.below(4)] } else { rng.double(true) };
        let f = if rng.chance(8) { special[rng.below(4)] as f32 } else { rng.float(true) };
        let value = record(&[
            ("b", Value::Bool(rng.chance(2))),
            ("i8", Value::Byte(rng.next() as i8)),
            ("i16", Value::Short(rng.next() as i16)),
            ("i32", Value::Int(rng.next() as i32)),
            ("integer", Value::Int(rng.next() as i32)),
            ("i64", Value::Long(rng.int())),
            ("u8", Value::Short((rng.next() % 256) as i16)),
            ("u16", Value::Int((rng.next() % 65536) as i32)),
            ("u32", Value::Long((rng.next() % (1 << 32)) as i64)),
            ("f", Value::Float(f)),
            ("d", Value::Double(d)),
            ("inf", Value::Double(rng.double(true))),
            ("raw", Value::Bytes(rng.bytes(12))),
            ("text", Value::String(xml_text(&mut rng, false))),
            ("color", Value::Enum(["RED", "GREEN"][rng.below(2)].to_string())),
            ("pct", Value::Double(rng.double(true))),
            ("nothing", Value::Int(rng.next() as i32)),
        ]);
        let bytes = Codec::encode(&codec, &value).expect("encodes").expect("bytes");
        let back =
            Codec::decode(&codec, Some(&bytes)).unwrap_or_else(|e| panic!("round {round}: {e}: {}", String::from_utf8_lossy(&bytes)));
        assert!(same_numbers(&back, &value), "round {round}: {back:?} != {value:?}\n{}", String::from_utf8_lossy(&bytes));
    }
}

/// Equality with floats compared by value, NaN equal to NaN and -0.0 told from 0.0.
fn same_numbers(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits(),
        (Value::Double(x), Value::Double(y)) => (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits(),
        (Value::Struct(x), Value::Struct(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((ka, a), (kb, b))| ka == kb && same_numbers(a, b))
        }
        _ => a == b,
    }
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    let codecs: Vec<Arc<dyn Codec>> = vec![xml(), sensor(), Arc::new(typed(&xsd_with_types(TYPED_FIELDS, PERCENT)))];
    let seeds: &[&[u8]] = &[
        b"<?xml version='1.1' encoding='UTF-8'?><SensorData><name>sensor6</name><timestamp>1754376106863</timestamp><value>12</value></SensorData>",
        br#"<a xmlns:x="urn:x" x:b="1"><x:c>&amp;&#233;<![CDATA[<>]]></x:c><c/><d><e>1</e>t</d></a>"#,
        b"<T><b>1</b><i8>-1</i8><f>INF</f><raw>/wAB</raw><color>RED</color></T>",
        b"<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>",
    ];
    let mut rng = Rng::new(0x5eed_0a13);
    for round in 0..20_000 {
        let bytes = if round % 4 == 0 {
            rng.bytes(64)
        } else {
            let mut b = seeds[rng.below(seeds.len())].to_vec();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(b.len() + 1);
                match rng.below(4) {
                    0 if at < b.len() => b[at] = rng.next() as u8,
                    1 => b.insert(at, [b'<', b'>', b'/', b'&', b';', b'"', b'=', b'\n', 0xff][rng.below(9)]),
                    2 if at < b.len() => {
                        b.remove(at);
                    }
                    _ => b.truncate(at),
                }
            }
            b
        };
        for codec in &codecs {
            if let Ok(value) = codec.decode(Some(&bytes)) {
                // What was read is written again, unless a name or character read (quick-xml
                // does not check them) cannot be written; what is written reads again.
                match codec.encode(&value) {
                    Ok(again) => {
                        codec.decode(again.as_deref()).unwrap_or_else(|e| panic!("{bytes:?} → {value:?} → {again:?}: {e}"));
                    }
                    Err(e) => assert!(
                        e.found.contains("not an XML element name") || e.found.contains("cannot hold"),
                        "{bytes:?} decoded to {value:?} but: {e}"
                    ),
                }
            }
        }
    }
}

fn python(code: &str, input: &[u8]) -> Vec<u8> {
    notation_support::run_python(std::path::Path::new("python3"), code, input)
}

/// A value as JSON for Python: structs as objects (key order kept), lists as arrays.
fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Struct(fields) => serde_json::Value::Object(fields.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
        Value::List(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Value::String(s) => serde_json::Value::String(s.clone()),
        other => panic!("not in the test's values: {other:?}"),
    }
}

fn from_json(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Object(fields) => Value::Struct(fields.iter().map(|(k, v)| (k.clone(), from_json(v))).collect()),
        serde_json::Value::Array(items) => Value::List(items.iter().map(from_json).collect()),
        serde_json::Value::String(s) => Value::String(s.clone()),
        other => panic!("not in the test's values: {other:?}"),
    }
}

/// What ElementTree makes of a document, by Weir's reading rules (children by name, repeated
/// names as lists, text), printed as JSON.
const PY_READ: &str = r#"
def read(e):
    if len(e) == 0 and not e.attrib:
        return e.text or ''
    out = {}
    for k, v in e.attrib.items():
        out[k.split('}')[-1]] = v
    text = (e.text or '') + ''.join(c.tail or '' for c in e)
    for c in e:
        name = c.tag.split('}')[-1]
        v = read(c)
        if name in out:
            out[name] = out[name] + [v] if isinstance(out[name], list) else [out[name], v]
        else:
            out[name] = v
    if text.strip(' \t\n\r'):
        out[''] = text
    return out
"#;

/// Python's expat parses what we write, and sees the same structure.
#[test]
fn python_reads_what_we_write() {
    let mut rng = Rng::new(0x5eed_0a14);
    let values: Vec<Value> = (0..300).map(|_| xml_struct(&mut rng, 3, true, true)).collect();
    let docs: Vec<String> = values.iter().map(|v| encode(&*xml(), v)).collect();
    let code = format!(
        r#"
import json, sys, xml.etree.ElementTree as ET
{PY_READ}
out = []
for doc in json.loads(sys.stdin.read()):
    root = ET.fromstring(doc.encode('utf-8'))
    assert root.tag == 'Struct', root.tag
    r = read(root)
    out.append(r if isinstance(r, dict) else {{}})
print(json.dumps(out))
"#
    );
    let out = python(&code, &serde_json::to_vec(&docs).expect("json"));
    let seen: Vec<serde_json::Value> = serde_json::from_slice(&out).expect("python's json");
    assert_eq!(seen.len(), values.len());
    for ((json, value), doc) in seen.iter().zip(&values).zip(&docs) {
        assert_eq!(&from_json(json), value, "{doc}");
    }
}

/// ElementTree writes documents (with and without a declaration, attributes, namespaces,
/// repeated elements); we read what Python reads.
#[test]
fn we_read_what_python_writes() {
    let mut rng = Rng::new(0x5eed_0a15);
    let values: Vec<Value> = (0..300).map(|_| xml_struct(&mut rng, 3, true, true)).collect();
    let json: Vec<serde_json::Value> = values.iter().map(to_json).collect();
    let code = format!(
        r#"
import json, sys, xml.etree.ElementTree as ET
{PY_READ}
def build(tag, value):
    e = ET.Element(tag)
    if isinstance(value, str):
        e.text = value
        return [e]
    for k, v in value.items():
        for item in (v if isinstance(v, list) else [v]):
            e.extend(build(k, item))
    return [e]
docs, seen = [], []
for i, v in enumerate(json.loads(sys.stdin.read())):
    root = build('record', v)[0]
    if i % 3 == 0:
        root.set('id', str(i))
        root.set('{{urn:x}}kind', 'k&"<')
    doc = ET.tostring(root, encoding='utf-8', xml_declaration=(i % 2 == 0)).decode('utf-8')
    docs.append(doc)
    seen.append(read(ET.fromstring(doc.encode('utf-8'))))
print(json.dumps([docs, seen]))
"#
    );
    let out = python(&code, &serde_json::to_vec(&json).expect("json"));
    let (docs, seen): (Vec<String>, Vec<serde_json::Value>) = serde_json::from_slice(&out).expect("python's json");
    assert_eq!(docs.len(), values.len());
    for (i, (doc, python_sees)) in docs.iter().zip(&seen).enumerate() {
        let ours = decode(&*xml(), doc);
        let expected = match from_json(python_sees) {
            Value::String(text) if text.is_empty() => record(&[]),
            other => other,
        };
        assert_eq!(ours, expected, "{doc}");
        if i % 3 == 0 {
            let Value::Struct(fields) = &ours else { panic!("struct") };
            assert_eq!((&fields["id"], &fields["kind"]), (&s(&i.to_string()), &s("k&\"<")));
        }
    }
}

/// KSML's rule 4 for `xml`: `convertValue` from a string into an `xml` type reads the
/// document, and from an `xml` type into `string` writes it (indented, as KSML's converter).
#[test]
fn conversions_read_and_write_documents() {
    let notations = Notations::builtin().with_schema_directory(Some(schema_dir(&[("SensorData.xsd", SENSOR_XSD)])));
    let read = notations.text_conversion(&ty("string"), &ty("xml:SensorData")).expect("read");
    let doc = "<SensorData><name>a</name><timestamp>5</timestamp></SensorData>";
    assert_eq!(read.apply(s(doc)), Ok(record(&[("name", s("a")), ("timestamp", Value::Long(5))])));
    let e = read.apply(s("<SensorData>")).expect_err("broken");
    assert!(e.to_string().starts_with("xml notation: cannot decode xml:SensorData: "), "{e}");
    let generic = notations.text_conversion(&ty("string"), &ty("xml")).expect("read");
    assert_eq!(generic.apply(s("<a><b>1</b></a>")), Ok(record(&[("b", s("1"))])));

    let write = notations.text_conversion(&ty("xml:SensorData"), &ty("string")).expect("write");
    assert_eq!(
        write.apply(record(&[("timestamp", Value::Long(5)), ("name", s("a")), ("value", s("v")), ("type", s("t")), ("unit", s("u"))])),
        Ok(s(
            "<?xml version='1.1' encoding='UTF-8'?>\n<SensorData>\n  <name>a</name>\n  <timestamp>5</timestamp>\n  <value>v</value>\n  <type>t</type>\n  <unit>u</unit>\n</SensorData>"
        ))
    );
    assert_eq!(write.apply(Value::List(vec![])), Ok(Value::List(vec![])), "only structs are written");
    let plain = notations.text_conversion(&ty("xml"), &ty("string")).expect("write");
    assert_eq!(plain.apply(record(&[("a", s("1"))])), Ok(s("<?xml version='1.1' encoding='UTF-8'?>\n<Struct>\n  <a>1</a>\n</Struct>")));
    assert!(!notations.text_conversion(&ty("xml"), &ty("json")).expect("none").is_active());
}
