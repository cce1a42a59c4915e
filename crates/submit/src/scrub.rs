//! Privacy scrubbing: what identifies a machine or a person is replaced by a `<kind>` token
//! before anything leaves the machine. Host names, machine ids, boot ids and DMI serials are
//! known exactly (read from the system, see `identifiers`) and replaced wherever they appear;
//! MAC, IPv4 and IPv6 addresses, UUIDs, user names in home paths and serial numbers are found
//! by pattern; the configuration adds patterns of its own.
//!
//! Scrubbing is idempotent: a match inside a token already placed is left alone, so scrubbing
//! scrubbed text changes nothing. It keeps the kernel log's structure (timestamps, frames,
//! registers, code bytes), so the analysis of a scrubbed log gives the same signature.

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use crate::error::{Error, Result};

/// What a replaced piece of text was; its token is `<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Hostname,
    MachineId,
    BootId,
    Serial,
    Uuid,
    Mac,
    Ipv4,
    Ipv6,
    User,
    Redacted,
}

impl Kind {
    pub fn token(self) -> &'static str {
        match self {
            Self::Hostname => "<hostname>",
            Self::MachineId => "<machine-id>",
            Self::BootId => "<boot-id>",
            Self::Serial => "<serial>",
            Self::Uuid => "<uuid>",
            Self::Mac => "<mac>",
            Self::Ipv4 => "<ipv4>",
            Self::Ipv6 => "<ipv6>",
            Self::User => "<user>",
            Self::Redacted => "<redacted>",
        }
    }
}

/// Every token, to find the ones already in a text.
static TOKENS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("<(?:hostname|machine-id|boot-id|serial|uuid|mac|ipv4|ipv6|user|redacted)>")
        .expect("valid token pattern")
});

/// One rule: what to look for, which part of a match to replace (capture group 1 when the
/// pattern has one, else the whole match) and an extra check on the match's surroundings.
struct Rule {
    pattern: Regex,
    kind: Kind,
    check: fn(&str, Range<usize>) -> bool,
}

fn always(_: &str, _: Range<usize>) -> bool {
    true
}

/// The exact identifiers of one machine, as `identifiers::collect` reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identifiers {
    pub hostnames: BTreeSet<String>,
    /// Machine id, boot ids, DMI serials and UUIDs, with what each is.
    pub secrets: Vec<(String, Kind)>,
}

/// The rules for one machine and configuration, ready to apply to any number of texts.
pub struct Scrubber {
    rules: Vec<Rule>,
}

/// The same few characters that make up a word in a host name or a hex number.
fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn before(text: &str, at: usize) -> Option<char> {
    text.get(..at).and_then(|s| s.chars().next_back())
}

fn after(text: &str, at: usize) -> Option<char> {
    text.get(at..).and_then(|s| s.chars().next())
}

/// An IPv4 address stands alone: not a piece of a longer dotted number such as a version
/// (`1.2.3.4.5`), nor glued to a word.
fn ipv4_alone(text: &str, m: Range<usize>) -> bool {
    let prev = before(text, m.start);
    let next = after(text, m.end);
    let next2 = text.get(m.end..).and_then(|s| s.chars().nth(1));
    let glued_before = prev.is_some_and(|c| is_word(c) || c == '.');
    let continues = next.is_some_and(is_word)
        || (next == Some('.') && next2.is_some_and(|c| c.is_ascii_digit()));
    !glued_before && !continues
}

/// An IPv6 address stands alone (no hex digit, word character or colon on either side: Rust
/// paths like `core::fmt` and timestamps like `10:00:00` are not addresses).
fn ipv6_alone(text: &str, m: Range<usize>) -> bool {
    let glued = |c: Option<char>| c.is_some_and(|c| is_word(c) || c == ':');
    let matched = &text[m.clone()];
    let groups = matched.split(':').filter(|g| !g.is_empty()).count();
    !glued(before(text, m.start)) && !glued(after(text, m.end)) && groups >= 2
}

/// A MAC address or UUID stands alone, not inside a longer run of hex and separators.
fn hex_alone(text: &str, m: Range<usize>) -> bool {
    let glued = |c: Option<char>| c.is_some_and(|c| is_word(c) || c == ':' || c == '-');
    !glued(before(text, m.start)) && !glued(after(text, m.end))
}

fn built_in(pattern: &str, kind: Kind, check: fn(&str, Range<usize>) -> bool) -> Rule {
    Rule {
        pattern: Regex::new(pattern).expect("valid built-in pattern"),
        kind,
        check,
    }
}

