//! Fields derived when a report is written: the endpoints one by one, the
//! Community ID, and instants in ISO 8601. Plus the schema of the values whose
//! serialization is written by hand (docs/schema.json is generated from these).

use crate::capture::Timestamp;
use crate::community_id::{TCP, community_id};
use crate::flow::Endpoint;
use schemars::JsonSchema;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use std::fmt;

/// The two endpoints, written as Zeek writes `id.orig_h`, `id.orig_p`,
/// `id.resp_h`, `id.resp_p`, plus the flow's Community ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowIds {
    pub client: Endpoint,
    pub server: Endpoint,
}

impl Serialize for FlowIds {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("FlowIds", 5)?;
        st.serialize_field("client_ip", &self.client.addr)?;
        st.serialize_field("client_port", &self.client.port)?;
        st.serialize_field("server_ip", &self.server.addr)?;
        st.serialize_field("server_port", &self.server.port)?;
        st.serialize_field("community_id", &self.community_id())?;
        st.end()
    }
}

impl FlowIds {
    /// Community ID v1, seed 0.
    pub fn community_id(&self) -> String {
        community_id(self.client, self.server, TCP, 0)
    }
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub struct FlowIdsSchema {
    /// The client's address (Zeek's `id.orig_h`).
    client_ip: String,
    /// The client's port (Zeek's `id.orig_p`).
    client_port: u16,
    /// The server's address (Zeek's `id.resp_h`).
    server_ip: String,
    /// The server's port (Zeek's `id.resp_p`).
    server_port: u16,
    /// Community ID v1 (seed 0), as Zeek, Suricata and Arkime compute it.
    community_id: String,
}

/// An instant written as ISO 8601 UTC with microseconds
/// (`2026-11-30T09:46:02.123456Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IsoTime(pub Timestamp);

impl fmt::Display for IsoTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match jiff::Timestamp::from_nanosecond(self.0.0 as i128) {
            Ok(t) => write!(f, "{}", t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")),
            Err(_) => write!(f, "{}", self.0),
        }
    }
}

impl Serialize for IsoTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A finding as written in reports.
#[derive(JsonSchema, Serialize)]
#[allow(dead_code)]
pub struct FindingSchema {
    /// Stable id from the catalogue (docs/verdicts.md).
    kind: String,
    severity: crate::findings::Severity,
    /// The frame the finding is about.
    frame: u64,
    /// Who sent that frame.
    from: crate::findings::Side,
    /// What RFC 9293 wants here: a raw 32-bit sequence/ack number, a window in
    /// bytes, or words (flags, states).
    expected: Option<ValueSchema>,
    /// What the frame carried, in the same unit as `expected`.
    actual: Option<ValueSchema>,
    /// Plain words with relative numbers (ISN = 0, as Wireshark shows them).
    message: String,
    /// Present when the entry stands for more than one occurrence.
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_frame: Option<u64>,
}

/// A number or words.
#[derive(JsonSchema, Serialize)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ValueSchema {
    Number(u64),
    Text(String),
}
