//! The diagnoses: patterns across a listener's connections, each stated with
//! its numbers. Mechanisms, evidence and thresholds are in docs/servers.md;
//! the thresholds are the constants below.

use super::stats::{ClientStats, EPHEMERAL_RANGE, Evidence, ListenerStats};
use super::timeline::{self as tl, Bucket, Examples};
use crate::duration::human_duration;
use schemars::JsonSchema;
use serde::Serialize;

/// syn_queue_drops: at least this many connections answered only after SYN
/// retransmissions on a backoff ladder…
pub const SYN_DROPS_MIN: u64 = 5;
/// …that many percent of the listener's attempts…
pub const SYN_DROPS_MIN_PCT: f64 = 10.0;
/// …from at least this many client addresses.
pub const SYN_DROPS_MIN_CLIENTS: u64 = 3;
/// accept_queue_overflow: connections with a SYN-ACK resent after the final
/// ACK, or a RST in answer to it.
pub const ACCEPT_OVERFLOW_MIN: u64 = 2;
/// syn_flood: attempts never answered or never completed with a single SYN…
pub const FLOOD_MIN: u64 = 50;
/// …at least this share of the attempts…
pub const FLOOD_MIN_PCT: f64 = 50.0;
/// …from at least this many source addresses…
pub const FLOOD_MIN_SOURCES: u64 = 20;
/// …and at most this share of failed attempts with SYN retries.
pub const FLOOD_MAX_RETRY_PCT: f64 = 10.0;
/// syn_cookies_suspected: SYN-ACKs that look like cookies…
pub const COOKIES_MIN: u64 = 3;
/// …under SYN pressure: at least this many failed or retried attempts.
pub const COOKIES_MIN_PRESSURE: u64 = 10;
/// rst_storm: RSTs in one interval, at least…
pub const STORM_MIN: u32 = 10;
/// …and this many times the mean of the other intervals…
pub const STORM_FACTOR: f64 = 5.0;
/// …over at least this many intervals.
pub const STORM_MIN_INTERVALS: usize = 4;
/// time_wait_rejection: challenge ACKs to SYNs (one is a signature).
pub const CHALLENGE_MIN: u64 = 1;
/// time_wait_rejection: dropped SYNs whose TSval went backwards.
pub const PAWS_MIN: u64 = 2;
/// port_exhaustion: reuses of a 4-tuple within 2·MSL from one address…
pub const REUSE_MIN: u64 = 10;
/// …at least this share of its connections; or this share of the whole
/// ephemeral range used.
pub const REUSE_MIN_PCT: f64 = 10.0;
pub const RANGE_USED_PCT: f64 = 90.0;
/// listener_down: refused attempts in a run of intervals where every attempt
/// was refused, with success outside it.
pub const DOWN_MIN_REFUSED: u32 = 3;

/// Every diagnosis, in the order reports list them.
pub const DIAGNOSES: [&str; 8] = [
    "syn_queue_drops",
    "accept_queue_overflow",
    "syn_flood",
    "syn_cookies_suspected",
    "rst_storm",
    "time_wait_rejection",
    "port_exhaustion",
    "listener_down",
];

/// One diagnosis of a listener or a client address.
#[derive(Debug, Clone, Serialize, PartialEq, JsonSchema)]
pub struct Diagnosis {
    pub id: &'static str,
    /// The listener (server ip:port) or, for port_exhaustion, the client address.
    pub subject: String,
    /// Connections (or RSTs, for rst_storm) that show it.
    pub count: u64,
    /// Out of this many (attempts, connections or intervals).
    pub of: u64,
    pub first_frame: u64,
    pub last_frame: u64,
    /// `tcpshake ladder --conn ID` draws one.
    pub examples: Vec<u64>,
    pub message: String,
}

fn pct(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 * 100.0 / of as f64
    }
}

fn diag(
    id: &'static str,
    subject: &str,
    count: u64,
    of: u64,
    ex: &Examples,
    message: String,
) -> Diagnosis {
    Diagnosis {
        id,
        subject: subject.to_string(),
        count,
        of,
        first_frame: ex.first_frame,
        last_frame: ex.last_frame,
        examples: ex.ids(),
        message,
    }
}

fn from_evidence(
    id: &'static str,
    subject: &str,
    e: &Evidence,
    of: u64,
    message: String,
) -> Diagnosis {
    diag(id, subject, e.count, of, &e.examples, message)
}

