//! The judge driven segment by segment, grouped by RFC 9293 state as smoltcp
//! groups its socket tests: no capture files, only segment literals.

use super::{Config, Connection, State};
use crate::capture::Timestamp;
use crate::decode::{IpAddress, TcpFlags, TcpSegment};
use crate::findings::{FindingKind as K, Severity};
use crate::flow::{FlowTable, Tracker, roles};
use crate::model::connection::{Close, ClosedBy, ConnectionReport, Handshake};
use crate::seq::SeqNumber;

const FIN: u16 = TcpFlags::FIN;
const SYN: u16 = TcpFlags::SYN;
const RST: u16 = TcpFlags::RST;
const PSH: u16 = TcpFlags::PSH;
const ACK: u16 = TcpFlags::ACK;

const CLIENT: (IpAddress, u16) = (IpAddress::V4([10, 0, 0, 1]), 40000);
const SERVER: (IpAddress, u16) = (IpAddress::V4([10, 0, 0, 2]), 80);
const ISN_C: u32 = 1000;
const ISN_S: u32 = 5000;

static PAYLOAD: [u8; 1500] = [0; 1500];

/// A segment literal: `len` bytes of payload, a 64 KiB window, no options.
fn segment(from_client: bool, flags: u16, seq: u32, ack: u32, len: u32) -> TcpSegment<'static> {
    let (src, dst) = if from_client {
        (CLIENT, SERVER)
    } else {
        (SERVER, CLIENT)
    };
    TcpSegment {
        src: src.0,
        dst: dst.0,
        src_port: src.1,
        dst_port: dst.1,
        seq: SeqNumber(seq),
        ack: SeqNumber(ack),
        flags: TcpFlags(flags),
        window: 65535,
        urgent: 0,
        header_len: 20,
        payload_len: len,
        options: &[],
        payload: &PAYLOAD[..len as usize],
        tunnel: Default::default(),
        tunnel_depth: 0,
    }
}

/// Both ends of one connection: keeps each side's next sequence number so a
/// test writes only flags and lengths, and numbers segments from frame 1, 1 ms apart.
struct Wire {
    conn: Option<Box<Connection>>,
    config: Config,
    frame: u64,
    ts: Timestamp,
    c_nxt: u32,
    s_nxt: u32,
}

impl Wire {
    fn new() -> Wire {
        Wire {
            conn: None,
            config: Config::default(),
            frame: 0,
            ts: Timestamp::from_parts(1_000, 0),
            c_nxt: ISN_C,
            s_nxt: ISN_S,
        }
    }

    /// Sends one segment with explicit numbers; returns its frame.
    fn raw(&mut self, from_client: bool, flags: u16, seq: u32, ack: u32, len: u32) -> u64 {
        self.frame += 1;
        self.ts = Timestamp(self.ts.0 + 1_000_000);
        let seg = segment(from_client, flags, seq, ack, len);
        let (frame, ts) = (self.frame, self.ts);
        let config = &self.config;
        let conn = self.conn.get_or_insert_with(|| {
            let (client, server) = roles(&seg);
            Box::new(Connection::open(
                1, frame, ts, &seg, client, server, None, config,
            ))
        });
        conn.process(frame, ts, &seg);
        let end = seq
            .wrapping_add(len)
            .wrapping_add((flags & SYN != 0) as u32)
            .wrapping_add((flags & FIN != 0) as u32);
        let nxt = if from_client {
            &mut self.c_nxt
        } else {
            &mut self.s_nxt
        };
        if end.wrapping_sub(*nxt) as i32 > 0 {
            *nxt = end;
        }
        frame
    }

    /// The client sends at its next sequence number, acknowledging all it saw.
    fn c(&mut self, flags: u16, len: u32) -> u64 {
        let ack = if flags & ACK != 0 { self.s_nxt } else { 0 };
        self.raw(true, flags, self.c_nxt, ack, len)
    }

    fn s(&mut self, flags: u16, len: u32) -> u64 {
        let ack = if flags & ACK != 0 { self.c_nxt } else { 0 };
        self.raw(false, flags, self.s_nxt, ack, len)
    }

    fn wait(&mut self, secs: f64) {
        self.ts = Timestamp(self.ts.0 + (secs * 1e9) as i64);
    }

    fn handshake(&mut self) {
        self.c(SYN, 0);
        self.s(SYN | ACK, 0);
        self.c(ACK, 0);
    }

