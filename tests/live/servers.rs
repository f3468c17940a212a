//! The server view on the real Linux stack: in a fresh
//! network namespace (loopback only, its own sysctls) a listener with backlog
//! 1 that never accepts is sent more clients than its accept queue holds, the
//! traffic is captured with `tcpshake live` on `lo`, and `tcpshake servers`
//! must diagnose `accept_queue_overflow` under both `tcp_abort_on_overflow`
//! settings, and `syn_queue_drops` for the clients whose SYNs came while the
//! queue was full; and, with SYN cookies off and a listener that accepts at
//! once, `syn_queue_drops` from a full SYN backlog (request queue) alone. Needs root (CAP_SYS_ADMIN for the namespace, CAP_NET_RAW
//! to capture); without it the test says why it did not run, unless
//! TCPSHAKE_REQUIRE_LIVE=1 (set by CI) makes that a failure.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tcpshake"))
}

fn required() -> bool {
    std::env::var("TCPSHAKE_REQUIRE_LIVE").is_ok_and(|v| v == "1")
}

fn not_run(why: &str) {
    assert!(!required(), "the namespace test could not run: {why}");
    println!("live namespace test NOT RUN: {why} (run as root)");
}

fn check(rc: i32, what: &str) -> Result<(), String> {
    if rc < 0 {
        Err(format!("{what}: {}", std::io::Error::last_os_error()))
    } else {
        Ok(())
    }
}

/// Moves the calling thread (and the processes it starts) into a new network
/// namespace, brings its loopback up and sets the namespace's `sysctls`
/// (paths under /proc/sys/net, values).
fn enter_namespace(sysctls: &[(&str, &str)]) -> Result<(), String> {
    // SAFETY: plain system calls on memory owned here.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNET), "unshare(CLONE_NEWNET)")?;
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        check(fd, "socket")?;
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (d, s) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
            *d = *s as libc::c_char;
        }
        check(
            libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut ifr),
            "SIOCGIFFLAGS",
        )?;
        ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        check(
            libc::ioctl(fd, libc::SIOCSIFFLAGS, &ifr),
            "SIOCSIFFLAGS lo up",
        )?;
        libc::close(fd);
    }
    for (name, value) in sysctls {
        std::fs::write(format!("/proc/sys/net/{name}"), value)
            .map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

/// A TcpExt counter of the calling thread's namespace (`nstat`'s source).
fn tcp_ext(name: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/net/netstat").ok()?;
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (lines.next()?, lines.next()?);
    let i = names.split_whitespace().position(|n| n == name)?;
    values.split_whitespace().nth(i)?.parse().ok()
}

fn sockaddr(ip: [u8; 4], port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(ip),
        },
        sin_zero: [0; 8],
    }
}

const SOCKLEN: libc::socklen_t = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;

/// A listener on 127.0.0.1 with a `listen()` backlog of `backlog`.
fn listen_backlog(backlog: i32) -> Result<TcpListener, String> {
    // SAFETY: plain system calls; the fd is handed to TcpListener once listening.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        check(fd, "socket")?;
        let a = sockaddr([127, 0, 0, 1], 0);
        check(
            libc::bind(fd, &a as *const _ as *const libc::sockaddr, SOCKLEN),
            "bind",
        )?;
        check(libc::listen(fd, backlog), "listen")?;
        Ok(TcpListener::from_raw_fd(fd))
    }
}

/// A client socket bound to `src`, its final ACK held back (the delayed-ACK
/// "pingpong" mode of TCP_QUICKACK = 0), owned by the returned stream.
fn client_socket(src: [u8; 4], flags: libc::c_int) -> Result<TcpStream, String> {
    // SAFETY: plain system calls; the fd is owned by the TcpStream at once.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | flags, 0);
        check(fd, "socket")?;
        let stream = TcpStream::from_raw_fd(fd);
        let zero: libc::c_int = 0;
        check(
            libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_QUICKACK,
                &zero as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            ),
            "TCP_QUICKACK",
        )?;
        let a = sockaddr(src, 0);
        check(
            libc::bind(fd, &a as *const _ as *const libc::sockaddr, SOCKLEN),
            "bind client",
        )?;
        Ok(stream)
    }
}

