//! Tunnels carried by IP: GRE (with TEB, WCCP, ERSPAN, PPTP) and the UDP
//! tunnels VXLAN, GENEVE and GTP-U. Each parser reads one tunnel header and
//! says where the inner packet starts and how to record the tunnel.

use super::error::{DecodeError, Layer, be16, be32, bytes};
use super::ip::IpPayload;
use super::layer::At;
use super::tunnel::{TunnelKind, TunnelLayer};

const VXLAN_PORT: u16 = 4789;
const GENEVE_PORT: u16 = 6081;
const GTPU_PORT: u16 = 2152;
const TEREDO_PORT: u16 = 3544;

fn layer(p: &IpPayload, kind: TunnelKind, id: Option<u32>) -> TunnelLayer {
    TunnelLayer {
        kind,
        id,
        outer_src: p.src,
        outer_dst: p.dst,
    }
}

/// A GRE header (RFC 2784, RFC 2890; version 1 is PPTP's, RFC 2637 §4.1).
pub(crate) fn gre(data: &[u8], p: &IpPayload) -> Result<(At, TunnelLayer), DecodeError> {
    let off = p.off;
    let flags = be16(data, off, Layer::Gre)?;
    let proto = be16(data, off + 2, Layer::Gre)?;
    let (c, r, k, s) = (
        flags & 0x8000 != 0,
        flags & 0x4000 != 0,
        flags & 0x2000 != 0,
        flags & 0x1000 != 0,
    );
    match flags & 0x7 {
        0 => {}
        1 => {
            // PPTP: payload length and call ID always, then sequence and ack numbers if flagged.
            let call = be16(data, off + 6, Layer::Gre)? as u32;
            let len = 8 + 4 * s as usize + 4 * (flags & 0x0080 != 0) as usize;
            bytes(data, off, len, Layer::Gre)?;
            let at = if proto == 0x880b {
                At::PppFrame(off + len)
            } else {
                At::NotIp
            };
            return Ok((at, layer(p, TunnelKind::Pptp, Some(call))));
        }
        _ => return Ok((At::NotIp, layer(p, TunnelKind::Gre, None))),
    }
    if r {
        // RFC 1701 source routing: obsolete (RFC 2784 §2.3) and not decoded.
        return Ok((At::NotIp, layer(p, TunnelKind::Gre, None)));
    }
    let mut pos = off + 4 + 4 * c as usize;
    let key = if k {
        let key = be32(data, pos, Layer::Gre)?;
        pos += 4;
        Some(key)
    } else {
        None
    };
    if s {
        pos += 4;
    }
    bytes(data, off, pos - off, Layer::Gre)?;
    Ok(match proto {
        // WCCP redirect header (4 bytes) unless IPv4 follows at once (WCCPv1).
        0x883e => {
            let inner = match data.get(pos) {
                Some(b) if b >> 4 == 4 => pos,
                _ => pos + 4,
            };
            (At::Ipv4(inner), layer(p, TunnelKind::Wccp, None))
        }
        // ERSPAN type II (sequence number present) or type I (no ERSPAN header).
        0x88be => {
            if s {
                let h = bytes(data, pos, 8, Layer::Erspan)?;
                let session = u16::from_be_bytes([h[2], h[3]]) as u32 & 0x3ff;
                (
                    At::Ethernet(pos + 8),
                    layer(p, TunnelKind::Erspan, Some(session)),
                )
            } else {
                (At::Ethernet(pos), layer(p, TunnelKind::Erspan, None))
            }
        }
        // ERSPAN type III: 12 bytes, plus an 8-byte platform subheader when O is set.
        0x22eb => {
            let h = bytes(data, pos, 12, Layer::Erspan)?;
            let session = u16::from_be_bytes([h[2], h[3]]) as u32 & 0x3ff;
            let len = if h[11] & 0x01 != 0 { 20 } else { 12 };
            (
                At::Ethernet(pos + len),
                layer(p, TunnelKind::Erspan, Some(session)),
            )
        }
        ty => (At::Ethertype(ty, pos), layer(p, TunnelKind::Gre, key)),
    })
}