    /// (client, server) states now.
    fn states(&self) -> (State, State) {
        self.conn.as_ref().expect("no segment yet").states()
    }

    fn finish(self) -> ConnectionReport {
        self.conn.expect("no segment yet").finish(&"test".into())
    }
}

/// Findings as `kind@frame`, in frame order.
fn findings(r: &ConnectionReport) -> Vec<String> {
    r.findings
        .iter()
        .map(|f| format!("{}@{}", f.kind, f.frame))
        .collect()
}

fn verdict(r: &ConnectionReport) -> (Handshake, Close, Option<ClosedBy>) {
    (r.handshake, r.close, r.closed_by)
}

mod handshake {
    //! RFC 9293 §3.5: LISTEN, SYN-SENT, SYN-RECEIVED.
    use super::*;

    #[test]
    fn three_way_handshake_walks_both_ends_to_established() {
        let mut w = Wire::new();
        w.c(SYN, 0);
        assert_eq!(w.states(), (State::SynSent, State::Listen));
        w.s(SYN | ACK, 0);
        assert_eq!(w.states(), (State::Established, State::SynReceived));
        w.c(ACK, 0);
        assert_eq!(w.states(), (State::Established, State::Established));
        let r = w.finish();
        assert_eq!(verdict(&r), (Handshake::Complete, Close::Open, None));
        assert!(r.findings.is_empty(), "{:?}", findings(&r));
        assert_eq!(r.isn.client, Some(ISN_C));
        assert_eq!(r.isn.server, Some(ISN_S));
    }

    #[test]
    fn synack_with_wrong_ack_leaves_the_client_in_syn_sent() {
        let mut w = Wire::new();
        w.c(SYN, 0);
        w.raw(false, SYN | ACK, ISN_S, ISN_C + 5, 0);
        assert_eq!(w.states(), (State::SynSent, State::SynReceived));
        let r = w.finish();
        // The ack beyond the SYN also acknowledges bytes never seen (Wireshark's ack_lost_segment).
        assert_eq!(findings(&r), ["synack_wrong_ack@2", "acked_unseen@2"]);
        assert_eq!(r.findings[0].severity, Severity::Error);
        assert_eq!(
            r.findings[0].message().to_string(),
            "expected the SYN-ACK to acknowledge 1 (client ISN+1, raw 1001), saw ack 5 (raw 1005) at frame 2"
        );
        assert_eq!(r.handshake, Handshake::Invalid);
    }

    #[test]
    fn third_ack_with_wrong_ack_does_not_complete_the_handshake() {
        let mut w = Wire::new();
        w.c(SYN, 0);
        w.s(SYN | ACK, 0);
        // Acknowledges the server's ISN itself, not ISN+1.
        w.raw(true, ACK, ISN_C + 1, ISN_S, 0);
        assert_eq!(w.states(), (State::Established, State::SynReceived));
        let r = w.finish();
        assert_eq!(findings(&r), ["handshake_ack_wrong@3"]);
        assert_eq!(r.handshake, Handshake::Invalid);
    }

    #[test]
    fn third_ack_with_wrong_seq_is_reported() {
        let mut w = Wire::new();
        w.c(SYN, 0);
        w.s(SYN | ACK, 0);
        w.raw(true, ACK, ISN_C, ISN_S + 1, 0);
        let r = w.finish();
        // Seq one below the next looks like a keep-alive to the transfer analysis.
        assert_eq!(findings(&r), ["keep_alive@3", "handshake_ack_wrong@3"]);
        assert_eq!(
            r.findings[1].message().to_string(),
            "expected the third ACK to carry seq 1 (client ISN+1, raw 1001), saw seq 0 (raw 1000) at frame 3"
        );
    }

    #[test]
    fn simultaneous_open_synchronizes_both_ends() {
        let mut w = Wire::new();
        w.c(SYN, 0);
        w.s(SYN, 0);
        assert_eq!(w.states(), (State::SynReceived, State::SynReceived));
        w.raw(true, SYN | ACK, ISN_C, ISN_S + 1, 0);
        w.raw(false, SYN | ACK, ISN_S, ISN_C + 1, 0);
        assert_eq!(w.states(), (State::Established, State::Established));
        let r = w.finish();
        assert_eq!(r.handshake, Handshake::SimultaneousOpen);
        assert!(r.findings.is_empty(), "{:?}", findings(&r));
    }