impl Scrubber {
    /// The built-in rules, the machine's exact identifiers and the configured `patterns`
    /// (regular expressions; a pattern with a capture group replaces only that group). A
    /// pattern that does not compile is an error naming it.
    pub fn new(ids: &Identifiers, patterns: &[String]) -> Result<Self> {
        let mut rules = Vec::new();
        // Exact identifiers first, longest first, so a UUID that is also a boot id is named as
        // the more specific kind.
        let mut secrets: Vec<&(String, Kind)> = ids
            .secrets
            .iter()
            .filter(|(value, _)| value.len() >= 4)
            .collect();
        secrets.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        for (value, kind) in secrets {
            for form in hex_forms(value) {
                rules.push(Rule {
                    pattern: Regex::new(&format!("(?i){}", regex::escape(&form)))
                        .expect("escaped literal"),
                    kind: *kind,
                    check: always,
                });
            }
        }
        for host in &ids.hostnames {
            if host.len() < 2 || host == "localhost" || host == "(none)" {
                continue;
            }
            // A host name is matched as a whole word; its short name too when it is a FQDN.
            let mut names = vec![host.clone()];
            if let Some((short, _)) = host.split_once('.')
                && short.len() >= 2
            {
                names.push(short.to_string());
            }
            for name in names {
                rules.push(Rule {
                    pattern: Regex::new(&format!(r"\b{}\b", regex::escape(&name)))
                        .expect("escaped literal"),
                    kind: Kind::Hostname,
                    check: always,
                });
            }
        }
        rules.push(built_in(
            r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}",
            Kind::Uuid,
            hex_alone,
        ));
        rules.push(built_in(
            r"[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}",
            Kind::Mac,
            hex_alone,
        ));
        rules.push(built_in(
            r"(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,7}:(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,5})?",
            Kind::Ipv6,
            ipv6_alone,
        ));
        rules.push(built_in(
            r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])",
            Kind::Ipv4,
            ipv4_alone,
        ));
        rules.push(built_in(r"/home/([^/\s:'\x22]+)", Kind::User, always));
        rules.push(built_in(r"/Users/([^/\s:'\x22]+)", Kind::User, always));
        rules.push(built_in(
            r"(?i)\bserial[ _]?(?:number|no\.?|num)?\s*[:=]\s*([A-Za-z0-9][A-Za-z0-9._-]*)",
            Kind::Serial,
            always,
        ));
        rules.push(built_in(r"-- Boot ([0-9a-f]{32}) --", Kind::BootId, always));
        rules.push(built_in(
            r"(?i)\bboot[ _-]?id\s*[:=]?\s*([0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12})",
            Kind::BootId,
            always,
        ));
        for pattern in patterns {
            let compiled = Regex::new(pattern).map_err(|e| Error::Config {
                key: "scrub_patterns",
                why: format!("{pattern:?} is not a valid pattern: {e}"),
            })?;
            rules.push(Rule {
                pattern: compiled,
                kind: Kind::Redacted,
                check: always,
            });
        }
        Ok(Self { rules })
    }

    /// `text` with every identifier replaced by its token.
    pub fn scrub(&self, text: &str) -> String {
        let mut current = text.to_string();
        for rule in &self.rules {
            current = apply(rule, &current);
        }
        current
    }
}

/// A value and, when it is 32 hex digits or a dashed UUID, its other spelling: journald prints
/// boot ids without dashes, /proc with them.
fn hex_forms(value: &str) -> Vec<String> {
    let plain: String = value.chars().filter(|c| *c != '-').collect();
    let is_uuid = plain.len() == 32 && plain.chars().all(|c| c.is_ascii_hexdigit());
    if !is_uuid {
        return vec![value.to_string()];
    }
    let dashed = format!(
        "{}-{}-{}-{}-{}",
        &plain[..8],
        &plain[8..12],
        &plain[12..16],
        &plain[16..20],
        &plain[20..]
    );
    vec![dashed, plain]
}

