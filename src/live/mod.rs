//! Live capture: the same pipeline, fed from a network interface instead of a
//! file, with idle connections expired by the wall clock.
//!
//! The session ([`run`], [`LiveReport`]) works on any [`FrameSource`]; the
//! libpcap source ([`open`], [`list_interfaces`]) needs the feature `live`.

mod output;
#[cfg(feature = "live")]
mod pcap;
mod session;

#[cfg(feature = "live")]
pub use self::pcap::{PcapSource, default_interface, list_interfaces, open, stop_on_ctrl_c};
pub use output::{LiveFormat, LiveReport, StatusLine};
pub use session::{
    Drops, FrameSource, LiveError, LiveOptions, LiveStatus, Next, Packet, run, run_with_tally,
};