    #[test]
    fn syn_resent_with_a_new_isn_replaces_the_old_one() {
        let mut w = Wire::new();
        w.c(SYN, 0);
        w.raw(true, SYN, 7000, 0, 0);
        w.c_nxt = 7001;
        w.s(SYN | ACK, 0);
        w.c(ACK, 0);
        let r = w.finish();
        assert_eq!(findings(&r), ["syn_isn_changed@2"]);
        assert_eq!(r.isn.client, Some(7000));
        assert_eq!(r.handshake, Handshake::Complete);
    }

    #[test]
    fn syn_resent_with_the_same_isn_is_a_retransmission() {
        let mut w = Wire::new();
        w.c(SYN, 0);
        w.raw(true, SYN, ISN_C, 0, 0);
        w.s(SYN | ACK, 0);
        w.c(ACK, 0);
        let r = w.finish();
        assert_eq!(findings(&r), ["syn_retransmission@2"]);
        assert_eq!(r.handshake, Handshake::Complete);
    }

    #[test]
    fn unanswered_syn() {
        let mut w = Wire::new();
        w.c(SYN, 0);
        let r = w.finish();
        assert_eq!(verdict(&r), (Handshake::Unanswered, Close::None, None));
        assert_eq!(
            (r.client_state, r.server_state),
            (State::SynSent, State::Listen)
        );
    }
}

mod reset {
    //! RST in the handshake states (RFC 9293 §3.10.7.3) and after it (§3.10.7.4).
    use super::*;

    #[test]
    fn rst_answering_the_syn_refuses_the_connection() {
        let mut w = Wire::new();
        w.c(SYN, 0);
        w.raw(false, RST | ACK, 0, ISN_C + 1, 0);
        assert_eq!(w.states(), (State::Closed, State::Closed));
        let r = w.finish();
        assert_eq!(verdict(&r), (Handshake::Refused, Close::None, None));
        assert!(r.findings.is_empty(), "{:?}", findings(&r));
    }

    #[test]
    fn rst_in_syn_sent_not_acknowledging_the_syn_is_ignored() {
        let mut w = Wire::new();
        w.c(SYN, 0);
        w.raw(false, RST | ACK, 0, ISN_C + 7, 0);
        assert_eq!(w.states(), (State::SynSent, State::Listen));
        let r = w.finish();
        assert_eq!(findings(&r), ["acked_unseen@2", "rst_out_of_window@2"]);
        assert_ne!(r.handshake, Handshake::Refused);
    }

    #[test]
    fn rst_without_ack_cannot_answer_a_syn() {
        let mut w = Wire::new();
        w.c(SYN, 0);
        w.raw(false, RST, 0, 0, 0);
        let r = w.finish();
        assert_eq!(findings(&r), ["rst_out_of_window@2"]);
        assert_eq!(
            r.findings[0].message().to_string(),
            "a RST without ACK cannot answer a SYN (RFC 9293 §3.10.7.3), at frame 2"
        );
    }

    #[test]
    fn client_rst_in_syn_received_aborts_the_handshake() {
        let mut w = Wire::new();
        w.c(SYN, 0);
        w.s(SYN | ACK, 0);
        w.c(RST, 0);
        assert_eq!(w.states(), (State::Closed, State::Closed));
        let r = w.finish();
        assert_eq!(r.handshake, Handshake::Aborted);
        assert!(r.findings.is_empty(), "{:?}", findings(&r));
    }

    #[test]
    fn rst_in_established_resets_the_connection() {
        let mut w = Wire::new();
        w.handshake();
        w.s(RST | ACK, 0);
        let r = w.finish();
        assert_eq!(
            verdict(&r),
            (Handshake::Complete, Close::Reset, Some(ClosedBy::Server))
        );
        assert_eq!(
            (r.client_state, r.server_state),
            (State::Closed, State::Closed)
        );
    }

    #[test]
    fn rst_outside_the_window_does_not_end_the_connection() {
        let mut w = Wire::new();
        w.handshake();
        w.c(PSH | ACK, 10);
        w.s(ACK, 0);
        w.raw(false, RST, ISN_S + 1 + 1_000_000, 0, 0);
        assert_eq!(w.states(), (State::Established, State::Established));
        let r = w.finish();
        assert_eq!(findings(&r), ["rst_out_of_window@6"]);
        assert_eq!(r.close, Close::Open);
    }

