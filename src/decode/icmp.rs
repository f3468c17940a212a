//! ICMP and ICMPv6 errors that quote a TCP segment (RFC 792, RFC 1191,
//! RFC 4443): not segments themselves, but news about a connection.

use super::addr::IpAddress;
use super::ip::IpPayload;
use super::tunnel::{TunnelKey, TunnelPath};
use crate::seq::SeqNumber;
use serde::Serialize;

/// What an ICMP error says about the quoted segment's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IcmpKind {
    /// ICMP 3/3, ICMPv6 1/4.
    PortUnreachable,
    /// ICMP 3/4 (RFC 1191): the quoted packet needed fragmenting but had DF.
    FragmentationNeeded,
    /// ICMPv6 2 (RFC 4443 §3.2, RFC 8201).
    PacketTooBig,
    /// ICMP 3/9, 3/10, 3/13, ICMPv6 1/1.
    AdminProhibited,
    /// Any other destination unreachable code.
    Unreachable,
    /// ICMP 11, ICMPv6 3: hop limit or reassembly time exceeded.
    TimeExceeded,
    /// ICMP 12, ICMPv6 4.
    ParameterProblem,
    /// ICMP 5.
    Redirect,
    /// ICMP 4 (deprecated by RFC 6633, still seen).
    SourceQuench,
}

/// An ICMP error quoting the start of a TCP segment.
#[derive(Debug, Clone, Copy)]
pub struct IcmpError {
    /// Who sent the ICMP error (a router or the destination host).
    pub reporter: IpAddress,
    /// Whom it was sent to: normally the quoted segment's sender.
    pub to: IpAddress,
    pub kind: IcmpKind,
    pub icmp_type: u8,
    pub code: u8,
    pub v6: bool,
    /// Next-hop MTU of "fragmentation needed" / "packet too big".
    pub mtu: Option<u32>,
    /// The quoted segment's 4-tuple and sequence number, as its sender sent it.
    pub src: IpAddress,
    pub dst: IpAddress,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: SeqNumber,
    /// Flow identity of the tunnels the ICMP packet itself was carried in
    /// ([`TunnelPath::key`]), to find the quoted connection by.
    pub tunnel: TunnelKey,
}

fn classify(v6: bool, ty: u8, code: u8) -> Option<IcmpKind> {
    use IcmpKind::*;
    Some(match (v6, ty, code) {
        (false, 3, 3) | (true, 1, 4) => PortUnreachable,
        (false, 3, 4) => FragmentationNeeded,
        (false, 3, 9 | 10 | 13) | (true, 1, 1) => AdminProhibited,
        (false, 3, _) | (true, 1, _) => Unreachable,
        (false, 4, _) => SourceQuench,
        (false, 5, _) => Redirect,
        (false, 11, _) | (true, 3, _) => TimeExceeded,
        (false, 12, _) | (true, 4, _) => ParameterProblem,
        (true, 2, _) => PacketTooBig,
        _ => return None,
    })
}

/// The ICMP error in `p`, if it is one that quotes the first 8 bytes of a
/// TCP header (ports and sequence number, RFC 792 "Internet Header + 64
/// bits of Original Data Datagram"). Anything else is other IP traffic.
pub(crate) fn quoted_tcp(data: &[u8], p: &IpPayload, tunnels: &TunnelPath) -> Option<IcmpError> {
    let v6 = p.src.is_v6();
    let h = data.get(p.off..p.off + 8)?;
    let (ty, code) = (h[0], h[1]);
    let kind = classify(v6, ty, code)?;
    let mtu = match kind {
        IcmpKind::FragmentationNeeded => Some(u16::from_be_bytes([h[6], h[7]]) as u32),
        IcmpKind::PacketTooBig => Some(u32::from_be_bytes([h[4], h[5], h[6], h[7]])),
        _ => None,
    }
    .filter(|&m| m != 0);
    let q = p.off + 8;
    let (src, dst, tcp) = if v6 {
        quoted_v6(data, q)?
    } else {
        quoted_v4(data, q)?
    };
    let t = data.get(tcp..tcp + 8)?;
    Some(IcmpError {
        reporter: p.src,
        to: p.dst,
        kind,
        icmp_type: ty,
        code,
        v6,
        mtu,
        src,
        dst,
        src_port: u16::from_be_bytes([t[0], t[1]]),
        dst_port: u16::from_be_bytes([t[2], t[3]]),
        seq: SeqNumber(u32::from_be_bytes([t[4], t[5], t[6], t[7]])),
        tunnel: tunnels.key(),
    })
}

/// The quoted IPv4 header: its addresses and where its TCP header starts.
fn quoted_v4(data: &[u8], q: usize) -> Option<(IpAddress, IpAddress, usize)> {
    let h = data.get(q..q + 20)?;
    let ihl = (h[0] & 0x0f) as usize * 4;
    let first_fragment = u16::from_be_bytes([h[6], h[7]]) & 0x1fff == 0;
    (h[0] >> 4 == 4 && ihl >= 20 && h[9] == 6 && first_fragment).then(|| {
        (
            IpAddress::V4([h[12], h[13], h[14], h[15]]),
            IpAddress::V4([h[16], h[17], h[18], h[19]]),
            q + ihl,
        )
    })
}

/// The quoted IPv6 header, past any extension headers.
fn quoted_v6(data: &[u8], q: usize) -> Option<(IpAddress, IpAddress, usize)> {
    let h = data.get(q..q + 40)?;
    if h[0] >> 4 != 6 {
        return None;
    }
    let mut src = [0u8; 16];
    src.copy_from_slice(&h[8..24]);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&h[24..40]);
    let mut next = h[6];
    let mut pos = q + 40;
    // Each extension header is at least 8 bytes, so the walk is bounded by the frame.
    loop {
        match next {
            6 => return Some((IpAddress::V6(src), IpAddress::V6(dst), pos)),
            0 | 43 | 60 => {
                let e = data.get(pos..pos + 2)?;
                next = e[0];
                pos += (e[1] as usize + 1) * 8;
            }
            51 => {
                let e = data.get(pos..pos + 2)?;
                next = e[0];
                pos += (e[1] as usize + 2) * 4;
            }
            44 => {
                let e = data.get(pos..pos + 8)?;
                if u16::from_be_bytes([e[2], e[3]]) >> 3 != 0 {
                    return None;
                }
                next = e[0];
                pos += 8;
            }
            _ => return None,
        }
    }
}
