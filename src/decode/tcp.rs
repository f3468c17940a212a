//! The TCP header (RFC 9293 §3.1) and a tolerant option walker.

use super::addr::IpAddress;
use super::error::{DecodeError, Layer};
use super::tunnel::TunnelKey;
use crate::seq::SeqNumber;
use etherparse::TcpHeaderSlice;
use std::fmt;

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
    /// The flow identity of the virtual networks the segment was carried in
    /// ([`crate::decode::TunnelPath::key`]); 0 for none.
    pub tunnel: TunnelKey,
    /// How many encapsulations the segment was peeled out of; 0 for a
    /// segment sent as it is. The path itself is rebuilt from the frame
    /// only when it is wanted ([`crate::decode::tunnel_path`]), so that a
    /// segment stays a few words wide.
    pub tunnel_depth: u8,
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

/// Decodes the TCP header at `off`. etherparse's [`TcpHeaderSlice`] checks
/// the fixed part and the data offset (RFC 9293 §3.1) once; the rarer
/// failures are sorted out afterwards, off the common path.
#[inline]
pub(crate) fn decode_tcp<'a>(
    data: &'a [u8],
    off: usize,
    ip_payload: u32,
    src: IpAddress,
    dst: IpAddress,
    snapped: bool,
    tunnel: (TunnelKey, u8),
) -> Result<TcpSegment<'a>, DecodeError> {
    let rest = &data[off.min(data.len())..];
    let tcp = match TcpHeaderSlice::from_slice(rest) {
        Ok(tcp) => tcp,
        Err(e) => return decode_unsliced(data, off, ip_payload, src, dst, snapped, tunnel, e),
    };
    let raw = tcp.slice();
    let header_len = raw.len() as u16;
    if header_len as u32 > ip_payload {
        return Err(DecodeError::TcpHeaderBeyondIpPayload {
            offset: off,
            header_len,
            ip_payload,
        });
    }
    let payload_len = ip_payload - header_len as u32;
    let payload_start = off + header_len as usize;
    let captured_end = (payload_start + payload_len as usize).min(data.len());
    Ok(TcpSegment {
        src,
        dst,
        src_port: tcp.source_port(),
        dst_port: tcp.destination_port(),
        seq: SeqNumber(tcp.sequence_number()),
        ack: SeqNumber(tcp.acknowledgment_number()),
        flags: TcpFlags(((raw[12] as u16 & 0x01) << 8) | raw[13] as u16),
        window: tcp.window_size(),
        urgent: tcp.urgent_pointer(),
        header_len,
        payload_len,
        options: &raw[20..],
        payload: &data[payload_start.min(captured_end)..captured_end],
        tunnel: tunnel.0,
        tunnel_depth: tunnel.1,
    })
}

/// A header etherparse would not slice: one the IP payload cannot hold (the
/// data offset names the fault better than the truncation it causes), one
/// whose options the snaplen cut off (still judged), or the slicing error.
#[cold]
#[allow(clippy::too_many_arguments)]
fn decode_unsliced<'a>(
    data: &'a [u8],
    off: usize,
    ip_payload: u32,
    src: IpAddress,
    dst: IpAddress,
    snapped: bool,
    tunnel: (TunnelKey, u8),
    e: etherparse::err::tcp::HeaderSliceError,
) -> Result<TcpSegment<'a>, DecodeError> {
    use etherparse::err::tcp::{HeaderError, HeaderSliceError};
    let rest = &data[off.min(data.len())..];
    if let Some(&b) = rest.get(12) {
        let header_len = (b >> 4) as u16 * 4;
        if header_len >= 20 && header_len as u32 > ip_payload {
            return Err(DecodeError::TcpHeaderBeyondIpPayload {
                offset: off,
                header_len,
                ip_payload,
            });
        }
    }
    if snapped
        && rest.len() >= 20
        && (rest[12] >> 4) as usize * 4 > rest.len()
        && rest[12] >> 4 >= 5
    {
        return decode_cut_options(rest, ip_payload, src, dst, tunnel);
    }
    Err(match e {
        HeaderSliceError::Len(l) => DecodeError::truncated(Layer::Tcp, off, l.required_len, data),
        HeaderSliceError::Content(HeaderError::DataOffsetTooSmall { data_offset }) => {
            DecodeError::TcpDataOffsetTooSmall {
                offset: off,
                data_offset,
            }
        }
    })
}

