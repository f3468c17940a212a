//! IPv4 and IPv6 (with extension headers).

use super::Decoded;
use super::error::{DecodeError, Layer};
use super::tcp::decode_tcp;
use etherparse::{Ipv4HeaderSlice, Ipv6HeaderSlice};
use serde::{Serialize, Serializer};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

const PROTO_TCP: u8 = 6;

/// An IP address held by value (no allocation), ordered like Wireshark
/// orders conversation endpoints: byte-wise.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpAddress {
    V4([u8; 4]),
    V6([u8; 16]),
}

impl IpAddress {
    pub fn is_v6(&self) -> bool {
        matches!(self, IpAddress::V6(_))
    }
}

impl fmt::Display for IpAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpAddress::V4(a) => Ipv4Addr::from(*a).fmt(f),
            IpAddress::V6(a) => Ipv6Addr::from(*a).fmt(f),
        }
    }
}

impl fmt::Debug for IpAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for IpAddress {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::str::FromStr for IpAddress {
    type Err = std::net::AddrParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ip: std::net::IpAddr = s.parse()?;
        Ok(match ip {
            std::net::IpAddr::V4(a) => IpAddress::V4(a.octets()),
            std::net::IpAddr::V6(a) => IpAddress::V6(a.octets()),
        })
    }
}

pub(crate) fn decode_ipv4(
    data: &[u8],
    off: usize,
    snapped: bool,
) -> Result<Decoded<'_>, DecodeError> {
    let rest = &data[off.min(data.len())..];
    let ip = Ipv4HeaderSlice::from_slice(rest).map_err(|e| {
        use etherparse::err::ipv4::{HeaderError, HeaderSliceError};
        match e {
            HeaderSliceError::Len(l) => {
                DecodeError::truncated(Layer::Ipv4, off, l.required_len, data)
            }
            HeaderSliceError::Content(HeaderError::UnexpectedVersion { version_number }) => {
                DecodeError::BadIpVersion {
                    offset: off,
                    version: version_number,
                    expected: 4,
                }
            }
            HeaderSliceError::Content(HeaderError::HeaderLengthSmallerThanHeader { ihl }) => {
                DecodeError::Ipv4IhlTooSmall { offset: off, ihl }
            }
        }
    })?;
    let header_len = ip.slice().len() as u16;
    let total_len = ip.total_len();
    if total_len < header_len {
        // Some capture paths (TSO on the sender) write 0 here; the frame cannot be measured.
        return Err(DecodeError::Ipv4TotalLenTooSmall {
            offset: off,
            total_len,
            header_len,
        });
    }
    if ip.more_fragments() || ip.fragments_offset().value() != 0 {
        return Ok(Decoded::Fragment);
    }
    if ip.protocol().0 != PROTO_TCP {
        return Ok(Decoded::OtherIp);
    }
    let tcp_off = off + header_len as usize;
    let ip_payload = (total_len - header_len) as u32;
    decode_tcp(
        data,
        tcp_off,
        ip_payload,
        IpAddress::V4(ip.source()),
        IpAddress::V4(ip.destination()),
        snapped,
    )
    .map(Decoded::Tcp)
}

pub(crate) fn decode_ipv6(
    data: &[u8],
    off: usize,
    snapped: bool,
) -> Result<Decoded<'_>, DecodeError> {
    let rest = &data[off.min(data.len())..];
    let ip = Ipv6HeaderSlice::from_slice(rest).map_err(|e| {
        use etherparse::err::ipv6::{HeaderError, HeaderSliceError};
        match e {
            HeaderSliceError::Len(l) => {
                DecodeError::truncated(Layer::Ipv6, off, l.required_len, data)
            }
            HeaderSliceError::Content(HeaderError::UnexpectedVersion { version_number }) => {
                DecodeError::BadIpVersion {
                    offset: off,
                    version: version_number,
                    expected: 6,
                }
            }
        }
    })?;
    let payload_len = ip.payload_length();
    let mut next = ip.next_header().0;
    let mut pos = off + 40;
    let mut ext_len = 0usize;
    // Walk the extension headers. Each is at least 8 bytes, so the walk is bounded.
    loop {
        match next {
            PROTO_TCP => break,
            // Hop-by-hop, routing, destination options, mobility, HIP, shim6.
            0 | 43 | 60 | 135 | 139 | 140 => {
                let h = data
                    .get(pos..pos + 2)
                    .ok_or_else(|| DecodeError::truncated(Layer::Ipv6Extension, pos, 2, data))?;
                if next == 0 && payload_len == 0 {
                    return Err(DecodeError::Ipv6Jumbogram { offset: off });
                }
                let len = (h[1] as usize + 1) * 8;
                next = h[0];
                pos += len;
                ext_len += len;
            }
            44 => {
                let h = data
                    .get(pos..pos + 8)
                    .ok_or_else(|| DecodeError::truncated(Layer::Ipv6Extension, pos, 8, data))?;
                let frag_off = u16::from_be_bytes([h[2], h[3]]) >> 3;
                let more = h[3] & 1 != 0;
                if frag_off != 0 || more {
                    return Ok(Decoded::Fragment);
                }
                next = h[0];
                pos += 8;
                ext_len += 8;
            }
            51 => {
                let h = data
                    .get(pos..pos + 2)
                    .ok_or_else(|| DecodeError::truncated(Layer::Ipv6Extension, pos, 2, data))?;
                let len = (h[1] as usize + 2) * 4;
                next = h[0];
                pos += len;
                ext_len += len;
            }
            _ => return Ok(Decoded::OtherIp),
        }
        if ext_len > payload_len as usize {
            return Err(DecodeError::Ipv6ExtensionsOverrun {
                offset: off,
                ext_len,
                payload_len,
            });
        }
    }
    let ip_payload = (payload_len as usize - ext_len) as u32;
    decode_tcp(
        data,
        pos,
        ip_payload,
        IpAddress::V6(ip.source()),
        IpAddress::V6(ip.destination()),
        snapped,
    )
    .map(Decoded::Tcp)
}