/// A UDP datagram: the inner packet of a VXLAN, GENEVE or GTP-U tunnel on
/// its IANA port, or `None` for any other UDP.
pub(crate) fn udp(data: &[u8], p: &IpPayload) -> Result<Option<(At, TunnelLayer)>, DecodeError> {
    let Some(u) = data.get(p.off..p.off + 8) else {
        return Ok(None);
    };
    let (sport, dport) = (
        u16::from_be_bytes([u[0], u[1]]),
        u16::from_be_bytes([u[2], u[3]]),
    );
    let off = p.off + 8;
    let is = |port| sport == port || dport == port;
    if is(VXLAN_PORT) {
        // RFC 7348 §5: flags with the I bit, 24 reserved bits, VNI, 8 reserved bits.
        let h = bytes(data, off, 8, Layer::Vxlan)?;
        if h[0] & 0x08 == 0 {
            return Ok(None);
        }
        let vni = u32::from_be_bytes([0, h[4], h[5], h[6]]);
        return Ok(Some((
            At::Ethernet(off + 8),
            layer(p, TunnelKind::Vxlan, Some(vni)),
        )));
    }
    if is(GENEVE_PORT) {
        // RFC 8926 §3.4: version 0, option length in 4-byte words, protocol type, VNI.
        let h = bytes(data, off, 8, Layer::Geneve)?;
        if h[0] >> 6 != 0 {
            return Ok(None);
        }
        let opts = (h[0] & 0x3f) as usize * 4;
        let proto = u16::from_be_bytes([h[2], h[3]]);
        let vni = u32::from_be_bytes([0, h[4], h[5], h[6]]);
        bytes(data, off, 8 + opts, Layer::Geneve)?;
        return Ok(Some((
            At::Ethertype(proto, off + 8 + opts),
            layer(p, TunnelKind::Geneve, Some(vni)),
        )));
    }
    if is(GTPU_PORT) {
        return gtpu(data, off, p);
    }
    if is(TEREDO_PORT) {
        return Ok(teredo(data, off).map(|at| (at, layer(p, TunnelKind::Teredo, None))));
    }
    let udp_end = p.off + p.len as usize;
    Ok(teredo_by_content(data, off, udp_end).map(|at| (at, layer(p, TunnelKind::Teredo, None))))
}

/// GTP-U (3GPP TS 29.281 §5.1, §5.2): only G-PDUs (message type 255) carry
/// user packets; echo and error messages do not.
fn gtpu(data: &[u8], off: usize, p: &IpPayload) -> Result<Option<(At, TunnelLayer)>, DecodeError> {
    let h = bytes(data, off, 8, Layer::GtpU)?;
    if h[0] >> 5 != 1 || h[0] & 0x10 == 0 || h[1] != 0xff {
        return Ok(None);
    }
    let teid = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    let mut pos = off + 8;
    if h[0] & 0x07 != 0 {
        // Sequence number, N-PDU number and the first extension header type.
        let opt = bytes(data, pos, 4, Layer::GtpU)?;
        let mut next = opt[3];
        pos += 4;
        // Each extension header is a multiple of 4 bytes, at least 4, so the walk is bounded.
        while next != 0 {
            let len = *bytes(data, pos, 1, Layer::GtpU)?.first().unwrap_or(&0) as usize * 4;
            if len == 0 {
                return Err(DecodeError::BadHeaderLength {
                    layer: Layer::GtpU,
                    offset: pos,
                    len,
                });
            }
            next = bytes(data, pos, len, Layer::GtpU)?[len - 1];
            pos += len;
        }
    }
    Ok(Some((
        At::IpByVersion(pos),
        layer(p, TunnelKind::GtpU, Some(teid)),
    )))
}

/// Teredo (RFC 4380 §5.1.1): IPv6 in UDP, after an optional authentication
/// indicator and an optional origin indication. Other Teredo traffic (bubbles
/// are IPv6 too, with no payload) is told apart by the version nibble.
fn teredo(data: &[u8], mut off: usize) -> Option<At> {
    if data.get(off..off + 2)? == [0, 1] {
        let (id, au) = (*data.get(off + 2)? as usize, *data.get(off + 3)? as usize);
        off += 4 + id + au + 9;
    }
    if data.get(off..off + 2)? == [0, 0] {
        off += 8;
    }
    (data.get(off)? >> 4 == 6).then_some(At::Ipv6(off))
}

/// Teredo on another port than 3544: a client's NAT maps it to any port, and
/// the relay or peer it talks to need not use 3544 either (RFC 4380 §5.2.3,
/// §5.4). Recognised, as Zeek's Teredo signature recognises it, by content:
/// the UDP payload is exactly one IPv6 packet (its payload length matches
/// the datagram's) from or to a Teredo address (2001:0::/32, §2.6). No other
/// UDP protocol is likely to satisfy all three.
fn teredo_by_content(data: &[u8], off: usize, udp_end: usize) -> Option<At> {
    let h = data.get(off..off + 40)?;
    let teredo_addr = |a: &[u8]| a[..4] == [0x20, 0x01, 0, 0];
    let ipv6_len = 40 + u16::from_be_bytes([h[4], h[5]]) as usize;
    (h[0] >> 4 == 6
        && udp_end.checked_sub(off) == Some(ipv6_len)
        && (teredo_addr(&h[8..24]) || teredo_addr(&h[24..40])))
    .then_some(At::Ipv6(off))
}
