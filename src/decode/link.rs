//! Link layers and the shims between them and IP: one step per header.

use super::error::{DecodeError, Layer, be16, bytes};
use super::layer::At;

/// LINKTYPE_* values tcpshake decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkType;

impl LinkType {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    pub const PPP: u32 = 9;
    pub const FDDI: u32 = 10;
    pub const RAW_12: u32 = 12;
    pub const RAW_14: u32 = 14;
    pub const PPP_HDLC: u32 = 50;
    pub const PPP_ETHER: u32 = 51;
    pub const ATM_RFC1483: u32 = 100;
    pub const RAW: u32 = 101;
    pub const C_HDLC: u32 = 104;
    pub const IEEE802_11: u32 = 105;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IEEE802_11_RADIOTAP: u32 = 127;
    pub const PPI: u32 = 192;
    pub const PPP_WITH_DIR: u32 = 204;
    pub const C_HDLC_WITH_DIR: u32 = 205;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const NFLOG: u32 = 239;
    pub const IPOIB: u32 = 242;
    pub const LINUX_SLL2: u32 = 276;

    /// The link type proper of a pcap header's link-type field: its top bits
    /// may announce an FCS length (pcap-savefile(5), LT_LINKTYPE), which
    /// libpcap masks off.
    #[inline]
    pub fn masked(lt: u32) -> u32 {
        lt & 0x03ff_ffff
    }
}

/// Human name of a link type, for reports.
pub fn link_type_name(lt: u32) -> &'static str {
    match LinkType::masked(lt) {
        0 => "NULL (BSD loopback)",
        1 => "Ethernet",
        9 => "PPP",
        10 => "FDDI",
        12 | 14 | 101 => "raw IP",
        50 => "PPP in HDLC",
        51 => "PPPoE",
        100 => "ATM RFC 1483 LLC",
        104 => "Cisco HDLC",
        105 => "IEEE 802.11",
        108 => "LOOP (OpenBSD loopback)",
        113 => "Linux cooked (SLL)",
        127 => "IEEE 802.11 radiotap",
        192 => "PPI",
        204 => "PPP with direction",
        205 => "Cisco HDLC with direction",
        228 => "raw IPv4",
        229 => "raw IPv6",
        239 => "Linux NFLOG",
        242 => "IP over InfiniBand",
        276 => "Linux cooked v2 (SLL2)",
        _ => "unsupported",
    }
}

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_VLAN: u16 = 0x8100;
const ETH_QINQ: u16 = 0x88a8;
const ETH_QINQ_OLD: u16 = 0x9100;
const ETH_MPLS: u16 = 0x8847;
const ETH_MPLS_MC: u16 = 0x8848;
const ETH_PPPOE_SESSION: u16 = 0x8864;
const ETH_PPP: u16 = 0x880b;
const ETH_PBB: u16 = 0x88e7;
const ETH_FABRICPATH: u16 = 0x8903;
const ETH_VNTAG: u16 = 0x8926;
/// Transparent Ethernet bridging (GRE, GENEVE): a whole Ethernet frame follows.
const ETH_TEB: u16 = 0x6558;

/// BSD address families for IPv4 and the IPv6 values used by the BSDs, Darwin and Linux.
fn af_to_network(af: u32, off: usize) -> Option<At> {
    match af {
        2 => Some(At::Ipv4(off)),
        10 | 24 | 28 | 30 => Some(At::Ipv6(off)),
        _ => None,
    }
}