    #[test]
    fn an_unknown_window_prints_its_right_edge_unsigned() {
        let mut w = Wire::new();
        w.c(SYN, 0);
        // The client's RST at its ISN, below the one sequence number the
        // server expects; the server advertised no window yet (2^31 assumed).
        w.raw(true, RST, ISN_C, 0, 0);
        let r = w.finish();
        let f = r
            .findings
            .iter()
            .find(|f| f.kind == K::RstOutOfWindow)
            .expect("rst_out_of_window");
        assert_eq!(
            f.message().to_string(),
            format!(
                "expected the RST's seq in the receive window [1, 2147483648), saw 0 (raw {ISN_C}) at frame 2; the server must ignore it"
            )
        );
    }

    #[test]
    fn numbers_before_the_isn_print_as_small_negative_numbers() {
        let mut w = Wire::new();
        w.handshake();
        // 50 below the server's ISN: relative -50, not 4294967246.
        w.raw(false, RST, ISN_S - 50, 0, 0);
        let r = w.finish();
        assert_eq!(findings(&r), ["rst_out_of_window@4"]);
        let m = r.findings[0].message().to_string();
        assert_eq!(
            m,
            format!(
                "expected the RST's seq in the receive window [1, 65536), saw -50 (raw {}) at frame 4; the client must ignore it",
                ISN_S - 50
            )
        );
    }
}

mod teardown;

mod every_segment {
    //! Checks on every segment (RFC 9293 §3.1 flags, §3.10.7 ACK after synchronization).
    use super::*;

    #[test]
    fn invalid_flags_are_worded_with_their_flags() {
        let mut w = Wire::new();
        w.handshake();
        w.c(SYN | FIN, 0);
        let r = w.finish();
        assert_eq!(findings(&r), ["invalid_flags@4"]);
        assert_eq!(
            r.findings[0].message().to_string(),
            "client sent a segment with SYN and FIN together [SYN, FIN] at frame 4"
        );
        let json = serde_json::to_value(r.findings[0]).unwrap();
        assert_eq!(json["expected"], "a valid flag combination");
        assert_eq!(json["actual"], "SYN, FIN");
        assert_eq!(json["message"], r.findings[0].message().to_string());
    }

    #[test]
    fn findings_past_the_cap_are_counted_not_kept() {
        let mut w = Wire::new();
        w.handshake();
        for _ in 0..1000 {
            w.c(PSH, 10);
        }
        let r = w.finish();
        assert_eq!(r.findings.len(), super::super::connection::MAX_FINDINGS);
        assert!(r.findings.iter().all(|f| f.kind == K::MissingAckFlag));
        assert_eq!(r.findings.len() as u64 + r.findings_suppressed, 1000);
        // The kept ones are the first, in frame order.
        assert_eq!(r.findings[0].frame, 4);
        assert_eq!(r.findings.last().unwrap().frame, 259);
    }
}

mod every_finding_counts {
    //! The cap on listed findings: counted by kind, errors never crowded out,
    //! consequences of one event listed once with their count.
    use super::*;
    use crate::model::Summary;
    use crate::model::connection::MAX_FINDINGS;
    use crate::report::connection_block;

