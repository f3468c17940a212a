//! The words of every finding. The judge stores only the numbers it saw (a
//! [`Detail`]); the sentence is put together here when the finding is printed
//! or serialized, so findings dropped by a cap are never worded.
//!
//! Numbers are relative (ISN = 0) and signed ([`crate::seq::SeqNumber::shown`]:
//! a number before the base is negative, a number without a base raw) unless
//! a field says raw.

use super::{Finding, FindingKind as K};
use crate::decode::{IpAddress, TcpFlags};
use crate::duration::HumanDuration;
use crate::flow::Endpoint;
use std::fmt::{self, Formatter};

/// When resent bytes were first sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FirstSent {
    pub frame: u64,
    /// Seconds between the first sending and the resending.
    pub earlier: f64,
}

/// The numbers behind one finding's message. Each variant belongs to exactly
/// one kind ([`Detail::kind`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Detail {
    // Handshake (RFC 9293 §3.5).
    /// The SYN-ACK's ack is not the client's ISN+1 (`syn_data` bytes of TFO data allowed).
    SynackWrongAck {
        expected_raw: u32,
        syn_data: u32,
        saw: i32,
        saw_raw: u32,
    },
    /// The client's SYN-ACK in a simultaneous open does not acknowledge the server's ISN+1.
    SimultaneousSynackWrongAck {
        expected_raw: u32,
        saw: i32,
        saw_raw: u32,
    },
    ThirdAckWrongAck {
        expected_raw: u32,
        saw: i32,
        saw_raw: u32,
    },
    ThirdAckWrongSeq {
        expected_raw: u32,
        saw: i32,
        saw_raw: u32,
    },
    SynackIsnChanged {
        isn: u32,
        saw: u32,
    },
    SynackWrongDirection,
    SynRetransmission {
        isn: u32,
    },
    ServerSynRetransmission,
    SynackRetransmission,
    SynIsnChanged {
        isn: u32,
        saw: u32,
    },
    SynWithData {
        bytes: u32,
        empty_cookie: bool,
    },
    SynackWithData {
        bytes: u32,
    },
    UnexpectedSynSameIsn,
    UnexpectedSynNewIsn {
        isn: u32,
    },
    UnexpectedServerSyn {
        isn: u32,
    },
    DataBeforeEstablished {
        bytes: u32,
        state: &'static str,
    },
    // Teardown (RFC 9293 §3.6, §3.10.7).
    DataAfterFin {
        fin: i64,
        end: i64,
        bytes: i32,
    },
    FinMoved {
        fin: i64,
        saw: i64,
    },
    /// A first FIN whose sequence number lies below data its sender already sent.
    FinInsideData {
        fin: i64,
        end: i64,
    },
    FinRetransmission {
        seq: i64,
    },
    /// The finding's sender acknowledged the other side's FIN without +1.
    FinNotCounted {
        expected: i64,
        expected_raw: u32,
        saw: i64,
        saw_raw: u32,
        ack_frame: u64,
    },
    RstNotAckingSyn {
        expected_raw: u32,
        saw_raw: u32,
    },
    RstWithoutAckInSynSent,
    RstOutOfWindow {
        low: i64,
        high: i64,
        saw: i64,
        saw_raw: u32,
    },
    // Every segment.
    MissingAckFlag {
        flags: TcpFlags,
    },
    InvalidFlags {
        what: &'static str,
        flags: TcpFlags,
    },
    ScanProbe {
        flags: TcpFlags,
    },
    AckNonzeroWithoutAckFlag {
        flags: TcpFlags,
        ack_raw: u32,
    },
    PortReuse {
        client: Endpoint,
        server: Endpoint,
        last_frame: u64,
        gap: f64,
    },
    TimeWaitReuse {
        gap: f64,
        two_msl_secs: i64,
    },
    // Data transfer.
    Retransmission {
        first: i64,
        last: i64,
        first_sent: Option<FirstSent>,
    },
    FastRetransmission {
        first: i64,
        last: i64,
        dup_acks: i32,
        first_sent: Option<FirstSent>,
    },
    SpuriousRetransmission {
        first: i64,
        last: i64,
        first_sent: Option<FirstSent>,
    },
    OutOfOrder {
        expected: i64,
        saw: i64,
    },
    SegmentGap {
        expected: i64,
        saw: i64,
        bytes: i32,
    },
    AckedUnseen {
        ack: i64,
        /// Just past the peer's highest byte seen.
        seen: i64,
        /// Where the peer's bytes stop being seen without a gap.
        from: i64,
    },
    DuplicateAck {
        count: i32,
        ack: i64,
        original: u64,
    },
    ZeroWindow,
    ZeroWindowProbe {
        byte: i64,
    },
    ZeroWindowProbeAck,
    WindowFull {
        end: i64,
    },
    WindowUpdate {
        window: u16,
    },
    KeepAlive {
        seq: i64,
    },
    KeepAliveAck,
    DataBeyondWindow {
        edge: i64,
        end: i64,
    },
    WindowShrink {
        old: i64,
        new: i64,
    },
    AnalysisLimit {
        segments: usize,
    },
    // ICMP errors quoting the connection.
    IcmpFragNeeded {
        reporter: IpAddress,
        mtu: Option<u32>,
        seq: i64,
    },
    IcmpUnreachable {
        reporter: IpAddress,
        what: &'static str,
        seq: i64,
    },
    IcmpTtlExceeded {
        reporter: IpAddress,
        seq: i64,
    },
    // IP fragments.
    FragmentOverlap {
        first_frame: u64,
        offset: u32,
        discarded: bool,
    },
    FragmentsIncomplete {
        first_frame: u64,
        fragments: u32,
        received: u32,
        total: Option<u32>,
        timeout: bool,
    },
}