/// One rule over `text`, leaving matches that touch a token alone.
fn apply(rule: &Rule, text: &str) -> String {
    let tokens: Vec<Range<usize>> = TOKENS.find_iter(text).map(|m| m.range()).collect();
    let overlaps = |r: &Range<usize>| tokens.iter().any(|t| r.start < t.end && t.start < r.end);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for caps in rule.pattern.captures_iter(text) {
        let whole = caps.get(0).expect("group 0 always matches");
        let part = caps.get(1).unwrap_or(whole);
        let range = part.range();
        if range.is_empty() || overlaps(&range) || !(rule.check)(text, whole.range()) {
            continue;
        }
        out.push_str(&text[copied..range.start]);
        out.push_str(rule.kind.token());
        copied = range.end;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubber(hosts: &[&str], secrets: &[(&str, Kind)], patterns: &[&str]) -> Scrubber {
        let ids = Identifiers {
            hostnames: hosts.iter().map(|h| h.to_string()).collect(),
            secrets: secrets.iter().map(|(v, k)| (v.to_string(), *k)).collect(),
        };
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        Scrubber::new(&ids, &patterns).unwrap()
    }

    #[test]
    fn addresses_are_replaced() {
        let s = scrubber(&[], &[], &[]);
        assert_eq!(
            s.scrub("e1000 0000:00:03.0 eth0: (PCI:33MHz:32-bit) 52:54:00:12:34:56"),
            "e1000 0000:00:03.0 eth0: (PCI:33MHz:32-bit) <mac>"
        );
        assert_eq!(
            s.scrub("dhcp: 10.0.2.15/24 via 10.0.2.2, dns 192.168.1.1."),
            "dhcp: <ipv4>/24 via <ipv4>, dns <ipv4>."
        );
        assert_eq!(
            s.scrub("inet6 fe80::5054:ff:fe12:3456/64 and 2001:db8:0:0:1:0:0:1 up"),
            "inet6 <ipv6>/64 and <ipv6> up"
        );
        assert_eq!(
            s.scrub("root=UUID=0a1b2c3d-4e5f-6789-abcd-ef0123456789 ro"),
            "root=UUID=<uuid> ro"
        );
    }

    #[test]
    fn kernel_log_shapes_are_not_addresses() {
        let s = scrubber(&[], &[], &[]);
        for line in [
            "<6>[   12.345678] 10:00:00 core::fmt::write+0x1a/0x30",
            "BIOS 1.16.2-debian-1.16.2-1 04/01/2014",
            "version 1.2.3.4.5 of the firmware",
            "RIP: 0010:sysrq_handle_crash+0x16/0x20",
            "Code: 48 89 e5 0f 0b 66 2e 0f 1f 84 00 00 00 00 00",
            "pci 0000:00:1f.2: [8086:2922] type 00 class 0x010601",
            "CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0-57-amd64 #1 Debian 6.1.228-1",
        ] {
            assert_eq!(s.scrub(line), line);
        }
    }

    #[test]
    fn users_hosts_serials_and_known_ids() {
        let s = scrubber(
            &["build-box.example.org"],
            &[
                ("6d2f1e0c9b8a47f3a1b2c3d4e5f60718", Kind::MachineId),
                ("ABC123XYZ", Kind::Serial),
            ],
            &[r"token=(\w+)"],
        );
        assert_eq!(
            s.scrub("BUG at /home/alice/src/mod.c:12 on build-box (build-box.example.org)"),
            "BUG at /home/<user>/src/mod.c:12 on <hostname> (<hostname>)"
        );
        assert_eq!(
            s.scrub("machine 6d2f1e0c-9b8a-47f3-a1b2-c3d4e5f60718 chassis ABC123XYZ"),
            "machine <machine-id> chassis <serial>"
        );
        assert_eq!(
            s.scrub("usb 1-1: SerialNumber: 0123XYZ token=hunter2 /Users/bob/x"),
            "usb 1-1: SerialNumber: <serial> token=<redacted> /Users/<user>/x"
        );
        assert_eq!(
            s.scrub("-- Boot 0123456789abcdef0123456789abcdef --"),
            "-- Boot <boot-id> --"
        );
    }

    #[test]
    fn scrubbing_twice_changes_nothing() {
        // A host called "user" and a pattern that matches tokens must not eat the tokens.
        let s = scrubber(&["user", "mac"], &[], &["<[a-z]+>", "hunter"]);
        let once = s.scrub("/home/joe on user, 52:54:00:12:34:56, hunter2");
        assert_eq!(once, "/home/<user> on <hostname>, <mac>, <redacted>2");
        assert_eq!(s.scrub(&once), once);
    }

    #[test]
    fn a_bad_pattern_is_named() {
        let ids = Identifiers::default();
        let err = Scrubber::new(&ids, &["(unclosed".to_string()])
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("scrub_patterns") && err.contains("(unclosed"),
            "{err}"
        );
    }
}
