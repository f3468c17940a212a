//! The HTML page around the figures, charts and ladders.

use super::{Report, charts, esc, ladder_svg};
use crate::servers::ListenerReport;
use std::collections::BTreeMap;
use std::io::{self, Write};

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:0 1.2em 3em;color:#222;background:#fff}
h1{font-size:1.6em;margin:.8em 0 .2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
h3{margin:1.2em 0 .4em}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .55em;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}
.wide{overflow-x:auto}
.muted{color:#666}.bad{color:#b00020;font-weight:600}.warn{color:#a05a00}.ok{color:#1b7d3a}
table.sortable th{cursor:pointer}table.sortable th:after{content:" \2195";color:#aaa}
details{margin:.6em 0;border:1px solid #e4e4e4;border-radius:6px;padding:.3em .8em}
summary{cursor:pointer;font-weight:600}
.chart svg,.ladder{max-width:100%;height:auto}
.ladder{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.ladder .life{stroke:#999;stroke-width:2}
.ladder .end{font-weight:700;font-family:system-ui,sans-serif;font-size:13px}
.ladder .head{fill:#777}.ladder .num{fill:#555}.ladder .state{fill:#333}
.ladder .seg line{stroke-width:1.6}
.ladder .c2s line{stroke:#1f77b4}.ladder .c2s polygon{fill:#1f77b4}
.ladder .s2c line{stroke:#9467bd}.ladder .s2c polygon{fill:#9467bd}
.ladder .seg.error line{stroke:#d62728}.ladder .seg.error polygon{fill:#d62728}
.ladder .seg.warning line{stroke:#e08a00}.ladder .seg.warning polygon{fill:#e08a00}
.ladder .fold rect{fill:#f2f2f2;stroke:#ccc}.ladder .fold text{fill:#555;font-style:italic}
.ladder .finding{font-size:11px}.ladder .finding.error{fill:#b00020}.ladder .finding.warning{fill:#a05a00}.ladder .finding.info{fill:#777}
"#;

/// Sorts a `table.sortable` by the clicked column: numbers by `data-v`, else by text.
const SCRIPT: &str = r#"
document.querySelectorAll('table.sortable').forEach(function (t) {
  t.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = t.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var up = th.getAttribute('data-dir') !== 'up';
      th.setAttribute('data-dir', up ? 'up' : 'down');
      function key(r) {
        var c = r.cells[col];
        var v = c.getAttribute('data-v');
        return v !== null ? parseFloat(v) : c.textContent;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var d = (typeof x === 'number' && typeof y === 'number') ? x - y : String(x).localeCompare(String(y));
        return up ? d : -d;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"#;

fn plural(n: u64, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn counts_table(
    out: &mut dyn Write,
    title: &str,
    what: &str,
    counts: &BTreeMap<&'static str, u64>,
) -> io::Result<()> {
    write!(
        out,
        "<table><thead><tr><th>{title}</th><th>{what}</th></tr></thead><tbody>"
    )?;
    for (k, v) in counts.iter().filter(|(_, v)| **v > 0) {
        write!(out, "<tr><td>{k}</td><td class=\"n\">{v}</td></tr>")?;
    }
    writeln!(out, "</tbody></table>")
}

fn opt_secs(v: Option<f64>) -> String {
    v.map(charts::secs).unwrap_or_else(|| "–".into())
}

fn listener(out: &mut dyn Write, r: &Report, l: &ListenerReport) -> io::Result<()> {
    writeln!(
        out,
        "<section class=\"listener\" data-listener=\"{s}\"><h3>{s}</h3>",
        s = esc(&l.server)
    )?;
    let failed = l.attempts.saturating_sub(l.established);
    let t = &l.time_to_establish;
    writeln!(
        out,
        "<p>{} ({} attempts, {} established, {} failed), {} SYNs sent, {} distinct clients; \
         time to establish p50 {}, p90 {}, p99 {}, max {}; RSTs {} from clients, {} from the server.</p>",
        plural(l.connections, "connection"),
        l.attempts,
        l.established,
        failed,
        l.syns,
        l.distinct_clients,
        opt_secs(t.p50),
        opt_secs(t.p90),
        opt_secs(t.p99),
        opt_secs(t.max),
        l.rst.client.total(),
        l.rst.server.total(),
    )?;
    if l.diagnoses.is_empty() {
        writeln!(out, "<p class=\"ok\">No diagnosis: nothing stands out.</p>")?;
    } else {
        writeln!(out, "<ul class=\"diagnoses\">")?;
        for d in &l.diagnoses {
            let ex: Vec<String> = d.examples.iter().map(|e| format!("#{e}")).collect();
            writeln!(
                out,
                "<li class=\"diagnosis\"><b>{}</b>: {} <span class=\"muted\">({} of {}, frames {}–{}{})</span></li>",
                esc(d.id),
                esc(&d.message),
                d.count,
                d.of,
                d.first_frame,
                d.last_frame,
                if ex.is_empty() {
                    String::new()
                } else {
                    format!("; e.g. {}", ex.join(", "))
                }
            )?;
        }
        writeln!(out, "</ul>")?;
    }
    let (svg, series) = charts::timeline(&l.timeline);
    if !svg.is_empty() {
        writeln!(
            out,
            "<figure class=\"chart timeline\" data-series=\"{}\">{svg}<figcaption>Timeline: {} per {}.</figcaption></figure>",
            series.join(" "),
            series.join(", "),
            charts::secs(l.timeline.interval)
        )?;
    }
    if let Some(h) = r.histograms.get(&l.server) {
        let svg = charts::establish_histogram(h, &l.time_to_establish);
        if !svg.is_empty() {
            writeln!(
                out,
                "<figure class=\"chart histogram\">{svg}<figcaption>Time to establish of {} connections, p50/p90/p99 marked.</figcaption></figure>",
                h.total()
            )?;
        }
    }
    writeln!(out, "</section>")
}

/// Writes the whole page.
pub fn write_html(out: &mut dyn Write, r: &Report) -> io::Result<()> {
    let s = &r.summary;
    writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>",
        esc(&r.title)
    )?;
    let failed_files = r.unreadable.len();
    writeln!(
        out,
        "<h1>{}</h1><p class=\"muted\">tcpshake {}: {}, {}, {} failing{}.</p>",
        esc(&r.title),
        env!("CARGO_PKG_VERSION"),
        plural(r.files.len() as u64, "file"),
        plural(s.connections, "connection"),
        r.failing_total,
        if failed_files > 0 {
            format!(", <span class=\"bad\">{failed_files} unreadable</span>")
        } else {
            String::new()
        }
    )?;

    writeln!(out, "<h2 id=\"summary\">Summary</h2>")?;
    writeln!(
        out,
        "<table class=\"files\"><thead><tr><th>file</th><th>format</th><th>link types</th><th>frames</th>\
         <th>TCP segments</th><th>decode errors</th><th>connections</th><th>notes</th></tr></thead><tbody>"
    )?;
    for f in &r.files {
        let mut notes = Vec::new();
        if let Some(t) = &f.truncated_reason {
            notes.push(format!("truncated: {}", esc(t)));
        }
        for (reason, c) in &f.decode_errors_by_reason {
            let frames: Vec<String> = c.first_frames.iter().map(u64::to_string).collect();
            notes.push(format!(
                "{}: {} (frames {})",
                esc(reason),
                c.count,
                frames.join(", ")
            ));
        }
        if f.evicted_connections > 0 {
            notes.push(format!("{} connections evicted", f.evicted_connections));
        }
        for d in f.damaged_regions.iter().take(5) {
            notes.push(format!(
                "<span class=\"bad\">damaged at byte {}</span>: {} bytes skipped, {} frames before, {} after ({})",
                d.offset,
                d.skipped,
                d.frames_before,
                d.frames_after,
                esc(&d.kind.to_string())
            ));
        }
        if f.damage_count > 5 {
            notes.push(format!(
                "{} more damaged regions not shown",
                f.damage_count - 5
            ));
        }
        let links: Vec<String> = f.link_types.iter().map(u32::to_string).collect();
        writeln!(
            out,
            "<tr><td>{}</td><td>{:?}{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&f.path),
            f.format,
            if f.gzip { " (gzip)" } else { "" },
            links.join(", "),
            f.frames,
            f.tcp_segments,
            f.decode_error_count,
            f.connections,
            notes.join("; ")
        )?;
    }
    writeln!(out, "</tbody></table>")?;
    for u in &r.unreadable {
        writeln!(out, "<p class=\"bad\">Unreadable: {}</p>", esc(u))?;
    }
    writeln!(out, "<div class=\"grid\">")?;
    counts_table(out, "handshake", "connections", &s.handshake)?;
    counts_table(out, "close", "connections", &s.close)?;
    counts_table(
        out,
        "findings by severity",
        "findings",
        &s.findings_by_severity,
    )?;
    counts_table(out, "findings by kind", "findings", &s.findings)?;
    writeln!(out, "</div>")?;
    writeln!(
        out,
        "<p>{} with errors, {} with warnings.</p>",
        plural(s.connections_with_errors, "connection"),
        plural(s.connections_with_warnings, "connection")
    )?;

    writeln!(out, "<h2 id=\"listeners\">Listeners</h2>")?;
    let sv = &r.servers;
    for n in &sv.notes {
        writeln!(out, "<p class=\"muted\">{}</p>", esc(n))?;
    }
    if sv.listeners.len() > 1 {
        listener(out, r, &sv.overall)?;
    }
    for l in sv.listeners.iter().take(r.listeners_shown) {
        listener(out, r, l)?;
    }
    let left = sv.listeners.len() - r.listeners_shown;
    if left > 0 {
        writeln!(
            out,
            "<p class=\"muted left-out\">{} more listeners not drawn; `tcpshake servers` lists them all.</p>",
            left
        )?;
    }

    writeln!(out, "<h2 id=\"failing\">Failing connections</h2>")?;
    if r.failing_total == 0 {
        writeln!(out, "<p class=\"ok\">None.</p>")?;
    } else {
        writeln!(
            out,
            "<p>{} failing (a failed handshake, a reset, or an error or warning finding); \
             {} listed worst first{}. Click a column to sort.</p>",
            r.failing_total,
            r.failing.len(),
            if (r.failing.len() as u64) < r.failing_total {
                format!(
                    ", <span class=\"left-out\">{} left out</span>",
                    r.failing_total - r.failing.len() as u64
                )
            } else {
                String::new()
            }
        )?;
        writeln!(
            out,
            "<div class=\"wide\"><table class=\"sortable failing\"><thead><tr><th>file</th><th>id</th><th>client</th><th>server</th>\
             <th>handshake</th><th>close</th><th>errors</th><th>warnings</th><th>findings</th><th>packets</th>\
             <th>bytes</th><th>duration (s)</th><th>time to establish (s)</th></tr></thead><tbody>"
        )?;
        for f in &r.failing {
            let kinds: Vec<String> = f
                .findings
                .iter()
                .map(|(k, n)| {
                    if *n > 1 {
                        format!("{k} ×{n}")
                    } else {
                        k.to_string()
                    }
                })
                .collect();
            let file = r.files.get(f.file).map_or("", |x| x.path.as_str());
            let tte = f.time_to_establish;
            writeln!(
                out,
                "<tr><td>{}</td><td class=\"n\" data-v=\"{id}\"><a href=\"#c{}-{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td class=\"n\" data-v=\"{e}\">{e}</td><td class=\"n\" data-v=\"{w}\">{w}</td><td>{}</td>\
                 <td class=\"n\" data-v=\"{p}\">{p}</td><td class=\"n\" data-v=\"{b}\">{b}</td>\
                 <td class=\"n\" data-v=\"{d}\">{d:.6}</td><td class=\"n\" data-v=\"{tv}\">{}</td></tr>",
                esc(file),
                f.file,
                esc(&f.client.to_string()),
                esc(&f.server.to_string()),
                f.handshake,
                f.close,
                esc(&kinds.join(", ")),
                tte.map_or("–".into(), |t| format!("{t:.6}")),
                id = f.id,
                e = f.errors,
                w = f.warnings,
                p = f.packets,
                b = f.bytes,
                d = f.duration,
                tv = tte.unwrap_or(-1.0),
            )?;
        }
        writeln!(out, "</tbody></table></div>")?;
    }

    writeln!(out, "<h2 id=\"ladders\">Ladders</h2>")?;
    if r.ladders.is_empty() {
        writeln!(out, "<p class=\"muted\">No failing connection to draw.</p>")?;
    } else {
        let left = r.failing_total.saturating_sub(r.ladders.len() as u64);
        writeln!(
            out,
            "<p>The {} worst failing connections, the data transfer folded{}.</p>",
            r.ladders.len(),
            if left > 0 {
                format!(
                    "; <span class=\"left-out\">{left} more not drawn</span> (`tcpshake ladder FILE --conn ID` draws any)"
                )
            } else {
                String::new()
            }
        )?;
    }
    for (i, (file, l)) in r.ladders.iter().enumerate() {
        let c = &l.report;
        let path = r.files.get(*file).map_or("", |x| x.path.as_str());
        writeln!(
            out,
            "<details id=\"c{file}-{id}\"{open}><summary>#{id} {} → {}: handshake {}, close {} <span class=\"muted\">({})</span></summary>{}</details>",
            esc(&c.client.to_string()),
            esc(&c.server.to_string()),
            c.handshake,
            c.close,
            esc(path),
            ladder_svg(l),
            id = c.id,
            open = if i < 10 { " open" } else { "" },
        )?;
    }
    writeln!(out, "<script>{SCRIPT}</script></body></html>")
}