impl Detail {
    pub fn kind(&self) -> K {
        use Detail as D;
        match self {
            D::SynackWrongAck { .. } | D::SimultaneousSynackWrongAck { .. } => K::SynackWrongAck,
            D::ThirdAckWrongAck { .. } | D::ThirdAckWrongSeq { .. } => K::HandshakeAckWrong,
            D::SynackIsnChanged { .. } => K::SynackIsnChanged,
            D::SynackWrongDirection => K::SynackWrongDirection,
            D::SynRetransmission { .. } | D::ServerSynRetransmission => K::SynRetransmission,
            D::SynackRetransmission => K::SynackRetransmission,
            D::SynIsnChanged { .. } => K::SynIsnChanged,
            D::SynWithData { .. } | D::SynackWithData { .. } => K::SynWithData,
            D::UnexpectedSynSameIsn
            | D::UnexpectedSynNewIsn { .. }
            | D::UnexpectedServerSyn { .. } => K::UnexpectedSyn,
            D::DataBeforeEstablished { .. } => K::DataBeforeEstablished,
            D::DataAfterFin { .. } | D::FinMoved { .. } => K::DataAfterFin,
            D::FinInsideData { .. } => K::FinInsideData,
            D::FinRetransmission { .. } => K::FinRetransmission,
            D::FinNotCounted { .. } => K::FinNotCounted,
            D::RstNotAckingSyn { .. } | D::RstWithoutAckInSynSent | D::RstOutOfWindow { .. } => {
                K::RstOutOfWindow
            }
            D::MissingAckFlag { .. } => K::MissingAckFlag,
            D::InvalidFlags { .. } => K::InvalidFlags,
            D::ScanProbe { .. } => K::ScanProbe,
            D::AckNonzeroWithoutAckFlag { .. } => K::AckNonzeroWithoutAckFlag,
            D::PortReuse { .. } => K::PortReuse,
            D::TimeWaitReuse { .. } => K::TimeWaitReuse,
            D::Retransmission { .. } => K::Retransmission,
            D::FastRetransmission { .. } => K::FastRetransmission,
            D::SpuriousRetransmission { .. } => K::SpuriousRetransmission,
            D::OutOfOrder { .. } => K::OutOfOrder,
            D::SegmentGap { .. } => K::SegmentGap,
            D::AckedUnseen { .. } => K::AckedUnseen,
            D::DuplicateAck { .. } => K::DuplicateAck,
            D::ZeroWindow => K::ZeroWindow,
            D::ZeroWindowProbe { .. } => K::ZeroWindowProbe,
            D::ZeroWindowProbeAck => K::ZeroWindowProbeAck,
            D::WindowFull { .. } => K::WindowFull,
            D::WindowUpdate { .. } => K::WindowUpdate,
            D::KeepAlive { .. } => K::KeepAlive,
            D::KeepAliveAck => K::KeepAliveAck,
            D::DataBeyondWindow { .. } => K::DataBeyondWindow,
            D::WindowShrink { .. } => K::WindowShrink,
            D::AnalysisLimit { .. } => K::AnalysisLimit,
            D::IcmpFragNeeded { .. } => K::IcmpFragNeeded,
            D::IcmpUnreachable { .. } => K::IcmpUnreachable,
            D::IcmpTtlExceeded { .. } => K::IcmpTtlExceeded,
            D::FragmentOverlap { .. } => K::FragmentOverlap,
            D::FragmentsIncomplete { .. } => K::FragmentsIncomplete,
        }
    }
}

