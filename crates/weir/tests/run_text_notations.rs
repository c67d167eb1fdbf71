//! `weir run` end to end with the `csv` and `xml` notations: schema files next to the
//! definition, records read and written in KSML's layouts, Python functions seeing structs,
//! producers writing CSV and XML, and `convertValue` between text and structures.

#[path = "run/common.rs"]
mod common;

use common::Dir;

const SENSOR_CSV: &str = "name,timestamp,value,type,unit,color,city,owner\n";

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
        <xs:element name="color" type="xs:string" minOccurs="0"/>
        <xs:element name="city" type="xs:string" minOccurs="0"/>
        <xs:element name="owner" type="xs:string" minOccurs="0"/>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
</xs:schema>
"#;

const DEFINITION: &str = r#"
streams:
  csv_in:
    topic: csv_in
    keyType: string
    valueType: csv:SensorData
  xml_in:
    topic: xml_in
    keyType: string
    valueType: xml:SensorData
  text_in:
    topic: text_in
    keyType: string
    valueType: string

functions:
  shout_city:
    type: valueTransformer
    code: |
      result = dict(value)
      result["city"] = result["city"].upper()
    expression: result
    resultType: csv:SensorData
  shout_city_xml:
    type: valueTransformer
    code: |
      result = dict(value)
      result["city"] = result["city"].upper()
    expression: result
    resultType: xml:SensorData
  describe:
    type: valueTransformer
    expression: '{"timestamp_type": type(value["timestamp"]).__name__, "city": value.get("city")}'
    resultType: json
  make_csv_reading:
    type: generator
    globalCode: |
      def reading(n):
        return ('sensor' + str(n), {"name": "sensor" + str(n), "timestamp": 1700000000000 + n, "value": str(n * 10), "type": "HUMIDITY", "unit": "%", "city": "Utrecht"})
      counts = {"csv": 0, "xml": 0}
    code: |
      counts["csv"] += 1
    expression: reading(counts["csv"])
    resultType: (string, json)
  make_xml_reading:
    type: generator
    code: |
      counts["xml"] += 1
    expression: reading(counts["xml"] + 2)
    resultType: (string, json)

producers:
  csv_producer:
    generator: make_csv_reading
    count: 2
    to:
      topic: produced_csv
      keyType: string
      valueType: csv:SensorData
  xml_producer:
    generator: make_xml_reading
    count: 1
    to:
      topic: produced_xml
      keyType: string
      valueType: xml:SensorData

pipelines:
  csv_upper:
    from: csv_in
    via:
      - type: transformValue
        mapper: shout_city
    to:
      topic: csv_out
      keyType: string
      valueType: csv:SensorData
  csv_as_text:
    from: csv_in
    via:
      - type: convertValue
        into: string
    to:
      topic: csv_text
      keyType: string
      valueType: string
  xml_upper:
    from: xml_in
    via:
      - type: transformValue
        mapper: shout_city_xml
    to:
      topic: xml_out
      keyType: string
      valueType: xml:SensorData
  xml_typed:
    from: xml_in
    via:
      - type: transformValue
        mapper: describe
    to:
      topic: xml_described
      keyType: string
      valueType: json
  text_to_xml_and_back:
    from: text_in
    via:
      - type: convertValue
        into: xml:SensorData
      - type: peek
        forEach:
          code: |
            assert type(value["timestamp"]) is int, value
      - type: convertValue
        into: string
    to:
      topic: xml_text
      keyType: string
      valueType: string
"#;

