//! IP fragment reassembly: whole datagrams from out-of-order fragments,
//! overlaps with different bytes, datagrams that never complete, memory
//! limits and timeouts, all as typed events.

mod fixtures;

use fixtures::build::*;
use fixtures::encap::{eth, ipv4, ipv6};
use fixtures::testdata_path;
use tcpshake::capture::{Frame, Timestamp, read_path};
use tcpshake::decode::{
    Decoded, FragmentEvent, IncompleteReason, Limit, Reassembled, Reassembler, ReassemblyConfig,
    decode_frame,
};
use tcpshake::flow::FlowTable;
use tcpshake::judge::Config;

struct Run {
    /// (frame number, payload length) of every TCP segment.
    segments: Vec<(u64, u32)>,
    held: Vec<u64>,
    events: Vec<FragmentEvent>,
    /// (handshake, close, findings) of each connection.
    verdicts: Vec<(String, String, Vec<String>)>,
}

/// Decodes a committed capture the way the pipeline should: fragments go
/// through a reassembler, every segment into the flow table.
fn run(name: &str, config: ReassemblyConfig) -> Run {
    let mut reasm = Reassembler::new(config);
    let mut table = FlowTable::new(Config::default(), 1);
    let mut r = Run {
        segments: Vec::new(),
        held: Vec::new(),
        events: Vec::new(),
        verdicts: Vec::new(),
    };
    let mut conns = Vec::new();
    let mut emit = |c: Box<tcpshake::judge::Connection>| conns.push(c.finish(&"t".into()));
    read_path(&testdata_path(name), &mut |f: &Frame<'_>| {
        let seg = match decode_frame(f) {
            Ok(Decoded::Fragment) => match reasm.push(f).unwrap() {
                Reassembled::Complete(Decoded::Tcp(s)) => Some(s),
                Reassembled::Complete(other) => panic!("{other:?}"),
                Reassembled::Held | Reassembled::Dropped => {
                    r.held.push(f.number);
                    None
                }
            },
            Ok(Decoded::Tcp(s)) => Some(s),
            other => panic!("frame {}: {other:?}", f.number),
        };
        if let Some(s) = seg {
            r.segments.push((f.number, s.payload_len));
            table.segment(f.number, f.ts, &s, &mut emit);
        }
        r.events.extend(reasm.drain_events());
    })
    .unwrap();
    reasm.finish();
    r.events.extend(reasm.drain_events());
    table.finish_all(&mut emit);
    for c in conns {
        let v = serde_json::to_value(&c).unwrap();
        r.verdicts.push((
            v["handshake"].as_str().unwrap().into(),
            v["close"].as_str().unwrap().into(),
            v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| format!("{}@{}", a["kind"].as_str().unwrap(), a["frame"]))
                .collect(),
        ));
    }
    r
}

fn clean() -> Vec<(String, String, Vec<String>)> {
    vec![("complete".into(), "graceful".into(), vec![])]
}

#[test]
fn out_of_order_ipv4_fragments_make_a_whole_clean_connection() {
    let r = run("ipv4-fragments.pcap", ReassemblyConfig::default());
    assert_eq!(r.held, [4, 5]);
    // The request belongs to the frame that completed it.
    assert!(r.segments.contains(&(6, 1200)), "{:?}", r.segments);
    assert_eq!(r.segments.len(), 11);
    assert_eq!(r.verdicts, clean());
    assert!(r.events.is_empty(), "{:?}", r.events);
}

#[test]
fn ipv6_fragments_make_a_whole_clean_connection() {
    let r = run("ipv6-fragments.pcap", ReassemblyConfig::default());
    assert_eq!(r.held, [4]);
    assert!(r.segments.contains(&(5, 1200)));
    assert_eq!(r.verdicts, clean());
}