/// " (first sent at frame N, 12.0 ms earlier)", or nothing.
struct First(Option<FirstSent>);

impl fmt::Display for First {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(
                f,
                " (first sent at frame {}, {} earlier)",
                s.frame,
                HumanDuration(s.earlier)
            ),
            None => Ok(()),
        }
    }
}

/// Writes the message of `x`.
pub(super) fn write(f: &mut Formatter<'_>, x: &Finding) -> fmt::Result {
    use Detail as D;
    let frame = x.frame;
    let from = x.from;
    let other = from.other();
    match x.detail {
        D::SynackWrongAck {
            expected_raw,
            syn_data,
            saw,
            saw_raw,
        } => {
            write!(
                f,
                "expected the SYN-ACK to acknowledge 1 (client ISN+1, raw {expected_raw})"
            )?;
            if syn_data > 0 {
                write!(
                    f,
                    " or {} with the SYN's {syn_data} data bytes",
                    1 + syn_data
                )?;
            }
            write!(f, ", saw ack {saw} (raw {saw_raw}) at frame {frame}")
        }
        D::SimultaneousSynackWrongAck {
            expected_raw,
            saw,
            saw_raw,
        } => write!(
            f,
            "expected the SYN-ACK to acknowledge 1 (server ISN+1, raw {expected_raw}), saw {saw} (raw {saw_raw}) at frame {frame}"
        ),
        D::ThirdAckWrongAck {
            expected_raw,
            saw,
            saw_raw,
        } => write!(
            f,
            "expected the third ACK to acknowledge 1 (server ISN+1, raw {expected_raw}), saw ack {saw} (raw {saw_raw}) at frame {frame}"
        ),
        D::ThirdAckWrongSeq {
            expected_raw,
            saw,
            saw_raw,
        } => write!(
            f,
            "expected the third ACK to carry seq 1 (client ISN+1, raw {expected_raw}), saw seq {saw} (raw {saw_raw}) at frame {frame}"
        ),
        D::SynackIsnChanged { isn, saw } => write!(
            f,
            "expected the SYN-ACK to be resent with ISN {isn}, saw ISN {saw} at frame {frame}"
        ),
        D::SynackWrongDirection => write!(
            f,
            "the client, which sent the SYN, sent a SYN-ACK at frame {frame}; the SYN-ACK must come from the server"
        ),
        D::SynRetransmission { isn } => write!(
            f,
            "the client sent its SYN again (same ISN {isn}) at frame {frame}"
        ),
        D::ServerSynRetransmission => {
            write!(f, "the server sent its SYN again at frame {frame}")
        }
        D::SynackRetransmission => write!(
            f,
            "the server sent its SYN-ACK again (same ISN) at frame {frame}"
        ),
        D::SynIsnChanged { isn, saw } => write!(
            f,
            "expected the SYN to be resent with ISN {isn}, saw ISN {saw} at frame {frame}"
        ),
        D::SynWithData {
            bytes,
            empty_cookie,
        } => write!(
            f,
            "the SYN at frame {frame} carries {bytes} bytes of data{}",
            if empty_cookie {
                " (with an empty TCP Fast Open cookie)"
            } else {
                ""
            }
        ),
        D::SynackWithData { bytes } => write!(
            f,
            "the SYN-ACK at frame {frame} carries {bytes} bytes of data"
        ),
        D::UnexpectedSynSameIsn => write!(
            f,
            "a SYN with the connection's own ISN arrived inside the established connection at frame {frame}"
        ),
        D::UnexpectedSynNewIsn { isn } => write!(
            f,
            "a SYN with a new ISN {isn} arrived inside the established connection at frame {frame}"
        ),
        D::UnexpectedServerSyn { isn } => write!(
            f,
            "the server sent a SYN (ISN {isn}) inside the connection at frame {frame}"
        ),
        D::DataBeforeEstablished { bytes, state } => write!(
            f,
            "the {from} sent {bytes} bytes at frame {frame} while still in {state}: expected data only after the handshake"
        ),
        D::DataAfterFin { fin, end, bytes } => write!(
            f,
            "expected no data past the {from}'s FIN at {fin}, saw data up to {end} ({bytes} bytes) at frame {frame}"
        ),
        D::FinMoved { fin, saw } => write!(
            f,
            "expected the FIN to stay at {fin}, saw a FIN at {saw} at frame {frame}: sequence space used after the FIN"
        ),
        D::FinInsideData { fin, end } => write!(
            f,
            "expected the {from}'s FIN after its last data octet at {end}, saw a FIN at {fin} at frame {frame}: the FIN lies inside data already sent"
        ),
        D::FinRetransmission { seq } => write!(
            f,
            "the {from} sent its FIN (seq {seq}) again at frame {frame}"
        ),
        D::FinNotCounted {
            expected,
            expected_raw,
            saw,
            saw_raw,
            ack_frame,
        } => write!(
            f,
            "expected the {from} to acknowledge the {other}'s FIN with {expected} (FIN+1, raw {expected_raw}), saw {saw} (raw {saw_raw}) at frames {ack_frame} and {frame}: the FIN takes one sequence number"
        ),
        D::RstNotAckingSyn {
            expected_raw,
            saw_raw,
        } => write!(
            f,
            "expected a RST answering the SYN to acknowledge 1 (ISN+1, raw {expected_raw}), saw ack {saw_raw} at frame {frame}"
        ),
        D::RstWithoutAckInSynSent => write!(
            f,
            "a RST without ACK cannot answer a SYN (RFC 9293 §3.10.7.3), at frame {frame}"
        ),
        D::RstOutOfWindow {
            low,
            high,
            saw,
            saw_raw,
        } => write!(
            f,
            "expected the RST's seq in the receive window [{low}, {high}), saw {saw} (raw {saw_raw}) at frame {frame}; the {other} must ignore it"
        ),
        D::MissingAckFlag { flags } => write!(
            f,
            "expected the ACK flag on every segment after synchronization, saw [{flags}] from the {from} at frame {frame}"
        ),
        D::ScanProbe { flags } => write!(
            f,
            "[{flags}] without SYN, ACK or RST from the {from} at frame {frame}, outside any connection: a port-scan probe"
        ),
        D::InvalidFlags { what, flags } => write!(
            f,
            "{from} sent a segment with {what} [{flags}] at frame {frame}"
        ),
        D::AckNonzeroWithoutAckFlag { flags, ack_raw } => write!(
            f,
            "{from} sent [{flags}] with acknowledgment field {ack_raw} while the ACK flag is clear, at frame {frame}"
        ),
        D::PortReuse {
            client,
            server,
            last_frame,
            gap,
        } => write!(
            f,
            "new connection on {client} → {server}, {gap:.3} s after the previous connection on these ports ended at frame {last_frame}"
        ),
        D::TimeWaitReuse { gap, two_msl_secs } => write!(
            f,
            "new SYN {gap:.3} s after the previous connection closed with FINs, within 2·MSL ({two_msl_secs} s): the side that closed first may still be in TIME-WAIT"
        ),
        // The data-transfer findings end with the frame, after their numbers.
        D::Retransmission {
            first,
            last,
            first_sent,
        } => write!(
            f,
            "the {from} resent bytes {first}–{last}{}, at frame {frame}",
            First(first_sent)
        ),
        D::FastRetransmission {
            first,
            last,
            dup_acks,
            first_sent,
        } => write!(
            f,
            "the {from} resent bytes {first}–{last} after {dup_acks} duplicate ACKs{}, at frame {frame}",
            First(first_sent)
        ),
        D::SpuriousRetransmission {
            first,
            last,
            first_sent,
        } => write!(
            f,
            "the {from} resent bytes {first}–{last}, which the {other} had already acknowledged{}, at frame {frame}",
            First(first_sent)
        ),
        D::OutOfOrder { expected, saw } => write!(
            f,
            "expected seq {expected} next, saw {saw}: an older segment arriving late, within one round trip, at frame {frame}"
        ),
        D::SegmentGap {
            expected,
            saw,
            bytes,
        } => write!(
            f,
            "expected seq {expected} next, saw {saw}: {bytes} bytes from the {from} were not captured, at frame {frame}"
        ),
        D::AckedUnseen {
            ack,
            seen,
            from: start,
        } => {
            if ack > seen {
                write!(
                    f,
                    "the {from} acknowledges {ack}, but the {other}'s bytes were seen only up to {seen}: {seen}–{ack} never appeared in the capture, at frame {frame}"
                )
            } else {
                write!(
                    f,
                    "the {from} acknowledges {ack}, but not all of the {other}'s bytes {start}–{ack} appeared in the capture (some were missed before later ones), at frame {frame}"
                )
            }
        }
        D::DuplicateAck {
            count,
            ack,
            original,
        } => write!(
            f,
            "duplicate ACK #{count} of ack {ack} (the original at frame {original}), at frame {frame}"
        ),
        D::ZeroWindow => write!(
            f,
            "the {from} advertises a zero window: the {other} must stop sending, at frame {frame}"
        ),
        D::ZeroWindowProbe { byte } => write!(
            f,
            "the {from} probes the zero window with byte {byte}, at frame {frame}"
        ),
        D::ZeroWindowProbeAck => write!(
            f,
            "the {from} answers the zero-window probe; its window is still 0, at frame {frame}"
        ),
        D::WindowFull { end } => write!(
            f,
            "the segment ends at {end}, exactly the {other}'s right window edge, at frame {frame}"
        ),
        D::WindowUpdate { window } => write!(
            f,
            "the {from} updates its window to {window}, at frame {frame}"
        ),
        D::KeepAlive { seq } => write!(
            f,
            "keep-alive from the {from} at seq {seq}, at frame {frame}"
        ),
        D::KeepAliveAck => write!(f, "the {from} answers the keep-alive, at frame {frame}"),
        D::DataBeyondWindow { edge, end } => write!(
            f,
            "expected data only up to {edge} (the {other}'s ack + window), saw data up to {end}, at frame {frame}"
        ),
        D::WindowShrink { old, new } => write!(
            f,
            "expected the right window edge to stay at {old} or move right, saw it move left to {new}, at frame {frame}"
        ),
        D::AnalysisLimit { segments } => write!(
            f,
            "{segments} unacknowledged segments from the {from}: the analysis stops remembering more, at frame {frame}"
        ),
        D::IcmpFragNeeded { reporter, mtu, seq } => {
            write!(f, "fragmentation needed")?;
            if let Some(mtu) = mtu {
                write!(f, ", MTU {mtu}")?;
            }
            write!(
                f,
                ", at frame {frame}: {reporter} could not forward the {from}'s segment at seq {seq}"
            )
        }
        D::IcmpUnreachable {
            reporter,
            what,
            seq,
        } => write!(
            f,
            "{what}, from {reporter} at frame {frame}, about the {from}'s segment at seq {seq}"
        ),
        D::IcmpTtlExceeded { reporter, seq } => write!(
            f,
            "time to live exceeded at {reporter}, at frame {frame}, for the {from}'s segment at seq {seq}"
        ),
        D::FragmentOverlap {
            first_frame,
            offset,
            discarded,
        } => write!(
            f,
            "fragments of one datagram (first at frame {first_frame}) carry different bytes at offset {offset}, at frame {frame}; {}",
            if discarded {
                "the datagram was discarded (RFC 5722)"
            } else {
                "the bytes that came first were kept"
            }
        ),
        D::FragmentsIncomplete {
            first_frame,
            fragments,
            received,
            total,
            timeout,
        } => {
            write!(
                f,
                "a datagram of {fragments} fragments (frames {first_frame}–{frame}) never became whole: {received} bytes received"
            )?;
            if let Some(t) = total {
                write!(f, " of {t}")?;
            }
            f.write_str(if timeout {
                ", the rest did not come within the timeout"
            } else {
                " when the capture ended"
            })
        }
    }
}
