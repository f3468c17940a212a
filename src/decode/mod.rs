//! Frames in, TCP segments out. Everything is borrowed from the frame: no
//! header is copied into an owned struct and nothing is allocated per packet.
//!
//! Lengths come from the IP header, never from the captured length, so a
//! snaplen-truncated capture still gives the right segment lengths and
//! Ethernet padding never counts as payload.

mod error;
mod ip;
mod link;
mod tcp;

pub use error::{DecodeError, Layer};
pub use ip::IpAddress;
pub use link::{LinkType, link_type_name};
pub use tcp::{TcpFlags, TcpOption, TcpOptions};

use crate::seq::SeqNumber;

/// A decoded TCP segment, borrowing from the frame.
#[derive(Debug, Clone, Copy)]
pub struct TcpSegment<'a> {
    pub src: IpAddress,
    pub dst: IpAddress,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: SeqNumber,
    /// The raw acknowledgment field, whether or not ACK is set.
    pub ack: SeqNumber,
    pub flags: TcpFlags,
    pub window: u16,
    pub urgent: u16,
    /// TCP header length in bytes (data offset × 4).
    pub header_len: u16,
    /// Payload length according to the IP header.
    pub payload_len: u32,
    /// Option bytes (between the fixed header and the payload).
    pub options: &'a [u8],
    /// The captured part of the payload (may be shorter than `payload_len`).
    pub payload: &'a [u8],
}

impl TcpSegment<'_> {
    /// Sequence space the segment occupies: payload, plus one each for SYN and FIN.
    #[inline]
    pub fn seq_len(&self) -> u32 {
        self.payload_len
            .wrapping_add(self.flags.syn() as u32)
            .wrapping_add(self.flags.fin() as u32)
    }

    /// The sequence number just past this segment.
    #[inline]
    pub fn seq_end(&self) -> SeqNumber {
        self.seq + self.seq_len()
    }

    pub fn options(&self) -> TcpOptions<'_> {
        TcpOptions::new(self.options)
    }
}

/// What a frame turned out to be.
#[derive(Debug, Clone, Copy)]
pub enum Decoded<'a> {
    Tcp(TcpSegment<'a>),
    /// IP, but another transport (UDP, ICMP, ...).
    OtherIp,
    /// Not IP at all (ARP, LLDP, ...).
    NotIp,
    /// An IP fragment: cannot be analysed without reassembly.
    Fragment,
    /// A link type tcpshake does not decode.
    UnsupportedLink(u32),
}

/// Decodes one captured frame.
pub fn decode_frame<'a>(frame: &crate::capture::Frame<'a>) -> Result<Decoded<'a>, DecodeError> {
    let snapped = frame.orig_len as usize > frame.data.len();
    decode_with(frame.link_type, frame.data, snapped)
}

/// Decodes a complete (not snaplen-truncated) frame of the given link type.
pub fn decode(link_type: u32, data: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    decode_with(link_type, data, false)
}

/// `snapped`: the capture cut the frame short (snaplen). Then TCP options cut
/// off at the end are tolerated; in a complete frame they are an error.
fn decode_with(link_type: u32, data: &[u8], snapped: bool) -> Result<Decoded<'_>, DecodeError> {
    match link::network_layer(link_type, data)? {
        link::Network::Ipv4(off) => ip::decode_ipv4(data, off, snapped),
        link::Network::Ipv6(off) => ip::decode_ipv6(data, off, snapped),
        link::Network::Other => Ok(Decoded::NotIp),
        link::Network::Unsupported => Ok(Decoded::UnsupportedLink(link_type)),
    }
}