#[test]
fn overlapping_fragments_with_different_bytes_are_reported() {
    let r = run("fragment-overlap.pcap", ReassemblyConfig::default());
    assert_eq!(r.verdicts, clean());
    assert!(r.segments.contains(&(6, 1200)));
    match r.events.as_slice() {
        [
            FragmentEvent::OverlapConflict {
                first_frame: 4,
                frame: 6,
                offset: 504,
                discarded: false,
                key,
            },
        ] => {
            assert_eq!(key.src.to_string(), "10.0.0.1");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_fragment_that_never_completes_is_reported_at_the_end() {
    let r = run("fragment-incomplete.pcap", ReassemblyConfig::default());
    assert_eq!(r.held, [5]);
    assert_eq!(r.verdicts, clean());
    assert_eq!(
        r.events,
        [FragmentEvent::Incomplete {
            key: match r.events[0] {
                FragmentEvent::Incomplete { key, .. } => key,
                _ => unreachable!(),
            },
            first_frame: 5,
            last_frame: 5,
            fragments: 1,
            received: 504,
            total: None,
            reason: IncompleteReason::EndOfCapture,
        }]
    );
}

fn frag_v4(id: u16, offset: u16, more: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 6, payload);
    p[4..6].copy_from_slice(&id.to_be_bytes());
    p[6..8].copy_from_slice(&(((more as u16) << 13) | (offset / 8)).to_be_bytes());
    eth(0x0800, &p)
}

fn at(number: u64, secs: i64, data: &[u8]) -> Frame<'_> {
    Frame {
        number,
        ts: Timestamp(secs * Timestamp::NANOS_PER_SEC),
        link_type: 1,
        orig_len: data.len() as u32,
        data,
    }
}

#[test]
fn the_datagram_limit_drops_and_reports() {
    let mut r = Reassembler::new(ReassemblyConfig {
        max_datagrams: 2,
        ..Default::default()
    });
    for id in 0..3u16 {
        let f = frag_v4(id, 0, true, &[0; 64]);
        let got = r.push(&at(id as u64 + 1, 0, &f)).unwrap();
        assert_eq!(matches!(got, Reassembled::Dropped), id == 2);
    }
    assert_eq!(r.pending(), 2);
    let ev: Vec<_> = r.drain_events().collect();
    assert!(matches!(
        ev.as_slice(),
        [FragmentEvent::LimitReached {
            frame: 3,
            limit: Limit::Datagrams,
            ..
        }]
    ));
    assert_eq!(r.stats().dropped_fragments, 1);
}

#[test]
fn the_byte_limit_drops_and_reports() {
    let mut r = Reassembler::new(ReassemblyConfig {
        max_bytes: 1000,
        ..Default::default()
    });
    assert!(matches!(
        r.push(&at(1, 0, &frag_v4(1, 0, true, &[0; 800]))).unwrap(),
        Reassembled::Held
    ));
    assert!(matches!(
        r.push(&at(2, 0, &frag_v4(2, 0, true, &[0; 400]))).unwrap(),
        Reassembled::Dropped
    ));
    // A fragment far into its datagram is charged for the buffer up to its end.
    assert!(matches!(
        r.push(&at(3, 0, &frag_v4(3, 4000, true, &[0; 8]))).unwrap(),
        Reassembled::Dropped
    ));
    assert!(r.held_bytes() <= 1000);
    let ev: Vec<_> = r.drain_events().collect();
    assert_eq!(ev.len(), 2);
    assert!(ev.iter().all(|e| matches!(
        e,
        FragmentEvent::LimitReached {
            limit: Limit::Bytes,
            ..
        }
    )));
}

#[test]
fn datagrams_time_out_in_capture_time() {
    let mut r = Reassembler::default();
    r.push(&at(1, 0, &frag_v4(7, 0, true, &[0; 64]))).unwrap();
    r.push(&at(2, 20, &frag_v4(8, 0, true, &[0; 64]))).unwrap();
    assert_eq!(r.drain_events().count(), 0);
    // 31 s after the first fragment of datagram 7, 11 s after datagram 8's.
    r.push(&at(3, 31, &frag_v4(9, 0, true, &[0; 64]))).unwrap();
    let ev: Vec<_> = r.drain_events().collect();
    assert!(matches!(
        ev.as_slice(),
        [FragmentEvent::Incomplete {
            first_frame: 1,
            reason: IncompleteReason::Timeout,
            fragments: 1,
            received: 64,
            ..
        }]
    ));
    assert_eq!(r.pending(), 2);
    assert_eq!(r.held_bytes(), 128);
}

#[test]
fn ipv6_overlaps_discard_the_datagram() {
    let frag = |offset: u16, more: bool, fill: u8| {
        let mut fh = vec![6, 0];
        fh.extend_from_slice(&(offset | more as u16).to_be_bytes());
        fh.extend_from_slice(&[0, 0, 0, 9]);
        fh.extend_from_slice(&[fill; 64]);
        let mut a = [0u8; 16];
        a[15] = 1;
        let mut b = a;
        b[15] = 2;
        eth(0x86dd, &ipv6(a, b, 44, &fh))
    };
    let mut r = Reassembler::default();
    let (f1, f2) = (frag(0, true, 1), frag(32, true, 2));
    assert!(matches!(r.push(&at(1, 0, &f1)).unwrap(), Reassembled::Held));
    assert!(matches!(
        r.push(&at(2, 0, &f2)).unwrap(),
        Reassembled::Dropped
    ));
    assert_eq!(r.pending(), 0);
    assert_eq!(r.held_bytes(), 0);
    let ev: Vec<_> = r.drain_events().collect();
    assert!(matches!(
        ev.as_slice(),
        [FragmentEvent::OverlapConflict {
            offset: 32,
            discarded: true,
            ..
        }]
    ));
}

#[test]
fn identical_duplicate_fragments_are_no_conflict() {
    let mut r = Reassembler::default();
    let f = frag_v4(5, 0, true, &[3; 64]);
    r.push(&at(1, 0, &f)).unwrap();
    r.push(&at(2, 0, &f)).unwrap();
    assert_eq!(r.drain_events().count(), 0);
    assert_eq!(r.held_bytes(), 64);
}

#[test]
fn unfragmented_frames_pass_through() {
    let d = fixtures::encap::tiny();
    let f = frame(Link::Ethernet, &ip_packet(&d, &d.segs[0]));
    let mut r = Reassembler::default();
    assert!(matches!(
        r.push(&at(1, 0, &f)).unwrap(),
        Reassembled::Complete(Decoded::Tcp(_))
    ));
    assert_eq!(r.stats().fragments, 0);
}

/// Runs the library's pipeline over a committed capture: connections as
/// JSON values, and the file report.
fn pipeline_json(name: &str) -> (Vec<serde_json::Value>, serde_json::Value) {
    let mut conns = Vec::new();
    let mut next_id = 1;
    let file = tcpshake::pipeline::analyze_path(
        &testdata_path(name),
        &Config::default(),
        &mut next_id,
        &mut |c| conns.push(serde_json::to_value(&c).unwrap()),
        &mut (),
    )
    .unwrap();
    (conns, serde_json::to_value(&file).unwrap())
}

#[test]
fn the_pipeline_reassembles_and_counts_fragment_findings_in_the_file() {
    let (conns, file) = pipeline_json("ipv4-fragments.pcap");
    assert_eq!(conns.len(), 1);
    assert_eq!(file["reassembled_datagrams"], 1);
    assert_eq!(file["ip_fragments"], 3);
    // Ten unfragmented segments plus the datagram completed by frame 6.
    assert_eq!(file["tcp_segments"], 11);
    let (_, file) = pipeline_json("fragment-overlap.pcap");
    assert_eq!(file["fragment_overlaps"], 1);
    let (conns, file) = pipeline_json("fragment-incomplete.pcap");
    assert_eq!(file["fragments_incomplete"], 1);
    assert_eq!(conns[0]["handshake"], "complete");
    // An incomplete datagram names no connection: the file report only.
    assert!(
        conns
            .iter()
            .all(|c| c["findings"].as_array().is_none_or(|f| f.is_empty())),
        "{conns:?}"
    );
}

#[test]
fn an_overlap_conflict_in_a_segment_of_a_connection_is_its_finding_too() {
    let (conns, file) = pipeline_json("fragment-overlap.pcap");
    assert_eq!(file["fragment_overlaps"], 1);
    assert_eq!(conns.len(), 1);
    let findings = conns[0]["findings"].as_array().unwrap();
    let overlap: Vec<_> = findings
        .iter()
        .filter(|f| f["kind"] == "fragment_overlap")
        .collect();
    assert_eq!(overlap.len(), 1, "{findings:?}");
    let f = overlap[0];
    assert_eq!(f["frame"], 6);
    assert_eq!(f["severity"], "error");
    assert_eq!(f["from"], "client");
    assert_eq!(
        f["message"],
        "fragments of one datagram (first at frame 4) carry different bytes at offset 504, at frame 6; the bytes that came first were kept"
    );
}

#[test]
fn icmp_errors_attach_to_the_connection_they_quote() {
    let (conns, file) = pipeline_json("icmp-errors.pcap");
    assert_eq!(file["icmp_errors"], 4);
    assert!(file.get("icmp_errors_unmatched").is_none(), "{file}");
    let frag: Vec<String> = conns
        .iter()
        .flat_map(|c| c["findings"].as_array().unwrap().clone())
        .filter(|f| f["kind"] == "icmp_frag_needed")
        .map(|f| f["message"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(frag.len(), 1, "{conns:?}");
    assert!(frag[0].contains("MTU 1400, at frame 7"), "{}", frag[0]);
    // ICMP errors are not segments.
    let packets: u64 = conns
        .iter()
        .map(|c| {
            c["packets"]["client"].as_u64().unwrap() + c["packets"]["server"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(packets, file["tcp_segments"].as_u64().unwrap());
}

#[test]
fn the_same_inner_tuple_in_two_vnis_is_two_connections_with_their_tunnels() {
    let (conns, _) = pipeline_json("tunnel-vxlan-two-vnis.pcap");
    let tunnels: Vec<String> = conns.iter().map(|c| c["tunnel"].to_string()).collect();
    assert_eq!(
        tunnels,
        [
            r#"["vxlan:vni=1","ipv4:192.0.2.1→192.0.2.2"]"#,
            r#"["vxlan:vni=2","ipv4:192.0.2.1→192.0.2.2"]"#
        ]
    );
    let (conns, _) = pipeline_json("ipv4-fragments.pcap");
    assert!(conns[0].get("tunnel").is_none());
}
