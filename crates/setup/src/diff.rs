//! Unified diffs of whole files for `--dry-run`: what setup would write, line by line, in the
//! format `patch` and reviewers know. Longest-common-subsequence over lines; the files setup
//! edits are a few dozen lines. Pure.

/// The diff of `before` (None: the file does not exist) against `after` (None: removed), with
/// three lines of context; empty when they are equal.
pub fn unified(path: &str, before: Option<&str>, after: Option<&str>) -> String {
    if before == after {
        return String::new();
    }
    let old: Vec<&str> = before
        .map(|t| t.split_inclusive('\n').collect())
        .unwrap_or_default();
    let new: Vec<&str> = after
        .map(|t| t.split_inclusive('\n').collect())
        .unwrap_or_default();
    let ops = script(&old, &new);
    let mut out = format!(
        "--- {}\n+++ {}\n",
        before.map_or("/dev/null".to_string(), |_| format!("a{path}")),
        after.map_or("/dev/null".to_string(), |_| format!("b{path}"))
    );
    const CONTEXT: usize = 3;
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| !matches!(op, Op::Same(_)))
        .map(|(i, _)| i)
        .collect();
    let mut at = 0;
    while at < changed.len() {
        let first = changed[at];
        let mut last = first;
        while at + 1 < changed.len() && changed[at + 1] <= last + 2 * CONTEXT + 1 {
            at += 1;
            last = changed[at];
        }
        at += 1;
        let from = first.saturating_sub(CONTEXT);
        let to = (last + CONTEXT + 1).min(ops.len());
        let (mut old_start, mut new_start) = (1, 1);
        for op in &ops[..from] {
            match op {
                Op::Same(_) => {
                    old_start += 1;
                    new_start += 1;
                }
                Op::Delete(_) => old_start += 1,
                Op::Insert(_) => new_start += 1,
            }
        }
        let hunk = &ops[from..to];
        let old_len = hunk
            .iter()
            .filter(|op| !matches!(op, Op::Insert(_)))
            .count();
        let new_len = hunk
            .iter()
            .filter(|op| !matches!(op, Op::Delete(_)))
            .count();
        let start = |start: usize, len: usize| if len == 0 { start - 1 } else { start };
        out += &format!(
            "@@ -{},{old_len} +{},{new_len} @@\n",
            start(old_start, old_len),
            start(new_start, new_len)
        );
        for op in hunk {
            let (mark, line) = match op {
                Op::Same(line) => (' ', *line),
                Op::Delete(line) => ('-', *line),
                Op::Insert(line) => ('+', *line),
            };
            out.push(mark);
            out.push_str(line);
            if !line.ends_with('\n') {
                out.push_str("\n\\ No newline at end of file\n");
            }
        }
    }
    out
}

enum Op<'a> {
    Same(&'a str),
    Delete(&'a str),
    Insert(&'a str),
}

fn script<'a>(old: &[&'a str], new: &[&'a str]) -> Vec<Op<'a>> {
    // lcs[i][j]: the longest common subsequence of old[i..] and new[j..].
    let mut lcs = vec![vec![0usize; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            lcs[i][j] = if old[i] == new[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::new();
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            ops.push(Op::Same(old[i]));
            i += 1;
            j += 1;
        } else if i < old.len() && (j == new.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(Op::Delete(old[i]));
            i += 1;
        } else {
            ops.push(Op::Insert(new[j]));
            j += 1;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_is_all_additions() {
        assert_eq!(
            unified("/etc/x", None, Some("a\nb\n")),
            "--- /dev/null\n+++ b/etc/x\n@@ -0,0 +1,2 @@\n+a\n+b\n"
        );
        assert_eq!(
            unified("/etc/x", Some("a\n"), None),
            "--- a/etc/x\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-a\n"
        );
    }

    #[test]
    fn an_edit_in_the_middle_has_context() {
        let before = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let after = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        assert_eq!(
            unified("/f", Some(before), Some(after)),
            "--- a/f\n+++ b/f\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
        );
        assert_eq!(unified("/f", Some(before), Some(before)), "");
    }

    #[test]
    fn a_missing_final_newline_is_marked() {
        let diff = unified("/f", Some("a"), Some("a\nb\n"));
        assert!(
            diff.contains("-a\n\\ No newline at end of file\n+a\n+b\n"),
            "{diff}"
        );
    }
}
