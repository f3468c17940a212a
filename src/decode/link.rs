//! Link layers: find where the IP header starts.

use super::error::{DecodeError, Layer};
use etherparse::{Ethernet2HeaderSlice, LinuxSllHeaderSlice};

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
    pub const RAW: u32 = 101;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
}

/// Human name of a link type, for reports.
pub fn link_type_name(lt: u32) -> &'static str {
    match lt {
        0 => "NULL (BSD loopback)",
        1 => "Ethernet",
        9 => "PPP",
        10 => "FDDI",
        12 | 14 | 101 => "raw IP",
        50 => "PPP in HDLC",
        105 => "IEEE 802.11",
        108 => "LOOP (OpenBSD loopback)",
        113 => "Linux cooked (SLL)",
        127 => "IEEE 802.11 radiotap",
        228 => "raw IPv4",
        229 => "raw IPv6",
        276 => "Linux cooked v2 (SLL2)",
        _ => "unsupported",
    }
}

pub(crate) enum Network {
    Ipv4(usize),
    Ipv6(usize),
    Other,
    Unsupported,
}

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_VLAN: u16 = 0x8100;
const ETH_QINQ: u16 = 0x88a8;
const ETH_QINQ_OLD: u16 = 0x9100;
const ETH_MPLS: u16 = 0x8847;
const ETH_MPLS_MC: u16 = 0x8848;
const ETH_PPPOE_SESSION: u16 = 0x8864;
const ETH_PBB: u16 = 0x88e7;
const ETH_FABRICPATH: u16 = 0x8903;
const ETH_VNTAG: u16 = 0x8926;

/// BSD address families for IPv4 and the IPv6 values used by the BSDs, Darwin and Linux.
fn af_to_network(af: u32, off: usize) -> Option<Network> {
    match af {
        2 => Some(Network::Ipv4(off)),
        10 | 24 | 28 | 30 => Some(Network::Ipv6(off)),
        _ => None,
    }
}

pub(crate) fn network_layer(link_type: u32, data: &[u8]) -> Result<Network, DecodeError> {
    match link_type {
        LinkType::ETHERNET => {
            let eth = Ethernet2HeaderSlice::from_slice(data)
                .map_err(|_| DecodeError::truncated(Layer::Link, 0, 14, data))?;
            ethertype_chain(data, eth.slice().len(), eth.ether_type().0)
        }
        LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 => by_version(data, 0),
        LinkType::IPV4 => Ok(Network::Ipv4(0)),
        LinkType::IPV6 => Ok(Network::Ipv6(0)),
        LinkType::NULL | LinkType::LOOP => {
            let b: [u8; 4] = data
                .get(..4)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| DecodeError::truncated(Layer::Link, 0, 4, data))?;
            // NULL stores the family in the capturing host's byte order, LOOP in
            // network order; real files get both wrong, so accept either.
            Ok(af_to_network(u32::from_le_bytes(b), 4)
                .or_else(|| af_to_network(u32::from_be_bytes(b), 4))
                .unwrap_or(Network::Other))
        }
        LinkType::LINUX_SLL => {
            // The slice validates the header; the protocol field is an ethertype here.
            LinuxSllHeaderSlice::from_slice(data)
                .map_err(|_| DecodeError::truncated(Layer::Link, 0, 16, data))?;
            ethertype_chain(data, 16, u16::from_be_bytes([data[14], data[15]]))
        }
        LinkType::LINUX_SLL2 => {
            if data.len() < 20 {
                return Err(DecodeError::truncated(Layer::Link, 0, 20, data));
            }
            ethertype_chain(data, 20, u16::from_be_bytes([data[0], data[1]]))
        }
        LinkType::PPP | LinkType::PPP_HDLC => {
            let mut off = 0;
            if data.get(..2) == Some(&[0xff, 0x03]) {
                off = 2;
            }
            let proto = be16(data, off, Layer::Link)?;
            Ok(ppp_protocol(proto, off + 2))
        }
        LinkType::FDDI => {
            // Frame control, two addresses, then LLC/SNAP.
            llc_snap(data, 13)
        }
        _ => Ok(Network::Unsupported),
    }
}

