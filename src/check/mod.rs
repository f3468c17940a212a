//! `tcpshake check`: judge captures against a policy, for CI. The policy is
//! built in one place from a TOML file and flags; the [`Gate`] applies it
//! connection by connection (also for `live --check`); the verdicts are written
//! as text, JSON, JUnit XML, GitHub annotations, a Markdown job summary and
//! an HTML report.

mod gate;
mod github;
mod junit;
mod policy;
mod servers;
mod summary_md;
mod text;

pub use gate::Gate;
pub use github::write_annotations;
pub use junit::write_junit;
pub use policy::{
    CountRange, DEFAULT_MAX_DECODE_ERRORS, FailOn, Observed, Policy, PolicyBuildError, PolicyError,
    PolicyFlags, Violation, handshake_time,
};
pub use servers::{Quantile, Scope, ServerRule};
pub use summary_md::{LISTED_PER_FILE, MERMAID_PER_FILE, write_summary_md};
pub use text::{LADDERS_PER_FILE, write_json, write_text};

use crate::capture::DamagedRegion;
use crate::filter::Filter;
use crate::flow::Endpoint;
use crate::judge::Config;
use crate::model::FlowIds;
use crate::model::connection::{Close, ConnectionReport, Handshake};
use crate::pipeline::analyze_path_filtered;
use schemars::JsonSchema;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Passing connections listed by name in JUnit reports; beyond this they are
/// aggregated into one test case so the report stays small.
pub const LISTED_PASSES: usize = 100;

/// A connection the policy was applied to: who, and its verdicts.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct JudgedConnection {
    /// The connection's id, as `analyze` numbers it.
    pub id: u64,
    #[schemars(with = "String")]
    pub client: Endpoint,
    #[schemars(with = "String")]
    pub server: Endpoint,
    #[serde(flatten)]
    #[schemars(with = "crate::model::ids::FlowIdsSchema")]
    pub ids: FlowIds,
    pub first_frame: u64,
    pub last_frame: u64,
    pub handshake: Handshake,
    pub close: Close,
}

impl JudgedConnection {
    pub fn of(c: &ConnectionReport) -> JudgedConnection {
        JudgedConnection {
            id: c.id,
            client: c.client,
            server: c.server,
            ids: c.ids,
            first_frame: c.first_frame,
            last_frame: c.last_frame,
            handshake: c.handshake,
            close: c.close,
        }
    }

    pub fn name(&self) -> String {
        format!("#{} {} → {}", self.id, self.client, self.server)
    }
}

/// A connection that broke the policy, with every reason.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FailedConnection {
    #[serde(flatten)]
    pub connection: JudgedConnection,
    /// Why it failed, ordered by frame.
    pub findings: Vec<Violation>,
}

impl FailedConnection {
    pub fn name(&self) -> String {
        self.connection.name()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// The file could not be read.
    Error,
}

/// The verdict on one capture.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FileVerdict {
    /// As given on the command line.
    pub path: String,
    pub status: Status,
    /// Why the file could not be read (with `status` `error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(default)]
    pub error: Option<String>,
    /// Connections the policy applied to (after `ports`/`hosts`).
    pub judged: u64,
    pub failed: Vec<FailedConnection>,
    /// Findings about the whole capture (the connection count).
    pub capture_findings: Vec<Violation>,
    /// The first passing connections (see [`LISTED_PASSES`]).
    pub passed: Vec<JudgedConnection>,
    /// All passing connections.
    pub passed_count: u64,
    /// Why the capture ends early, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(default)]
    pub truncated: Option<String>,
    /// Frames read, and those that could not be decoded.
    pub frames: u64,
    pub decode_errors: u64,
    /// Damaged regions in the middle of the capture (the first
    /// [`MAX_LISTED_DAMAGE`](crate::capture::MAX_LISTED_DAMAGE)), their
    /// number and the bytes skipped.
    pub damaged_regions: Vec<DamagedRegion>,
    pub damage_count: u64,
    pub damaged_bytes: u64,
    /// Connections ended early because the flow table was full
    /// (`--max-connections`); they are judged like the others.
    pub evicted_connections: u64,
}