/// Connects from `src` to `port` with the final ACK held back: every SYN of
/// a burst is answered before the first final ACK fills the accept queue.
fn connect_from(src: [u8; 4], port: u16) -> Result<TcpStream, String> {
    use std::os::fd::AsRawFd;
    let stream = client_socket(src, 0)?;
    let s = sockaddr([127, 0, 0, 1], port);
    // SAFETY: a plain system call on the socket the stream owns.
    let rc = unsafe {
        libc::connect(
            stream.as_raw_fd(),
            &s as *const _ as *const libc::sockaddr,
            SOCKLEN,
        )
    };
    check(rc, "connect")?;
    Ok(stream)
}

/// [`connect_from`] without waiting: the SYN is sent and the socket returned.
fn connect_nonblocking(src: [u8; 4], port: u16) -> Result<TcpStream, String> {
    use std::os::fd::AsRawFd;
    let stream = client_socket(src, libc::SOCK_NONBLOCK)?;
    let s = sockaddr([127, 0, 0, 1], port);
    // SAFETY: a plain system call on the socket the stream owns.
    let rc = unsafe {
        libc::connect(
            stream.as_raw_fd(),
            &s as *const _ as *const libc::sockaddr,
            SOCKLEN,
        )
    };
    if rc < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINPROGRESS) {
        check(rc, "connect")?;
    }
    Ok(stream)
}

/// Waits up to 5 s for a non-blocking connect to complete.
fn wait_connected(s: &TcpStream) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let mut p = libc::pollfd {
        fd: s.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one pollfd owned here.
    let n = unsafe { libc::poll(&mut p, 1, 5000) };
    check(n, "poll")?;
    match s.take_error() {
        Ok(None) if n == 1 => Ok(()),
        Ok(None) => Err("a client did not connect within 5 s".into()),
        Ok(Some(e)) | Err(e) => Err(format!("connect: {e}")),
    }
}

/// Starts `tcpshake live` on `lo` for `duration`, filtered to `port` and
/// saving to `out`; `None` (said on stderr) when it cannot capture here.
fn start_live(
    port: u16,
    duration: &str,
    out: &Path,
) -> Result<Option<(std::process::Child, BufReader<std::process::ChildStderr>)>, String> {
    let mut child = Command::new(bin())
        .args([
            "live",
            "-i",
            "lo",
            "--duration",
            duration,
            "--format",
            "jsonl",
        ])
        .args(["-f", &format!("tcp port {port}")])
        .arg("--write")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    let _ = stderr.read_line(&mut first);
    if !first.contains("capturing on lo") {
        let _ = child.wait();
        not_run(&first);
        return Ok(None);
    }
    Ok(Some((child, stderr)))
}

/// Runs the scenario in a new namespace and returns the saved capture, or
/// None (with the reason printed) when this machine does not permit it.
fn capture_overflow(abort_on_overflow: bool, dir: &Path) -> Option<PathBuf> {
    let saved = dir.join(format!("overflow-{}.pcap", abort_on_overflow as u8));
    let out = saved.clone();
    let run = std::thread::spawn(move || -> Result<Option<()>, String> {
        let abort = if abort_on_overflow { "1" } else { "0" };
        if let Err(why) = enter_namespace(&[("ipv4/tcp_abort_on_overflow", abort)]) {
            not_run(&why);
            return Ok(None);
        }
        let listener = listen_backlog(1)?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let Some((mut child, _stderr)) = start_live(port, "6s", &out)? else {
            return Ok(None);
        };
        std::thread::sleep(Duration::from_millis(300));
        // A burst of 6 clients: all answered, 2 fit in the accept queue.
        let mut kept = Vec::new();
        for i in 0..6u8 {
            kept.push(connect_from([127, 0, 0, 10 + i], port)?);
        }
        std::thread::sleep(Duration::from_millis(300));
        for s in &mut kept {
            let _ = s.write_all(b"hello");
        }
        // 5 more while the queue is full: their SYNs are dropped until the
        // listener starts accepting, 1.2 s later.
        let late: Vec<_> = (0..5u8)
            .map(|i| std::thread::spawn(move || connect_from([127, 0, 0, 30 + i], port)))
            .collect();
        std::thread::sleep(Duration::from_millis(1200));
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        let mut accepted = Vec::new();
        while std::time::Instant::now() < deadline {
            match listener.accept() {
                Ok((s, _)) => accepted.push(s),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        for t in late {
            let _ = t.join();
        }
        let status = child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("tcpshake live failed: {status}"));
        }
        drop(kept);
        Ok(Some(()))
    });
    match run.join().expect("the namespace thread") {
        Ok(Some(())) => Some(saved),
        Ok(None) => None,
        Err(e) => panic!("{e}"),
    }
}

