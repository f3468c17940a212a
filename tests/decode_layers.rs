//! The decoder on every encapsulation and link type of docs/decoding.md:
//! tunnel paths and their flow identity, ICMP errors quoting TCP, error
//! messages, depth limits, and no allocation on tunnelled frames.

mod alloc_count;
mod fixtures;

use alloc_count::allocations;
use fixtures::build::*;
use fixtures::encap::{eth, ipv4, tiny, udp};
use fixtures::testdata_path;
use std::path::Path;
use tcpshake::capture::{Frame, read_path};
use tcpshake::decode::{
    DecodeError, Decoded, IcmpKind, Layer, MAX_LAYERS, MAX_TUNNELS, TunnelKey, decode,
    decode_frame, tunnel_path,
};

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

/// (link type, frame bytes, wire length) of every frame of a committed capture.
fn frames_of(name: &str) -> Vec<(u32, Vec<u8>, u32)> {
    let mut out = Vec::new();
    read_path(&testdata_path(name), &mut |f: &Frame<'_>| {
        out.push((f.link_type, f.data.to_vec(), f.orig_len))
    })
    .unwrap();
    out
}

fn frame(lt: u32, data: &[u8], orig_len: u32) -> Frame<'_> {
    Frame {
        number: 1,
        ts: Default::default(),
        link_type: lt,
        orig_len,
        data,
    }
}

/// Tunnel labels (as JSON would show them) and flow identity of each segment.
fn paths(name: &str) -> Vec<(Vec<String>, TunnelKey)> {
    frames_of(name)
        .iter()
        .map(
            |(lt, data, orig)| match decode_frame(&frame(*lt, data, *orig)) {
                Ok(Decoded::Tcp(s)) => {
                    // The segment keeps the path's key and depth; the path
                    // is rebuilt from the frame.
                    let path = tunnel_path(&frame(*lt, data, *orig));
                    assert_eq!(
                        (s.tunnel, s.tunnel_depth as usize),
                        (path.key(), path.len())
                    );
                    (
                        serde_json::to_value(path)
                            .unwrap()
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|v| v.as_str().unwrap().to_string())
                            .collect(),
                        s.tunnel,
                    )
                }
                other => panic!("{name}: {other:?}"),
            },
        )
        .collect()
}

#[test]
fn every_encapsulation_fixture_gives_all_its_segments() {
    let names = [
        "link-sll-arphrd.pcap",
        "link-80211.pcap",
        "link-radiotap.pcap",
        "link-ppi.pcap",
        "link-nflog.pcap",
        "link-ipoib.pcap",
        "link-chdlc.pcap",
        "link-fcs-bits.pcap",
        "link-ppp-mpls.pcap",
        "tunnel-vxlan.pcap",
        "tunnel-geneve.pcap",
        "tunnel-gtpu.pcap",
        "tunnel-gre-key.pcap",
        "tunnel-gre-teb.pcap",
        "tunnel-wccp.pcap",
        "tunnel-erspan2.pcap",
        "tunnel-erspan3.pcap",
        "tunnel-pptp.pcap",
        "tunnel-6in4.pcap",
        "tunnel-4in6.pcap",
        "tunnel-4in4.pcap",
        "tunnel-teredo.pcap",
        "ipsec-ah-transport.pcap",
        "ipsec-ah-tunnel.pcap",
    ];
    for name in names {
        let fr = frames_of(name);
        let mut seqs = Vec::new();
        for (lt, data, orig) in &fr {
            match decode_frame(&frame(*lt, data, *orig)) {
                Ok(Decoded::Tcp(s)) => seqs.push((s.src_port, s.seq.0, s.payload_len)),
                other => panic!("{name}: {other:?}"),
            }
        }
        // The same segments as the plain dialog.
        let d = if name.contains("6in4")
            || name.contains("gre-teb")
            || name.contains("gtpu")
            || name.contains("teredo")
        {
            fixtures::encap::tiny_v6()
        } else {
            tiny()
        };
        let want: Vec<_> = d
            .segs
            .iter()
            .map(|s| {
                let port = if s.from_client {
                    d.client.1
                } else {
                    d.server.1
                };
                (port, s.seq, s.payload_len as u32)
            })
            .collect();
        assert_eq!(seqs, want, "{name}");
    }
}

