//! A connection attempt that is one SYN so far, or a SYN and the SYN-ACK that
//! answered it, kept as those segments alone.
//!
//! A SYN flood (RFC 4987 §2) leaves a table of attempts nobody answers, each
//! kept until the idle timeout (a retransmission of the same SYN must join
//! its attempt however late it comes); against a listening server it leaves
//! as many half-open attempts, answered by a SYN-ACK and never completed.
//! Instead of a full connection, such an attempt is its segments' header
//! fields: the connection is made from them, exactly as it would have been at
//! the time, the moment anything else happens to it (another segment, its end).

use super::{Endpoint, Tracker};
use crate::capture::Timestamp;
use crate::decode::{TcpFlags, TcpSegment};
use crate::seq::SeqNumber;

/// Most option bytes a TCP header holds (RFC 9293 §3.1: data offset ≤ 15 words).
const MAX_OPTIONS: usize = 40;

/// One pure SYN and the connection number it was given, and the SYN-ACK that
/// answered it: 128 bytes, and 72 more once answered.
#[derive(Debug, Clone)]
pub(super) struct Attempt {
    pub(super) id: u64,
    client: Endpoint,
    server: Endpoint,
    syn: Header,
    /// The server's SYN-ACK, once it answered.
    reply: Option<Box<Header>>,
}

/// What the judge reads of a segment without payload outside tunnels: its
/// frame, time and header fields.
#[derive(Debug, Clone)]
struct Header {
    frame: u64,
    ts: Timestamp,
    seq: SeqNumber,
    ack: SeqNumber,
    flags: TcpFlags,
    window: u16,
    urgent: u16,
    /// At most 60 (RFC 9293 §3.1).
    header_len: u8,
    options_len: u8,
    options: [u8; MAX_OPTIONS],
}

impl Header {
    /// `seg`'s header, when it has no payload, fits and is in no tunnel.
    fn of(frame: u64, ts: Timestamp, seg: &TcpSegment<'_>) -> Option<Header> {
        if seg.payload_len != 0 || seg.options.len() > MAX_OPTIONS || seg.tunnel_depth != 0 {
            return None;
        }
        let mut options = [0; MAX_OPTIONS];
        options[..seg.options.len()].copy_from_slice(seg.options);
        Some(Header {
            frame,
            ts,
            seq: seg.seq,
            ack: seg.ack,
            flags: seg.flags,
            window: seg.window,
            urgent: seg.urgent,
            header_len: seg.header_len as u8,
            options_len: seg.options.len() as u8,
            options,
        })
    }

    /// The segment again, from `src` to `dst`.
    fn segment(&self, src: Endpoint, dst: Endpoint) -> TcpSegment<'_> {
        TcpSegment {
            src: src.addr,
            dst: dst.addr,
            src_port: src.port,
            dst_port: dst.port,
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.window,
            urgent: self.urgent,
            header_len: self.header_len as u16,
            payload_len: 0,
            options: &self.options[..self.options_len as usize],
            payload: &[],
            tunnel: Default::default(),
            tunnel_depth: 0,
        }
    }
}

impl Attempt {
    /// The attempt a first segment makes, when it is a SYN without ACK, RST,
    /// FIN or payload, and no earlier use of the 4-tuple is remembered (that
    /// one is judged at once), nor a tunnel around it. `client` is its
    /// sender ([`super::roles`] of a SYN).
    pub(super) fn of(
        id: u64,
        frame: u64,
        ts: Timestamp,
        seg: &TcpSegment<'_>,
        client: Endpoint,
        server: Endpoint,
    ) -> Option<Attempt> {
        let f = seg.flags;
        if !(f.syn() && !f.ack() && !f.rst() && !f.fin()) {
            return None;
        }
        Some(Attempt {
            id,
            client,
            server,
            syn: Header::of(frame, ts, seg)?,
            reply: None,
        })
    }

    /// Keeps `seg` as this unanswered attempt's answer if it is a SYN-ACK
    /// from the server, without payload, outside tunnels; `false` leaves the
    /// attempt as it was (the caller makes it a full connection).
    pub(super) fn answer(&mut self, frame: u64, ts: Timestamp, seg: &TcpSegment<'_>) -> bool {
        let f = seg.flags;
        let from_server = seg.src == self.server.addr && seg.src_port == self.server.port;
        let bare_synack = f.syn() && f.ack() && !f.rst() && !f.fin();
        if !bare_synack || !from_server {
            return false;
        }
        match Header::of(frame, ts, seg) {
            Some(h) => {
                self.reply = Some(Box::new(h));
                true
            }
            None => false,
        }
    }

    /// Only the SYN so far.
    pub(super) fn unanswered(&self) -> bool {
        self.reply.is_none()
    }

    /// The connection as it stood after its SYN (and SYN-ACK).
    pub(super) fn promote<C: Tracker>(&self, settings: &C::Settings) -> Box<C> {
        let syn = self.syn.segment(self.client, self.server);
        let mut c = Box::new(C::open(
            self.id,
            self.syn.frame,
            self.syn.ts,
            &syn,
            self.client,
            self.server,
            None,
            settings,
        ));
        c.process(self.syn.frame, self.syn.ts, &syn);
        if let Some(r) = &self.reply {
            c.process(r.frame, r.ts, &r.segment(self.server, self.client));
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_is_small() {
        assert!(size_of::<Attempt>() <= 128, "{}", size_of::<Attempt>());
        assert!(size_of::<Header>() <= 72, "{}", size_of::<Header>());
        // Four address words, the ports and the tunnel key (VNI, GRE key…).
        assert_eq!(size_of::<super::super::FlowKey>(), 48);
    }
}