/// What the kernel counted while the SYN backlog overflowed.
struct Counters {
    /// SYNs dropped because the request (SYN) queue was full, cookies off.
    req_q_full_drop: u64,
    /// Every SYN a listener dropped, whatever the reason.
    listen_drops: u64,
    /// SYNs or final ACKs dropped because the accept queue was full.
    listen_overflows: u64,
}

/// The SYN backlog, not the accept queue, overflows: SYN cookies off (and
/// the namespace's other `sysctls`), a listener with `listen(64)` drained by
/// a thread that accepts at once, and `clients` clients whose final ACKs are
/// held back about 200 ms (delayed ACK, `TCP_QUICKACK = 0`), so that the
/// first SYNs sit in SYN-RECEIVED and fill the request queue; the later SYNs
/// are dropped until the clients send them again 1 s later. Returns the
/// saved capture and the namespace's counters.
fn capture_syn_backlog(
    dir: &Path,
    sysctls: &'static [(&'static str, &'static str)],
    clients: u8,
) -> Option<(PathBuf, Counters)> {
    let saved = dir.join("syn-backlog.pcap");
    let out = saved.clone();
    let run = std::thread::spawn(move || -> Result<Option<Counters>, String> {
        let mut all = vec![("ipv4/tcp_syncookies", "0")];
        all.extend_from_slice(sysctls);
        if let Err(why) = enter_namespace(&all) {
            not_run(&why);
            return Ok(None);
        }
        let listener = listen_backlog(64)?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        // The default snaplen: the capture ring must hold the whole burst of
        // SYNs (the test fails on live's packet-loss warning).
        let Some((mut child, mut stderr)) = start_live(port, "5s", &out)? else {
            return Ok(None);
        };
        std::thread::sleep(Duration::from_millis(300));
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let acceptor = std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(4);
            let mut accepted = Vec::new();
            while std::time::Instant::now() < deadline {
                match listener.accept() {
                    Ok((s, _)) => accepted.push(s),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            accepted.len()
        });
        // All SYNs at once, from one thread, well within the 200 ms the
        // final ACKs are held; then each client waits for its handshake.
        let socks = (0..clients)
            .map(|i| connect_nonblocking([127, 0, 0, 50 + i], port))
            .collect::<Result<Vec<_>, _>>()?;
        for s in &socks {
            wait_connected(s)?;
        }
        // Closed by the clients first (FIN, not a RST for unread data).
        std::thread::sleep(Duration::from_millis(1000));
        drop(socks);
        let accepted = acceptor.join().map_err(|_| "the acceptor panicked")?;
        let status = child.wait().map_err(|e| e.to_string())?;
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
        if !status.success() {
            return Err(format!("tcpshake live failed: {status}: {rest}"));
        }
        if rest.contains("WARNING") {
            return Err(format!("the capture lost packets: {rest}"));
        }
        if accepted != clients as usize {
            return Err(format!("accepted {accepted} of {clients} clients"));
        }
        let counter = |name: &str| tcp_ext(name).ok_or(format!("no TcpExt {name}"));
        Ok(Some(Counters {
            req_q_full_drop: counter("TCPReqQFullDrop")?,
            listen_drops: counter("ListenDrops")?,
            listen_overflows: counter("ListenOverflows")?,
        }))
    });
    match run.join().expect("the namespace thread") {
        Ok(Some(c)) => Some((saved, c)),
        Ok(None) => None,
        Err(e) => panic!("{e}"),
    }
}

/// The server view of a SYN-backlog capture of `clients` clients: every
/// attempt completed, `syn_queue_drops` for at least `min` of them (never
/// more than the SYNs the kernel dropped), and no `accept_queue_overflow`.
fn assert_syn_queue_drops(pcap: &Path, counters: &Counters, clients: u64, min: u64) {
    assert_eq!(
        counters.listen_overflows, 0,
        "the accept queue never filled"
    );
    let r = servers(pcap);
    let l = &r["listeners"][0];
    assert_eq!(l["attempts"], clients, "{l:#}");
    assert_eq!(l["handshake"]["complete"], clients, "{l:#}");
    let d = diagnosis(&r, "syn_queue_drops").unwrap_or_else(|| panic!("{r:#}"));
    // Each attempt answered on a later SYN lost at least one SYN to the
    // full queue (a retry can be dropped again).
    let n = d["count"].as_u64().unwrap();
    assert!(n >= min && n <= counters.listen_drops, "{d}");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("SYN retransmissions on the backoff ladder"),
        "{d}"
    );
    assert!(diagnosis(&r, "accept_queue_overflow").is_none(), "{r:#}");
}

