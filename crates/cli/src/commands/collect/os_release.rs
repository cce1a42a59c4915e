//! The OS release of the booted system, from `/etc/os-release` (or `/usr/lib/os-release`, which
//! it usually links to): the identifying names and versions only, not the URLs and logos.

use std::collections::BTreeMap;
use std::path::Path;

use report::{ContextItem, ContextKind, Describes};

use super::read_small;
use crate::paths::under_root;

const FILES: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];

/// The keys a report keeps (os-release(5)).
const KEYS: [&str; 11] = [
    "ID",
    "ID_LIKE",
    "NAME",
    "PRETTY_NAME",
    "VERSION",
    "VERSION_ID",
    "VERSION_CODENAME",
    "BUILD_ID",
    "VARIANT_ID",
    "IMAGE_ID",
    "IMAGE_VERSION",
];

pub fn collect(root: &Path) -> ContextItem {
    let item = |facts| ContextItem::collected(ContextKind::OsRelease, Describes::ThisBoot, facts);
    let mut reasons = Vec::new();
    for file in FILES {
        let path = under_root(root, Path::new(file));
        match read_small(&path) {
            Ok(text) => {
                let facts = parse(&text);
                if facts.is_empty() {
                    reasons.push(format!(
                        "{} has none of {}",
                        path.display(),
                        KEYS.join(", ")
                    ));
                    continue;
                }
                return item(facts);
            }
            Err(reason) => reasons.push(reason),
        }
    }
    ContextItem::missing(
        ContextKind::OsRelease,
        Describes::ThisBoot,
        reasons.join("; "),
    )
}

/// `KEY=value` lines, values unquoted the shell way os-release(5) allows; other keys dropped.
fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.trim().split_once('='))
        .filter(|(key, _)| KEYS.contains(key))
        .map(|(key, value)| (key.to_string(), unquote(value.trim())))
        .filter(|(_, value)| !value.is_empty())
        .collect()
}

fn unquote(value: &str) -> String {
    let inner = ['"', '\'']
        .iter()
        .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
        .unwrap_or(value);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_os_release_keeps_names_and_versions() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("usr/lib")).unwrap();
        std::fs::write(
            root.path().join("usr/lib/os-release"),
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
             VERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n\
             HOME_URL=\"https://www.debian.org/\"\nEMPTY=\nBUILD_ID='a \\\"b\\\"'\n",
        )
        .unwrap();
        let item = collect(root.path());
        assert!(item.is_collected());
        assert_eq!(item.describes, Describes::ThisBoot);
        let facts: Vec<(&str, &str)> = item
            .facts
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            facts,
            [
                ("BUILD_ID", "a \"b\""),
                ("ID", "debian"),
                ("NAME", "Debian GNU/Linux"),
                ("PRETTY_NAME", "Debian GNU/Linux 12 (bookworm)"),
                ("VERSION_CODENAME", "bookworm"),
                ("VERSION_ID", "12"),
            ]
        );
    }

    #[test]
    fn etc_wins_and_absence_is_a_reason() {
        let root = tempfile::tempdir().unwrap();
        let item = collect(root.path());
        let reason = item.missing.unwrap();
        assert!(reason.contains("etc/os-release"), "{reason}");
        assert!(reason.contains("usr/lib/os-release"), "{reason}");
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(root.path().join("etc/os-release"), "ID=arch\n").unwrap();
        assert_eq!(collect(root.path()).facts["ID"], "arch");
    }
}
