//! Live capture (feature `live`): the same pipeline, fed by libpcap from a
//! network interface instead of a file.

use crate::capture::{Frame, PcapWriter, Timestamp};
use crate::decode::{Decoded, decode_frame};
use crate::flow::FlowTable;
use crate::judge::{Config, Connection, ConnectionReport};
use std::cell::Cell;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What to capture and for how long.
#[derive(Debug, Clone)]
pub struct LiveOptions {
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
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
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
}

/// Interfaces libpcap can open: (name, description).
pub fn list_interfaces() -> Result<Vec<(String, Option<String>)>, LiveError> {
    pcap::Device::list()
        .map(|ds| ds.into_iter().map(|d| (d.name, d.desc)).collect())
        .map_err(|e| LiveError::Capture(e.to_string()))
}

fn open_error(interface: &str, e: pcap::Error) -> LiveError {
    let message = e.to_string();
    let lower = message.to_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") {
        LiveError::Permission {
            interface: interface.to_string(),
            message,
        }
    } else {
        LiveError::Open {
            interface: interface.to_string(),
            message,
        }
    }
}

/// Captures until `stop` is set, the duration passes or the count is reached.
/// Connections are handed to `on_connection` as they finish (still-open ones
/// at the end); `on_status` is called about twice a second.
pub fn run(
    opts: &LiveOptions,
    config: &Config,
    stop: Arc<AtomicBool>,
    on_ready: &mut dyn FnMut(),
    on_connection: &mut dyn FnMut(ConnectionReport),
    on_status: &mut dyn FnMut(&LiveStatus),
) -> Result<LiveStatus, LiveError> {
    let cap = pcap::Capture::from_device(opts.interface.as_str())
        .map_err(|e| open_error(&opts.interface, e))?
        .promisc(false)
        .snaplen(opts.snaplen)
        .immediate_mode(true)
        .open()
        .map_err(|e| open_error(&opts.interface, e))?;
    // Non-blocking: libpcap's read timeout does not fire on a quiet Linux
    // interface, and the capture must still stop on time and expire idle
    // connections when nothing arrives.
    let mut cap = cap
        .setnonblock()
        .map_err(|e| open_error(&opts.interface, e))?;
    if let Some(f) = &opts.filter {
        cap.filter(f, true).map_err(|e| LiveError::Filter {
            filter: f.clone(),
            message: e.to_string(),
        })?;
    }
    let link_type = cap.get_datalink().0 as u32;
    let mut writer = match &opts.write {
        Some(p) => {
            let f = File::create(p).map_err(|source| LiveError::Write {
                path: p.clone(),
                source,
            })?;
            Some(
                PcapWriter::with_options(
                    BufWriter::new(f),
                    link_type,
                    false,
                    false,
                    opts.snaplen as u32,
                )
                .map_err(|source| LiveError::Write {
                    path: p.clone(),
                    source,
                })?,
            )
        }
        None => None,
    };
    on_ready();
    let started = Instant::now();
    let mut table = FlowTable::new(config.clone(), 1);
    let mut status = LiveStatus::default();
    let mut last_status = Instant::now();
    let connections = Cell::new(0u64);
    let findings = Cell::new(0u64);
    let name: std::sync::Arc<str> = opts.interface.as_str().into();
    let mut emit = |c: Box<Connection>| {
        let r = c.finish(&name);
        connections.set(connections.get() + 1);
        findings.set(findings.get() + r.anomalies.len() as u64);
        on_connection(r);
    };
    let mut number = 0u64;
    let now_ts = || {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(d.as_nanos() as i64)
    };
    loop {
        if stop.load(Ordering::Relaxed)
            || opts.duration.is_some_and(|d| started.elapsed() >= d)
            || opts.count.is_some_and(|c| number >= c)
        {
            break;
        }
        match cap.next_packet() {
            Ok(p) => {
                number += 1;
                // time_t and suseconds_t are not i64 on every platform.
                #[allow(clippy::useless_conversion)]
                let ts = Timestamp::from_parts(
                    i64::from(p.header.ts.tv_sec),
                    i64::from(p.header.ts.tv_usec) * 1000,
                );
                if let Some(w) = writer.as_mut() {
                    w.record(ts, p.data, p.header.len)
                        .map_err(|source| LiveError::Write {
                            path: opts.write.clone().unwrap_or_default(),
                            source,
                        })?;
                }
                let frame = Frame {
                    number,
                    ts,
                    link_type,
                    orig_len: p.header.len,
                    data: p.data,
                };
                status.packets = number;
                match decode_frame(&frame) {
                    Ok(Decoded::Tcp(seg)) => {
                        status.tcp_segments += 1;
                        table.segment(number, ts, &seg, &mut emit);
                    }
                    Ok(_) => {}
                    Err(_) => status.decode_errors += 1,
                }
            }
            Err(pcap::Error::TimeoutExpired) | Err(pcap::Error::NoMorePackets) => {
                // A quiet interface: time still passes for idle connections.
                table.expire(now_ts(), &mut emit);
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(LiveError::Capture(e.to_string())),
        }
        if last_status.elapsed() >= Duration::from_millis(500) {
            last_status = Instant::now();
            if let Ok(s) = cap.stats() {
                status.kernel_dropped = s.dropped as u64;
                status.interface_dropped = s.if_dropped as u64;
            }
            status.live_connections = table.live() as u64;
            status.connections = connections.get();
            status.findings = findings.get();
            on_status(&status);
        }
    }
    table.finish_all(&mut emit);
    if let Ok(s) = cap.stats() {
        status.kernel_dropped = s.dropped as u64;
        status.interface_dropped = s.if_dropped as u64;
    }
    status.live_connections = 0;
    status.connections = connections.get();
    status.findings = findings.get();
    if let Some(mut w) = writer {
        w.flush().map_err(|source| LiveError::Write {
            path: opts.write.clone().unwrap_or_default(),
            source,
        })?;
    }
    Ok(status)
}

/// Sets `stop` on Ctrl-C.
pub fn stop_on_ctrl_c(stop: Arc<AtomicBool>) {
    let _ = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed));
}
