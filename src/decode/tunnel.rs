//! The tunnels a segment was peeled out of, kept by value inside the segment.
//!
//! A segment carried through VXLAN, GENEVE, GTP-U, Teredo, GRE, ERSPAN or IP-in-IP
//! keeps one [`TunnelLayer`] per encapsulation in a fixed-capacity array, so
//! decoding a tunnelled frame allocates nothing. The flow table uses
//! [`TunnelPath::key`] to tell apart connections whose inner addresses repeat
//! in different virtual networks; reports print [`TunnelPath::labels`].

use super::addr::IpAddress;
use serde::{Serialize, Serializer};
use std::fmt;

/// How many encapsulations one segment may be nested in. Deeper frames are a
/// decode error (`nesting_too_deep`), not a silent truncation of the path.
pub const MAX_TUNNELS: usize = 4;

/// The kind of one encapsulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    /// IP in IP: IPv4 or IPv6 protocol 4 or 41 (RFC 2003, RFC 4213), also
    /// the inner packet of an IPsec AH tunnel (RFC 4302 §3.1.2).
    Ip,
    /// GRE (RFC 2784, key and sequence of RFC 2890). `id` is the key, if any.
    Gre,
    /// Enhanced GRE of PPTP (RFC 2637 §4.1). `id` is the call ID.
    Pptp,
    /// WCCP redirection in GRE (draft-wilson-wrec-wccp-v2 §4.12).
    Wccp,
    /// ERSPAN type I, II or III mirrored in GRE. `id` is the session ID.
    Erspan,
    /// VXLAN (RFC 7348). `id` is the VNI.
    Vxlan,
    /// GENEVE (RFC 8926). `id` is the VNI.
    Geneve,
    /// GTP-U (3GPP TS 29.281). `id` is the TEID.
    GtpU,
    /// Teredo (RFC 4380): IPv6 in UDP.
    Teredo,
}

impl TunnelKind {
    fn name(self) -> &'static str {
        match self {
            TunnelKind::Ip => "ip",
            TunnelKind::Gre => "gre",
            TunnelKind::Pptp => "pptp",
            TunnelKind::Wccp => "wccp",
            TunnelKind::Erspan => "erspan",
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::Geneve => "geneve",
            TunnelKind::GtpU => "gtpu",
            TunnelKind::Teredo => "teredo",
        }
    }
}

/// One encapsulation: its kind, its identifier and the outer IP header that
/// carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TunnelLayer {
    pub kind: TunnelKind,
    /// VNI, TEID, GRE key, ERSPAN session or PPTP call ID, when the kind has one.
    pub id: Option<u32>,
    /// Source and destination of the outer IP header.
    pub outer_src: IpAddress,
    pub outer_dst: IpAddress,
}

impl TunnelLayer {
    /// Whether the identifier names a virtual network that both directions
    /// of a connection share, so that it belongs in the flow key.
    ///
    /// GTP-U TEIDs are chosen by the receiving end (3GPP TS 29.281 §5.1) and
    /// PPTP call IDs likewise (RFC 2637 §4.1): they differ by direction, so
    /// they would split a connection in two. Outer addresses are left out
    /// too: WCCP and asymmetric routing return packets outside the tunnel.
    pub fn keys_flow(&self) -> bool {
        self.id.is_some()
            && matches!(
                self.kind,
                TunnelKind::Vxlan | TunnelKind::Geneve | TunnelKind::Gre | TunnelKind::Erspan
            )
    }

    /// The layer's kind label, e.g. `vxlan:vni=42`; `None` for plain IP in IP,
    /// which is described by its outer addresses alone.
    pub fn kind_label(&self) -> Option<KindLabel> {
        (self.kind != TunnelKind::Ip).then_some(KindLabel(*self))
    }

    /// The outer header label, e.g. `ipv4:10.0.0.1→10.0.0.2`.
    pub fn outer_label(&self) -> OuterLabel {
        OuterLabel(*self)
    }
}

/// Display of a tunnel's kind and identifier.
#[derive(Clone, Copy)]
pub struct KindLabel(TunnelLayer);

