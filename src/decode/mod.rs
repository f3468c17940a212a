//! Frames in, TCP segments out. Everything is borrowed from the frame: no
//! header is copied into an owned struct and nothing is allocated per packet
//! (only fragmented datagrams, held by the [`Reassembler`], own memory).
//!
//! Lengths come from the IP header, never from the captured length, so a
//! snaplen-truncated capture still gives the right segment lengths and
//! Ethernet padding never counts as payload.
//!
//! Dependencies run one way: `walk` (the loop) uses the per-layer modules
//! `link`, `ip`, `encap`, `icmp` and `tcp`, which use only `addr`, `error`,
//! `layer` and `tunnel`; `reassembly` uses `walk`.

mod addr;
mod encap;
mod error;
mod icmp;
mod ip;
mod layer;
mod link;
mod reassembly;
mod tcp;
mod tunnel;
mod walk;

pub use addr::IpAddress;
pub use error::{DecodeError, Layer};
pub use icmp::{IcmpError, IcmpKind};
pub use link::{LinkType, link_type_name};
pub use reassembly::{
    FragmentEvent, FragmentKey, IncompleteReason, Limit, Reassembled, Reassembler,
    ReassemblyConfig, ReassemblyStats,
};
pub use tcp::{TcpFlags, TcpOption, TcpOptions, TcpSegment};
pub use tunnel::{
    KindLabel, MAX_TUNNELS, OuterLabel, TunnelKey, TunnelKind, TunnelLabel, TunnelLayer, TunnelPath,
};
pub use walk::{Decoded, MAX_LAYERS};

use layer::At;
use walk::Walked;

/// Decodes one captured frame. IP fragments come back as
/// [`Decoded::Fragment`]; hand those frames to a [`Reassembler`].
#[inline]
pub fn decode_frame<'a>(frame: &crate::capture::Frame<'a>) -> Result<Decoded<'a>, DecodeError> {
    decode_with(frame.link_type, frame.data, wire_len(frame))
}

/// A frame's length on the wire: at least what was captured.
#[inline]
fn wire_len(frame: &crate::capture::Frame<'_>) -> usize {
    (frame.orig_len as usize).max(frame.data.len())
}

/// Decodes a complete (not snaplen-truncated) frame of the given link type.
pub fn decode(link_type: u32, data: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    decode_with(link_type, data, data.len())
}

/// `wire_len`: the frame's length on the wire. When it exceeds the captured
/// bytes (snaplen), TCP options cut off at the end are tolerated; in a
/// complete frame they are an error.
#[inline]
fn decode_with(link_type: u32, data: &[u8], wire_len: usize) -> Result<Decoded<'_>, DecodeError> {
    // The common case straight through: Ethernet, unfragmented IP, TCP.
    // Everything else (and every error) takes the general walk below.
    if link_type == LinkType::ETHERNET {
        let snapped = wire_len > data.len();
        match data.get(12..14) {
            Some([0x08, 0x00]) => {
                let p = ip::ipv4(data, 14, wire_len)?;
                if p.frag.is_some() {
                    // What the walk below would find too, without parsing
                    // the header a second time.
                    return Ok(Decoded::Fragment);
                }
                if p.proto == 6
                    && let Some(h) = data.get(14..34)
                {
                    // The addresses go from the header straight into the
                    // segment: moving `p.src` would reload, 16 bytes at a time,
                    // a 17-byte enum just written as 5, which defeats store
                    // forwarding and cost a third of the frame's decode time.
                    let src = IpAddress::V4([h[12], h[13], h[14], h[15]]);
                    let dst = IpAddress::V4([h[16], h[17], h[18], h[19]]);
                    return tcp::decode_tcp(data, p.off, p.len, src, dst, snapped, NO_TUNNEL)
                        .map(Decoded::Tcp);
                }
            }
            Some([0x86, 0xdd]) => {
                let p = ip::ipv6(data, 14, wire_len)?;
                if p.frag.is_some() {
                    return Ok(Decoded::Fragment);
                }
                if p.proto == 6 {
                    return tcp::decode_tcp(data, p.off, p.len, p.src, p.dst, snapped, NO_TUNNEL)
                        .map(Decoded::Tcp);
                }
            }
            _ => {}
        }
    }
    walked(link_type, data, wire_len)
}

/// A segment carried in no tunnel.
const NO_TUNNEL: (TunnelKey, u8) = (TunnelKey(0), 0);

#[inline(never)]
fn walked(link_type: u32, data: &[u8], wire_len: usize) -> Result<Decoded<'_>, DecodeError> {
    let mut tunnels = TunnelPath::EMPTY;
    match walk_frame(link_type, data, wire_len, &mut tunnels)? {
        Walked::Done(d) => Ok(d),
        Walked::Fragment(..) => Ok(Decoded::Fragment),
    }
}

/// The tunnels a frame's segment (or ICMP error, or fragment) was carried
/// in, outermost first: the path a [`TcpSegment`] keeps only the key and
/// depth of. Empty for a frame that does not decode.
pub fn tunnel_path(frame: &crate::capture::Frame<'_>) -> TunnelPath {
    let mut tunnels = TunnelPath::EMPTY;
    match walk_frame(frame.link_type, frame.data, wire_len(frame), &mut tunnels) {
        Ok(_) => tunnels,
        Err(_) => TunnelPath::EMPTY,
    }
}

/// Walks a frame; `tunnels` collects the encapsulations met on the way.
#[inline]
fn walk_frame<'a>(
    link_type: u32,
    data: &'a [u8],
    wire_len: usize,
    tunnels: &mut TunnelPath,
) -> Result<Walked<'a>, DecodeError> {
    let lt = LinkType::masked(link_type);
    match link::start(lt, data)? {
        At::Unsupported => Ok(Walked::Done(Decoded::UnsupportedLink(lt))),
        at => walk::walk(data, at, wire_len, wire_len > data.len(), tunnels),
    }
}