/// The first step for a frame of the given (masked) link type.
pub(crate) fn start(link_type: u32, data: &[u8]) -> Result<At, DecodeError> {
    Ok(match link_type {
        LinkType::ETHERNET => At::Ethernet(0),
        LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 => At::IpByVersion(0),
        LinkType::IPV4 => At::Ipv4(0),
        LinkType::IPV6 => At::Ipv6(0),
        LinkType::NULL | LinkType::LOOP => {
            let b = bytes(data, 0, 4, Layer::Link)?;
            let b = [b[0], b[1], b[2], b[3]];
            // NULL stores the family in the capturing host's byte order, LOOP in
            // network order; real files get both wrong, so accept either.
            af_to_network(u32::from_le_bytes(b), 4)
                .or_else(|| af_to_network(u32::from_be_bytes(b), 4))
                .unwrap_or(At::NotIp)
        }
        LinkType::LINUX_SLL => {
            let h = bytes(data, 0, 16, Layer::Link)?;
            sll(
                u16::from_be_bytes([h[2], h[3]]),
                u16::from_be_bytes([h[14], h[15]]),
                16,
            )
        }
        LinkType::LINUX_SLL2 => {
            let h = bytes(data, 0, 20, Layer::Link)?;
            sll(
                u16::from_be_bytes([h[8], h[9]]),
                u16::from_be_bytes([h[0], h[1]]),
                20,
            )
        }
        LinkType::PPP | LinkType::PPP_HDLC => At::PppFrame(0),
        LinkType::PPP_WITH_DIR => At::PppFrame(1),
        LinkType::PPP_ETHER => At::Ppp(be16(data, 6, Layer::Pppoe)?, 8),
        LinkType::C_HDLC => At::Ethertype(be16(data, 2, Layer::Link)?, 4),
        LinkType::C_HDLC_WITH_DIR => At::Ethertype(be16(data, 3, Layer::Link)?, 5),
        LinkType::IPOIB => At::Ethertype(be16(data, 0, Layer::Link)?, 4),
        // Frame control, two addresses, then LLC/SNAP.
        LinkType::FDDI => At::Llc(13),
        LinkType::ATM_RFC1483 => At::Llc(0),
        LinkType::IEEE802_11 => At::Ieee80211(0),
        LinkType::IEEE802_11_RADIOTAP => At::Radiotap(0),
        LinkType::PPI => {
            // PPI header: version, flags, length (LE), DLT of what follows (LE).
            let h = bytes(data, 0, 8, Layer::Link)?;
            let len = u16::from_le_bytes([h[2], h[3]]) as usize;
            match u32::from_le_bytes([h[4], h[5], h[6], h[7]]) {
                LinkType::IEEE802_11 => At::Ieee80211(len),
                LinkType::ETHERNET => At::Ethernet(len),
                _ => At::Unsupported,
            }
        }
        LinkType::NFLOG => nflog(data)?,
        _ => At::Unsupported,
    })
}

/// Linux cooked capture: the protocol field holds the ethertype the kernel
/// gave the packet (`skb->protocol`) for every hardware type that carries IP
/// — Ethernet, loopback (772), PPP (512), none/tun (65534), IPGRE (778),
/// SIT (776), IP6GRE (823) and the rest — except the few whose payload is
/// itself a link header (pcap-linktype(7), LINKTYPE_LINUX_SLL).
fn sll(hatype: u16, protocol: u16, off: usize) -> At {
    match hatype {
        // ARPHRD_IEEE80211, ARPHRD_IEEE80211_RADIOTAP.
        801 => return At::Ieee80211(off),
        803 => return At::Radiotap(off),
        // ARPHRD_NETLINK: netlink messages, never IP.
        824 => return At::NotIp,
        _ => {}
    }
    match protocol {
        // Novell 802.3 without LLC.
        0x0001 => At::NotIp,
        // 802.2 LLC follows.
        0x0004 => At::Llc(off),
        p => At::Ethertype(p, off),
    }
}

/// NFLOG (LINKTYPE_NFLOG): a 4-byte header, then TLVs whose lengths are in
/// host byte order (little-endian in practice); the packet is the
/// NFULA_PAYLOAD (type 9) TLV.
fn nflog(data: &[u8]) -> Result<At, DecodeError> {
    let family = bytes(data, 0, 4, Layer::Link)?[0];
    let mut pos = 4;
    while pos + 4 <= data.len() {
        let t = &data[pos..pos + 4];
        let len = u16::from_le_bytes([t[0], t[1]]) as usize;
        let ty = u16::from_le_bytes([t[2], t[3]]) & 0x7fff;
        if len < 4 {
            return Err(DecodeError::BadHeaderLength {
                layer: Layer::Link,
                offset: pos,
                len,
            });
        }
        if ty == 9 {
            return Ok(match family {
                2 => At::Ipv4(pos + 4),
                10 => At::Ipv6(pos + 4),
                _ => At::IpByVersion(pos + 4),
            });
        }
        pos += (len + 3) & !3;
    }
    Ok(At::NotIp)
}