fn servers(path: &Path) -> Value {
    let out = Command::new(bin())
        .args(["servers", "--format", "json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn diagnosis<'a>(r: &'a Value, id: &str) -> Option<&'a Value> {
    r["diagnoses"].as_array()?.iter().find(|d| d["id"] == id)
}

#[test]
fn accept_queue_overflow_on_linux_with_tcp_abort_on_overflow_0() {
    let dir = tempfile::tempdir().unwrap();
    let Some(pcap) = capture_overflow(false, dir.path()) else {
        return;
    };
    let r = servers(&pcap);
    let d = diagnosis(&r, "accept_queue_overflow").unwrap_or_else(|| panic!("{r:#}"));
    assert!(d["count"].as_u64().unwrap() >= 2, "{d}");
    let msg = d["message"].as_str().unwrap();
    assert!(
        msg.contains("SYN-ACK again after the client's final ACK"),
        "{msg}"
    );
    let l = &r["listeners"][0];
    assert_eq!(l["attempts"], 11, "{l:#}");
    // The late clients' SYNs went unanswered while the queue was full.
    let d = diagnosis(&r, "syn_queue_drops").unwrap_or_else(|| panic!("{r:#}"));
    assert!(d["count"].as_u64().unwrap() >= 5, "{d}");
}

#[test]
fn accept_queue_overflow_on_linux_with_tcp_abort_on_overflow_1() {
    let dir = tempfile::tempdir().unwrap();
    let Some(pcap) = capture_overflow(true, dir.path()) else {
        return;
    };
    let r = servers(&pcap);
    let d = diagnosis(&r, "accept_queue_overflow").unwrap_or_else(|| panic!("{r:#}"));
    assert!(d["count"].as_u64().unwrap() >= 2, "{d}");
    let msg = d["message"].as_str().unwrap();
    assert!(msg.contains("RST in answer to the final ACK"), "{msg}");
    let l = &r["listeners"][0];
    assert!(
        l["rst"]["server"]["handshake"].as_u64().unwrap() >= 2,
        "{l:#}"
    );
}

/// The request queue is bounded by the listen backlog, here `somaxconn`:
/// with more than 4 requests in SYN-RECEIVED, Linux drops SYNs
/// (`inet_csk_reqsk_queue_is_full`, counted as `TCPReqQFullDrop`).
#[test]
fn syn_queue_drops_on_linux_with_a_full_request_queue_and_syn_cookies_off() {
    let dir = tempfile::tempdir().unwrap();
    let sysctls = &[("core/somaxconn", "4")];
    let Some((pcap, counters)) = capture_syn_backlog(dir.path(), sysctls, 10) else {
        return;
    };
    assert!(
        counters.req_q_full_drop >= 3,
        "TCPReqQFullDrop {}",
        counters.req_q_full_drop
    );
    assert_syn_queue_drops(&pcap, &counters, 10, 3);
}

/// Without SYN cookies Linux keeps the last quarter of
/// `tcp_max_syn_backlog` for peers proven alive: with 8, a listener whose
/// backlog (64) is far from full drops SYNs from new peers once 7 requests
/// wait (counted as `ListenDrops` only).
#[test]
fn syn_queue_drops_on_linux_with_a_small_tcp_max_syn_backlog_and_syn_cookies_off() {
    let dir = tempfile::tempdir().unwrap();
    let sysctls = &[("ipv4/tcp_max_syn_backlog", "8")];
    let Some((pcap, counters)) = capture_syn_backlog(dir.path(), sysctls, 14) else {
        return;
    };
    assert_eq!(
        counters.req_q_full_drop, 0,
        "the request queue was not full"
    );
    assert!(
        counters.listen_drops >= 5,
        "ListenDrops {}",
        counters.listen_drops
    );
    assert_syn_queue_drops(&pcap, &counters, 14, 5);
}
