//! The decoder's main loop: from the link header down to the innermost TCP
//! header, one header per step, peeling tunnels on the way.

use super::encap;
use super::error::{DecodeError, Layer, bytes};
use super::icmp::{self, IcmpError};
use super::ip::{self, FragInfo, IpPayload};
use super::layer::At;
use super::link;
use super::tcp::{TcpSegment, decode_tcp};
use super::tunnel::{MAX_TUNNELS, TunnelLayer, TunnelPath};

/// The most headers one frame may stack (VLAN tags, MPLS labels, tunnels,
/// extension headers…). Real frames use a handful; a crafted frame of
/// thousands of MPLS labels stops here with `nesting_too_deep`.
pub const MAX_LAYERS: usize = 64;

/// What a frame turned out to be.
#[derive(Debug, Clone, Copy)]
pub enum Decoded<'a> {
    Tcp(TcpSegment<'a>),
    /// An ICMP or ICMPv6 error quoting a TCP header: news about a
    /// connection, not a segment of it.
    IcmpError(IcmpError),
    /// IP, but another transport (UDP, ICMP, ...).
    OtherIp,
    /// Not IP at all (ARP, LLDP, ...).
    NotIp,
    /// An IP fragment: [`crate::decode::Reassembler`] puts these together.
    Fragment,
    /// A link type tcpshake does not decode.
    UnsupportedLink(u32),
}

pub(crate) enum Walked<'a> {
    Done(Decoded<'a>),
    /// A fragment met on the way: its IP payload and where it belongs,
    /// what reassembly needs to resume.
    Fragment(IpPayload, FragInfo),
}

/// Decodes from `at` on. `end` is where the outermost layer ends on the wire
/// (for IP headers whose length field is 0); `snapped` says the capture cut
/// the frame short. `tunnels` starts with the encapsulations already peeled
/// and gains those met on the way.
#[inline]
pub(crate) fn walk<'a>(
    data: &'a [u8],
    mut at: At,
    mut end: usize,
    snapped: bool,
    tunnels: &mut TunnelPath,
) -> Result<Walked<'a>, DecodeError> {
    let mut steps = 0;
    loop {
        steps += 1;
        if steps > MAX_LAYERS {
            return Err(DecodeError::TooDeep {
                layer: at.layer(),
                offset: at.offset(),
                limit: MAX_LAYERS,
            });
        }
        at = match at {
            At::Ipv4(off) => {
                let p = ip::ipv4(data, off, end)?;
                if let Some(f) = p.frag {
                    return Ok(Walked::Fragment(p, f));
                }
                At::Transport(p)
            }
            At::Ipv6(off) => {
                let p = ip::ipv6(data, off, end)?;
                if let Some(f) = p.frag {
                    return Ok(Walked::Fragment(p, f));
                }
                At::Transport(p)
            }
            At::Transport(mut p) => match p.proto {
                6 => {
                    return decode_tcp(
                        data,
                        p.off,
                        p.len,
                        p.src,
                        p.dst,
                        snapped,
                        (tunnels.key(), tunnels.len() as u8),
                    )
                    .map(|s| Walked::Done(Decoded::Tcp(s)));
                }
                1 | 58 if (p.proto == 58) == p.src.is_v6() => {
                    return Ok(Walked::Done(
                        icmp::quoted_tcp(data, &p, tunnels)
                            .map_or(Decoded::OtherIp, Decoded::IcmpError),
                    ));
                }
                4 | 41 => {
                    let outer = TunnelLayer {
                        kind: super::tunnel::TunnelKind::Ip,
                        id: None,
                        outer_src: p.src,
                        outer_dst: p.dst,
                    };
                    enter(tunnels, outer, &p, &mut end)?;
                    if p.proto == 4 {
                        At::Ipv4(p.off)
                    } else {
                        At::Ipv6(p.off)
                    }
                }
                // A datagram too short for a GRE header carries no tunnel.
                47 if p.len < 4 => return Ok(Walked::Done(Decoded::OtherIp)),
                47 => {
                    let (next, layer) = encap::gre(data, &p)?;
                    enter(tunnels, layer, &p, &mut end)?;
                    next
                }
                17 => match encap::udp(data, &p)? {
                    Some((next, layer)) => {
                        enter(tunnels, layer, &p, &mut end)?;
                        next
                    }
                    None => return Ok(Walked::Done(Decoded::OtherIp)),
                },
                // IPsec AH (RFC 4302 §2): skipped, in transport and tunnel mode alike.
                51 => {
                    let h = bytes(data, p.off, 2, Layer::Ah)?;
                    let len = (h[1] as usize + 2) * 4;
                    if len as u32 > p.len {
                        return Err(DecodeError::BadHeaderLength {
                            layer: Layer::Ah,
                            offset: p.off,
                            len,
                        });
                    }
                    p.proto = h[0];
                    p.off += len;
                    p.len -= len as u32;
                    At::Transport(p)
                }
                // Destination options in the fragmentable part of a reassembled IPv6 datagram.
                60 if p.src.is_v6() => {
                    let h = bytes(data, p.off, 2, Layer::Ipv6Extension)?;
                    let len = (h[1] as usize + 1) * 8;
                    if len as u32 > p.len {
                        return Err(DecodeError::BadHeaderLength {
                            layer: Layer::Ipv6Extension,
                            offset: p.off,
                            len,
                        });
                    }
                    p.proto = h[0];
                    p.off += len;
                    p.len -= len as u32;
                    At::Transport(p)
                }
                _ => return Ok(Walked::Done(Decoded::OtherIp)),
            },
            At::NotIp => return Ok(Walked::Done(Decoded::NotIp)),
            // Only a link header names an unsupported link; `start` handles that.
            At::Unsupported => return Ok(Walked::Done(Decoded::NotIp)),
            other => link::step(other, data)?,
        };
    }
}

/// Records a tunnel and narrows `end` to the tunnel's outer payload.
#[inline]
fn enter(
    tunnels: &mut TunnelPath,
    layer: TunnelLayer,
    p: &IpPayload,
    end: &mut usize,
) -> Result<(), DecodeError> {
    if !tunnels.push(layer) {
        return Err(DecodeError::TooDeep {
            layer: match p.proto {
                47 => Layer::Gre,
                17 => Layer::Udp,
                _ if p.src.is_v6() => Layer::Ipv6,
                _ => Layer::Ipv4,
            },
            offset: p.off,
            limit: MAX_TUNNELS,
        });
    }
    *end = p.off + p.len as usize;
    Ok(())
}
