//! The command line: every subcommand's flags, and how they turn into the
//! library's configuration. Part of the binary only.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use tcpshake::check::PolicyFlags;
use tcpshake::duration::{parse_duration, parse_positive_duration};
use tcpshake::filter::FilterArgs;
use tcpshake::judge::Config;

#[derive(Parser)]
#[command(
    name = "tcpshake",
    version,
    about = "Judge every TCP handshake and teardown in a packet capture",
    long_about = "tcpshake reads pcap and pcapng captures (also gzip-compressed, or - for standard input), \
follows every TCP connection, and says whether its three-way handshake and its FIN/RST teardown \
went the way RFC 9293 says they must."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Analyse captures and report every connection's handshake and teardown.
    Analyze(AnalyzeArgs),
    /// Judge captures against a policy: exit 0 when all pass, 1 when one fails, 2 on bad input.
    Check(Box<CheckArgs>),
    /// Draw connections as ladder diagrams (text or Mermaid).
    Ladder(LadderArgs),
    /// Read a busy listener at a glance: connections grouped by server, with
    /// percentiles, a timeline and diagnoses (docs/servers.md).
    Servers(ServersArgs),
    /// Write one self-contained HTML report: summary, per-listener charts,
    /// the failing connections and their ladders (docs/report.md).
    Report(ReportArgs),
    /// Capture from a network interface and judge connections as they finish.
    #[cfg(feature = "live")]
    Live(Box<LiveArgs>),
    /// Capture from a network interface (this build has no live capture: see the message).
    #[cfg(not(feature = "live"))]
    #[command(disable_help_flag = true)]
    Live {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        args: Vec<String>,
    },
    /// Print the JSON Schema of every JSON output (docs/schema.json).
    Schema,
    /// Print a shell completion script: `tcpshake completions bash > /etc/bash_completion.d/tcpshake`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `tcpshake man > tcpshake.1`.
    Man,
}

#[cfg(feature = "live")]
#[derive(Clone, Copy, ValueEnum)]
pub enum LiveFormat {
    Table,
    Jsonl,
}

