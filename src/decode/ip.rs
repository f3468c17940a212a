//! IPv4 (RFC 791) and IPv6 (RFC 8200) headers: where the upper-layer payload
//! starts, how long it is, and whether the packet is a fragment.

use super::addr::IpAddress;
use super::error::{DecodeError, Layer, array, bytes};

/// An IP header's upper-layer payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IpPayload {
    pub src: IpAddress,
    pub dst: IpAddress,
    /// Protocol of the payload (after IPv6 extension headers).
    pub proto: u8,
    /// Where the payload starts in the frame.
    pub off: usize,
    /// Payload length according to the header (not the capture).
    pub len: u32,
    pub frag: Option<FragInfo>,
}

/// Where a fragment's bytes belong in its datagram (RFC 791 §3.2, RFC 8200 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FragInfo {
    pub id: u32,
    /// Byte offset of this fragment's payload in the reassembled payload.
    pub offset: u32,
    pub more: bool,
}

/// Parses an IPv4 header at `off`. `end` is where the enclosing layer ends
/// (the frame's length on the wire for the outermost header): a total length
/// of 0, written by senders that hand the NIC super-segments (TSO/GSO) and
/// captured before the NIC, is taken to mean "up to `end`".
#[inline]
pub(crate) fn ipv4(data: &[u8], off: usize, end: usize) -> Result<IpPayload, DecodeError> {
    let h = array::<20>(data, off, Layer::Ipv4)?;
    let version = h[0] >> 4;
    if version != 4 {
        return Err(DecodeError::BadIpVersion {
            offset: off,
            version,
            expected: 4,
        });
    }
    let ihl = h[0] & 0x0f;
    if ihl < 5 {
        return Err(DecodeError::Ipv4IhlTooSmall { offset: off, ihl });
    }
    let header_len = ihl as u16 * 4;
    bytes(data, off, header_len as usize, Layer::Ipv4)?;
    let mut total_len = u16::from_be_bytes([h[2], h[3]]) as u32;
    if total_len == 0 {
        total_len = end.saturating_sub(off) as u32;
    }
    if total_len < header_len as u32 {
        return Err(DecodeError::Ipv4TotalLenTooSmall {
            offset: off,
            total_len: u16::from_be_bytes([h[2], h[3]]),
            header_len,
        });
    }
    let flags_frag = u16::from_be_bytes([h[6], h[7]]);
    let frag_offset = (flags_frag & 0x1fff) as u32 * 8;
    let more = flags_frag & 0x2000 != 0;
    let frag = (more || frag_offset != 0).then_some(FragInfo {
        id: u16::from_be_bytes([h[4], h[5]]) as u32,
        offset: frag_offset,
        more,
    });
    Ok(IpPayload {
        src: IpAddress::V4([h[12], h[13], h[14], h[15]]),
        dst: IpAddress::V4([h[16], h[17], h[18], h[19]]),
        proto: h[9],
        off: off + header_len as usize,
        len: total_len - header_len as u32,
        frag,
    })
}

/// Parses an IPv6 header and its extension headers at `off`.
///
/// A payload length of 0 is a jumbogram (RFC 2675) when the hop-by-hop header
/// carries a Jumbo Payload option; without one (Linux BIG TCP since 6.x
/// leaves it out of the captured packet, like TSO on IPv4) the payload runs
/// to `end`.
pub(crate) fn ipv6(data: &[u8], off: usize, end: usize) -> Result<IpPayload, DecodeError> {
    let h = array::<40>(data, off, Layer::Ipv6)?;
    let version = h[0] >> 4;
    if version != 6 {
        return Err(DecodeError::BadIpVersion {
            offset: off,
            version,
            expected: 6,
        });
    }
    let mut src = [0u8; 16];
    src.copy_from_slice(&h[8..24]);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&h[24..40]);
    let mut payload_len = u16::from_be_bytes([h[4], h[5]]) as u32;
    let mut next = h[6];
    let mut pos = off + 40;
    let mut ext_len = 0usize;
    let mut frag = None;
    if payload_len == 0 {
        payload_len = match jumbo_len(data, off, next)? {
            Some(j) => j,
            None => end.saturating_sub(pos) as u32,
        };
    }
    // Walk the extension headers. Each is at least 8 bytes, so the walk is bounded.
    loop {
        match next {
            // Hop-by-hop, routing, destination options, mobility, HIP, shim6.
            0 | 43 | 60 | 135 | 139 | 140 => {
                let e = bytes(data, pos, 2, Layer::Ipv6Extension)?;
                let len = (e[1] as usize + 1) * 8;
                next = e[0];
                pos += len;
                ext_len += len;
            }
            44 => {
                let e = bytes(data, pos, 8, Layer::Ipv6Extension)?;
                let frag_off = u16::from_be_bytes([e[2], e[3]]) >> 3;
                let more = e[3] & 1 != 0;
                if frag_off != 0 || more {
                    frag = Some(FragInfo {
                        id: u32::from_be_bytes([e[4], e[5], e[6], e[7]]),
                        offset: frag_off as u32 * 8,
                        more,
                    });
                }
                next = e[0];
                pos += 8;
                ext_len += 8;
                if frag.is_some() {
                    // The rest, extension headers included, is fragmentable.
                    check_overrun(off, ext_len, payload_len)?;
                    break;
                }
            }
            51 => {
                let e = bytes(data, pos, 2, Layer::Ipv6Extension)?;
                let len = (e[1] as usize + 2) * 4;
                next = e[0];
                pos += len;
                ext_len += len;
            }
            _ => break,
        }
        check_overrun(off, ext_len, payload_len)?;
    }
    Ok(IpPayload {
        src: IpAddress::V6(src),
        dst: IpAddress::V6(dst),
        proto: next,
        off: pos,
        len: payload_len - ext_len as u32,
        frag,
    })
}

fn check_overrun(off: usize, ext_len: usize, payload_len: u32) -> Result<(), DecodeError> {
    if ext_len > payload_len as usize {
        return Err(DecodeError::Ipv6ExtensionsOverrun {
            offset: off,
            ext_len,
            payload_len,
        });
    }
    Ok(())
}

/// The Jumbo Payload option (RFC 2675 §2) of a hop-by-hop header right
/// after the IPv6 header at `off`, if there is one.
fn jumbo_len(data: &[u8], off: usize, next: u8) -> Result<Option<u32>, DecodeError> {
    if next != 0 {
        return Ok(None);
    }
    let pos = off + 40;
    let e = bytes(data, pos, 2, Layer::Ipv6Extension)?;
    let len = (e[1] as usize + 1) * 8;
    let opts = bytes(data, pos, len, Layer::Ipv6Extension)?;
    let mut i = 2;
    while i < opts.len() {
        match opts[i] {
            0 => i += 1,
            0xc2 => {
                let v = bytes(opts, i + 2, 4, Layer::Ipv6Extension)
                    .map_err(|_| DecodeError::truncated(Layer::Ipv6Extension, pos + i, 6, data))?;
                let jumbo_len = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
                if jumbo_len <= 65535 {
                    return Err(DecodeError::Ipv6BadJumbo {
                        offset: pos + i,
                        jumbo_len,
                    });
                }
                return Ok(Some(jumbo_len));
            }
            _ => i += 2 + *opts.get(i + 1).unwrap_or(&0) as usize,
        }
    }
    Ok(None)
}
