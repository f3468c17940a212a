//! The HTML report: self-contained, and its charts, tables and ladders match
//! the figures they draw.

use scraper::{Html, Selector};
use std::path::PathBuf;
use tcpshake::html::{self, Report, ReportOptions};
use tcpshake::judge::Config;
use tcpshake::ladder::{self, Entry};

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

fn build(files: &[&str], opts: &ReportOptions) -> (Report, String) {
    let paths: Vec<PathBuf> = files.iter().map(|f| testdata(f)).collect();
    let (report, all_read) = html::build(
        &paths,
        &Config::default(),
        opts,
        &|_, c| html::failing_by_default(c),
        &mut |_| Box::new(()),
    );
    assert!(all_read);
    let mut out = Vec::new();
    html::write_html(&mut out, &report).unwrap();
    (report, String::from_utf8(out).unwrap())
}

fn select<'a>(doc: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    doc.select(&Selector::parse(css).unwrap()).collect()
}

/// Nothing in the page asks for anything outside it: no src, no href but
/// in-page anchors, no stylesheet or font link, no url() or @import in CSS.
fn assert_self_contained(page: &str) {
    let doc = Html::parse_document(page);
    assert!(doc.errors.is_empty(), "parse errors: {:?}", doc.errors);
    let mut elements = 0;
    for el in select(&doc, "*") {
        elements += 1;
        for (name, value) in el.value().attrs() {
            let name = name.to_ascii_lowercase();
            assert!(
                !matches!(
                    name.as_str(),
                    "src" | "srcset" | "action" | "formaction" | "poster" | "data" | "background"
                ),
                "<{}> has {name}={value}",
                el.value().name()
            );
            if name.ends_with("href") {
                assert!(
                    value.starts_with('#'),
                    "<{}> links out: {value}",
                    el.value().name()
                );
            }
            assert!(
                !value.contains("url("),
                "<{}> {name} loads a URL: {value}",
                el.value().name()
            );
        }
    }
    assert!(elements > 50, "the page is almost empty");
    assert!(select(&doc, "link, iframe, img, object, embed, base").is_empty());
    for style in select(&doc, "style") {
        let css: String = style.text().collect();
        assert!(!css.contains("url(") && !css.contains("@import") && !css.contains("@font-face"));
    }
    let scripts = select(&doc, "script");
    assert!(scripts.len() <= 1, "a little inline script at most");
    for s in scripts {
        let js: String = s.text().collect();
        assert!(!js.contains("fetch(") && !js.contains("XMLHttpRequest") && !js.contains("import"));
        assert!(js.len() < 4000);
    }
}

#[test]
fn the_report_is_self_contained_and_draws_every_failing_connection() {
    let (report, page) = build(&["mixed.pcap"], &ReportOptions::default());
    assert_self_contained(&page);
    let doc = Html::parse_document(&page);
    // mixed.pcap: 5 connections, of which refused, invalid, no_final_ack and
    // the one with fin_not_counted fail (testdata/README.md); one is clean.
    assert_eq!(report.summary.connections, 5);
    assert_eq!(report.failing_total, 4);
    assert_eq!(select(&doc, "table.failing tbody tr").len(), 4);
    let ladders = select(&doc, "svg.ladder");
    assert_eq!(ladders.len(), 4);
    // Errors first: the two connections with error findings lead the table.
    let first: Vec<u64> = report.failing.iter().take(2).map(|f| f.errors).collect();
    assert!(first.iter().all(|&e| e > 0), "{first:?}");

    // Each ladder has one arrow per drawn segment of the ladder model, and
    // one finding line per finding on those rows.
    let all = ladder::ladders(
        &testdata("mixed.pcap"),
        &Config::default(),
        &tcpshake::filter::Filter::default(),
        &|_| true,
        false,
        &[],
    )
    .unwrap();
    for (svg, (_, l)) in ladders.iter().zip(&report.ladders) {
        let model = all.iter().find(|m| m.report.id == l.report.id).unwrap();
        let segments = model
            .entries
            .iter()
            .filter(|e| matches!(e, Entry::Segment(_)))
            .count();
        let findings: usize = model
            .entries
            .iter()
            .map(|e| match e {
                Entry::Segment(r) => r.findings.len(),
                Entry::Folded(_) => 0,
            })
            .sum();
        let folds = model.entries.len() - segments;
        let arrows = svg.select(&Selector::parse("g.seg").unwrap()).count();
        let heads = svg
            .select(&Selector::parse("g.seg polygon").unwrap())
            .count();
        assert_eq!(arrows, segments, "connection {}", l.report.id);
        assert_eq!(heads, segments);
        assert_eq!(
            svg.select(&Selector::parse("g.fold").unwrap()).count(),
            folds
        );
        assert_eq!(
            svg.select(&Selector::parse("text.finding").unwrap())
                .count(),
            findings
        );
        // Both states beside each row.
        assert_eq!(
            svg.select(&Selector::parse("g.seg text.state").unwrap())
                .count(),
            2 * segments
        );
    }
    // The graceful one with fin_not_counted folds its data transfer.
    assert!(page.contains("class=\"fold\""));
    // Handshake counts in the summary table are the run's.
    let text: String = doc.root_element().text().collect();
    for h in ["refused", "invalid", "no_final_ack", "complete"] {
        assert!(text.contains(h), "{h}");
    }
}

