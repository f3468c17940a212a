//! Live capture on the loopback interface (feature `live`). Capturing needs
//! privileges: without them the test says why it did not run, unless
//! TCPSHAKE_REQUIRE_LIVE=1 (set by CI, which runs as root) makes that a failure.
#![cfg(feature = "live")]

/// accept_queue_overflow and syn_queue_drops reproduced in a network namespace.
#[path = "live/servers.rs"]
mod servers;

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tcpshake"))
}

/// Starts `tcpshake live` and waits until it captures. None (with the reason
/// printed) when capturing is not permitted here, unless CI requires it.
fn start_live(
    args: &[&str],
) -> Option<(std::process::Child, BufReader<std::process::ChildStderr>)> {
    let mut child = Command::new(bin())
        .arg("live")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    if !first.contains("capturing on lo") {
        let _ = child.wait();
        let required = std::env::var("TCPSHAKE_REQUIRE_LIVE").is_ok_and(|v| v == "1");
        assert!(!required, "live capture could not start: {first}");
        println!(
            "live capture test NOT RUN: {first}(run as root, or setcap cap_net_raw,cap_net_admin=eip on the binary)"
        );
        return None;
    }
    // Give the capture a moment to be attached before traffic starts.
    std::thread::sleep(Duration::from_millis(300));
    Some((child, stderr))
}

/// A request/response over a real TCP connection, closed by both sides.
fn talk(listener: TcpListener) {
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        s.write_all(b"world").unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap(); // until the client's FIN
        s.shutdown(Shutdown::Write).unwrap();
    });
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(b"hello").unwrap();
    let mut buf = [0u8; 5];
    c.read_exact(&mut buf).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap(); // until the server's FIN
    server.join().unwrap();
}

#[test]
fn loopback_connections_are_judged_as_they_happen() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let open_port = listener.local_addr().unwrap().port();
    // A port with nothing listening: bind, note it, release it.
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("live.pcap");
    let filter = format!("tcp port {open_port} or tcp port {closed_port}");
    let saved_s = saved.to_str().unwrap().to_string();
    let Some((child, _stderr)) = start_live(&[
        "-i",
        "lo",
        "--format",
        "jsonl",
        "--duration",
        "4s",
        "-f",
        &filter,
        "--write",
        &saved_s,
    ]) else {
        return;
    };
    talk(listener);
    let refused = TcpStream::connect(("127.0.0.1", closed_port));
    assert!(refused.is_err(), "nothing listens on {closed_port}");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The connection records are analyze's: the connection's fields beside `record`.
    let conns: Vec<&Value> = lines
        .iter()
        .filter(|l| l["record"] == "connection")
        .collect();
    assert_eq!(conns.len(), 2, "{lines:#?}");
    let ok = conns
        .iter()
        .find(|c| c["server"] == format!("127.0.0.1:{open_port}"))
        .expect("the real connection");
    assert_eq!(ok["handshake"], "complete", "{ok:#}");
    assert_eq!(ok["close"], "graceful", "{ok:#}");
    assert_eq!(ok["payload_bytes"]["client"], 5);
    assert_eq!(ok["payload_bytes"]["server"], 5);
    let no = conns
        .iter()
        .find(|c| c["server"] == format!("127.0.0.1:{closed_port}"))
        .expect("the refused connection");
    assert_eq!(no["handshake"], "refused", "{no:#}");
    let summary = lines.iter().find(|l| l["record"] == "summary").unwrap();
    assert_eq!(summary["connections"], 2);
    assert_eq!(summary["capture"]["kernel_dropped"], 0);

    // The saved capture gives the same verdicts.
    let out = Command::new(bin())
        .args(["analyze", "--format", "json"])
        .arg(&saved)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut verdicts: Vec<(String, String)> = v["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["handshake"].as_str().unwrap().into(),
                c["close"].as_str().unwrap().into(),
            )
        })
        .collect();
    verdicts.sort();
    assert_eq!(
        verdicts,
        [
            ("complete".to_string(), "graceful".to_string()),
            ("refused".to_string(), "none".to_string())
        ]
    );
}

#[test]
fn live_check_fails_the_run_when_the_policy_fails() {
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let filter = format!("tcp port {closed_port}");
    let Some((mut child, mut stderr)) = start_live(&[
        "-i",
        "lo",
        "--duration",
        "2s",
        "-f",
        &filter,
        "--check",
        "--fail-on",
        "refused",
    ]) else {
        return;
    };
    assert!(TcpStream::connect(("127.0.0.1", closed_port)).is_err());
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{rest}");
    assert!(
        rest.contains("FAIL") && rest.contains("handshake_refused"),
        "{rest}"
    );
}

#[test]
fn bad_filter_and_unknown_interface_exit_2() {
    let out = Command::new(bin())
        .args([
            "live",
            "-i",
            "lo",
            "-f",
            "tcp port bogus",
            "--duration",
            "1s",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("privileges") {
        println!("NOT RUN: {err}");
        return;
    }
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("bad capture filter") && err.contains("bogus"),
        "{err}"
    );
    let out = Command::new(bin())
        .args(["live", "-i", "nosuch0", "--duration", "1s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
