//! Ladder diagrams: snapshots of the committed captures, folding, Mermaid structure.

mod fixtures;

use fixtures::testdata_path as td;

use assert_cmd::Command;
use std::path::PathBuf;

fn ladder(args: &[&str], file: &PathBuf) -> String {
    let out = Command::cargo_bin("tcpshake")
        .unwrap()
        .arg("ladder")
        .arg(file)
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The file path differs between checkouts; the snapshot shows its name only.
    String::from_utf8(out.stdout).unwrap().replace(
        &format!("{}", file.display()),
        &file.file_name().unwrap().to_string_lossy(),
    )
}

#[test]
fn snapshots_of_the_committed_captures() {
    for name in [
        "handshake-graceful.pcap",
        "refused.pcap",
        "half-close-data.pcap",
        "close-simultaneous.pcap",
        "synack-wrong-ack.pcap",
        "fin-not-counted.pcap",
    ] {
        let text = ladder(&["--full"], &td(name));
        insta::assert_snapshot!(name.trim_end_matches(".pcap"), text);
    }
}

#[test]
fn no_colour_without_a_terminal() {
    let text = ladder(&[], &td("mixed.pcap"));
    assert!(!text.contains('\x1b'));
}

#[test]
fn selection_by_id_client_and_server() {
    let text = ladder(&["--conn", "2"], &td("mixed.pcap"));
    assert!(
        text.starts_with("#2 192.168.1.10:51001 → 192.168.1.20:8080"),
        "{text}"
    );
    assert_eq!(text.matches("\n#").count(), 0, "one connection");
    let text = ladder(&["--client", "192.168.1.12:51003"], &td("mixed.pcap"));
    assert!(text.starts_with("#4 "), "{text}");
    let text = ladder(&["--server", "192.168.1.20:443"], &td("mixed.pcap"));
    assert_eq!(text.lines().filter(|l| l.starts_with('#')).count(), 4);
    let out = Command::cargo_bin("tcpshake")
        .unwrap()
        .args(["ladder", "--conn", "99"])
        .arg(td("mixed.pcap"))
        .output()
        .unwrap();
    // Nothing selected is not unreadable input (2): it is 1, as grep says.
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no connection matches"));
}

#[test]
fn ipv6_endpoints_are_compared_as_addresses() {
    let canonical = ladder(&[], &td("ipv6.pcap"));
    let first = canonical.lines().next().unwrap();
    // `#1 [2001:db8::1]:40000 → …`: write the client the long way.
    let client = first.split(' ').nth(1).unwrap();
    let (ip, port) = client.trim_start_matches('[').split_once("]:").unwrap();
    let long: std::net::Ipv6Addr = ip.parse().unwrap();
    let segs = long.segments();
    let spelled = format!(
        "[{}]:{port}",
        segs.iter()
            .map(|s| format!("{s:04x}"))
            .collect::<Vec<_>>()
            .join(":")
    );
    assert_ne!(spelled, client);
    let text = ladder(&["--client", &spelled], &td("ipv6.pcap"));
    assert_eq!(text.lines().next().unwrap(), first);
}

#[test]
fn standard_input_is_read() {
    let out = Command::cargo_bin("tcpshake")
        .unwrap()
        .args(["ladder", "-"])
        .pipe_stdin(td("handshake-graceful.pcap"))
        .unwrap()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("#1 10.0.0.1:40000 → 10.0.0.2:80"),
        "{text}"
    );
    assert!(
        text.contains("(-, start 2024-01-01T00:00:00.000000Z)"),
        "{text}"
    );
}

/// The scaled window, and the SYNs' options on their rows.
#[test]
fn windows_are_scaled_and_syn_options_shown() {
    let text = ladder(&[], &td("tcp-options.pcap"));
    assert!(
        text.contains("[mss=1460 sack_perm ts ws=7 tfo=request]"),
        "{text}"
    );
    assert!(text.contains("[mss=1460 sack_perm ws=8]"), "{text}");
    // 64240 << 7 from the client after the handshake, not the raw field.
    assert!(text.contains("ACK seq=1 ack=1 win=8222720"), "{text}");
}

