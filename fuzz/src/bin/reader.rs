//! Fuzz target `reader`: see fuzz/harness.rs.

#[path = "../../harness.rs"]
mod harness;

fn main() {
    afl::fuzz!(|data: &[u8]| harness::reader(data));
}