/// What `check --format json` writes.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CheckReport {
    /// Every file passed.
    pub passed: bool,
    pub files: Vec<FileVerdict>,
}

/// Judges one capture.
pub fn check_file(
    path: &std::path::Path,
    config: &Config,
    filter: &Filter,
    policy: &Policy,
) -> FileVerdict {
    let mut v = FileVerdict {
        path: path.display().to_string(),
        status: Status::Pass,
        error: None,
        judged: 0,
        failed: Vec::new(),
        capture_findings: Vec::new(),
        passed: Vec::new(),
        passed_count: 0,
        truncated: None,
        frames: 0,
        decode_errors: 0,
        damaged_regions: Vec::new(),
        damage_count: 0,
        damaged_bytes: 0,
        evicted_connections: 0,
    };
    let mut gate = Gate::new(policy.clone());
    let mut next_id = 1;
    let result = analyze_path_filtered(
        path,
        config,
        filter,
        &mut next_id,
        &mut |c| {
            let Some(mut violations) = gate.judge(&c) else {
                return;
            };
            violations.sort_by_key(|x| x.frame);
            if violations.is_empty() {
                v.passed_count += 1;
                if v.passed.len() < LISTED_PASSES {
                    v.passed.push(JudgedConnection::of(&c));
                }
            } else {
                v.failed.push(FailedConnection {
                    connection: JudgedConnection::of(&c),
                    findings: violations,
                });
            }
        },
        &mut (),
    );
    v.judged = gate.judged();
    match result {
        Err(e) => {
            v.status = Status::Error;
            v.error = Some(e.to_string());
        }
        Ok(report) => {
            v.capture_findings.extend(gate.end_violations(&report));
            v.failed.sort_by_key(|f| f.connection.id);
            if !v.failed.is_empty() || !v.capture_findings.is_empty() {
                v.status = Status::Fail;
            }
            if report.damage_count > 0 && !policy.accept_damaged {
                // A read error like an unreadable file: no verdict on the
                // connections, in every output alike.
                v.status = Status::Error;
                v.failed.clear();
                v.passed.clear();
                v.passed_count = 0;
                v.capture_findings.clear();
                v.error = Some(format!(
                    "{}: damaged capture: {}; --accept-damaged judges what could be read past the damage",
                    v.path,
                    report.damage_description().unwrap_or_default()
                ));
            }
            v.truncated = report.truncated_reason;
            v.frames = report.frames;
            v.decode_errors = report.decode_error_count;
            v.damaged_regions = report.damaged_regions;
            v.damage_count = report.damage_count;
            v.damaged_bytes = report.damaged_bytes;
            v.evicted_connections = report.evicted_connections;
        }
    }
    v
}

/// Judges many captures in parallel; results come back in input order.
pub fn check_files(
    paths: &[PathBuf],
    config: &Config,
    filter: &Filter,
    policy: &Policy,
    threads: usize,
) -> Vec<FileVerdict> {
    let slots: Vec<Mutex<Option<FileVerdict>>> = paths.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let threads = threads.clamp(1, paths.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = paths.get(i) else { break };
                    let verdict = check_file(path, config, filter, policy);
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(verdict);
                    }
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|m| m.into_inner().ok().flatten().expect("every file is judged"))
        .collect()
}

/// The ladders of the first `n` failing connections of `v`, by id, folded
/// around their failing frames; none when the file cannot be read again.
pub(crate) fn failing_ladders(
    v: &FileVerdict,
    config: &Config,
    n: usize,
) -> std::collections::HashMap<u64, crate::ladder::Ladder> {
    let first = &v.failed[..v.failed.len().min(n)];
    if first.is_empty() {
        return Default::default();
    }
    let ids: Vec<u64> = first.iter().map(|c| c.connection.id).collect();
    let keep: Vec<u64> = first
        .iter()
        .flat_map(|c| c.findings.iter().map(|x| x.frame))
        .collect();
    let drawn = crate::ladder::ladders(
        std::path::Path::new(&v.path),
        config,
        &Filter::default(),
        &|c| ids.contains(&c.id),
        false,
        &keep,
    );
    drawn
        .map(|ls| ls.into_iter().map(|l| (l.report.id, l)).collect())
        .unwrap_or_default()
}