#[test]
fn tunnel_paths_are_labelled_innermost_first() {
    let p = paths("tunnel-vxlan.pcap");
    assert_eq!(p[0].0, ["vxlan:vni=42", "ipv4:192.0.2.1→192.0.2.2"]);
    assert_eq!(p[1].0, ["vxlan:vni=42", "ipv4:192.0.2.2→192.0.2.1"]);
    assert_eq!(
        paths("tunnel-geneve.pcap")[0].0,
        ["geneve:vni=7", "ipv6:2001:db8::a→2001:db8::b"]
    );
    assert_eq!(
        paths("tunnel-gtpu.pcap")[0].0,
        ["gtpu:teid=0x00001111", "ipv4:192.0.2.1→192.0.2.2"]
    );
    assert_eq!(
        paths("tunnel-gtpu.pcap")[1].0,
        ["gtpu:teid=0x00002222", "ipv4:192.0.2.2→192.0.2.1"]
    );
    assert_eq!(
        paths("tunnel-gre-key.pcap")[0].0,
        ["gre:key=1000", "ipv4:192.0.2.1→192.0.2.2"]
    );
    assert_eq!(
        paths("tunnel-gre-teb.pcap")[0].0,
        ["gre", "ipv4:192.0.2.1→192.0.2.2"]
    );
    assert_eq!(
        paths("tunnel-erspan2.pcap")[0].0,
        ["erspan:session=7", "ipv4:192.0.2.1→192.0.2.2"]
    );
    assert_eq!(
        paths("tunnel-erspan3.pcap")[0].0,
        ["erspan:session=9", "ipv4:192.0.2.1→192.0.2.2"]
    );
    assert_eq!(
        paths("tunnel-pptp.pcap")[0].0,
        ["pptp:call=5", "ipv4:192.0.2.1→192.0.2.2"]
    );
    assert_eq!(paths("tunnel-6in4.pcap")[0].0, ["ipv4:192.0.2.1→192.0.2.2"]);
    assert_eq!(
        paths("tunnel-4in6.pcap")[0].0,
        ["ipv6:2001:db8::a→2001:db8::b"]
    );
    assert_eq!(
        paths("tunnel-teredo.pcap")[0].0,
        ["teredo", "ipv4:192.0.2.1→192.0.2.2"]
    );
    assert_eq!(
        paths("tunnel-teredo-other-port.pcap")[0].0,
        ["teredo", "ipv4:192.0.2.1→192.0.2.2"]
    );
    assert_eq!(
        paths("ipsec-ah-tunnel.pcap")[0].0,
        ["ipv6:2001:db8::a→2001:db8::b"]
    );
    let wccp = paths("tunnel-wccp.pcap");
    assert_eq!(wccp[0].0, ["wccp", "ipv4:192.0.2.1→192.0.2.2"]);
    assert!(
        wccp[1].0.is_empty(),
        "the server's packets are not tunnelled"
    );
    for name in [
        "link-sll-arphrd.pcap",
        "ipsec-ah-transport.pcap",
        "link-ppp-mpls.pcap",
    ] {
        assert!(
            paths(name)
                .iter()
                .all(|(l, k)| l.is_empty() && *k == TunnelKey(0)),
            "{name}"
        );
    }
}

