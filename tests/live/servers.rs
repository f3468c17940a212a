//! The server view on the real Linux stack: in a fresh
//! network namespace (loopback only, its own sysctls) a listener with backlog
//! 1 that never accepts is sent more clients than its accept queue holds, the
//! traffic is captured with `tcpshake live` on `lo`, and `tcpshake servers`
//! must diagnose `accept_queue_overflow` under both `tcp_abort_on_overflow`
//! settings, and `syn_queue_drops` for the clients whose SYNs came while the
//! queue was full. Needs root (CAP_SYS_ADMIN for the namespace, CAP_NET_RAW
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
/// namespace, brings its loopback up and sets `tcp_abort_on_overflow`.
fn enter_namespace(abort_on_overflow: bool) -> Result<(), String> {
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
    std::fs::write(
        "/proc/sys/net/ipv4/tcp_abort_on_overflow",
        if abort_on_overflow { "1" } else { "0" },
    )
    .map_err(|e| format!("tcp_abort_on_overflow: {e}"))
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

/// A listener on 127.0.0.1 with an accept backlog of 1.
fn listen_backlog_1() -> Result<TcpListener, String> {
    // SAFETY: plain system calls; the fd is handed to TcpListener once listening.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        check(fd, "socket")?;
        let a = sockaddr([127, 0, 0, 1], 0);
        check(
            libc::bind(fd, &a as *const _ as *const libc::sockaddr, SOCKLEN),
            "bind",
        )?;
        check(libc::listen(fd, 1), "listen")?;
        Ok(TcpListener::from_raw_fd(fd))
    }
}

/// Connects from `src` to `port`, the client's final ACK held back (the
/// delayed-ACK "pingpong" mode of TCP_QUICKACK = 0): every SYN of a burst is
/// answered before the first final ACK fills the accept queue.
fn connect_from(src: [u8; 4], port: u16) -> Result<TcpStream, String> {
    // SAFETY: plain system calls; the fd is handed to TcpStream once connected.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        check(fd, "socket")?;
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
        let s = sockaddr([127, 0, 0, 1], port);
        check(
            libc::connect(fd, &s as *const _ as *const libc::sockaddr, SOCKLEN),
            "connect",
        )?;
        Ok(TcpStream::from_raw_fd(fd))
    }
}

/// Runs the scenario in a new namespace and returns the saved capture, or
/// None (with the reason printed) when this machine does not permit it.
fn capture_overflow(abort_on_overflow: bool, dir: &Path) -> Option<PathBuf> {
    let saved = dir.join(format!("overflow-{}.pcap", abort_on_overflow as u8));
    let out = saved.clone();
    let run = std::thread::spawn(move || -> Result<Option<()>, String> {
        if let Err(why) = enter_namespace(abort_on_overflow) {
            not_run(&why);
            return Ok(None);
        }
        let listener = listen_backlog_1()?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let mut child = Command::new(bin())
            .args(["live", "-i", "lo", "--duration", "6s", "--format", "jsonl"])
            .args(["-f", &format!("tcp port {port}")])
            .arg("--write")
            .arg(&out)
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
