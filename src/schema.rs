//! The JSON Schema of every JSON output, generated from the types that are
//! serialized (published as docs/schema.json, printed by `tcpshake schema`).
//! Every object is closed (`additionalProperties: false`), so a field that is
//! written but not in the schema is caught by the tests that validate output.

use crate::check::CheckReport;
use crate::model::connection::ConnectionReport;
use crate::model::{FileReport, Summary};
use crate::servers::{ClientReport, Diagnosis, ListenerReport, ServersReport};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::{Value, json};

/// `analyze --format json`: one document.
#[derive(JsonSchema)]
#[allow(dead_code)]
pub struct AnalyzeDocument {
    /// In order of finishing; sort by `id` for start order.
    connections: Vec<ConnectionReport>,
    /// One per file given, read or not.
    files: Vec<FileReport>,
    summary: Summary,
}

/// `analyze --format jsonl` (and `live --format jsonl`): one record a line.
#[derive(JsonSchema)]
#[serde(tag = "record", rename_all = "lowercase")]
#[allow(dead_code, clippy::large_enum_variant)]
pub enum JsonlRecord {
    Connection(ConnectionReport),
    File(FileReport),
    Summary(Summary),
}

/// `servers --format jsonl` (and `analyze --by server --format jsonl`): one
/// record a line, listeners first, then clients, diagnoses, the overall
/// figures and a summary.
#[derive(JsonSchema)]
#[serde(tag = "record", rename_all = "lowercase")]
#[allow(dead_code, clippy::large_enum_variant)]
pub enum ServersJsonlRecord {
    Listener(ListenerReport),
    Client(ClientReport),
    Diagnosis(Diagnosis),
    Overall(ListenerReport),
    Summary(ServersSummary),
}

/// The last line of `servers --format jsonl`.
#[derive(JsonSchema)]
#[allow(dead_code)]
pub struct ServersSummary {
    /// Timeline interval, seconds.
    interval: f64,
    /// Epoch seconds.
    start: f64,
    /// How many `listener` lines.
    listeners: u64,
    /// How many `diagnosis` lines.
    diagnoses: u64,
    /// Where a memory bound bit.
    notes: Vec<String>,
}

/// The names of the documents in the schema's `$defs`, one per output.
pub const DOCUMENTS: [&str; 5] = [
    "AnalyzeDocument",
    "JsonlRecord",
    "CheckReport",
    "ServersReport",
    "ServersJsonlRecord",
];

const COMPOSED: [&str; 3] = ["oneOf", "anyOf", "allOf"];

/// Closes every object. An object composed with `oneOf` (a flattened tagged
/// enum) is closed with `unevaluatedProperties`, which sees the properties its
/// branches evaluate; the branches themselves stay open.
fn close_objects(schema: &mut Schema) {
    close(schema, true);
}

fn close(schema: &mut Schema, this_level: bool) {
    let Some(o) = schema.as_object_mut() else {
        return;
    };
    let composed = COMPOSED.iter().any(|k| o.contains_key(*k));
    if this_level && o.contains_key("properties") && !o.contains_key("additionalProperties") {
        let key = if composed {
            "unevaluatedProperties"
        } else {
            "additionalProperties"
        };
        o.insert(key.into(), Value::Bool(false));
    }
    for k in COMPOSED {
        if let Some(Value::Array(branches)) = o.get_mut(k) {
            for b in branches {
                if let Ok(s) = <&mut Schema>::try_from(b) {
                    // The branch's own properties are evaluated by the parent.
                    close(s, !composed);
                }
            }
        }
    }
    let nested = |s: &mut Schema| close(s, true);
    if let Some(Value::Object(props)) = o.get_mut("properties") {
        for v in props.values_mut() {
            if let Ok(s) = <&mut Schema>::try_from(v) {
                nested(s);
            }
        }
    }
    for k in ["items", "additionalProperties", "$defs"] {
        match o.get_mut(k) {
            Some(Value::Object(_)) if k == "$defs" => {
                if let Some(Value::Object(defs)) = o.get_mut(k) {
                    for v in defs.values_mut() {
                        if let Ok(s) = <&mut Schema>::try_from(v) {
                            nested(s);
                        }
                    }
                }
            }
            Some(v @ Value::Object(_)) => {
                if let Ok(s) = <&mut Schema>::try_from(v) {
                    nested(s);
                }
            }
            _ => {}
        }
    }
}

/// The whole schema: `$defs` for every record, and a root that accepts any of
/// the [`DOCUMENTS`].
pub fn schema() -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .with_transform(close_objects)
        .into_generator();
    let refs: Vec<Value> = vec![
        generator.subschema_for::<AnalyzeDocument>().to_value(),
        generator.subschema_for::<JsonlRecord>().to_value(),
        generator.subschema_for::<CheckReport>().to_value(),
        generator.subschema_for::<ServersReport>().to_value(),
        generator.subschema_for::<ServersJsonlRecord>().to_value(),
    ];
    generator.subschema_for::<crate::live::LiveStatus>();
    let mut defs = generator.take_definitions(true);
    inline_tagged_records(&mut defs, "JsonlRecord");
    inline_tagged_records(&mut defs, "ServersJsonlRecord");
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "tcpshake JSON output",
        "description": "analyze --format json (AnalyzeDocument), analyze/live --format jsonl (one JsonlRecord a line), check --format json (CheckReport), servers (and analyze --by server) --format json (ServersReport), servers --format jsonl (one ServersJsonlRecord a line). Fields are only ever added.",
        "anyOf": refs,
        "$defs": defs,
    })
}

/// A JSON Lines record is a connection, file or summary (or a listener,
/// client, diagnosis…) plus its `record` tag; since those objects are closed,
/// each variant of the record `name` is the record's schema with the tag
/// added, rather than a `$ref` beside it.
fn inline_tagged_records(defs: &mut serde_json::Map<String, Value>, name: &str) {
    let Some(variants) = defs.get(name).and_then(|r| r["oneOf"].as_array()).cloned() else {
        return;
    };
    let inlined: Vec<Value> = variants
        .into_iter()
        .map(|v| {
            let target = v["$ref"]
                .as_str()
                .and_then(|r| r.strip_prefix("#/$defs/"))
                .and_then(|name| defs.get(name))
                .cloned();
            let (Some(mut t), Some(tag)) = (target, v["properties"].get("record").cloned()) else {
                return v;
            };
            // `live --format jsonl` ends with the summary plus its capture counters.
            if name == "JsonlRecord" && tag["const"] == "summary" {
                t["properties"]["capture"] = json!({
                    "description": "live capture only: the capture's counters",
                    "$ref": "#/$defs/LiveStatus"
                });
            }
            t["properties"]["record"] = tag;
            if let Some(req) = t["required"].as_array_mut() {
                req.insert(0, json!("record"));
            }
            t
        })
        .collect();
    if let Some(r) = defs.get_mut(name) {
        r["oneOf"] = Value::Array(inlined);
    }
}

/// The schema of one document: the root's `$defs` with a `$ref` to `name`.
pub fn schema_of(name: &str) -> Value {
    let mut s = schema();
    let o = s.as_object_mut().expect("an object");
    o.remove("anyOf");
    o.insert("$ref".into(), json!(format!("#/$defs/{name}")));
    s
}
