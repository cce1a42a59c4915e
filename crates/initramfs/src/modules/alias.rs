//! `modules.alias` (`alias PATTERN MODULE` lines written by depmod) and the shell-style glob
//! patterns in it, which a device's modalias string is matched against.

use super::ParseError;

/// One `alias` line: a glob pattern and the module that serves what matches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub pattern: String,
    pub module: String,
}

pub fn parse(text: &str) -> Result<Vec<Alias>, ParseError> {
    let mut aliases = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let error = |what: &str| ParseError::new("modules.alias", index + 1, what, line);
        let mut words = line.split_whitespace();
        if words.next() != Some("alias") {
            return Err(error("the line does not start with 'alias'"));
        }
        let (Some(pattern), Some(module), None) = (words.next(), words.next(), words.next()) else {
            return Err(error("expected 'alias PATTERN MODULE'"));
        };
        aliases.push(Alias {
            pattern: pattern.to_string(),
            module: super::normalize(module),
        });
    }
    Ok(aliases)
}

/// Whether `text` matches the glob `pattern` (`*`, `?`, `[...]` with ranges and `!`/`^`
/// negation), as modprobe matches modaliases. Runs in O(pattern × text) time.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0usize, 0usize);
    // Where to resume after the last '*': the pattern index after it and the text index it
    // has swallowed up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        let step = match pattern.get(p) {
            Some('*') => {
                star = Some((p + 1, t));
                p += 1;
                continue;
            }
            Some('?') => Some(p + 1),
            Some('[') => match_class(&pattern, p, text[t]),
            Some(&c) if c == text[t] => Some(p + 1),
            _ => None,
        };
        match (step, star) {
            (Some(next), _) => {
                p = next;
                t += 1;
            }
            (None, Some((after_star, swallowed))) => {
                p = after_star;
                t = swallowed + 1;
                star = Some((after_star, swallowed + 1));
            }
            (None, None) => return false,
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

/// Matches `c` against the class starting at `pattern[open] == '['`; returns the index after
/// the class on a match. A '[' without its ']' is an ordinary character.
fn match_class(pattern: &[char], open: usize, c: char) -> Option<usize> {
    let mut i = open + 1;
    let negated = matches!(pattern.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let first = i;
    let mut matched = false;
    loop {
        let Some(&member) = pattern.get(i) else {
            return (c == '[').then_some(open + 1);
        };
        if member == ']' && i > first {
            break;
        }
        if pattern.get(i + 1) == Some(&'-') && pattern.get(i + 2).is_some_and(|&e| e != ']') {
            let end = pattern[i + 2];
            matched |= member <= c && c <= end;
            i += 3;
        } else {
            matched |= member == c;
            i += 1;
        }
    }
    if matched != negated {
        Some(i + 1)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_alias_lines() {
        let aliases = parse(
            "# Aliases extracted from modules themselves.\n\
             alias virtio:d00000002v* virtio_blk\n\
             alias fs-ext4 ext4\n\
             alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio-pci\n",
        )
        .unwrap();
        assert_eq!(aliases.len(), 3);
        assert_eq!(aliases[2].module, "virtio_pci");
        assert_eq!(aliases[0].pattern, "virtio:d00000002v*");
        let error = parse("alias onlyone\n").unwrap_err();
        assert!(error.to_string().contains("line 1"), "{error}");
        assert!(parse("options x y\n").is_err());
    }

    #[test]
    fn globs_match_as_modprobe_does() {
        let pci = "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00";
        assert!(glob_matches("pci:v00001AF4d*sv*sd*bc*sc*i*", pci));
        assert!(glob_matches("pci:v00001AF4d00001001sv*sd*bc01sc00i*", pci));
        assert!(!glob_matches("pci:v00008086d*sv*sd*bc*sc*i*", pci));
        assert!(glob_matches(
            "virtio:d00000002v*",
            "virtio:d00000002v00001AF4"
        ));
        assert!(!glob_matches(
            "virtio:d00000002v*",
            "virtio:d00000012v00001AF4"
        ));
        assert!(glob_matches("scsi:t-0x0[07]*", "scsi:t-0x07"));
        assert!(!glob_matches("scsi:t-0x0[!07]*", "scsi:t-0x07"));
        assert!(glob_matches("a[0-9]c", "a5c"));
        assert!(!glob_matches("a[0-9]c", "abc"));
        assert!(glob_matches("a?c", "abc"));
        assert!(glob_matches("*", ""));
        assert!(!glob_matches("a", ""));
        assert!(glob_matches("a[", "a["));
        assert!(glob_matches("*a*b", "xxaxxbxab"));
        assert!(!glob_matches("*a*b", "xxaxxbxa"));
    }
}
