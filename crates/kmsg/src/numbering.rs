//! Line numbers that a viewer added to a pasted log: `cat -n` and `nl` (`    12\t…`), grep
//! (`12:…`), editors and pagers (`  12 …`), web pastebins (`12 | …`, `12. …`).
//!
//! Whether a log is numbered is decided for the whole text, never per line: kernel lines may
//! start with a number too (`2 locks held by sh/85:`, `1048576 pages RAM`), but only a viewer
//! numbers nearly every line with consecutive numbers in one layout.

/// The separator between a line number and the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    Tab,
    Colon,
    Bar,
    Dot,
    Space,
}

/// At least this many numbered lines before a text counts as numbered.
const MIN_LINES: usize = 3;
/// Numbers have this many digits at most (a log of ten million lines is no paste).
const MAX_DIGITS: usize = 7;

/// How a text's lines are numbered, when they are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Numbering(Option<Sep>);

impl Numbering {
    /// Looks at every line of a text (already without `\r` and quoting) and decides whether a
    /// viewer numbered it: at least 4 in 5 non-empty lines carry a number in one layout (an
    /// empty numbered line, `cat -n`'s `    7`, fits any), and at least 4 in 5 of those
    /// numbers are one more than the number before.
    pub fn detect<'a>(lines: impl Iterator<Item = &'a str>) -> Self {
        let mut counts = [0usize; 5];
        let mut blank_numbered = 0;
        let mut non_empty = 0;
        let mut parsed: Vec<(u64, Option<Sep>)> = Vec::new();
        for line in lines {
            if line.trim().is_empty() {
                continue;
            }
            non_empty += 1;
            match parse(line) {
                Some((n, sep, _)) => {
                    match sep {
                        Some(s) => counts[s as usize] += 1,
                        None => blank_numbered += 1,
                    }
                    parsed.push((n, sep));
                }
                None => parsed.push((u64::MAX, None)),
            }
        }
        let styles = [Sep::Tab, Sep::Colon, Sep::Bar, Sep::Dot, Sep::Space];
        let Some((sep, count)) = styles
            .iter()
            .map(|&s| (s, counts[s as usize]))
            .max_by_key(|&(_, c)| c)
        else {
            return Numbering(None);
        };
        let numbered = count + blank_numbered;
        if numbered < MIN_LINES || numbered * 5 < non_empty * 4 {
            return Numbering(None);
        }
        let seq: Vec<u64> = parsed
            .iter()
            .filter(|(n, s)| *n != u64::MAX && s.is_none_or(|s| s == sep))
            .map(|(n, _)| *n)
            .collect();
        let pairs = seq.len().saturating_sub(1);
        let consecutive = seq
            .windows(2)
            .filter(|w| w[0].checked_add(1) == Some(w[1]))
            .count();
        if pairs == 0 || consecutive * 5 < pairs * 4 {
            return Numbering(None);
        }
        Numbering(Some(sep))
    }

    /// `line` without its number, when the text is numbered and the line has one.
    pub fn strip<'a>(&self, line: &'a str) -> &'a str {
        let Some(sep) = self.0 else { return line };
        match parse(line) {
            Some((_, Some(s), rest)) if s == sep => rest,
            Some((_, None, rest)) => rest,
            _ => line,
        }
    }
}

fn one_space(r: &str) -> &str {
    r.strip_prefix(' ').unwrap_or(r)
}

/// `(number, separator, rest)`; the separator is `None` for a line that is only a number.
fn parse(line: &str) -> Option<(u64, Option<Sep>, &str)> {
    let s = line.trim_start_matches(' ');
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > MAX_DIGITS {
        return None;
    }
    let n: u64 = s[..digits].parse().ok()?;
    let after = &s[digits..];
    if after.is_empty() {
        return Some((n, None, after));
    }
    if let Some(rest) = after.strip_prefix('\t') {
        return Some((n, Some(Sep::Tab), rest));
    }
    if let Some(rest) = after.strip_prefix(':') {
        return Some((n, Some(Sep::Colon), one_space(rest)));
    }
    if let Some(rest) = after.strip_prefix(". ") {
        return Some((n, Some(Sep::Dot), rest));
    }
    let padded = after.trim_start_matches(' ');
    if let Some(rest) = padded
        .strip_prefix('|')
        .or_else(|| padded.strip_prefix('│'))
    {
        return Some((n, Some(Sep::Bar), one_space(rest)));
    }
    after
        .strip_prefix(' ')
        .map(|rest| (n, Some(Sep::Space), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripped(text: &str) -> Vec<String> {
        let n = Numbering::detect(text.lines());
        text.lines().map(|l| n.strip(l).to_owned()).collect()
    }

    #[test]
    fn every_layout_is_removed() {
        for (text, first) in [
            (
                "     1\t[ 1.0] a\n     2\t[ 1.0]  b\n     3\n     4\t c\n",
                "[ 1.0] a",
            ),
            ("12:[ 1.0] a\n13:[ 1.0]  b\n14: c\n", "[ 1.0] a"),
            ("  9 | [ 1.0] a\n 10 | [ 1.0]  b\n 11 |  c\n", "[ 1.0] a"),
            ("1. a\n2. b\n3. c\n", "a"),
            ("  98 BUG: x\n  99  f+0x1/0x2\n 100  g+0x1/0x2\n", "BUG: x"),
            ("1 │ a\n2 │ b\n3 │ c\n", "a"),
        ] {
            assert_eq!(stripped(text)[0], first, "{text:?}");
        }
        assert_eq!(
            stripped("  98 BUG: x\n  99  f+0x1/0x2\n 100  g+0x1/0x2\n")[1],
            " f+0x1/0x2"
        );
    }

    #[test]
    fn a_kernel_line_that_starts_with_a_number_keeps_it() {
        let text = "   40\t2 locks held by sh/85:\n   41\t #0: ffff (&a){+.+.}\n   42\t1 lock\n";
        assert_eq!(stripped(text)[0], "2 locks held by sh/85:");
        assert_eq!(stripped(text)[2], "1 lock");
    }

    #[test]
    fn unnumbered_text_is_left_alone() {
        for text in [
            "2 locks held by sh/85:\n #0: x\n1 lock held by a/1:\n #0: y\n",
            "1048576 pages RAM\n0 pages HighMem/MovableOnly\n20000 pages reserved\n",
            "00000000: 6b 6b 6b\n00000010: 6b 6b 6b\n00000020: 6b 6b a5\n",
            "1 a\n2 b\n",
            "1: a\n3: b\n5: c\n7: d\n",
        ] {
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(stripped(text), lines, "{text:?}");
        }
    }
}