#[test]
fn flow_identity_is_the_same_both_ways_and_keys_virtual_networks_only() {
    for name in [
        "tunnel-vxlan.pcap",
        "tunnel-geneve.pcap",
        "tunnel-gtpu.pcap",
        "tunnel-gre-key.pcap",
        "tunnel-pptp.pcap",
        "tunnel-wccp.pcap",
        "tunnel-erspan2.pcap",
    ] {
        let keys: Vec<TunnelKey> = paths(name).iter().map(|p| p.1).collect();
        assert!(keys.iter().all(|k| *k == keys[0]), "{name}: {keys:?}");
    }
    // VNI, GRE key and ERSPAN session name a virtual network; TEIDs, PPTP
    // call IDs and bare WCCP/IP-in-IP do not.
    assert_ne!(paths("tunnel-vxlan.pcap")[0].1, TunnelKey(0));
    assert_ne!(paths("tunnel-gre-key.pcap")[0].1, TunnelKey(0));
    assert_ne!(paths("tunnel-erspan2.pcap")[0].1, TunnelKey(0));
    assert_eq!(paths("tunnel-gtpu.pcap")[0].1, TunnelKey(0));
    assert_eq!(paths("tunnel-pptp.pcap")[0].1, TunnelKey(0));
    assert_eq!(paths("tunnel-wccp.pcap")[0].1, TunnelKey(0));
}

fn vxlan_frame(vni: u32, inner_ip: &[u8]) -> Vec<u8> {
    let v = vni.to_be_bytes();
    let mut vx = vec![0x08, 0, 0, 0, v[1], v[2], v[3], 0];
    vx.extend_from_slice(&fixtures::build::frame(Link::Ethernet, inner_ip));
    eth(
        0x0800,
        &ipv4([192, 0, 2, 1], [192, 0, 2, 2], 17, &udp(1234, 4789, &vx)),
    )
}

#[test]
fn the_same_inner_connection_in_two_vnis_has_two_identities() {
    let d = tiny();
    let syn = ip_packet(&d, &d.segs[0]);
    let key = |vni| match decode(1, &vxlan_frame(vni, &syn)) {
        Ok(Decoded::Tcp(s)) => (s.src, s.src_port, s.dst, s.dst_port, s.tunnel),
        other => panic!("{other:?}"),
    };
    let (a, b) = (key(1), key(2));
    assert_eq!((a.0, a.1, a.2, a.3), (b.0, b.1, b.2, b.3));
    assert_ne!(a.4, b.4);
    assert_eq!(key(1), key(1));
}