#[cfg(feature = "live")]
#[derive(Args)]
pub struct LiveArgs {
    /// Interface to capture on (`--list` shows them); by default the one
    /// tcpdump picks (the first up, non-loopback interface).
    #[arg(short, long, value_name = "IFACE")]
    pub interface: Option<String>,
    /// List the interfaces and exit.
    #[arg(long)]
    pub list: bool,
    /// BPF capture filter, e.g. "tcp port 443".
    #[arg(short, long, value_name = "BPF")]
    pub filter: Option<String>,
    /// Stop after this long (e.g. 30s). Ctrl-C also stops.
    #[arg(long, value_parser = parse_positive_duration, value_name = "DURATION")]
    pub duration: Option<i64>,
    /// Stop after this many packets (tcpdump's -c).
    #[arg(short = 'c', long, value_name = "N")]
    pub count: Option<u64>,
    /// Save what was captured as pcap (replay it with `tcpshake analyze`).
    #[arg(short, long, value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Bytes captured per packet.
    #[arg(long, default_value_t = 262_144, value_name = "BYTES")]
    pub snaplen: i32,
    #[arg(long, value_enum, default_value = "table")]
    pub format: LiveFormat,
    /// Apply the check policy: exit 1 when a connection failed it, or when the
    /// session, once stopped, fails a rule `check` applies to a whole file.
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub tracking: TrackingArgs,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LadderFormat {
    Text,
    Mermaid,
}

#[derive(Args)]
pub struct LadderArgs {
    /// Capture file; - reads standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The connection with this id (as `analyze` numbers them).
    #[arg(long, value_name = "ID")]
    pub conn: Option<u64>,
    /// Connections whose client is this ip:port ([v6]:port for IPv6).
    #[arg(long, value_name = "IP:PORT", value_parser = tcpshake::ladder::parse_endpoint)]
    pub client: Option<std::net::SocketAddr>,
    /// Connections whose server is this ip:port.
    #[arg(long, value_name = "IP:PORT", value_parser = tcpshake::ladder::parse_endpoint)]
    pub server: Option<std::net::SocketAddr>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: LadderFormat,
    /// Draw every segment instead of folding the data transfer.
    #[arg(long)]
    pub full: bool,
    /// Wrap each Mermaid diagram in a ```mermaid fence, ready to paste into
    /// Markdown (always done when several diagrams are printed).
    #[arg(long)]
    pub fenced: bool,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub tracking: TrackingArgs,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
}

#[derive(Args)]
pub struct CheckArgs {
    /// Capture files (pcap, pcapng, optionally .gz).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Print nothing; the exit code says it all.
    #[arg(short, long)]
    pub quiet: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: CheckFormat,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Do not draw the ladder of each failing connection.
    #[arg(long)]
    pub no_ladder: bool,
    /// Also write a self-contained HTML report of the failing connections here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Also write a Markdown job summary here (e.g. "$GITHUB_STEP_SUMMARY"; appended to, as GitHub expects).
    #[arg(long, value_name = "FILE")]
    pub summary_md: Option<PathBuf>,
    /// Files judged at once (default: one per core).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub tracking: TrackingArgs,
}

/// The policy knobs, shared by `check` and `live --check`.
#[derive(Args)]
pub struct PolicyArgs {
    /// Policy file (TOML). Without it, ./tcpshake.toml is used when present.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Also fail on this severity (and worse), finding kind, or verdict. Repeatable, or comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "SEVERITY|KIND|VERDICT")]
    pub fail_on: Vec<String>,
    /// Never fail on this finding kind.
    #[arg(long, value_delimiter = ',', value_name = "KIND")]
    pub allow: Vec<String>,
    /// Every judged connection's handshake must be one of these.
    #[arg(long, value_delimiter = ',', value_name = "VERDICT")]
    pub expect_handshake: Vec<String>,
    /// Every judged connection's close must be one of these.
    #[arg(long, value_delimiter = ',', value_name = "VERDICT")]
    pub expect_close: Vec<String>,
    /// Fail a connection whose SYN → SYN-ACK → ACK took longer (e.g. 200ms, 1.5s).
    #[arg(long, value_parser = parse_positive_duration, value_name = "DURATION")]
    pub max_handshake_rtt: Option<i64>,
    /// The number of judged connections: N, MIN..MAX, MIN.. or ..MAX. Without
    /// it a capture in which no connection was judged fails; 0 or 0.. allows that.
    #[arg(long, value_name = "N|MIN..MAX")]
    pub expect_connections: Option<String>,
    /// Judge a capture with damage in the middle on what could be read past
    /// it, instead of failing it as unreadable (exit 2).
    #[arg(long)]
    pub accept_damaged: bool,
    /// Fail a capture in which more than this share of frames could not be
    /// decoded (default 1).
    #[arg(long, value_name = "PERCENT")]
    pub max_decode_errors: Option<f64>,
    /// Fail when a listener's rate is higher, e.g. refused=1%, all/syn_retransmission=0.5%,
    /// 10.0.0.2:80/aborted=0 (rates: refused, unanswered, no_final_ack, aborted,
    /// syn_retransmission, retransmission, zero_window). Repeatable.
    #[arg(long, value_name = "[SCOPE/]RATE=PCT")]
    pub max_rate: Vec<String>,
    /// Fail when a listener's median is longer, e.g. time_to_establish=20ms. Repeatable.
    #[arg(long, value_name = "[SCOPE/]MEASURE=DURATION")]
    pub max_p50: Vec<String>,
    /// Fail when a listener's 90th percentile is longer. Repeatable.
    #[arg(long, value_name = "[SCOPE/]MEASURE=DURATION")]
    pub max_p90: Vec<String>,
    /// Fail when a listener's 99th percentile is longer, e.g. time_to_establish=200ms
    /// (measures: time_to_establish, syn_to_synack, synack_to_ack). Repeatable.
    #[arg(long, value_name = "[SCOPE/]MEASURE=DURATION")]
    pub max_p99: Vec<String>,
    /// Fail when the server view gives this diagnosis, e.g. accept_queue_overflow. Repeatable.
    #[arg(long, value_delimiter = ',', value_name = "[SCOPE/]DIAGNOSIS")]
    pub fail_on_diagnosis: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum TimeArg {
    Iso,
    Epoch,
    Relative,
}

impl From<TimeArg> for tcpshake::report::TimeFormat {
    fn from(t: TimeArg) -> Self {
        match t {
            TimeArg::Iso => Self::Iso,
            TimeArg::Epoch => Self::Epoch,
            TimeArg::Relative => Self::Relative,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Jsonl,
    Csv,
}

#[derive(Args)]
pub struct AnalyzeArgs {
    /// Capture files (pcap, pcapng, optionally .gz); - reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// In the table, list every connection, not only failed ones and those with findings.
    #[arg(long)]
    pub all: bool,
    /// How the table prints times: ISO 8601 UTC, epoch seconds, or seconds
    /// since the first connection listed. JSON has both epoch and ISO fields.
    #[arg(long, value_enum, default_value = "iso", value_name = "FORMAT")]
    pub time: TimeArg,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Group connections: `server` gives the `servers` view.
    #[arg(long, value_enum, value_name = "GROUP")]
    pub by: Option<GroupBy>,
    /// With `--by server`: the timeline's interval (default: from the capture's length).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub interval: Option<i64>,
    /// Threads to judge each file on (default: one per core with 4 cores or
    /// more, else 1); the output is the same for any number. Standard input
    /// is read on one.
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    #[command(flatten)]
    pub tracking: TrackingArgs,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum GroupBy {
    Server,
}

#[derive(Args)]
pub struct ServersArgs {
    /// Capture files (pcap, pcapng, optionally .gz); - reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// The timeline's interval, e.g. 1s (default: from the capture's length).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub interval: Option<i64>,
    /// Threads to judge each file on (default: one per core with 4 cores or
    /// more, else 1); the output is the same for any number. Standard input
    /// is read on one.
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    #[command(flatten)]
    pub tracking: TrackingArgs,
}

#[derive(Args)]
pub struct ReportArgs {
    /// Capture files (pcap, pcapng, optionally .gz).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Where to write the HTML report.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Failing connections drawn as ladders, worst first.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub ladders: usize,
    /// Failing connections listed in the table, worst first.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub rows: usize,
    /// The timeline's interval, e.g. 1s (default: from the capture's length).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub interval: Option<i64>,
    #[command(flatten)]
    pub tracking: TrackingArgs,
}

/// Connection-tracking settings: the defaults suit almost every capture.
#[derive(Args)]
#[command(next_help_heading = "Expert")]
pub struct TrackingArgs {
    /// A connection silent this long (capture time) ends.
    #[arg(long, default_value = "5m", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub idle_timeout: i64,
    /// How long a closed connection lingers for late segments.
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub close_timeout: i64,
    /// An unanswered SYN ends this long after its last retransmission.
    #[arg(long, default_value = "5s", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub attempt_timeout: i64,
    /// Maximum segment lifetime; a SYN within 2·MSL of a close is a TIME-WAIT reuse.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub msl: i64,
    /// Most connections tracked at once; the longest-idle are evicted beyond it.
    /// Also the most closed 4-tuples remembered for 2·MSL (oldest forgotten first).
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub max_connections: usize,
    /// Zeek's likely server ports for the conn_state/history fields:
    /// `default`, `none` (Zeek run with -b), or a comma-separated list.
    #[arg(long, default_value = "default", value_name = "PORTS")]
    pub zeek_server_ports: String,
}

impl TrackingArgs {
    pub fn config(&self) -> Result<Config, String> {
        let mut c = Config {
            idle_timeout: self.idle_timeout,
            close_timeout: self.close_timeout,
            attempt_timeout: self.attempt_timeout,
            two_msl: self.msl.saturating_mul(2),
            max_connections: self.max_connections.max(1),
            ..Config::default()
        };
        c.likely_server_ports = match self.zeek_server_ports.as_str() {
            "default" => c.likely_server_ports,
            "none" => Vec::new(),
            list => list
                .split(',')
                .map(|p| {
                    p.trim()
                        .parse::<u16>()
                        .map_err(|_| format!("--zeek-server-ports: '{p}' is not a port"))
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(c)
    }
}

impl PolicyArgs {
    pub fn flags(&self) -> PolicyFlags {
        PolicyFlags {
            policy: self.policy.clone(),
            fail_on: self.fail_on.clone(),
            allow: self.allow.clone(),
            expect_handshake: self.expect_handshake.clone(),
            expect_close: self.expect_close.clone(),
            max_handshake_rtt: self.max_handshake_rtt,
            expect_connections: self.expect_connections.clone(),
            port: Vec::new(),
            host: Vec::new(),
            max_rate: self.max_rate.clone(),
            max_p50: self.max_p50.clone(),
            max_p90: self.max_p90.clone(),
            max_p99: self.max_p99.clone(),
            fail_on_diagnosis: self.fail_on_diagnosis.clone(),
            accept_damaged: self.accept_damaged,
            max_decode_errors: self.max_decode_errors,
        }
    }
}