/// At 80 columns nothing is cut: labels keep their numbers and long
/// findings wrap under their indent.
#[test]
fn narrow_terminals_wrap_instead_of_cutting() {
    let file = td("synack-wrong-ack.pcap");
    let l = tcpshake::ladder::ladders(
        &file,
        &tcpshake::judge::Config::default(),
        &Default::default(),
        &|_| true,
        true,
        &[],
    )
    .unwrap();
    let o = tcpshake::ladder::TextOptions {
        width: 80,
        color: false,
    };
    let text = tcpshake::ladder::render_text(&l[0], o);
    assert!(!text.contains('…'), "{text}");
    let finding_lines: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with(&" ".repeat(21)) && !line.trim().is_empty())
        .collect();
    assert!(finding_lines.len() >= 2, "{text}");
    for line in &finding_lines {
        assert!(line.chars().count() <= 80, "{line}");
    }
    // The wrapped message is whole: joined, it is the finding's message.
    let joined: String = finding_lines
        .iter()
        .map(|l| l.trim())
        .collect::<Vec<_>>()
        .join(" ");
    let msg = l[0].report.findings[0].message().to_string();
    assert!(joined.contains(&msg), "{joined}\n{msg}");
}

#[test]
fn long_connections_are_folded_between_handshake_and_teardown() {
    use fixtures::build::*;
    let mut d = Dialog::basic();
    d.handshake();
    for i in 0..600 {
        d.c(PSH | ACK, 1000);
        if i % 200 == 199 {
            // The same 1000 bytes again: a retransmission.
            let seq = d.c_nxt - 1000;
            let c_next = d.c_nxt;
            d.c(PSH | ACK, 1000).seq(seq);
            d.c_nxt = c_next;
        }
        d.s(ACK, 0);
    }
    d.close_client_first();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.pcap");
    std::fs::write(&path, eth_pcap(&[&d])).unwrap();
    let text = ladder(&[], &path);
    let rows = text
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .count();
    // Handshake and teardown in full, and the three retransmissions: rows with findings stay.
    assert_eq!(rows, 3 + 4 + 3, "{text}");
    assert_eq!(
        text.matches("! retransmission: the client resent bytes")
            .count(),
        3,
        "{text}"
    );
    assert!(text.contains("… 399 segments, 200.0 kB …"), "{text}");
    assert!(text.contains("… 400 segments, 200.0 kB …"), "{text}");
    let full = ladder(&["--full"], &path);
    let rows = full
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .count();
    assert_eq!(rows, d.segs.len());
}

#[test]
fn mermaid_has_participants_one_message_per_segment_and_notes_for_findings() {
    let text = ladder(
        &["--format", "mermaid", "--full"],
        &td("fin-not-counted.pcap"),
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "sequenceDiagram");
    assert!(lines[1].starts_with("    participant C as client 10.0.0.1:40000"));
    assert!(lines[2].starts_with("    participant S as server 10.0.0.2:80"));
    let messages = lines.iter().filter(|l| l.contains("->>")).count();
    assert_eq!(messages, 11, "one message per segment");
    let from_client = lines
        .iter()
        .filter(|l| l.trim_start().starts_with("C->>S:"))
        .count();
    assert_eq!(from_client, 6);
    let finding_notes: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("Note") && l.contains("fin_not_counted"))
        .collect();
    assert_eq!(finding_notes.len(), 1);
    assert!(
        finding_notes[0].contains("Note right of S"),
        "the server sent it"
    );
    assert!(
        !text.contains(';') && !text.contains('#'),
        "characters Mermaid would misread"
    );
    let folded = ladder(&["--format", "mermaid"], &td("fin-not-counted.pcap"));
    assert!(
        folded.contains("Note over C,S: … 4 segments, 1.1 kB …"),
        "{folded}"
    );
}

#[test]
fn check_draws_the_ladder_of_failing_connections() {
    let out = Command::cargo_bin("tcpshake")
        .unwrap()
        .arg("check")
        .arg(td("fin-not-counted.pcap"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("─FIN, ACK seq=101 ack=1001"), "{text}");
    assert!(text.contains("✗ fin_not_counted"), "{text}");
    let out = Command::cargo_bin("tcpshake")
        .unwrap()
        .args(["check", "--no-ladder"])
        .arg(td("fin-not-counted.pcap"))
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("─FIN"));
}

#[test]
fn a_lossy_transfer_stays_folded() {
    use fixtures::build::*;
    let mut d = Dialog::basic();
    d.handshake();
    for _ in 0..30 {
        d.c(PSH | ACK, 1000);
        let seq = d.c_nxt - 1000;
        let c_next = d.c_nxt;
        d.wait(0.2);
        d.c(PSH | ACK, 1000).seq(seq);
        d.c_nxt = c_next;
        d.s(ACK, 0);
    }
    d.close_client_first();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lossy.pcap");
    std::fs::write(&path, eth_pcap(&[&d])).unwrap();
    let text = ladder(&[], &path);
    // Ten retransmission rows are drawn; the other twenty are counted in the fold.
    assert_eq!(text.matches("! retransmission:").count(), 10, "{text}");
    assert!(
        text.contains("20 retransmissions, 20 more findings …"),
        "{text}"
    );
}