/// A header whose options the snaplen cut off: the fixed 20 bytes are all
/// there, so the segment is still judged; the options seen are those captured.
fn decode_cut_options<'a>(
    raw: &'a [u8],
    ip_payload: u32,
    src: IpAddress,
    dst: IpAddress,
    tunnel: (TunnelKey, u8),
) -> Result<TcpSegment<'a>, DecodeError> {
    // The caller has ruled out a header longer than the IP payload.
    let header_len = (raw[12] >> 4) as u16 * 4;
    let be16 = |i: usize| u16::from_be_bytes([raw[i], raw[i + 1]]);
    let be32 = |i: usize| u32::from_be_bytes([raw[i], raw[i + 1], raw[i + 2], raw[i + 3]]);
    Ok(TcpSegment {
        src,
        dst,
        src_port: be16(0),
        dst_port: be16(2),
        seq: SeqNumber(be32(4)),
        ack: SeqNumber(be32(8)),
        flags: TcpFlags(((raw[12] as u16 & 0x01) << 8) | raw[13] as u16),
        window: be16(14),
        urgent: be16(18),
        header_len,
        payload_len: ip_payload - header_len as u32,
        options: &raw[20..],
        payload: &[],
        tunnel: tunnel.0,
        tunnel_depth: tunnel.1,
    })
}

/// The nine TCP flag bits (RFC 9293 §3.1 plus AE/NS of RFC 3540).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    pub const FIN: u16 = 0x001;
    pub const SYN: u16 = 0x002;
    pub const RST: u16 = 0x004;
    pub const PSH: u16 = 0x008;
    pub const ACK: u16 = 0x010;
    pub const URG: u16 = 0x020;
    pub const ECE: u16 = 0x040;
    pub const CWR: u16 = 0x080;
    pub const NS: u16 = 0x100;

    #[inline]
    pub fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }
    #[inline]
    pub fn fin(self) -> bool {
        self.has(Self::FIN)
    }
    #[inline]
    pub fn syn(self) -> bool {
        self.has(Self::SYN)
    }
    #[inline]
    pub fn rst(self) -> bool {
        self.has(Self::RST)
    }
    #[inline]
    pub fn psh(self) -> bool {
        self.has(Self::PSH)
    }
    #[inline]
    pub fn ack(self) -> bool {
        self.has(Self::ACK)
    }
    #[inline]
    pub fn urg(self) -> bool {
        self.has(Self::URG)
    }
}

