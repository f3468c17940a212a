//! One capture session: frames from a source through the pipeline until the
//! source ends, the duration passes, the count is reached or `stop` is set.

use crate::capture::{Frame, PcapWriter, Timestamp};
use crate::judge::Config;
use crate::model::FileReport;
use crate::model::connection::ConnectionReport;
use crate::pipeline::Pipeline;
use std::cell::Cell;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What to capture and for how long.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// The interface; it also names the source in every connection report.
    pub interface: String,
    /// A BPF filter, compiled by libpcap.
    pub filter: Option<String>,
    pub duration: Option<Duration>,
    pub count: Option<u64>,
    /// Save what was captured as pcap.
    pub write: Option<PathBuf>,
    pub snaplen: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(
        "cannot capture on {interface}: {message}. Capturing needs privileges: run as root, or give the binary the capabilities once with `sudo setcap cap_net_raw,cap_net_admin=eip $(command -v tcpshake)`"
    )]
    Permission { interface: String, message: String },
    #[error(
        "cannot capture on {interface}: {message} (`tcpshake live --list` shows the interfaces)"
    )]
    Open { interface: String, message: String },
    #[error("bad capture filter '{filter}': {message}")]
    Filter { filter: String, message: String },
    #[error("{path}: cannot write the capture: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("capture failed: {0}")]
    Capture(String),
}

/// Counters shown while capturing and at the end.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, schemars::JsonSchema)]
pub struct LiveStatus {
    pub packets: u64,
    pub tcp_segments: u64,
    pub live_connections: u64,
    pub connections: u64,
    pub findings: u64,
    /// Packets the kernel dropped (libpcap's ps_drop).
    pub kernel_dropped: u64,
    /// Packets the interface or driver dropped (ps_ifdrop).
    pub interface_dropped: u64,
    pub decode_errors: u64,
    /// Connections ended early because the flow table was full.
    pub evicted_connections: u64,
}

impl LiveStatus {
    /// Said when the flow table overflowed, with the flag that raises it.
    pub fn eviction_warning(&self, interface: &str, max_connections: usize) -> Option<String> {
        crate::model::file::eviction_warning(interface, self.evicted_connections, max_connections)
            .map(|w| format!("warning: {w}"))
    }

    /// Said prominently when packets were lost: drops explain gaps.
    pub fn drop_warning(&self) -> Option<String> {
        (self.kernel_dropped > 0 || self.interface_dropped > 0).then(|| {
            format!(
                "WARNING: {} packets were dropped by the kernel and {} by the interface: gaps, unacknowledged FINs and missing handshakes may be capture loss, not the network",
                self.kernel_dropped, self.interface_dropped
            )
        })
    }
}

/// One captured packet, borrowed from the source until its next call.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub ts: Timestamp,
    /// Length on the wire, which may exceed `data.len()` (snaplen).
    pub orig_len: u32,
    pub data: &'a [u8],
}

/// What a source has to offer now.
#[derive(Debug)]
pub enum Next<'a> {
    Packet(Packet<'a>),
    /// Nothing arrived: time still passes for idle connections.
    Quiet,
    /// The source is exhausted.
    End,
}

/// Packets lost before the source saw them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Drops {
    pub kernel: u64,
    pub interface: u64,
}

/// Where a session's frames come from: libpcap on an interface, or anything
/// else that yields timestamped frames of one link type.
pub trait FrameSource {
    /// LINKTYPE_* of every frame.
    fn link_type(&self) -> u32;
    /// The next packet; must not block for long, so that the session can stop
    /// on time and expire idle connections.
    fn next_packet(&mut self) -> Result<Next<'_>, LiveError>;
    /// Drop counters so far, when the source knows them.
    fn drops(&mut self) -> Option<Drops> {
        None
    }
}

fn write_error(opts: &LiveOptions) -> impl FnOnce(std::io::Error) -> LiveError + '_ {
    move |source| LiveError::Write {
        path: opts.write.clone().unwrap_or_default(),
        source,
    }
}

/// The wall clock as a capture timestamp.
fn now() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp(d.as_nanos() as i64)
}