impl fmt::Display for KindLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.0;
        f.write_str(l.kind.name())?;
        match (l.kind, l.id) {
            (_, None) => Ok(()),
            (TunnelKind::Vxlan | TunnelKind::Geneve, Some(id)) => write!(f, ":vni={id}"),
            (TunnelKind::GtpU, Some(id)) => write!(f, ":teid={id:#010x}"),
            (TunnelKind::Gre, Some(id)) => write!(f, ":key={id}"),
            (TunnelKind::Erspan, Some(id)) => write!(f, ":session={id}"),
            (TunnelKind::Pptp, Some(id)) => write!(f, ":call={id}"),
            (_, Some(id)) => write!(f, ":id={id}"),
        }
    }
}

/// Display of a tunnel's outer IP header.
#[derive(Clone, Copy)]
pub struct OuterLabel(TunnelLayer);

impl fmt::Display for OuterLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.0;
        let v = if l.outer_src.is_v6() { "ipv6" } else { "ipv4" };
        write!(f, "{v}:{}→{}", l.outer_src, l.outer_dst)
    }
}

/// One printable element of a tunnel path.
#[derive(Clone, Copy)]
pub enum TunnelLabel {
    Kind(KindLabel),
    Outer(OuterLabel),
}

impl fmt::Display for TunnelLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunnelLabel::Kind(k) => k.fmt(f),
            TunnelLabel::Outer(o) => o.fmt(f),
        }
    }
}

/// A compact, hashable identity of the virtual networks a segment travelled
/// in: 0 for none. Equal for both directions of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TunnelKey(pub u64);

/// The encapsulations around a segment, outermost first, at most
/// [`MAX_TUNNELS`] deep.
#[derive(Clone, Copy)]
pub struct TunnelPath {
    layers: [TunnelLayer; MAX_TUNNELS],
    len: u8,
}

const NO_LAYER: TunnelLayer = TunnelLayer {
    kind: TunnelKind::Ip,
    id: None,
    outer_src: IpAddress::V4([0; 4]),
    outer_dst: IpAddress::V4([0; 4]),
};

impl TunnelPath {
    pub const EMPTY: TunnelPath = TunnelPath {
        layers: [NO_LAYER; MAX_TUNNELS],
        len: 0,
    };

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// The layers, outermost first.
    #[inline]
    pub fn layers(&self) -> &[TunnelLayer] {
        &self.layers[..self.len as usize]
    }

    /// Appends an inner layer; `false` when the path is full.
    #[inline]
    pub(crate) fn push(&mut self, layer: TunnelLayer) -> bool {
        match self.layers.get_mut(self.len as usize) {
            Some(slot) => {
                *slot = layer;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// The identity for the flow key: the kinds and identifiers of the layers
    /// that [`TunnelLayer::keys_flow`]. One keyed layer maps exactly
    /// (`kind << 32 | id`); nested ones are mixed.
    pub fn key(&self) -> TunnelKey {
        let mut k = 0u64;
        for l in self.layers().iter().filter(|l| l.keys_flow()) {
            let one = ((l.kind as u64 + 1) << 32) | l.id.unwrap_or(0) as u64;
            k = if k == 0 {
                one
            } else {
                k.rotate_left(29).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ one
            };
        }
        TunnelKey(k)
    }

    /// Printable labels, innermost tunnel first: for each layer its kind
    /// label (`vxlan:vni=42`, absent for plain IP in IP) then its outer
    /// header (`ipv4:10.0.0.1→10.0.0.2`).
    pub fn labels(&self) -> impl Iterator<Item = TunnelLabel> + '_ {
        self.layers().iter().rev().flat_map(|l| {
            l.kind_label()
                .map(TunnelLabel::Kind)
                .into_iter()
                .chain(std::iter::once(TunnelLabel::Outer(l.outer_label())))
        })
    }
}

impl Default for TunnelPath {
    fn default() -> Self {
        TunnelPath::EMPTY
    }
}

impl PartialEq for TunnelPath {
    fn eq(&self, other: &Self) -> bool {
        self.layers() == other.layers()
    }
}

impl Eq for TunnelPath {}

impl std::hash::Hash for TunnelPath {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.layers().hash(state)
    }
}

impl fmt::Debug for TunnelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.labels().map(|l| l.to_string()))
            .finish()
    }
}

/// Comma-separated labels, innermost first: `vxlan:vni=42, ipv4:10.0.0.1→10.0.0.2`.
impl fmt::Display for TunnelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, l) in self.labels().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            l.fmt(f)?;
        }
        Ok(())
    }
}

/// A JSON array of labels, innermost first.
impl Serialize for TunnelPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.labels().map(SerLabel))
    }
}

struct SerLabel(TunnelLabel);

impl Serialize for SerLabel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}