#[test]
fn csv_and_xml_records_run_through_pipelines_producers_and_conversions() {
    let dir = Dir::new("text-notations");
    dir.write("SensorData.csv", SENSOR_CSV).write("SensorData.xsd", SENSOR_XSD).write("text.yaml", DEFINITION);
    dir.produce(
        "csv_in",
        r#"
        {"key": "s1", "value": "\"sensor1\",\"1700000000000\",\"23\",\"TEMPERATURE\",\"C\",\"red\",\"Amsterdam\",\"Alice\""}
        {"key": "s2", "value": "sensor2,1700000000001,\"4,5\",PRESSURE,Pa,blue,the hague"}
        "#,
    );
    dir.produce(
        "xml_in",
        r#"{"key": "x1", "value": "<?xml version=\"1.0\"?>\n<SensorData>\n  <name>sensor6</name>\n  <timestamp>1754376106863</timestamp>\n  <value>12</value>\n  <type>TEMPERATURE</type>\n  <unit>%</unit>\n  <color>black</color>\n  <city>Rotterdam</city>\n  <owner>Alice</owner>\n</SensorData>"}"#,
    );
    dir.produce(
        "text_in",
        r#"{"key": "t1", "value": "<SensorData><timestamp> 42 </timestamp><name>n &amp; m</name><city>Delft</city></SensorData>"}"#,
    );
    dir.run_ok(&["text.yaml"]);

    // CSV: every field quoted, in the schema's order; the short row's missing owner is "".
    dir.expect_topic(
        "csv_out",
        r#"
        {"key": "s1", "value": "\"sensor1\",\"1700000000000\",\"23\",\"TEMPERATURE\",\"C\",\"red\",\"AMSTERDAM\",\"Alice\""}
        {"key": "s2", "value": "\"sensor2\",\"1700000000001\",\"4,5\",\"PRESSURE\",\"Pa\",\"blue\",\"THE HAGUE\",\"\""}
        "#,
    );
    // convertValue csv → string: the CSV line.
    dir.expect_topic(
        "csv_text",
        r#"
        {"key": "s1", "value": "\"sensor1\",\"1700000000000\",\"23\",\"TEMPERATURE\",\"C\",\"red\",\"Amsterdam\",\"Alice\""}
        {"key": "s2", "value": "\"sensor2\",\"1700000000001\",\"4,5\",\"PRESSURE\",\"Pa\",\"blue\",\"the hague\",\"\""}
        "#,
    );
    // XML: the declaration KSML writes, the schema's order, the long typed by the XSD.
    dir.expect_topic(
        "xml_out",
        r#"{"key": "x1", "value": "<?xml version='1.1' encoding='UTF-8'?><SensorData><name>sensor6</name><timestamp>1754376106863</timestamp><value>12</value><type>TEMPERATURE</type><unit>%</unit><color>black</color><city>ROTTERDAM</city><owner>Alice</owner></SensorData>"}"#,
    );
    dir.expect_topic("xml_described", r#"{"key": "x1", "value": {"timestamp_type": "int", "city": "Rotterdam"}}"#);
    // convertValue string → xml:SensorData → string: parsed with the schema, written back
    // indented in the schema's order, required fields the text lacked written empty.
    dir.expect_topic(
        "xml_text",
        r#"{"key": "t1", "value": "<?xml version='1.1' encoding='UTF-8'?>\n<SensorData>\n  <name>n &amp; m</name>\n  <timestamp>42</timestamp>\n  <value/>\n  <type/>\n  <unit/>\n  <city>Delft</city>\n</SensorData>"}"#,
    );
    // Producers: a generator's dict written as CSV (the Python int as its text) and as XML.
    dir.expect_topic(
        "produced_csv",
        r#"
        {"key": "sensor1", "value": "\"sensor1\",\"1700000000001\",\"10\",\"HUMIDITY\",\"%\",\"\",\"Utrecht\",\"\""}
        {"key": "sensor2", "value": "\"sensor2\",\"1700000000002\",\"20\",\"HUMIDITY\",\"%\",\"\",\"Utrecht\",\"\""}
        "#,
    );
    dir.expect_topic(
        "produced_xml",
        r#"{"key": "sensor3", "value": "<?xml version='1.1' encoding='UTF-8'?><SensorData><name>sensor3</name><timestamp>1700000000003</timestamp><value>30</value><type>HUMIDITY</type><unit>%</unit><city>Utrecht</city></SensorData>"}"#,
    );
}

#[test]
fn a_record_that_does_not_fit_its_notation_is_reported_with_the_element() {
    let dir = Dir::new("text-notations-errors");
    dir.write("SensorData.xsd", SENSOR_XSD).write("text.yaml", DEFINITION).write("SensorData.csv", SENSOR_CSV);
    dir.produce("xml_in", r#"{"key": "bad", "value": "<SensorData><timestamp>soon</timestamp></SensorData>"}"#);
    let out = dir.run(&["text.yaml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // KSML's default consume handler stops the application at a record it cannot read.
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "error: consume error on xml_in/0@0: cannot decode the value: xml notation: cannot decode xml:SensorData: \
             element SensorData/timestamp holds \"soon\", expected xs:long"
        ),
        "{stderr}"
    );
}
