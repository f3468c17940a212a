//! Where the decoder stands between two steps: which header comes next and
//! at which byte. Each step of the walk turns one `At` into the next, so
//! nesting depth never turns into stack depth.

use super::error::Layer;
use super::ip::IpPayload;

#[derive(Debug, Clone, Copy)]
pub(crate) enum At {
    /// An Ethernet II or 802.3 header.
    Ethernet(usize),
    /// The payload of a header that named it by ethertype.
    Ethertype(u16, usize),
    /// An 802.2 LLC header (with SNAP).
    Llc(usize),
    /// A PPP frame: optional address/control, then the protocol field.
    PppFrame(usize),
    /// The payload of a PPP frame with the given protocol.
    Ppp(u16, usize),
    /// An MPLS label stack entry.
    Mpls(usize),
    /// IPv4 or IPv6, told apart by the version nibble.
    IpByVersion(usize),
    Ipv4(usize),
    Ipv6(usize),
    /// An 802.11 MAC header.
    Ieee80211(usize),
    /// A radiotap header followed by an 802.11 frame.
    Radiotap(usize),
    /// The payload of an unfragmented IP packet.
    Transport(IpPayload),
    NotIp,
    Unsupported,
}

impl At {
    /// The layer a step at this point decodes, for errors.
    pub(crate) fn layer(&self) -> Layer {
        match self {
            At::Ethertype(0x8100 | 0x88a8 | 0x9100 | 0x8926, _) => Layer::Vlan,
            At::Ethertype(0x8864, _) => Layer::Pppoe,
            At::Mpls(_) => Layer::Mpls,
            At::Ipv4(_) => Layer::Ipv4,
            At::Ipv6(_) => Layer::Ipv6,
            At::IpByVersion(_) => Layer::Ipv4,
            At::Transport(p) => match p.proto {
                17 => Layer::Udp,
                47 => Layer::Gre,
                51 => Layer::Ah,
                _ => Layer::Tcp,
            },
            _ => Layer::Link,
        }
    }

    pub(crate) fn offset(&self) -> usize {
        match *self {
            At::Ethernet(o)
            | At::Ethertype(_, o)
            | At::Llc(o)
            | At::PppFrame(o)
            | At::Ppp(_, o)
            | At::Mpls(o)
            | At::IpByVersion(o)
            | At::Ipv4(o)
            | At::Ipv6(o)
            | At::Ieee80211(o)
            | At::Radiotap(o) => o,
            At::Transport(p) => p.off,
            At::NotIp | At::Unsupported => 0,
        }
    }
}
