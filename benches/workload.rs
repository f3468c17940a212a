//! The benchmark workload, shared by the criterion bench and the
//! bench-capture example.

use super::build::*;

const CONNECTIONS: u32 = 50_000;
const CONCURRENT: usize = 500;

/// 50,000 connections of 19 segments each (handshake, six 64-byte requests
/// with their ACKs, close), 500 at a time interleaved: 950,000 frames of 54–118 bytes.
pub fn capture() -> Vec<u8> {
    capture_with(CONNECTIONS, CONCURRENT, 6)
}

/// Long connections: 500 connections of 1,903 segments (950 requests each).
pub fn long_capture() -> Vec<u8> {
    capture_with(500, 500, 950)
}

/// `connections` connections, `concurrent` at a time, each with `requests` 64-byte
/// requests and their ACKs between a handshake and a four-way close.
pub fn capture_with(connections: u32, concurrent: usize, requests: usize) -> Vec<u8> {
    let mut w = tcpshake::capture::PcapWriter::new(Vec::new(), 1).unwrap();
    let mut t = 0f64;
    for batch in 0..(connections as usize / concurrent) {
        let dialogs: Vec<Dialog> = (0..concurrent)
            .map(|i| {
                let n = (batch * concurrent + i) as u32;
                let mut d = Dialog::v4(
                    [10, (n >> 16) as u8, (n >> 8) as u8, n as u8],
                    (1024 + n % 60000) as u16,
                    [192, 168, 0, 1],
                    443,
                )
                .isn(n.wrapping_mul(2_654_435_761), n.wrapping_mul(40_503));
                d.handshake();
                for _ in 0..requests {
                    d.c(PSH | ACK, 64);
                    d.s(ACK, 0);
                }
                d.close_client_first();
                d
            })
            .collect();
        let per = dialogs[0].segs.len();
        for k in 0..per {
            for d in &dialogs {
                let f = frame(Link::Ethernet, &ip_packet(d, &d.segs[k]));
                w.packet(ts(t), &f).unwrap();
                t += 1e-6;
            }
        }
    }
    w.into_inner()
}