/// Captures from `source` until it ends, `stop` is set, the duration passes
/// or the count is reached. Connections are handed to `on_connection` as they
/// finish (still-open ones at the end); `on_ready` is called once the session
/// is set up, `on_status` about twice a second.
pub fn run(
    source: &mut dyn FrameSource,
    opts: &LiveOptions,
    config: &Config,
    stop: &AtomicBool,
    on_ready: &mut dyn FnMut(),
    on_connection: &mut dyn FnMut(ConnectionReport),
    on_status: &mut dyn FnMut(&LiveStatus),
) -> Result<LiveStatus, LiveError> {
    run_with_tally(
        source,
        opts,
        config,
        stop,
        on_ready,
        on_connection,
        on_status,
    )
    .map(|(status, _)| status)
}

/// [`run`], also returning what the session's frames were (counts, decode
/// errors by reason), which `live --check` judges at the end as `check`
/// judges a file.
pub fn run_with_tally(
    source: &mut dyn FrameSource,
    opts: &LiveOptions,
    config: &Config,
    stop: &AtomicBool,
    on_ready: &mut dyn FnMut(),
    on_connection: &mut dyn FnMut(ConnectionReport),
    on_status: &mut dyn FnMut(&LiveStatus),
) -> Result<(LiveStatus, FileReport), LiveError> {
    let link_type = source.link_type();
    let mut writer = match &opts.write {
        Some(p) => {
            let f = File::create(p).map_err(write_error(opts))?;
            Some(
                PcapWriter::with_options(
                    BufWriter::new(f),
                    link_type,
                    false,
                    false,
                    opts.snaplen as u32,
                )
                .map_err(write_error(opts))?,
            )
        }
        None => None,
    };
    on_ready();
    let started = Instant::now();
    let mut pipeline = Pipeline::new(config.clone(), 1, &opts.interface);
    let findings = Cell::new(0u64);
    let mut out = |r: ConnectionReport| {
        findings.set(findings.get() + r.findings.len() as u64);
        on_connection(r);
    };
    let mut status = LiveStatus::default();
    let mut last_status = Instant::now();
    let mut number = 0u64;
    loop {
        if stop.load(Ordering::Relaxed)
            || opts.duration.is_some_and(|d| started.elapsed() >= d)
            || opts.count.is_some_and(|c| number >= c)
        {
            break;
        }
        match source.next_packet()? {
            Next::Packet(p) => {
                number += 1;
                if let Some(w) = writer.as_mut() {
                    w.record(p.ts, p.data, p.orig_len)
                        .map_err(write_error(opts))?;
                }
                let frame = Frame {
                    number,
                    ts: p.ts,
                    link_type,
                    orig_len: p.orig_len,
                    data: p.data,
                };
                pipeline.frame(&frame, &mut out);
            }
            Next::Quiet => {
                pipeline.expire(now(), &mut out);
                std::thread::sleep(Duration::from_millis(2));
            }
            Next::End => break,
        }
        if last_status.elapsed() >= Duration::from_millis(500) {
            last_status = Instant::now();
            update(&mut status, source, &pipeline, number);
            status.live_connections = pipeline.live() as u64;
            status.findings = findings.get();
            on_status(&status);
        }
    }
    pipeline.finish(&mut out);
    update(&mut status, source, &pipeline, number);
    status.live_connections = 0;
    status.findings = findings.get();
    if let Some(mut w) = writer {
        w.flush().map_err(write_error(opts))?;
    }
    // The frame count is the reader's to fill in: here, the packets.
    let mut tally = pipeline.tally().clone();
    tally.frames = number;
    Ok((status, tally))
}

fn update(status: &mut LiveStatus, source: &mut dyn FrameSource, p: &Pipeline, packets: u64) {
    if let Some(d) = source.drops() {
        status.kernel_dropped = d.kernel;
        status.interface_dropped = d.interface;
    }
    status.packets = packets;
    status.tcp_segments = p.tally().tcp_segments;
    status.decode_errors = p.tally().decode_error_count;
    status.connections = p.connections();
    status.evicted_connections = p.evicted();
}
