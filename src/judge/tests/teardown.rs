//! FIN-WAIT-1/2, CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT (RFC 9293 §3.6).
use super::*;

#[test]
fn fin_ack_three_way_close() {
    let mut w = Wire::new();
    w.handshake();
    w.c(FIN | ACK, 0);
    assert_eq!(w.states(), (State::FinWait1, State::CloseWait));
    // The server acknowledges the FIN and sends its own in one segment.
    w.s(FIN | ACK, 0);
    assert_eq!(w.states(), (State::TimeWait, State::LastAck));
    w.c(ACK, 0);
    assert_eq!(w.states(), (State::TimeWait, State::Closed));
    let r = w.finish();
    assert_eq!(
        verdict(&r),
        (Handshake::Complete, Close::Graceful, Some(ClosedBy::Client))
    );
    assert!(r.findings.is_empty(), "{:?}", findings(&r));
}

#[test]
fn four_way_close_passes_fin_wait_2() {
    let mut w = Wire::new();
    w.handshake();
    w.s(FIN | ACK, 0);
    w.c(ACK, 0);
    assert_eq!(w.states(), (State::CloseWait, State::FinWait2));
    w.c(FIN | ACK, 0);
    w.s(ACK, 0);
    let r = w.finish();
    assert_eq!(
        (r.client_state, r.server_state),
        (State::Closed, State::TimeWait)
    );
    assert_eq!(
        verdict(&r),
        (Handshake::Complete, Close::Graceful, Some(ClosedBy::Server))
    );
}

#[test]
fn crossing_fins_are_a_simultaneous_close() {
    let mut w = Wire::new();
    w.handshake();
    // Both FINs leave before either arrives: neither acknowledges the other.
    w.raw(true, FIN | ACK, ISN_C + 1, ISN_S + 1, 0);
    w.raw(false, FIN | ACK, ISN_S + 1, ISN_C + 1, 0);
    assert_eq!(w.states(), (State::Closing, State::Closing));
    w.c(ACK, 0);
    w.s(ACK, 0);
    assert_eq!(w.states(), (State::TimeWait, State::TimeWait));
    let r = w.finish();
    assert_eq!(
        verdict(&r),
        (
            Handshake::Complete,
            Close::Simultaneous,
            Some(ClosedBy::Both)
        )
    );
    assert!(r.findings.is_empty(), "{:?}", findings(&r));
}

#[test]
fn fin_with_data() {
    let mut w = Wire::new();
    w.handshake();
    w.c(PSH | FIN | ACK, 100);
    w.s(ACK, 0);
    assert_eq!(w.states(), (State::FinWait2, State::CloseWait));
    w.s(FIN | ACK, 0);
    w.c(ACK, 0);
    let r = w.finish();
    assert_eq!(
        verdict(&r),
        (Handshake::Complete, Close::Graceful, Some(ClosedBy::Client))
    );
    assert_eq!(r.payload_bytes.client, 100);
    assert!(r.findings.is_empty(), "{:?}", findings(&r));
}

#[test]
fn half_close_keeps_data_flowing_the_other_way() {
    let mut w = Wire::new();
    w.handshake();
    w.c(FIN | ACK, 0);
    w.s(ACK, 0);
    w.s(PSH | ACK, 300);
    w.c(ACK, 0);
    assert_eq!(w.states(), (State::FinWait2, State::CloseWait));
    let r = w.finish();
    assert_eq!(
        verdict(&r),
        (
            Handshake::Complete,
            Close::HalfClosed,
            Some(ClosedBy::Client)
        )
    );
    assert_eq!(r.payload_bytes.server, 300);
    assert!(r.findings.is_empty(), "{:?}", findings(&r));
}

#[test]
fn fin_inside_data_already_sent_is_an_error() {
    let mut w = Wire::new();
    w.handshake();
    let at = w.c_nxt;
    w.c(PSH | ACK, 59);
    w.s(ACK, 0);
    let s_nxt = w.s_nxt;
    let frame = w.raw(true, FIN | ACK, at, s_nxt, 0);
    let r = w.finish();
    assert!(
        findings(&r).contains(&format!("fin_inside_data@{frame}")),
        "{:?}",
        findings(&r)
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.kind == K::FinInsideData)
        .unwrap();
    assert_eq!(
        f.message().to_string(),
        "expected the client's FIN after its last data octet at 60, saw a FIN at 1 at frame 6: the FIN lies inside data already sent"
    );
}

