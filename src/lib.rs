//! tcpshake: reads packet captures, follows every TCP connection and judges its
//! three-way handshake and its FIN/RST teardown by the rules of RFC 9293.
//!
//! The pipeline, one module a stage:
//! [`capture`] (files in, frames out) → [`decode`] (frames in, TCP segments out)
//! → [`flow`] (segments grouped into connections) → [`judge`] (per-connection
//! state machines, verdicts and [`findings`]) → [`report`] (table, JSON, CSV).
//!
//! [`pipeline`] drives those stages over one source of frames; [`model`] holds
//! the plain report data. [`check`] judges the result against a CI policy;
//! [`ladder`] draws connections; [`live`] feeds the pipeline from a network
//! interface (libpcap, feature `live`) or any other [`live::FrameSource`].

pub mod capture;
pub mod check;
pub mod community_id;
pub mod decode;
pub mod duration;
pub mod filter;
pub mod findings;
pub mod flow;
pub mod judge;
pub mod ladder;
pub mod live;
pub mod model;
pub mod numbers;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod schema;
pub mod seq;
pub mod servers;