/// One step below a link header.
pub(crate) fn step(at: At, data: &[u8]) -> Result<At, DecodeError> {
    Ok(match at {
        At::Ethernet(off) => {
            if data.len() < off + 14 {
                return Err(DecodeError::truncated(Layer::Link, off, 14, data));
            }
            At::Ethertype(
                u16::from_be_bytes([data[off + 12], data[off + 13]]),
                off + 14,
            )
        }
        At::Ethertype(ty, off) => ethertype(data, ty, off)?,
        At::Llc(off) => {
            let llc = bytes(data, off, 8, Layer::Link)?;
            if llc[0] == 0xaa && llc[1] == 0xaa && llc[2] == 0x03 {
                At::Ethertype(u16::from_be_bytes([llc[6], llc[7]]), off + 8)
            } else {
                At::NotIp
            }
        }
        At::PppFrame(mut off) => {
            if data.get(off..off + 2) == Some(&[0xff, 0x03]) {
                off += 2;
            }
            // Protocol-field compression (RFC 1661 §6.5): an odd first byte is the whole field.
            match data.get(off) {
                Some(&b) if b & 1 == 1 => At::Ppp(b as u16, off + 1),
                _ => At::Ppp(be16(data, off, Layer::Link)?, off + 2),
            }
        }
        At::Ppp(proto, off) => match proto {
            0x0021 => At::Ipv4(off),
            0x0057 => At::Ipv6(off),
            // MPLS unicast and multicast (RFC 3032 §4).
            0x0281 | 0x0283 => At::Mpls(off),
            _ => At::NotIp,
        },
        At::Mpls(off) => {
            let label = bytes(data, off, 4, Layer::Mpls)?;
            let off = off + 4;
            if label[2] & 0x01 == 0 {
                At::Mpls(off)
            } else {
                // MPLS does not say what it carries; IP is recognised by its version nibble.
                match data.get(off).map(|b| b >> 4) {
                    Some(4) => At::Ipv4(off),
                    Some(6) => At::Ipv6(off),
                    // Pseudowire control word (RFC 4385), then Ethernet.
                    Some(0) => At::Ethernet(off + 4),
                    Some(_) => At::NotIp,
                    None => return Err(DecodeError::truncated(Layer::Mpls, off, 1, data)),
                }
            }
        }
        At::IpByVersion(off) => match data.get(off).map(|b| b >> 4) {
            Some(4) => At::Ipv4(off),
            Some(6) => At::Ipv6(off),
            Some(_) => At::NotIp,
            None => return Err(DecodeError::truncated(Layer::Link, off, 1, data)),
        },
        At::Radiotap(off) => {
            // Radiotap: version, pad, length (LE) of the whole radiotap header.
            let h = bytes(data, off, 4, Layer::Link)?;
            let len = u16::from_le_bytes([h[2], h[3]]) as usize;
            if len < 8 {
                return Err(DecodeError::BadHeaderLength {
                    layer: Layer::Link,
                    offset: off,
                    len,
                });
            }
            At::Ieee80211(off + len)
        }
        At::Ieee80211(off) => ieee80211(data, off)?,
        other => other,
    })
}

/// An 802.11 data frame (IEEE 802.11-2020 §9.2, §9.3.2): its MAC header,
/// then LLC/SNAP. Protected (encrypted) frames cannot be read.
fn ieee80211(data: &[u8], off: usize) -> Result<At, DecodeError> {
    let fc = bytes(data, off, 2, Layer::Link)?;
    let (ty, subtype, flags) = ((fc[0] >> 2) & 3, fc[0] >> 4, fc[1]);
    if ty != 2 || subtype & 0x4 != 0 || flags & 0x40 != 0 {
        return Ok(At::NotIp);
    }
    let mut len = 24;
    if flags & 0x03 == 0x03 {
        len += 6;
    }
    if subtype & 0x8 != 0 {
        let qos = bytes(data, off + len, 2, Layer::Link)?;
        if qos[0] & 0x80 != 0 {
            // An A-MSDU: several subframes, not one LLC payload.
            return Ok(At::NotIp);
        }
        len += 2;
        if flags & 0x80 != 0 {
            len += 4;
        }
    }
    Ok(At::Llc(off + len))
}

/// The header named by ethertype `ty` at `off`: VLAN tags, MPLS, PPPoE and
/// the other shims that sit between a link header and IP.
fn ethertype(data: &[u8], ty: u16, off: usize) -> Result<At, DecodeError> {
    Ok(match ty {
        ETH_IPV4 => At::Ipv4(off),
        ETH_IPV6 => At::Ipv6(off),
        ETH_VLAN | ETH_QINQ | ETH_QINQ_OLD => {
            At::Ethertype(be16(data, off + 2, Layer::Vlan)?, off + 4)
        }
        ETH_VNTAG => At::Ethertype(be16(data, off + 4, Layer::Vlan)?, off + 6),
        // I-TAG (4 bytes), then the customer's MAC addresses and ethertype.
        ETH_PBB => At::Ethertype(be16(data, off + 16, Layer::Link)?, off + 18),
        // FTag/TTL (2 bytes), then a whole inner Ethernet header.
        ETH_FABRICPATH => At::Ethertype(be16(data, off + 14, Layer::Link)?, off + 16),
        ETH_MPLS | ETH_MPLS_MC => At::Mpls(off),
        ETH_PPPOE_SESSION => At::Ppp(be16(data, off + 6, Layer::Pppoe)?, off + 8),
        ETH_PPP => At::PppFrame(off),
        ETH_TEB => At::Ethernet(off),
        // 802.3 length field: LLC follows.
        t if t < 0x0600 => At::Llc(off),
        _ => At::NotIp,
    })
}
