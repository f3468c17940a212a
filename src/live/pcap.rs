//! The libpcap source (feature `live`): a network interface, opened
//! non-blocking so the session can stop on time on a quiet interface.

use super::session::{Drops, FrameSource, LiveError, LiveOptions, Next, Packet};
use crate::capture::Timestamp;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Interfaces libpcap can open: (name, description).
pub fn list_interfaces() -> Result<Vec<(String, Option<String>)>, LiveError> {
    pcap::Device::list()
        .map(|ds| ds.into_iter().map(|d| (d.name, d.desc)).collect())
        .map_err(|e| LiveError::Capture(e.to_string()))
}

/// The interface tcpdump would pick: libpcap's first up, non-loopback device.
pub fn default_interface() -> Result<String, LiveError> {
    match pcap::Device::lookup() {
        Ok(Some(d)) => Ok(d.name),
        Ok(None) => Err(LiveError::Capture(
            "no interface to capture on: name one with -i (`tcpshake live --list` shows them)"
                .into(),
        )),
        Err(e) => Err(LiveError::Capture(e.to_string())),
    }
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

/// An open interface.
pub struct PcapSource {
    cap: pcap::Capture<pcap::Active>,
    link_type: u32,
}

/// The kernel ring libpcap captures into. With immediate mode each slot
/// holds a whole snaplen, so libpcap's default (2 MiB) holds only about 16
/// packets at the default snaplen of 262,144 bytes: a burst of SYNs on a
/// busy listener would overflow it. 64 MiB holds about 250 at that snaplen
/// and hundreds of thousands of header-only slots (`--snaplen 128`).
const RING_BYTES: i32 = 64 << 20;

/// Opens the interface of `opts` with its snaplen and filter.
pub fn open(opts: &LiveOptions) -> Result<PcapSource, LiveError> {
    let cap = pcap::Capture::from_device(opts.interface.as_str())
        .map_err(|e| open_error(&opts.interface, e))?
        .promisc(false)
        .snaplen(opts.snaplen)
        .buffer_size(RING_BYTES)
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
    Ok(PcapSource { cap, link_type })
}

impl FrameSource for PcapSource {
    fn link_type(&self) -> u32 {
        self.link_type
    }

    fn next_packet(&mut self) -> Result<Next<'_>, LiveError> {
        match self.cap.next_packet() {
            Ok(p) => {
                // time_t and suseconds_t are not i64 on every platform.
                #[allow(clippy::useless_conversion)]
                let ts = Timestamp::from_parts(
                    i64::from(p.header.ts.tv_sec),
                    i64::from(p.header.ts.tv_usec) * 1000,
                );
                Ok(Next::Packet(Packet {
                    ts,
                    orig_len: p.header.len,
                    data: p.data,
                }))
            }
            Err(pcap::Error::TimeoutExpired) | Err(pcap::Error::NoMorePackets) => Ok(Next::Quiet),
            Err(e) => Err(LiveError::Capture(e.to_string())),
        }
    }

    fn drops(&mut self) -> Option<Drops> {
        self.cap.stats().ok().map(|s| Drops {
            kernel: s.dropped as u64,
            interface: s.if_dropped as u64,
        })
    }
}

/// Sets `stop` on Ctrl-C.
pub fn stop_on_ctrl_c(stop: Arc<AtomicBool>) {
    let _ = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed));
}