#[test]
fn tunnels_deeper_than_the_cap_are_a_typed_error() {
    let d = tiny();
    let mut p = ip_packet(&d, &d.segs[0]);
    for _ in 0..=MAX_TUNNELS {
        let mut g = vec![0x00, 0x00, 0x08, 0x00];
        g.extend_from_slice(&p);
        p = ipv4([192, 0, 2, 1], [192, 0, 2, 2], 47, &g);
    }
    let err = decode(101, &p).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::TooDeep {
                layer: Layer::Gre,
                limit: MAX_TUNNELS,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.reason(), "nesting_too_deep");
    // One fewer fits.
    let mut p = ip_packet(&d, &d.segs[0]);
    for _ in 0..MAX_TUNNELS {
        let mut g = vec![0x00, 0x00, 0x08, 0x00];
        g.extend_from_slice(&p);
        p = ipv4([192, 0, 2, 1], [192, 0, 2, 2], 47, &g);
    }
    match decode(101, &p) {
        Ok(Decoded::Tcp(s)) => assert_eq!(s.tunnel_depth as usize, MAX_TUNNELS),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_220_kb_stack_of_mpls_labels_stops_at_the_depth_limit() {
    // Before, each nested header was a recursive call: this frame overflowed the stack.
    let mut f = eth(0x8847, &[]);
    while f.len() < 220_000 {
        f.extend_from_slice(&[0x00, 0x01, 0x00, 0x40]);
    }
    let err = decode(1, &f).unwrap_err();
    assert_eq!(
        err,
        DecodeError::TooDeep {
            layer: Layer::Mpls,
            offset: 14 + 4 * (MAX_LAYERS - 2),
            limit: MAX_LAYERS
        }
    );
    // Pseudowires nested in pseudowires (MPLS, control word, Ethernet, MPLS…) too.
    let mut f = eth(0x8847, &[]);
    while f.len() < 220_000 {
        f.extend_from_slice(&[0x00, 0x01, 0x01, 0x40, 0, 0, 0, 0]);
        f.extend_from_slice(&eth(0x8847, &[]));
    }
    assert!(matches!(decode(1, &f), Err(DecodeError::TooDeep { .. })));
}

#[test]
fn a_short_sll_header_says_how_short() {
    let err = decode(113, &[0, 0, 3, 4, 0, 0, 0, 0, 0, 0]).unwrap_err();
    assert_eq!(err.reason(), "link_header_truncated");
    assert_eq!(
        err.to_string(),
        "link header cut at byte 0: needs 16 bytes, 10 captured"
    );
    // A long enough header of any hardware type is decoded by its protocol field.
    let d = tiny();
    for hatype in [1u16, 512, 772, 776, 778, 823, 65534, 530, 280] {
        let mut f = vec![0, 0];
        f.extend_from_slice(&hatype.to_be_bytes());
        f.extend_from_slice(&[0, 4, 192, 0, 2, 1, 0, 0, 0, 0, 0x08, 0x00]);
        f.extend_from_slice(&ip_packet(&d, &d.segs[0]));
        assert!(
            matches!(decode(113, &f), Ok(Decoded::Tcp(_))),
            "ARPHRD {hatype}"
        );
    }
}

#[test]
fn icmp_errors_quote_the_connection_and_are_not_segments() {
    let fr = frames_of("icmp-errors.pcap");
    let errors: Vec<_> = fr
        .iter()
        .enumerate()
        .filter_map(
            |(i, (lt, data, orig))| match decode_frame(&frame(*lt, data, *orig)) {
                Ok(Decoded::IcmpError(e)) => Some((i + 1, e)),
                _ => None,
            },
        )
        .collect();
    let summary: Vec<_> = errors
        .iter()
        .map(|(n, e)| {
            (
                *n,
                e.kind,
                e.mtu,
                e.src_port,
                e.dst_port,
                e.seq.0,
                e.src.to_string(),
                e.reporter.to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                2,
                IcmpKind::PortUnreachable,
                None,
                40001,
                81,
                1000,
                "10.0.0.1".into(),
                "10.0.0.2".into()
            ),
            (
                7,
                IcmpKind::FragmentationNeeded,
                Some(1400),
                40000,
                80,
                1001,
                "10.0.0.1".into(),
                "10.0.0.254".into()
            ),
            (
                14,
                IcmpKind::TimeExceeded,
                None,
                40003,
                443,
                1000,
                "10.0.0.1".into(),
                "10.0.0.254".into()
            ),
            (
                16,
                IcmpKind::AdminProhibited,
                None,
                40000,
                443,
                1000,
                "2001:db8::1".into(),
                "2001:db8::2".into()
            ),
        ]
    );
    assert_eq!(
        (errors[1].1.icmp_type, errors[1].1.code, errors[1].1.v6),
        (3, 4, false)
    );
    assert_eq!(
        (errors[3].1.icmp_type, errors[3].1.code, errors[3].1.v6),
        (1, 1, true)
    );
}

#[test]
fn tso_and_big_tcp_lengths_come_from_the_frame_or_the_jumbo_option() {
    for (name, len) in [
        ("tso-total-length-zero.pcap", 3000),
        ("ipv6-jumbogram.pcap", 70000),
        ("ipv6-big-tcp.pcap", 70000),
    ] {
        let lens: Vec<u32> = frames_of(name)
            .iter()
            .map(
                |(lt, data, orig)| match decode_frame(&frame(*lt, data, *orig)) {
                    Ok(Decoded::Tcp(s)) => s.payload_len,
                    other => panic!("{name}: {other:?}"),
                },
            )
            .collect();
        assert_eq!(
            lens.iter().filter(|&&l| l == len).count(),
            1,
            "{name}: {lens:?}"
        );
    }
}

#[test]
fn link_type_fcs_bits_are_masked() {
    let d = tiny();
    let f = fixtures::build::frame(Link::Ethernet, &ip_packet(&d, &d.segs[0]));
    assert!(matches!(decode(0x4400_0001, &f), Ok(Decoded::Tcp(_))));
    assert!(matches!(
        decode(0x0400_0093, &f),
        Ok(Decoded::UnsupportedLink(147))
    ));
}

#[test]
fn decoding_tunnelled_frames_allocates_nothing() {
    let mut all = Vec::new();
    for name in [
        "tunnel-vxlan.pcap",
        "tunnel-gtpu.pcap",
        "tunnel-erspan3.pcap",
        "link-radiotap.pcap",
        "icmp-errors.pcap",
        "ipv6-jumbogram.pcap",
    ] {
        all.extend(frames_of(name));
    }
    let before = allocations();
    let mut n = 0usize;
    for (lt, data, orig) in &all {
        match decode_frame(&frame(*lt, data, *orig)) {
            Ok(Decoded::Tcp(s)) => n += s.tunnel_depth as usize + 1,
            Ok(Decoded::IcmpError(e)) => n += e.src_port as usize,
            _ => {}
        }
    }
    assert_eq!(allocations(), before);
    assert!(n > 50);
}

#[test]
fn every_committed_capture_decodes_without_panicking_in_a_debug_build() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut frames = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let _ = read_path(&p, &mut |f: &Frame<'_>| {
            frames += 1;
            let _ = decode_frame(f);
        });
    }
    assert!(frames > 500);
}

