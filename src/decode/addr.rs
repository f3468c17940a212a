//! IP addresses held by value, shared by every layer that names an endpoint.

use serde::{Serialize, Serializer};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

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
