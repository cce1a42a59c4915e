//! The kernel command line's syntax (`/proc/cmdline`, a bootloader's `options`): parameters
//! separated by whitespace, where double quotes protect spaces. Pure.

/// Splits a command line into parameters as the kernel does: at whitespace outside double
/// quotes, so `acpi_osi="!Windows 2020"` stays one parameter.
pub fn split(cmdline: &str) -> Vec<&str> {
    let mut params = Vec::new();
    let mut start = None;
    let mut quoted = false;
    for (at, c) in cmdline.char_indices() {
        if c == '"' {
            quoted = !quoted;
        }
        let separator = is_space(c) && !quoted;
        match (start, separator) {
            (None, false) => start = Some(at),
            (Some(from), true) => {
                params.extend(cmdline.get(from..at));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(from) = start {
        // Only an unclosed quote leaves whitespace at the end: the line's newline, not the
        // parameter's.
        params.extend(
            cmdline
                .get(from..)
                .map(|param| param.trim_end_matches(is_space)),
        );
    }
    params
}

/// A parameter's name: what precedes the first `=`, without quotes (`"a=b c"` is `a`).
pub fn key(param: &str) -> &str {
    let name = param.split('=').next().unwrap_or(param);
    name.trim_matches('"')
}

/// The kernel's `isspace` on ASCII: what separates parameters.
pub fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// The first parameter named `name`, as written (`crashkernel=256M`).
pub fn find<'a>(cmdline: &'a str, name: &str) -> Option<&'a str> {
    split(cmdline).into_iter().find(|param| key(param) == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quotes_protect_spaces() {
        assert_eq!(
            split(r#"a=1 acpi_osi="!Windows 2020" "b=x y" c"#),
            ["a=1", r#"acpi_osi="!Windows 2020""#, r#""b=x y""#, "c"]
        );
        assert_eq!(key(r#""b=x y""#), "b");
        assert_eq!(key("quiet"), "quiet");
        assert_eq!(key("a=b=c"), "a");
    }

    #[test]
    fn empty_and_blank_command_lines_have_no_parameters() {
        assert_eq!(split(""), Vec::<&str>::new());
        assert_eq!(split(" \n\t "), Vec::<&str>::new());
    }

    #[test]
    fn an_unclosed_quote_runs_to_the_end() {
        assert_eq!(split("a \"b c d\n"), ["a", "\"b c d"]);
    }

    #[test]
    fn find_returns_the_first_parameter_of_that_name() {
        let cmdline = "root=/dev/vda crashkernel=256M quiet crashkernel=64M,low";
        assert_eq!(find(cmdline, "crashkernel"), Some("crashkernel=256M"));
        assert_eq!(find(cmdline, "quiet"), Some("quiet"));
        assert_eq!(find(cmdline, "splash"), None);
    }

    proptest! {
        #[test]
        fn splitting_never_panics_and_loses_nothing(text in "\\PC{0,80}") {
            crate::fuzzing::check_cmdline(text.as_bytes());
        }
    }
}
