//! Kernel parameters as setup writes them into files: appended to a command line once, taken out
//! again token by token, and escaped for GRUB's two layers of quoting. Pure.

/// `line` with each of `params` appended that it does not already hold as a whole token; the
/// line's trailing whitespace (its newline) is kept.
pub fn append(line: &str, params: &[String]) -> String {
    let body = line.trim_end();
    let tail = &line[body.len()..];
    let present: Vec<&str> = body.split_whitespace().collect();
    let mut out = body.to_string();
    for param in params {
        if !present.contains(&param.as_str()) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(param);
        }
    }
    out + tail
}

/// `line` without the tokens in `params`: each is removed with the space before it, so the
/// rest of the line keeps its spacing.
pub fn remove(line: &str, params: &[String]) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while !rest.is_empty() {
        let word_start = rest
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(rest.len());
        let (space, after) = rest.split_at(word_start);
        let word_end = after.find(char::is_whitespace).unwrap_or(after.len());
        let (word, after) = after.split_at(word_end);
        if !word.is_empty() && params.iter().any(|p| p == word) {
            // Drop the word and the blank before it; at the start of the line, the blank after.
            if out.is_empty() {
                rest = after.trim_start_matches([' ', '\t']);
            } else {
                rest = after;
            }
            continue;
        }
        out.push_str(space);
        out.push_str(word);
        rest = after;
    }
    out
}

/// A parameter as GRUB's script language needs it for the kernel to receive it unchanged:
/// `$`, `\`, quotes and GRUB's other specials are backslash-escaped.
pub fn grub_word(param: &str) -> String {
    let mut out = String::new();
    for c in param.chars() {
        if matches!(
            c,
            '$' | '\\' | '"' | '\'' | ';' | '|' | '&' | '<' | '>' | '{' | '}'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Text inside a shell double-quoted string, as /etc/default/grub and its grub.d drop-ins are
/// sourced: `\`, `$`, `"` and backquotes escaped.
pub fn shell_double_quoted(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if matches!(c, '\\' | '$' | '"' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A parameter as it goes into a `GRUB_CMDLINE_LINUX*="..."` assignment: `memmap=1M$0x30000000`
/// becomes `memmap=1M\\\$0x30000000`, which the shell turns into `memmap=1M\$0x30000000` in
/// grub.cfg, which GRUB turns into `memmap=1M$0x30000000` for the kernel.
pub fn for_grub_default(param: &str) -> String {
    shell_double_quoted(&grub_word(param))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn append_adds_only_what_is_missing_and_keeps_the_newline() {
        let params = strings(&["crashkernel=256M", "quiet"]);
        assert_eq!(
            append("root=/dev/vda1 quiet\n", &params),
            "root=/dev/vda1 quiet crashkernel=256M\n"
        );
        assert_eq!(append("", &params), "crashkernel=256M quiet");
        let once = append("a b\n", &params);
        assert_eq!(append(&once, &params), once);
    }

    #[test]
    fn remove_takes_out_exactly_the_added_tokens() {
        let params = strings(&["crashkernel=256M", "memmap=1M$0x30000000"]);
        let line = "root=/dev/vda1  ro crashkernel=256M quiet memmap=1M$0x30000000\n";
        assert_eq!(remove(line, &params), "root=/dev/vda1  ro quiet\n");
        assert_eq!(remove("crashkernel=256M root=x", &params), "root=x");
        // A user's own crashkernel=512M is not ours.
        assert_eq!(remove("crashkernel=512M", &params), "crashkernel=512M");
        let original = "root=/dev/vda1 ro quiet\n";
        assert_eq!(remove(&append(original, &params), &params), original);
    }

    #[test]
    fn grub_escaping_survives_both_layers() {
        assert_eq!(
            for_grub_default("memmap=1M$0x30000000"),
            r"memmap=1M\\\$0x30000000"
        );
        assert_eq!(grub_word("memmap=1M$0x30000000"), r"memmap=1M\$0x30000000");
        assert_eq!(for_grub_default("crashkernel=256M"), "crashkernel=256M");
    }
}
