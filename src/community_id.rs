//! The Community ID flow hash (version 1), the identifier Zeek, Suricata and
//! Arkime share for a flow, so a tcpshake connection can be joined with their
//! records. Specification: <https://github.com/corelight/community-id-spec>.

use crate::decode::IpAddress;
use crate::flow::Endpoint;
use base64::Engine;
use sha1::{Digest, Sha1};

/// IANA protocol number of TCP.
pub const TCP: u8 = 6;

/// `1:` followed by the base64 SHA-1 of seed, ordered addresses, protocol,
/// a zero pad byte and the ports in the same order. Both directions of a
/// flow give the same id: the smaller (address, port) goes first.
pub fn community_id(a: Endpoint, b: Endpoint, proto: u8, seed: u16) -> String {
    let key = |e: &Endpoint| -> ([u8; 16], usize, u16) {
        match e.addr {
            IpAddress::V4(x) => {
                let mut o = [0u8; 16];
                o[..4].copy_from_slice(&x);
                (o, 4, e.port)
            }
            IpAddress::V6(x) => (x, 16, e.port),
        }
    };
    let (ka, kb) = (key(&a), key(&b));
    let ordered = (&ka.0[..ka.1], ka.2) <= (&kb.0[..kb.1], kb.2);
    let (first, second) = if ordered { (ka, kb) } else { (kb, ka) };
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(&first.0[..first.1]);
    h.update(&second.0[..second.1]);
    h.update([proto, 0]);
    h.update(first.2.to_be_bytes());
    h.update(second.2.to_be_bytes());
    let digest = h.finalize();
    format!(
        "1:{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn ep(s: &str, port: u16) -> Endpoint {
        let addr = match s.parse::<IpAddr>().unwrap() {
            IpAddr::V4(a) => IpAddress::V4(a.octets()),
            IpAddr::V6(a) => IpAddress::V6(a.octets()),
        };
        Endpoint { addr, port }
    }

    /// The example values published with the specification.
    #[test]
    fn spec_examples() {
        let a = ep("128.232.110.120", 34855);
        let b = ep("66.35.250.204", 80);
        assert_eq!(community_id(a, b, TCP, 0), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
        assert_eq!(community_id(b, a, TCP, 0), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
        let c = ep("192.168.1.52", 54585);
        let d = ep("8.8.8.8", 53);
        assert_eq!(community_id(c, d, 17, 0), "1:d/FP5EW3wiY1vCndhwleRRKHowQ=");
        assert_eq!(community_id(c, d, 17, 1), "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=");
        let e = ep("fe80::200:86ff:fe05:80da", 1022);
        let f = ep("fe80::260:97ff:fe07:69ea", 22);
        assert_eq!(community_id(e, f, TCP, 0), "1:gS2aYcRwGJWe7UratL8/84dclq4=");
        assert_eq!(community_id(f, e, TCP, 0), "1:gS2aYcRwGJWe7UratL8/84dclq4=");
    }
}
