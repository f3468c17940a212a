//! Opens the HTML report in headless Chromium: it must render with no
//! console error and no request out. Set TCPSHAKE_REQUIRE_BROWSER=1 (CI
//! does) to make a missing browser a failure rather than a loud skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use tcpshake::html::{self, ReportOptions};
use tcpshake::judge::Config;

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome", "chrome"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

fn browser_or_skip(test: &str) -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        let required = std::env::var("TCPSHAKE_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "TCPSHAKE_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install chromium)"
        );
        // Straight to the process's stderr: libtest captures eprintln! of a
        // passing test, and a skip must never pass unseen.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED {test}: no chromium on PATH; install it (apt-get install chromium) or set TCPSHAKE_REQUIRE_BROWSER=1 to fail ***\n"
        );
    }
    found
}

/// Console messages and errors Chromium logged while loading `page`, with
/// a screenshot written to `png`.
fn load(browser: &Path, page: &Path, png: &Path) -> (Vec<String>, std::time::Duration) {
    let profile = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,1800",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let took = start.elapsed();
    assert!(out.status.success(), "chromium failed: {:?}", out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let console = stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("net::ERR"))
        .map(str::to_string)
        .collect();
    (console, took)
}

#[test]
fn the_report_renders_in_chromium_without_a_console_error() {
    let Some(browser) = browser_or_skip("the_report_renders_in_chromium_without_a_console_error")
    else {
        return;
    };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let paths = [data.join("mixed.pcap"), data.join("servers-syn-flood.pcap")];
    let (report, ok) = html::build(
        &paths,
        &Config::default(),
        &ReportOptions::default(),
        &|_, c| html::failing_by_default(c),
        &mut |_| Box::new(()),
    );
    assert!(ok);
    let page = dir.join("tcpshake-report.html");
    let mut f = std::fs::File::create(&page).unwrap();
    html::write_html(&mut f, &report).unwrap();
    drop(f);
    let png = dir.join("tcpshake-report.png");
    let _ = std::fs::remove_file(&png);
    let (console, took) = load(&browser, &page, &png);
    assert!(console.is_empty(), "console says: {console:#?}");
    let shot = std::fs::metadata(&png).expect("a screenshot").len();
    assert!(
        shot > 20_000,
        "the screenshot is almost blank: {shot} bytes"
    );
    eprintln!(
        "report rendered in {took:?}; screenshot {} ({shot} bytes)",
        png.display()
    );

    // The check itself can fail: a page with a script error is caught.
    let bad = dir.join("tcpshake-broken.html");
    std::fs::write(
        &bad,
        "<!DOCTYPE html><html><body><p>x</p><script>console.error('broken'); undefinedFunction();</script></body></html>",
    )
    .unwrap();
    let (console, _) = load(&browser, &bad, &dir.join("tcpshake-broken.png"));
    assert!(
        console.iter().any(|l| l.contains("broken")),
        "a console error went unseen: {console:#?}"
    );
}
