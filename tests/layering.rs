//! The library's layering, checked from the source text: every module under
//! src/ may import (`crate::X`) only modules at its own level or upstream of
//! it, plus the few sideways edges listed in [`EXTRA_EDGES`]. Test code
//! (`#[cfg(test)]` modules, files named tests.rs) is exempt.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Levels, upstream first. A module may use every module of a lower level;
/// within a level only where [`PEERS_MAY_MIX`] says so.
const LEVELS: &[(&str, &[&str])] = &[
    ("leaf helpers", &["seq", "duration", "numbers"]),
    ("capture", &["capture"]),
    ("decode", &["decode"]),
    ("flow", &["flow"]),
    ("flow identity", &["community_id"]),
    ("findings", &["findings"]),
    ("model", &["model"]),
    ("judge", &["judge"]),
    ("report", &["report", "filter"]),
    // The driver: frames in, decoded, tracked and judged, reports out.
    ("drive", &["pipeline", "progress"]),
    // Views over the judged connections that run the driver themselves.
    ("views", &["servers", "ladder"]),
    // Documents made of the views: the CI gate and the HTML report.
    ("outputs", &["check", "html"]),
    // `schema` describes every output, live status included.
    ("orchestration", &["live", "schema"]),
    ("binary", &["cli", "main", "live_cmd"]),
];

/// Levels whose modules may use one another.
const PEERS_MAY_MIX: &[&str] = &["leaf helpers", "report", "drive", "orchestration", "binary"];

/// Edges allowed against the order: (from, to).
const EXTRA_EDGES: &[(&str, &str)] = &[];

fn level_of(module: &str) -> Option<(usize, &'static str)> {
    LEVELS
        .iter()
        .enumerate()
        .find(|(_, (_, mods))| mods.contains(&module))
        .map(|(i, (name, _))| (i, *name))
}

fn allowed(from: &str, to: &str) -> Result<(), String> {
    if from == to || EXTRA_EDGES.contains(&(from, to)) {
        return Ok(());
    }
    let (Some((lf, nf)), Some((lt, nt))) = (level_of(from), level_of(to)) else {
        return Err(format!(
            "`{from}` or `{to}` has no place in the level table of tests/layering.rs"
        ));
    };
    if lt < lf || (lt == lf && PEERS_MAY_MIX.contains(&nf)) {
        Ok(())
    } else if lt == lf {
        Err(format!(
            "`{from}` and `{to}` are siblings at level `{nf}` and may not use each other"
        ))
    } else {
        Err(format!(
            "`{from}` (level `{nf}`) may not use `{to}` (level `{nt}`, downstream)"
        ))
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to: src/X.rs and src/X/… are `X`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("component");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

/// The text without comments and without `#[cfg(test)]` items.
fn production_code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let code = line.split("//").next().unwrap_or("");
        if code.trim() == "#[cfg(test)]" {
            // Skip the attributed item: a one-line item or a braced block.
            let mut depth = 0i32;
            let mut opened = false;
            for next in lines.by_ref() {
                let code = next.split("//").next().unwrap_or("");
                depth += code.matches('{').count() as i32 - code.matches('}').count() as i32;
                opened |= code.contains('{');
                if (opened && depth <= 0) || (!opened && code.trim_end().ends_with(';')) {
                    break;
                }
            }
            continue;
        }
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// Every `X` named as `crate::X`, including `crate::{X, Y::…}`.
fn crate_uses(code: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(ident(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            found.insert(ident(&item));
        } else {
            found.insert(ident(rest));
        }
    }
    found.retain(|m| !m.is_empty());
    found
}

#[test]
fn modules_use_only_their_level_and_upstream() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut checked = 0;
    for file in &files {
        let from = module_of(&src, file);
        if from == "lib" || file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = fs::read_to_string(file).expect("read source");
        for to in crate_uses(&production_code(&text)) {
            checked += 1;
            if let Err(rule) = allowed(&from, &to) {
                let rel = file.strip_prefix(&src).unwrap_or(file).display();
                violations.push(format!("src/{rel}: imports crate::{to}: {rule}"));
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} imports found; the scan is broken"
    );
    assert!(
        violations.is_empty(),
        "layering violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_scanner_sees_imports_and_skips_tests() {
    let text = "use crate::{model::X, report::{a, b}};\nuse crate::flow::Y; // crate::html\n#[cfg(test)]\nmod tests {\n    use crate::cli;\n}\n";
    let uses: Vec<_> = crate_uses(&production_code(text)).into_iter().collect();
    assert_eq!(uses, ["flow", "model", "report"]);
}

#[test]
fn the_rules_reject_downstream_and_sibling_edges() {
    assert!(allowed("model", "report").is_err());
    assert!(allowed("ladder", "servers").is_err());
    assert!(allowed("report", "model").is_ok());
    assert!(allowed("check", "pipeline").is_ok());
    assert!(allowed("pipeline", "check").is_err());
    assert!(allowed("ladder", "servers").is_err());
    assert!(allowed("html", "servers").is_ok());
    assert!(allowed("capture", "nowhere").is_err());
}