impl fmt::Display for TcpFlags {
    /// Wireshark-style list, e.g. `SYN, ACK`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(u16, &str); 9] = [
            (TcpFlags::NS, "NS"),
            (TcpFlags::CWR, "CWR"),
            (TcpFlags::ECE, "ECE"),
            (TcpFlags::URG, "URG"),
            (TcpFlags::ACK, "ACK"),
            (TcpFlags::PSH, "PSH"),
            (TcpFlags::RST, "RST"),
            (TcpFlags::SYN, "SYN"),
            (TcpFlags::FIN, "FIN"),
        ];
        // SYN and FIN first reads best: "SYN, ACK", "FIN, ACK".
        let order = [7usize, 8, 6, 5, 4, 3, 0, 1, 2];
        let mut first = true;
        for i in order {
            let (bit, name) = NAMES[i];
            if self.has(bit) {
                if !first {
                    f.write_str(", ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("<none>")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{self}]")
    }
}

/// One TCP option, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    Mss(u16),
    WindowScale(u8),
    SackPermitted,
    /// Raw SACK blocks, 8 bytes each.
    Sack(&'a [u8]),
    Timestamps {
        value: u32,
        echo: u32,
    },
    /// TCP Fast Open cookie (kind 34, or the experimental 254/0xF989); empty = cookie request.
    FastOpenCookie(&'a [u8]),
    Mptcp(&'a [u8]),
    Unknown {
        kind: u8,
        data: &'a [u8],
    },
    /// The option list ended in a malformed option; the walk stopped here.
    Malformed {
        kind: u8,
    },
}

/// Walks the option bytes; unknown kinds are skipped by their length, and a
/// broken length ends the walk with [`TcpOption::Malformed`] instead of an error.
#[derive(Clone)]
pub struct TcpOptions<'a> {
    rest: &'a [u8],
}

impl<'a> TcpOptions<'a> {
    pub fn new(bytes: &'a [u8]) -> TcpOptions<'a> {
        TcpOptions { rest: bytes }
    }

    pub fn window_scale(&self) -> Option<u8> {
        self.clone().find_map(|o| match o {
            TcpOption::WindowScale(s) => Some(s),
            _ => None,
        })
    }

    pub fn mss(&self) -> Option<u16> {
        self.clone().find_map(|o| match o {
            TcpOption::Mss(m) => Some(m),
            _ => None,
        })
    }

    pub fn fast_open_cookie(&self) -> Option<&'a [u8]> {
        self.clone().find_map(|o| match o {
            TcpOption::FastOpenCookie(c) => Some(c),
            _ => None,
        })
    }
}

impl<'a> Iterator for TcpOptions<'a> {
    type Item = TcpOption<'a>;

    fn next(&mut self) -> Option<TcpOption<'a>> {
        loop {
            let (&kind, after) = self.rest.split_first()?;
            match kind {
                0 => {
                    self.rest = &[];
                    return None;
                }
                1 => {
                    self.rest = after;
                    continue;
                }
                _ => {}
            }
            let Some(&len) = after.first() else {
                self.rest = &[];
                return Some(TcpOption::Malformed { kind });
            };
            let len = len as usize;
            if len < 2 || len > self.rest.len() {
                self.rest = &[];
                return Some(TcpOption::Malformed { kind });
            }
            let body = &self.rest[2..len];
            self.rest = &self.rest[len..];
            let be16 = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
            let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            return Some(match (kind, body.len()) {
                (2, 2) => TcpOption::Mss(be16(body)),
                (3, 1) => TcpOption::WindowScale(body[0]),
                (4, 0) => TcpOption::SackPermitted,
                (5, n) if n % 8 == 0 => TcpOption::Sack(body),
                (8, 8) => TcpOption::Timestamps {
                    value: be32(body),
                    echo: be32(&body[4..]),
                },
                (34, _) => TcpOption::FastOpenCookie(body),
                (254, n) if n >= 2 && be16(body) == 0xf989 => TcpOption::FastOpenCookie(&body[2..]),
                (30, _) => TcpOption::Mptcp(body),
                _ => TcpOption::Unknown { kind, data: body },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walker_skips_unknown_kinds_and_stops_on_broken_length() {
        let bytes = [
            2, 4, 0x05, 0xb4, // MSS 1460
            1,    // NOP
            99, 4, 0xaa, 0xbb, // unknown kind 99
            30, 4, 0x10, 0x00, // MPTCP
            3, 3, 7, // WS 7
            8, 10, 0, 0, 0, 1, 0, 0, 0, 2, // timestamps
            5, 9, 0, // SACK with a length past the end
        ];
        let opts: Vec<_> = TcpOptions::new(&bytes).collect();
        assert_eq!(opts[0], TcpOption::Mss(1460));
        assert_eq!(
            opts[1],
            TcpOption::Unknown {
                kind: 99,
                data: &[0xaa, 0xbb]
            }
        );
        assert!(matches!(opts[2], TcpOption::Mptcp(_)));
        assert_eq!(opts[3], TcpOption::WindowScale(7));
        assert_eq!(opts[4], TcpOption::Timestamps { value: 1, echo: 2 });
        assert_eq!(opts[5], TcpOption::Malformed { kind: 5 });
        assert_eq!(opts.len(), 6);
        assert_eq!(TcpOptions::new(&bytes).window_scale(), Some(7));
    }

    #[test]
    fn flags_display_like_wireshark() {
        assert_eq!(
            TcpFlags(TcpFlags::SYN | TcpFlags::ACK).to_string(),
            "SYN, ACK"
        );
        assert_eq!(TcpFlags(0).to_string(), "<none>");
    }
}