fn be16(data: &[u8], off: usize, layer: Layer) -> Result<u16, DecodeError> {
    data.get(off..off + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| DecodeError::truncated(layer, off, 2, data))
}

fn ppp_protocol(proto: u16, off: usize) -> Network {
    match proto {
        0x0021 => Network::Ipv4(off),
        0x0057 => Network::Ipv6(off),
        _ => Network::Other,
    }
}

fn llc_snap(data: &[u8], off: usize) -> Result<Network, DecodeError> {
    let llc = data
        .get(off..off + 8)
        .ok_or_else(|| DecodeError::truncated(Layer::Link, off, 8, data))?;
    if llc[0] == 0xaa && llc[1] == 0xaa && llc[2] == 0x03 {
        ethertype_chain(data, off + 8, u16::from_be_bytes([llc[6], llc[7]]))
    } else {
        Ok(Network::Other)
    }
}

fn by_version(data: &[u8], off: usize) -> Result<Network, DecodeError> {
    match data.get(off).map(|b| b >> 4) {
        Some(4) => Ok(Network::Ipv4(off)),
        Some(6) => Ok(Network::Ipv6(off)),
        Some(_) => Ok(Network::Other),
        None => Err(DecodeError::truncated(Layer::Link, off, 1, data)),
    }
}

/// Follows VLAN tags, MPLS label stacks, PPPoE sessions and the other shims
/// that sit between a link header and IP, starting at `off` with ethertype `ty`.
fn ethertype_chain(data: &[u8], mut off: usize, mut ty: u16) -> Result<Network, DecodeError> {
    // Each shim consumes at least two bytes, so this loop is bounded by the frame.
    loop {
        match ty {
            ETH_IPV4 => return Ok(Network::Ipv4(off)),
            ETH_IPV6 => return Ok(Network::Ipv6(off)),
            ETH_VLAN | ETH_QINQ | ETH_QINQ_OLD => {
                ty = be16(data, off + 2, Layer::Vlan)?;
                off += 4;
            }
            ETH_VNTAG => {
                ty = be16(data, off + 4, Layer::Vlan)?;
                off += 6;
            }
            ETH_PBB => {
                // I-TAG (4 bytes), then the customer's MAC addresses and ethertype.
                ty = be16(data, off + 16, Layer::Link)?;
                off += 18;
            }
            ETH_FABRICPATH => {
                // FTag/TTL (2 bytes), then a whole inner Ethernet header.
                ty = be16(data, off + 14, Layer::Link)?;
                off += 16;
            }
            ETH_MPLS | ETH_MPLS_MC => {
                loop {
                    let label = data
                        .get(off..off + 4)
                        .ok_or_else(|| DecodeError::truncated(Layer::Mpls, off, 4, data))?;
                    off += 4;
                    if label[2] & 0x01 != 0 {
                        break;
                    }
                }
                // MPLS does not say what it carries; IP is recognised by its version nibble.
                return match data.get(off).map(|b| b >> 4) {
                    Some(4) => Ok(Network::Ipv4(off)),
                    Some(6) => Ok(Network::Ipv6(off)),
                    Some(0) => {
                        // Pseudowire control word, then Ethernet.
                        let inner = off + 4;
                        let t = be16(data, inner + 12, Layer::Mpls)?;
                        ethertype_chain(data, inner + 14, t)
                    }
                    Some(_) => Ok(Network::Other),
                    None => Err(DecodeError::truncated(Layer::Mpls, off, 1, data)),
                };
            }
            ETH_PPPOE_SESSION => {
                let proto = be16(data, off + 6, Layer::Pppoe)?;
                return Ok(ppp_protocol(proto, off + 8));
            }
            t if t < 0x0600 => {
                // 802.3 length field: LLC follows.
                return llc_snap(data, off);
            }
            _ => return Ok(Network::Other),
        }
    }
}
