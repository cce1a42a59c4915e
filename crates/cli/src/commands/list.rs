//! `lastgasp list`: one row per report, oldest first, as a table or JSON; with `--verify`, each
//! report's files re-hashed against its manifest, and a failure when any is damaged.

use anyhow::{Result, anyhow, bail};
use serde::Serialize;

use crate::cli::ListArgs;
use crate::config::Config;
use crate::output;

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
struct Row {
    id: String,
    created: Option<String>,
    crash_time: Option<String>,
    backend: Option<String>,
    dump_reason: Option<String>,
    class: Option<String>,
    signature: Option<String>,
    title: Option<String>,
    partial: bool,
    bytes: u64,
    /// Why the report could not be read; the other fields are then empty.
    problem: Option<String>,
    /// With `--verify`: what does not match the manifest (empty: intact).
    #[serde(skip_serializing_if = "Option::is_none")]
    integrity: Option<Vec<String>>,
}

impl Row {
    /// The first thing wrong with the report, if anything is known to be.
    fn damage(&self) -> Option<&str> {
        self.problem
            .as_deref()
            .or_else(|| self.integrity.as_ref()?.first().map(String::as_str))
    }
}

pub fn run(config: &Config, args: &ListArgs) -> Result<()> {
    let store = super::store(config);
    let listed = store.list().map_err(|e| anyhow!("{e}"))?;
    let rows: Vec<Row> = listed
        .into_iter()
        .map(|listed| {
            let integrity = args.verify.then(|| verify(&store, &listed));
            Row {
                integrity,
                ..row(listed)
            }
        })
        .collect();
    if args.json {
        output::line(&serde_json::to_string_pretty(&rows)?)?;
    } else if rows.is_empty() {
        output::line(&format!("no reports in {}", config.reports_dir.display()))?;
    } else {
        output::emit(&table(&rows))?;
    }
    let damaged: Vec<String> = rows
        .iter()
        .filter_map(|r| Some(format!("{} ({})", r.id, r.damage()?)))
        .collect();
    if args.verify && !damaged.is_empty() {
        bail!(
            "{} damaged report(s) in {}: {}",
            damaged.len(),
            config.reports_dir.display(),
            damaged.join("; ")
        );
    }
    Ok(())
}

/// The report's integrity problems, as `show` finds them (a manifest that cannot be read is the
/// row's `problem` already).
fn verify(store: &report::Store, listed: &report::Listed) -> Vec<String> {
    match &listed.manifest {
        Ok(manifest) => store.verify(&report::Loaded {
            id: listed.id.clone(),
            path: listed.path.clone(),
            manifest: manifest.clone(),
        }),
        Err(_) => Vec::new(),
    }
}

fn row(listed: report::Listed) -> Row {
    match listed.manifest {
        Ok(m) => Row {
            class: Some(m.class().to_string()),
            signature: m.signature().map(str::to_string),
            title: m.analysis.as_ref().map(|a| a.title.clone()),
            id: listed.id,
            created: Some(m.created),
            crash_time: m.crash_time,
            backend: m.backend,
            dump_reason: m.dump_reason,
            partial: m.partial,
            bytes: listed.bytes,
            problem: None,
            integrity: None,
        },
        Err(problem) => Row {
            id: listed.id,
            created: None,
            crash_time: None,
            backend: None,
            dump_reason: None,
            class: None,
            signature: None,
            title: None,
            partial: false,
            bytes: listed.bytes,
            problem: Some(problem),
            integrity: None,
        },
    }
}

fn table(rows: &[Row]) -> String {
    let header = [
        "ID",
        "CRASH TIME",
        "BACKEND",
        "CLASS",
        "SIGNATURE",
        "PARTIAL",
    ];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
            [
                r.id.clone(),
                dash(&r.crash_time),
                dash(&r.backend),
                match (&r.problem, r.damage()) {
                    (Some(_), _) => "damaged".to_string(),
                    (None, Some(_)) => "corrupt".to_string(),
                    (None, None) => dash(&r.class),
                },
                r.damage()
                    .map_or_else(|| dash(&r.signature), str::to_string),
                if r.partial { "yes" } else { "no" }.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header = header.map(str::to_string);
    for row in std::iter::once(&header).chain(&cells) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let row = |id: &str, sig: &str| Row {
            id: id.into(),
            created: None,
            crash_time: Some("2026-11-26T03:17:29Z".into()),
            backend: Some("ramoops".into()),
            dump_reason: None,
            class: Some("panic".into()),
            signature: Some(sig.into()),
            title: None,
            partial: false,
            bytes: 0,
            problem: None,
            integrity: None,
        };
        let text = table(&[row("a", "panic-x-00000000"), row("bb", "s")]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let col = |l: &str| l.find("ramoops").or_else(|| l.find("BACKEND"));
        assert_eq!(col(lines[0]), col(lines[1]));
        assert_eq!(col(lines[1]), col(lines[2]));
        assert!(lines[1].ends_with("no"));
    }
}