    #[test]
    fn past_the_cap_findings_are_counted_by_kind() {
        let mut w = Wire::new();
        w.handshake();
        for _ in 0..1000 {
            w.c(PSH, 0);
        }
        let r = w.finish();
        assert_eq!(r.findings.len(), MAX_FINDINGS);
        assert_eq!(
            r.suppressed.get(K::MissingAckFlag),
            1000 - MAX_FINDINGS as u64
        );
        assert_eq!(r.findings_suppressed, 1000 - MAX_FINDINGS as u64);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["suppressed"]["missing_ack_flag"], 744);
        assert_eq!(json["findings_suppressed"], 744);
        // The summary sees all of them.
        let mut sum = Summary::default();
        sum.add(&r);
        assert_eq!(sum.findings["missing_ack_flag"], 1000);
        assert_eq!(sum.findings_by_severity["error"], 1000);
        // The table says where the list stops.
        let block = connection_block(&r);
        assert!(
            block.contains("    … and 744 more missing_ack_flag findings not listed (each severity lists its first 256)\n"),
            "{block}"
        );
    }

    #[test]
    fn errors_are_listed_however_many_warnings_came_first() {
        let mut w = Wire::new();
        w.handshake();
        let seq = w.c_nxt;
        w.c(PSH | ACK, 10);
        // The same ten bytes resent 300 times: 300 retransmission warnings.
        for _ in 0..300 {
            w.wait(1.0);
            w.raw(true, PSH | ACK, seq, ISN_S + 1, 10);
        }
        let error = w.c(SYN | FIN, 0);
        let r = w.finish();
        let warnings = r
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .count();
        assert_eq!(warnings, MAX_FINDINGS);
        assert_eq!(
            r.suppressed.get(K::Retransmission),
            300 - MAX_FINDINGS as u64
        );
        assert!(
            findings(&r).contains(&format!("invalid_flags@{error}")),
            "the error was crowded out"
        );
    }

    #[test]
    fn data_after_one_fin_is_listed_once_with_its_count() {
        let mut w = Wire::new();
        w.handshake();
        w.c(FIN | ACK, 0);
        w.s(ACK, 0);
        let first = w.c(PSH | ACK, 10);
        let mut last = first;
        for _ in 1..50 {
            last = w.c(PSH | ACK, 10);
        }
        // The server's data after its own FIN is another event.
        w.s(FIN | ACK, 0);
        let server = w.s(PSH | ACK, 5);
        let r = w.finish();
        let after: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.kind == K::DataAfterFin)
            .collect();
        assert_eq!(after.len(), 2, "{:?}", findings(&r));
        assert_eq!(
            (
                after[0].from,
                after[0].frame,
                after[0].last_frame,
                after[0].count
            ),
            (crate::findings::Side::Client, first, last, 50)
        );
        assert_eq!(
            (after[1].from, after[1].frame, after[1].count),
            (crate::findings::Side::Server, server, 1)
        );
        let json = serde_json::to_value(after[0]).unwrap();
        assert_eq!(json["count"], 50);
        assert_eq!(json["last_frame"], last);
        let single = serde_json::to_value(after[1]).unwrap();
        assert!(single.get("count").is_none() && single.get("last_frame").is_none());
        let mut sum = Summary::default();
        sum.add(&r);
        assert_eq!(sum.findings["data_after_fin"], 51);
        assert!(
            connection_block(&r).contains(&format!("(50 times, frames {first}–{last})")),
            "{}",
            connection_block(&r)
        );
    }

    #[test]
    fn kinds_reported_once_fit_their_slots() {
        let once = crate::findings::ALL_KINDS
            .iter()
            .filter(|k| k.reported_once())
            .count();
        assert!(once * 2 <= super::super::connection::ONCE_SLOTS);
    }
}

mod table {
    //! The flow table around the judge: where one connection ends and the next begins.
    use super::*;

    #[test]
    fn new_syn_in_time_wait_is_a_reuse() {
        let mut t = FlowTable::new(Config::default(), 1);
        let mut reports = Vec::new();
        let mut emit = |c: Box<Connection>| reports.push(c.finish(&"test".into()));
        let mut frame = 0;
        let mut send = |t: &mut FlowTable<Config>,
                        emit: &mut dyn FnMut(Box<Connection>),
                        secs: i64,
                        from_client: bool,
                        flags: u16,
                        seq: u32,
                        ack: u32| {
            frame += 1;
            let seg = segment(from_client, flags, seq, ack, 0);
            t.segment(frame, Timestamp::from_parts(secs, frame as i64), &seg, emit);
        };
        send(&mut t, &mut emit, 1, true, SYN, ISN_C, 0);
        send(&mut t, &mut emit, 1, false, SYN | ACK, ISN_S, ISN_C + 1);
        send(&mut t, &mut emit, 1, true, ACK, ISN_C + 1, ISN_S + 1);
        send(&mut t, &mut emit, 1, true, FIN | ACK, ISN_C + 1, ISN_S + 1);
        send(&mut t, &mut emit, 1, false, FIN | ACK, ISN_S + 1, ISN_C + 2);
        send(&mut t, &mut emit, 1, true, ACK, ISN_C + 2, ISN_S + 2);
        // Ten seconds later, well within 2·MSL: the client is still in TIME-WAIT.
        send(&mut t, &mut emit, 11, true, SYN, 90_000, 0);
        t.finish_all(&mut emit);
        assert_eq!(reports.len(), 2);
        assert_eq!(reports[0].close, Close::Graceful);
        assert_eq!(reports[0].client_state, State::TimeWait);
        assert_eq!(findings(&reports[1]), ["port_reuse@7", "time_wait_reuse@7"]);
        assert_eq!(
            reports[1].findings[1].message().to_string(),
            "new SYN 10.000 s after the previous connection closed with FINs, within 2·MSL (120 s): the side that closed first may still be in TIME-WAIT"
        );
        assert_eq!(reports[1].tcp_analysis.get("tcp.analysis.reused_ports"), 1);
    }
}
