//! Counts what the decoder makes of each capture, with fragment reassembly,
//! for comparing with other tools (docs/decoding.md):
//! cargo run --release --example decode-count -- FILE...
//!
//! Prints one line per file: path, TCP segments, ICMP errors quoting TCP,
//! fragments held, decode errors, unsupported-link frames.

use std::path::Path;
use tcpshake::capture::{Frame, read_path};
use tcpshake::decode::{Decoded, Reassembled, Reassembler, decode_frame};

fn main() {
    for arg in std::env::args().skip(1) {
        let (mut tcp, mut icmp, mut held, mut errors, mut unsupported) =
            (0u64, 0u64, 0u64, 0u64, 0u64);
        let mut reasm = Reassembler::default();
        let mut count = |d: Decoded<'_>| match d {
            Decoded::Tcp(_) => tcp += 1,
            Decoded::IcmpError(_) => icmp += 1,
            Decoded::UnsupportedLink(_) => unsupported += 1,
            _ => {}
        };
        let mut sink = |f: &Frame<'_>| match decode_frame(f) {
            Ok(Decoded::Fragment) => match reasm.push(f) {
                Ok(Reassembled::Complete(d)) => count(d),
                Ok(_) => held += 1,
                Err(_) => errors += 1,
            },
            Ok(d) => count(d),
            Err(_) => errors += 1,
        };
        let read = read_path(Path::new(&arg), &mut sink);
        reasm.finish();
        let events = reasm.drain_events().count();
        match read {
            Ok(_) => println!("{arg} {tcp} {icmp} {held} {errors} {unsupported} {events}"),
            Err(e) => println!("{arg} unreadable: {e}"),
        }
    }
}