/// The segment is copied through the pipeline per packet: the tunnel path
/// stays out of it (key and depth only), so it remains a few words wide.
#[test]
fn a_decoded_segment_stays_small() {
    use std::mem::size_of;
    use tcpshake::decode::TcpSegment;
    assert!(
        size_of::<TcpSegment<'_>>() <= 112,
        "{}",
        size_of::<TcpSegment<'_>>()
    );
    assert!(
        size_of::<Decoded<'_>>() <= 120,
        "{}",
        size_of::<Decoded<'_>>()
    );
}

/// Teredo away from port 3544 is recognised by content only: an IPv6 packet
/// filling the datagram, from or to 2001:0::/32. Without the Teredo address,
/// or with a length that does not fill the datagram, the UDP is just UDP.
#[test]
fn teredo_on_other_ports_needs_a_teredo_address_and_an_exact_length() {
    let fr = frames_of("tunnel-teredo-other-port.pcap");
    // Ethernet, outer IPv4, UDP: the inner IPv6 header starts at 42.
    const V6: usize = 42;
    for (lt, data, orig) in &fr {
        assert!(
            matches!(
                decode_frame(&frame(*lt, data, *orig)),
                Ok(Decoded::Tcp(s)) if s.src.is_v6() && s.tunnel_depth == 1
            ),
            "{data:02x?}"
        );
        let mut other = data.clone();
        for a in [V6 + 8, V6 + 24] {
            other[a + 2..a + 4].copy_from_slice(&[0x0d, 0xb8]);
        }
        assert!(
            matches!(
                decode_frame(&frame(*lt, &other, *orig)),
                Ok(Decoded::OtherIp)
            ),
            "no Teredo address"
        );
        let mut short = data.clone();
        short[V6 + 5] = short[V6 + 5].wrapping_sub(1);
        assert!(
            matches!(
                decode_frame(&frame(*lt, &short, *orig)),
                Ok(Decoded::OtherIp)
            ),
            "IPv6 length short of the datagram"
        );
    }
}