/// The diagnoses of one listener; `buckets` is its timeline at report width.
pub fn listener(
    subject: &str,
    s: &ListenerStats,
    buckets: &[(i64, Bucket)],
    width: i64,
) -> Vec<Diagnosis> {
    let mut out = Vec::new();
    let e = &s.evidence;
    let tte = s.time_to_establish.summary();
    let d = |v: Option<f64>| v.map_or("-".to_string(), human_duration);

    let n = e.syn_backoff.count;
    if n >= SYN_DROPS_MIN
        && pct(n, s.attempts) >= SYN_DROPS_MIN_PCT
        && e.syn_backoff.sources.count() >= SYN_DROPS_MIN_CLIENTS
    {
        out.push(from_evidence(
            "syn_queue_drops",
            subject,
            &e.syn_backoff,
            s.attempts,
            format!(
                "{n} of {} connections ({:.1}%) from {} were answered only after 1–{} SYN retransmissions on the backoff ladder; time to establish p99 {}: the SYN backlog was full or SYNs were dropped before it (SYN cookies off)",
                s.attempts,
                pct(n, s.attempts),
                e.syn_backoff.sources.describe("client", "clients"),
                e.syn_backoff_max_retries,
                d(tte.p99),
            ),
        ));
    }

    let (sa, rst) = (&e.synack_after_ack, &e.rst_on_final_ack);
    if sa.count + rst.count >= ACCEPT_OVERFLOW_MIN {
        let mut ex = sa.examples;
        ex.merge(&rst.examples);
        let mut parts = Vec::new();
        if sa.count > 0 {
            parts.push(format!(
                "{} connection{} saw the server send its SYN-ACK again after the client's final ACK ({} with the client's data retransmitted): Linux dropped the ACK with a full accept queue (tcp_abort_on_overflow = 0)",
                sa.count,
                if sa.count == 1 { "" } else { "s" },
                e.synack_after_ack_data_retx
            ));
        }
        if rst.count > 0 {
            parts.push(format!(
                "{} connection{} got a RST in answer to the final ACK (tcp_abort_on_overflow = 1)",
                rst.count,
                if rst.count == 1 { "" } else { "s" }
            ));
        }
        out.push(diag(
            "accept_queue_overflow",
            subject,
            sa.count + rst.count,
            s.attempts,
            &ex,
            format!(
                "{} of {} attempts ({:.1}%) overflowed the accept queue: {}",
                sa.count + rst.count,
                s.attempts,
                pct(sa.count + rst.count, s.attempts),
                parts.join("; ")
            ),
        ));
    }

    let f = &e.flood;
    let failed = f.count + e.failed_with_retries;
    if f.count >= FLOOD_MIN
        && pct(failed, s.attempts) >= FLOOD_MIN_PCT
        && f.sources.count() >= FLOOD_MIN_SOURCES
        && pct(e.failed_with_retries, failed) <= FLOOD_MAX_RETRY_PCT
    {
        out.push(from_evidence(
            "syn_flood",
            subject,
            f,
            s.attempts,
            format!(
                "{} of {} attempts ({:.1}%) were never answered or never completed, from {}, none of which sent its SYN again (spoofed sources): a SYN flood",
                f.count,
                s.attempts,
                pct(f.count, s.attempts),
                f.sources.describe("source address", "source addresses"),
            ),
        ));
    }

    let ck = &e.cookie_like;
    let pressure = s.never_answered
        + s.handshake[crate::model::connection::Handshake::NoFinalAck as usize]
        + s.syn_retransmitted;
    if ck.count >= COOKIES_MIN && pressure >= COOKIES_MIN_PRESSURE && e.synack_full_options > 0 {
        out.push(from_evidence(
            "syn_cookies_suspected",
            subject,
            ck,
            s.attempts,
            format!(
                "{} SYN-ACKs dropped the window scale or SACK their SYN offered, without timestamps and with an MSS from the SYN-cookie table, while {} other SYN-ACKs kept them; {pressure} attempts failed or needed SYN retries: the listener was answering with SYN cookies",
                ck.count, e.synack_full_options
            ),
        ));
    }

    if buckets.len() >= STORM_MIN_INTERVALS {
        let rsts = |b: &Bucket| b.counts[tl::RST_CLIENT] + b.counts[tl::RST_SERVER];
        let total: u64 = buckets.iter().map(|(_, b)| rsts(b) as u64).sum();
        if let Some((i, (t, b))) = buckets.iter().enumerate().max_by_key(|(_, (_, b))| rsts(b)) {
            let peak = rsts(b);
            let others = (total - peak as u64) as f64 / (buckets.len() - 1) as f64;
            if peak >= STORM_MIN && peak as f64 >= STORM_FACTOR * others.max(1.0) {
                let from = if b.counts[tl::RST_SERVER] >= b.counts[tl::RST_CLIENT] {
                    "the server"
                } else {
                    "the clients"
                };
                let phases: Vec<String> = crate::model::attempt::RstPhase::ALL
                    .iter()
                    .enumerate()
                    .filter(|(p, _)| s.rst[0][*p] + s.rst[1][*p] > 0)
                    .map(|(p, ph)| format!("{} {}", s.rst[0][p] + s.rst[1][p], ph.as_str()))
                    .collect();
                out.push(diag(
                    "rst_storm",
                    subject,
                    peak as u64,
                    buckets.len() as u64,
                    &b.rst,
                    format!(
                        "{peak} RSTs in the {} interval #{} starting {:.3} s into the capture, {:.1}× the mean of the other intervals ({others:.1}); mostly from {from} ({} from the server, {} from clients); over the whole capture by phase: {}",
                        human_duration(width as f64 / 1e9),
                        i + 1,
                        (t - buckets[0].0) as f64 / 1e9,
                        peak as f64 / others.max(1.0),
                        b.counts[tl::RST_SERVER],
                        b.counts[tl::RST_CLIENT],
                        phases.join(", ")
                    ),
                ));
            }
        }
    }

    let (ch, paws) = (&e.challenge_ack, &e.paws);
    if ch.count >= CHALLENGE_MIN || paws.count >= PAWS_MIN {
        let mut ex = ch.examples;
        ex.merge(&paws.examples);
        let mut parts = Vec::new();
        if ch.count > 0 {
            parts.push(format!(
                "{} SYN{} on a 4-tuple still in TIME-WAIT answered by a bare (challenge) ACK instead of a SYN-ACK",
                ch.count,
                if ch.count == 1 { "" } else { "s" }
            ));
        }
        if paws.count > 0 {
            let (its, they) = if paws.count == 1 {
                ("its", "")
            } else {
                ("their", "s")
            };
            parts.push(format!(
                "{} attempt{they} from {} had {its} SYN dropped (sent again or never answered) while {its} TCP timestamp was up to {} ticks behind that of an earlier answered SYN from the same address (PAWS, RFC 7323 §5)",
                paws.count,
                paws.sources.describe("client address", "client addresses"),
                e.paws_max_behind,
            ));
        }
        let why = match (ch.count > 0, paws.count > 0) {
            (true, false) => "the server rejected new connections from TIME-WAIT",
            (false, _) => {
                "the server checks timestamps per client address (as Linux's former tcp_tw_recycle did), and hosts behind one address (a NAT) have clocks that differ"
            }
            (true, true) => {
                "the server rejected new connections from TIME-WAIT and checks timestamps per client address, which hosts behind one address (a NAT) fail"
            }
        };
        out.push(diag(
            "time_wait_rejection",
            subject,
            ch.count + paws.count,
            s.attempts,
            &ex,
            format!("{}: {why}", parts.join("; ")),
        ));
    }

    // listener_down: the longest run of intervals where every attempt was refused.
    let mut best: Option<(usize, usize, u32)> = None;
    let mut i = 0;
    while i < buckets.len() {
        let all_refused = |b: &Bucket| {
            b.counts[tl::ATTEMPTS] > 0 && b.counts[tl::REFUSED] == b.counts[tl::ATTEMPTS]
        };
        if all_refused(&buckets[i].1) {
            let mut j = i;
            let mut refused = 0;
            while j < buckets.len()
                && (all_refused(&buckets[j].1) || buckets[j].1.counts[tl::ATTEMPTS] == 0)
            {
                refused += buckets[j].1.counts[tl::REFUSED];
                j += 1;
            }
            if best.is_none_or(|(_, _, r)| refused > r) {
                best = Some((i, j, refused));
            }
            i = j;
        } else {
            i += 1;
        }
    }
    if let Some((a, b, refused)) = best {
        let ok_outside = buckets[..a]
            .iter()
            .chain(&buckets[b..])
            .any(|(_, x)| x.counts[tl::COMPLETED] > 0);
        if refused >= DOWN_MIN_REFUSED && ok_outside {
            let mut ex = Examples::default();
            for (_, x) in &buckets[a..b] {
                ex.merge(&x.refused);
            }
            let start = (buckets[a].0 - buckets[0].0) as f64 / 1e9;
            let last_nonempty = buckets[a..b]
                .iter()
                .rposition(|(_, x)| x.counts[tl::ATTEMPTS] > 0)
                .unwrap_or(0)
                + a;
            let end = (buckets[last_nonempty].0 + width - buckets[0].0) as f64 / 1e9;
            out.push(diag(
                "listener_down",
                subject,
                refused as u64,
                s.attempts,
                &ex,
                format!(
                    "every one of {refused} attempts from {start:.3} s to {end:.3} s into the capture was refused with RST, while connections succeeded outside that period: nothing listened on the port then"
                ),
            ));
        }
    }
    out
}

/// port_exhaustion for one client address.
pub fn client(subject: &str, c: &ClientStats) -> Option<Diagnosis> {
    let reuse = c.reused_within_2msl;
    let range = c.distinct_ports();
    let range_pct = range.map_or(0.0, |r| r as f64 * 100.0 / EPHEMERAL_RANGE as f64);
    let reusing = reuse >= REUSE_MIN && pct(reuse, c.connections) >= REUSE_MIN_PCT;
    if !reusing && range_pct < RANGE_USED_PCT {
        return None;
    }
    let rate = c
        .ports_per_second()
        .map_or("-".to_string(), |r| format!("{r:.1}"));
    let none = Evidence::default();
    Some(from_evidence(
        "port_exhaustion",
        subject,
        c.reuse.as_deref().unwrap_or(&none),
        c.connections,
        format!(
            "{reuse} of {} connections ({:.1}%) reused a 4-tuple within 2·MSL, {rate} new ports a second{}: the address is running out of ephemeral ports (a NAT or a proxy)",
            c.connections,
            pct(reuse, c.connections),
            range.map_or(String::new(), |r| format!(
                ", {r} distinct ports ({range_pct:.0}% of the 28232-port ephemeral range)"
            )),
        ),
    ))
}
