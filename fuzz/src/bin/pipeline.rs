//! Fuzz target `pipeline`: see fuzz/harness.rs.

#[path = "../../harness.rs"]
mod harness;

fn main() {
    afl::fuzz!(|data: &[u8]| harness::pipeline(data));
}
