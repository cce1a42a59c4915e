//! Parses call-trace frame lines and `%pS` symbols (`func+0x12/0x40 [mod]`).

use crate::model::Frame;

/// A trace line: a frame, a stack-context marker, or neither.
#[derive(Debug, PartialEq)]
pub(crate) enum TraceLine {
    Frame(Frame),
    /// `<IRQ>` opens a context, `</IRQ>` closes it; the value is the lowercase name.
    Open(String),
    Close(String),
}

/// Parses one line inside a call trace (leading whitespace allowed).
pub(crate) fn parse_trace_line(text: &str) -> Option<TraceLine> {
    let t = text.trim();
    if let Some(marker) = parse_marker(t) {
        return Some(marker);
    }
    let mut rest = t;
    let mut reliable = true;
    // Pre-4.15: ` [<ffffffff8105b6f0>] ? func+0x../0x..`
    if let Some(after) = skip_bracket_address(rest) {
        rest = after.trim_start();
    }
    if let Some(after) = rest.strip_prefix('?') {
        reliable = false;
        rest = after.trim_start();
    }
    let mut frame = parse_symbol(rest)?;
    frame.reliable = reliable;
    Some(TraceLine::Frame(frame))
}

/// `<TASK>`, `</IRQ>`, `<#DF>`, `<EOI>`, `<<EOE>>`.
fn parse_marker(t: &str) -> Option<TraceLine> {
    if t == "<<EOE>>" {
        return Some(TraceLine::Close("eoe".to_owned()));
    }
    let inner = t.strip_prefix('<')?.strip_suffix('>')?;
    let (closing, name) = match inner.strip_prefix('/') {
        Some(n) => (true, n),
        None => (false, inner),
    };
    let valid = !name.is_empty()
        && name.len() <= 24
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'_' || b == b'#' || b.is_ascii_digit());
    if !valid {
        return None;
    }
    let name = name.to_ascii_lowercase().replace('_', "-");
    Some(if closing {
        TraceLine::Close(name)
    } else {
        TraceLine::Open(name)
    })
}

/// `[<ffffffff8105b6f0>]`.
fn skip_bracket_address(s: &str) -> Option<&str> {
    let inner = s.strip_prefix("[<")?;
    let close = inner.find(">]")?;
    let hex = &inner[..close];
    (!hex.is_empty() && hex.len() <= 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| &inner[close + 2..])
}

/// `func+0x12/0x40`, optionally followed by ` [mod]` or ` [mod buildid]`. The text after
/// the symbol must be empty or a module tag, so that prose is not mistaken for a frame.
pub(crate) fn parse_symbol(s: &str) -> Option<Frame> {
    let s = s.trim();
    let (symbol, tail) = match s.find(' ') {
        Some(sp) => (&s[..sp], s[sp..].trim_start()),
        None => (s, ""),
    };
    let plus = symbol.rfind("+0x")?;
    let function = &symbol[..plus];
    if function.is_empty() || !function.bytes().all(is_symbol_byte) {
        return None;
    }
    let (offset, size) = match symbol[plus + 1..].split_once('/') {
        Some((o, z)) => (parse_hex(o)?, Some(parse_hex(z)?)),
        None => (parse_hex(&symbol[plus + 1..])?, None),
    };
    let module = if tail.is_empty() {
        None
    } else {
        let inner = tail.strip_prefix('[')?.strip_suffix(']')?;
        let name = inner.split(' ').next().unwrap_or_default();
        if name.is_empty() || !name.bytes().all(is_symbol_byte) {
            return None;
        }
        Some(name.to_owned())
    };
    Some(Frame {
        function: function.to_owned(),
        offset: Some(offset),
        size,
        module,
        reliable: true,
        context: None,
    })
}

fn is_symbol_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'$' | b'-')
}

fn parse_hex(s: &str) -> Option<u64> {
    let digits = s.strip_prefix("0x")?;
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

/// The function name without compiler-generated suffixes (`.isra.0`, `.constprop.3`,
/// `.cold`, `.part.0`, `.lto_priv.0`, `.llvm.123`): C identifiers contain no dot, so
/// everything from the first dot on was added by the compiler and varies between builds.
pub(crate) fn base_name(function: &str) -> &str {
    match function.find('.') {
        Some(0) | None => function,
        Some(dot) => &function[..dot],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(s: &str) -> Frame {
        match parse_trace_line(s) {
            Some(TraceLine::Frame(f)) => f,
            other => panic!("{s:?} gave {other:?}"),
        }
    }

    #[test]
    fn modern_x86_frames() {
        let f = frame(" ? __die+0x23/0x70");
        assert_eq!(f.function, "__die");
        assert!(!f.reliable);
        assert_eq!((f.offset, f.size), (Some(0x23), Some(0x70)));
        let f = frame(" my_caller+0x2a/0x60 [mymod]");
        assert_eq!(f.module.as_deref(), Some("mymod"));
        assert!(f.reliable);
        let f = frame(" f+0x1/0x2 [mod 0123456789abcdef0123456789abcdef01234567]");
        assert_eq!(f.module.as_deref(), Some("mod"));
    }

    #[test]
    fn old_style_address_frames() {
        let f = frame(" [<ffffffff8105b6f0>] ? warn_slowpath_common+0x80/0xc0");
        assert_eq!(f.function, "warn_slowpath_common");
        assert!(!f.reliable);
    }

    #[test]
    fn markers() {
        assert_eq!(
            parse_trace_line(" <TASK>"),
            Some(TraceLine::Open("task".into()))
        );
        assert_eq!(
            parse_trace_line(" </IRQ>"),
            Some(TraceLine::Close("irq".into()))
        );
        assert_eq!(
            parse_trace_line(" <#DF>"),
            Some(TraceLine::Open("#df".into()))
        );
    }

    #[test]
    fn prose_is_not_a_frame() {
        assert_eq!(parse_trace_line("Modules linked in: a b c"), None);
        assert_eq!(parse_trace_line("f+0x1/0x2 is here"), None);
        assert_eq!(parse_trace_line(" 0xffffffffc0001234"), None);
        assert_eq!(parse_trace_line("+0x1/0x2"), None);
    }

    #[test]
    fn suffixes_stripped() {
        assert_eq!(base_name("__handle_sysrq.cold"), "__handle_sysrq");
        assert_eq!(base_name("foo.isra.0"), "foo");
        assert_eq!(base_name("bar.constprop.3.cold"), "bar");
        assert_eq!(base_name("plain"), "plain");
    }
}