#[test]
fn a_close_with_a_fin_inside_data_is_not_graceful() {
    let mut w = Wire::new();
    w.handshake();
    let at = w.c_nxt;
    w.c(PSH | ACK, 59);
    w.s(ACK, 0);
    // The FIN at the first data octet, then a close that would otherwise
    // be graceful: the server acknowledges past it and closes, the
    // client acknowledges the server's FIN.
    let s_nxt = w.s_nxt;
    w.raw(true, FIN | ACK, at, s_nxt, 0);
    w.s(FIN | ACK, 0);
    w.c(ACK, 0);
    let r = w.finish();
    assert!(r.findings.iter().any(|f| f.kind == K::FinInsideData));
    assert_eq!(
        verdict(&r),
        (
            Handshake::Complete,
            Close::UnackedFin,
            Some(ClosedBy::Client)
        )
    );
}

#[test]
fn resent_fin_and_fin_after_resent_data_are_not_inside_data() {
    let mut w = Wire::new();
    w.handshake();
    let at = w.c_nxt;
    w.c(PSH | ACK, 59);
    let s_nxt = w.s_nxt;
    // The same data again, then the FIN at its right edge.
    w.raw(true, PSH | ACK, at, s_nxt, 59);
    let fin_at = w.c_nxt;
    w.c(FIN | ACK, 0);
    // The FIN resent at its own number.
    w.raw(true, FIN | ACK, fin_at, s_nxt, 0);
    w.s(ACK, 0);
    w.s(FIN | ACK, 0);
    w.c(ACK, 0);
    let r = w.finish();
    let kinds = findings(&r);
    assert!(
        !kinds.iter().any(|k| k.starts_with("fin_inside_data")),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|k| k.starts_with("fin_retransmission")),
        "{kinds:?}"
    );
}

#[test]
fn data_after_the_senders_own_fin() {
    let mut w = Wire::new();
    w.handshake();
    w.c(FIN | ACK, 0);
    w.s(ACK, 0);
    let frame = w.c(PSH | ACK, 50);
    let r = w.finish();
    assert!(
        findings(&r).contains(&format!("data_after_fin@{frame}")),
        "{:?}",
        findings(&r)
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.kind == K::DataAfterFin)
        .unwrap();
    assert_eq!(
        f.message().to_string(),
        "expected no data past the client's FIN at 1, saw data up to 52 (51 bytes) at frame 6"
    );
}

#[test]
fn fin_resent_is_a_retransmission() {
    let mut w = Wire::new();
    w.handshake();
    w.c(FIN | ACK, 0);
    w.raw(true, FIN | ACK, ISN_C + 1, ISN_S + 1, 0);
    let r = w.finish();
    assert_eq!(findings(&r), ["fin_retransmission@5"]);
}

#[test]
fn fin_acknowledged_without_plus_one_is_not_counted() {
    let mut w = Wire::new();
    w.handshake();
    w.c(PSH | ACK, 100);
    w.s(PSH | ACK, 1000);
    w.c(ACK, 0);
    let cfin = w.c_nxt;
    w.c(FIN | ACK, 0);
    // The server acknowledges the FIN's own number, then closes, many round trips later.
    w.raw(false, ACK, w.s_nxt, cfin, 0);
    w.wait(0.05);
    let fin = w.raw(false, FIN | ACK, w.s_nxt, cfin, 0);
    w.c(ACK, 0);
    let r = w.finish();
    assert!(
        findings(&r).contains(&format!("fin_not_counted@{fin}")),
        "{:?}",
        findings(&r)
    );
    assert_eq!(r.close, Close::UnackedFin);
    // The client's FIN was never acknowledged with FIN+1: it received the
    // server's FIN in FIN-WAIT-1 and is left in CLOSING.
    assert_eq!(r.client_state, State::Closing);
}
