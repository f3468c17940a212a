use std::fmt;

/// The protocol layer a decode error was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Link,
    Vlan,
    Mpls,
    Pppoe,
    Ipv4,
    Ipv6,
    Ipv6Extension,
    /// IPsec Authentication Header (RFC 4302).
    Ah,
    Udp,
    Gre,
    Vxlan,
    Geneve,
    GtpU,
    Erspan,
    Tcp,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Link => "link",
            Layer::Vlan => "802.1Q",
            Layer::Mpls => "MPLS",
            Layer::Pppoe => "PPPoE",
            Layer::Ipv4 => "IPv4",
            Layer::Ipv6 => "IPv6",
            Layer::Ipv6Extension => "IPv6 extension",
            Layer::Ah => "IPsec AH",
            Layer::Udp => "UDP",
            Layer::Gre => "GRE",
            Layer::Vxlan => "VXLAN",
            Layer::Geneve => "GENEVE",
            Layer::GtpU => "GTP-U",
            Layer::Erspan => "ERSPAN",
            Layer::Tcp => "TCP",
        })
    }
}

/// Why a frame could not be decoded. Each variant names the layer and the
/// byte offset in the frame where decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{layer} header cut at byte {offset}: needs {needed} bytes, {available} captured")]
    Truncated {
        layer: Layer,
        offset: usize,
        needed: usize,
        available: usize,
    },
    #[error("IP version {version} at byte {offset} (expected {expected})")]
    BadIpVersion {
        offset: usize,
        version: u8,
        expected: u8,
    },
    #[error("IPv4 header length (IHL) {ihl} < 5 at byte {offset}")]
    Ipv4IhlTooSmall { offset: usize, ihl: u8 },
    #[error(
        "IPv4 total length {total_len} is shorter than its {header_len}-byte header at byte {offset}"
    )]
    Ipv4TotalLenTooSmall {
        offset: usize,
        total_len: u16,
        header_len: u16,
    },
    #[error(
        "IPv6 extension headers ({ext_len} bytes) overrun the payload length {payload_len} at byte {offset}"
    )]
    Ipv6ExtensionsOverrun {
        offset: usize,
        ext_len: usize,
        payload_len: u32,
    },
    #[error(
        "IPv6 jumbo payload length {jumbo_len} at byte {offset} is not above 65535 (RFC 2675 §3)"
    )]
    Ipv6BadJumbo { offset: usize, jumbo_len: u32 },
    #[error("{layer} header length {len} at byte {offset} is impossible")]
    BadHeaderLength {
        layer: Layer,
        offset: usize,
        len: usize,
    },
    #[error("more than {limit} nested headers: gave up at the {layer} header at byte {offset}")]
    TooDeep {
        layer: Layer,
        offset: usize,
        limit: usize,
    },
    #[error("TCP data offset {data_offset} < 5 at byte {offset}")]
    TcpDataOffsetTooSmall { offset: usize, data_offset: u8 },
    #[error(
        "TCP header ({header_len} bytes) longer than the IP payload ({ip_payload} bytes) at byte {offset}"
    )]
    TcpHeaderBeyondIpPayload {
        offset: usize,
        header_len: u16,
        ip_payload: u32,
    },
    #[error("reassembled IP datagram of {len} bytes exceeds the protocol's maximum")]
    ReassembledTooLong { len: usize },
}

impl DecodeError {
    /// A short stable name for grouping errors in reports.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Truncated { layer, .. } => match layer {
                Layer::Link => "link_header_truncated",
                Layer::Vlan => "vlan_header_truncated",
                Layer::Mpls => "mpls_header_truncated",
                Layer::Pppoe => "pppoe_header_truncated",
                Layer::Ipv4 => "ipv4_header_truncated",
                Layer::Ipv6 => "ipv6_header_truncated",
                Layer::Ipv6Extension => "ipv6_extension_truncated",
                Layer::Ah => "ah_header_truncated",
                Layer::Udp => "udp_header_truncated",
                Layer::Gre => "gre_header_truncated",
                Layer::Vxlan => "vxlan_header_truncated",
                Layer::Geneve => "geneve_header_truncated",
                Layer::GtpU => "gtpu_header_truncated",
                Layer::Erspan => "erspan_header_truncated",
                Layer::Tcp => "tcp_header_truncated",
            },
            DecodeError::BadIpVersion { .. } => "bad_ip_version",
            DecodeError::Ipv4IhlTooSmall { .. } => "ipv4_ihl_too_small",
            DecodeError::Ipv4TotalLenTooSmall { .. } => "ipv4_total_length_too_small",
            DecodeError::Ipv6ExtensionsOverrun { .. } => "ipv6_extensions_overrun",
            DecodeError::Ipv6BadJumbo { .. } => "ipv6_bad_jumbo",
            DecodeError::BadHeaderLength { .. } => "bad_header_length",
            DecodeError::TooDeep { .. } => "nesting_too_deep",
            DecodeError::TcpDataOffsetTooSmall { .. } => "tcp_data_offset_too_small",
            DecodeError::TcpHeaderBeyondIpPayload { .. } => "tcp_header_beyond_ip_payload",
            DecodeError::ReassembledTooLong { .. } => "reassembled_too_long",
        }
    }

    /// The layer the error was found in.
    pub fn layer(&self) -> Layer {
        match *self {
            DecodeError::Truncated { layer, .. }
            | DecodeError::BadHeaderLength { layer, .. }
            | DecodeError::TooDeep { layer, .. } => layer,
            DecodeError::BadIpVersion { expected: 6, .. } => Layer::Ipv6,
            DecodeError::BadIpVersion { .. }
            | DecodeError::Ipv4IhlTooSmall { .. }
            | DecodeError::Ipv4TotalLenTooSmall { .. }
            | DecodeError::ReassembledTooLong { .. } => Layer::Ipv4,
            DecodeError::Ipv6ExtensionsOverrun { .. } => Layer::Ipv6Extension,
            DecodeError::Ipv6BadJumbo { .. } => Layer::Ipv6Extension,
            DecodeError::TcpDataOffsetTooSmall { .. }
            | DecodeError::TcpHeaderBeyondIpPayload { .. } => Layer::Tcp,
        }
    }

    pub(crate) fn truncated(
        layer: Layer,
        offset: usize,
        needed: usize,
        data: &[u8],
    ) -> DecodeError {
        DecodeError::Truncated {
            layer,
            offset,
            needed,
            available: data.len().saturating_sub(offset),
        }
    }
}

/// `len` bytes of `data` at `off`, or a truncation error naming `layer`.
#[inline]
pub(crate) fn bytes(
    data: &[u8],
    off: usize,
    len: usize,
    layer: Layer,
) -> Result<&[u8], DecodeError> {
    data.get(off..off.saturating_add(len))
        .ok_or_else(|| DecodeError::truncated(layer, off, len, data))
}

/// The `N` bytes of `data` at `off` as an array, so that the header fields
/// read from it need no bounds check of their own.
#[inline]
pub(crate) fn array<const N: usize>(
    data: &[u8],
    off: usize,
    layer: Layer,
) -> Result<&[u8; N], DecodeError> {
    data.get(off..off.saturating_add(N))
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| DecodeError::truncated(layer, off, N, data))
}

#[inline]
pub(crate) fn be16(data: &[u8], off: usize, layer: Layer) -> Result<u16, DecodeError> {
    bytes(data, off, 2, layer).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

#[inline]
pub(crate) fn be32(data: &[u8], off: usize, layer: Layer) -> Result<u32, DecodeError> {
    bytes(data, off, 4, layer).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}