#[test]
fn ladders_and_rows_are_capped_and_the_rest_counted() {
    let opts = ReportOptions {
        ladders: 2,
        table_rows: 3,
        ..Default::default()
    };
    let (report, page) = build(&["mixed.pcap"], &opts);
    let doc = Html::parse_document(&page);
    assert_eq!(report.failing_total, 4);
    assert_eq!(select(&doc, "svg.ladder").len(), 2);
    assert_eq!(select(&doc, "table.failing tbody tr").len(), 3);
    let left: Vec<String> = select(&doc, ".left-out")
        .iter()
        .map(|e| e.text().collect())
        .collect();
    assert!(left.iter().any(|t| t == "1 left out"), "{left:?}");
    assert!(left.iter().any(|t| t == "2 more not drawn"), "{left:?}");
}

#[test]
fn every_listener_gets_its_timeline_histogram_and_diagnoses() {
    let (report, page) = build(&["servers-syn-flood.pcap"], &ReportOptions::default());
    assert_self_contained(&page);
    let doc = Html::parse_document(&page);
    let listeners = report.servers.listeners.len();
    assert!(listeners >= 1);
    // The overall section is drawn too when there are several listeners.
    let sections = listeners + usize::from(listeners > 1);
    assert_eq!(select(&doc, "section.listener").len(), sections);
    let timelines = select(&doc, "figure.timeline svg");
    assert_eq!(timelines.len(), sections);
    // The timeline draws the series that are not all zero.
    let l = &report.servers.listeners[0];
    let drawn = select(&doc, "figure.timeline")[usize::from(listeners > 1)]
        .value()
        .attr("data-series")
        .unwrap()
        .to_string();
    for (name, values) in &l.timeline.series {
        assert_eq!(
            drawn.split(' ').any(|s| s == *name),
            values.iter().any(|&v| v > 0),
            "{name} in {drawn}"
        );
    }
    let diagnoses: usize = report
        .servers
        .listeners
        .iter()
        .map(|l| l.diagnoses.len())
        .sum::<usize>()
        + if listeners > 1 {
            report.servers.overall.diagnoses.len()
        } else {
            0
        };
    assert!(diagnoses > 0, "a SYN flood is diagnosed");
    assert_eq!(select(&doc, "li.diagnosis").len(), diagnoses);
    let first: String = select(&doc, "li.diagnosis")[0].text().collect();
    assert!(first.contains(&l.diagnoses[0].message), "{first}");
}

#[test]
fn the_histogram_marks_the_percentiles() {
    let (report, page) = build(&["servers-one-slow-client.pcap"], &ReportOptions::default());
    let doc = Html::parse_document(&page);
    let l = &report.servers.listeners[0];
    let hist = report.histograms.get(&l.server).unwrap();
    assert_eq!(hist.total(), l.time_to_establish.count);
    let figs = select(&doc, "figure.histogram");
    assert!(!figs.is_empty());
    let svg_text: String = figs[0].text().collect();
    for p in ["p50", "p90", "p99"] {
        assert!(svg_text.contains(p), "{p} marked: {svg_text}");
    }
}

#[test]
fn histogram_buckets_are_log_spaced_and_catch_everything() {
    let mut h = html::Histogram::default();
    for v in [5e-6, 1e-5, 1.5e-5, 0.003, 1.0, 99.0, 1e6] {
        h.add(v);
    }
    h.add(f64::NAN);
    assert_eq!(h.total(), 7);
    assert_eq!(h.0[0], 2, "≤10µs");
    assert_eq!(h.0[1], 1, "≤20µs");
    assert_eq!(h.0[html::BUCKET_BOUNDS.len()], 1, ">100s");
}

#[test]
fn names_from_the_capture_are_escaped() {
    assert_eq!(
        html::esc("<script>\"a\" & 'b'</script>"),
        "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
    );
}

/// A damaged region is in the summary, with where it was and what was skipped.
#[test]
fn the_summary_names_damaged_regions() {
    let (_, page) = build(&["damaged-middle.pcap"], &ReportOptions::default());
    assert_self_contained(&page);
    let doc = Html::parse_document(&page);
    let files: Vec<String> = select(&doc, "table.files tbody tr")
        .iter()
        .map(|e| e.text().collect())
        .collect();
    assert_eq!(files.len(), 1);
    assert!(
        files[0].contains("damaged at byte 1894: 16 bytes skipped, 11 frames before, 3000 after"),
        "{files:?}"
    );
    // Clean captures say nothing of damage.
    let (_, page) = build(&["mixed.pcap"], &ReportOptions::default());
    assert!(!page.contains("damaged at byte"));
}
