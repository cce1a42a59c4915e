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

/// Parses one line inside a call trace (leading whitespace allowed). Besides today's
/// ` func+0x1/0x2 [mod]` it reads the layouts of other architectures and eras: x86's
/// ` [<addr>] ? func+0x1/0x2`, ppc64's `[sp] [pc] .func+0x1/0x2 (unreliable)`, s390's
/// `([<addr>] func+0x1/0x2)` and bare `[<addr>] 0x27f8000`, and arm32's
/// `[<addr>] (func+0x1/0x2) from [<addr>] (caller+0x3/0x4)`, `[<addr>] (func) from ...` and
/// `func+0x1/0x2 from caller+0x3/0x4` (the frame is the function before `from`).
pub(crate) fn parse_trace_line(text: &str) -> Option<TraceLine> {
    let t = text.trim();
    if let Some(marker) = parse_marker(t) {
        return Some(marker);
    }
    let mut rest = t;
    let mut reliable = true;
    // s390 prints the frame r14 points to in parentheses.
    if let Some(inner) = rest.strip_prefix("([<").and_then(|r| r.strip_suffix(')')) {
        rest = &rest[1..=inner.len() + 2];
    }
    let mut addressed = false;
    for _ in 0..2 {
        if let Some(after) = skip_bracket_address(rest) {
            rest = after.trim_start();
            addressed = true;
        }
    }
    if let Some(after) = rest.strip_prefix('?') {
        reliable = false;
        rest = after.trim_start();
    }
    if let Some(before) = rest.strip_suffix("(unreliable)") {
        reliable = false;
        rest = before.trim_end();
    }
    let arm_from = match rest.split_once(" from ") {
        Some((head, _)) => {
            rest = head.trim();
            if let Some(inner) = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
                rest = inner;
            }
            true
        }
        None => false,
    };
    // ppc64 (ELFv1) prints function descriptors' dot symbols.
    if let Some(after) = rest.strip_prefix('.')
        && after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
    {
        rest = after;
    }
    let mut frame = if let Some(f) = parse_symbol(rest) {
        f
    } else if arm_from && !rest.is_empty() && rest.bytes().all(is_symbol_byte) {
        Frame::bare(rest)
    } else if addressed
        && rest.len() > 2
        && rest.starts_with("0x")
        && rest[2..].bytes().all(|b| b.is_ascii_hexdigit())
    {
        // An address the kernel could not name; kept so that ABRT's hash counts it.
        Frame::bare(rest)
    } else {
        return None;
    };
    frame.reliable = reliable;
    Some(TraceLine::Frame(frame))
}

/// A pre-4.15 x86 trace line that starts with a stack marker and goes on with a frame:
/// ` <IRQ>  [<ffffffff8104e2b4>] ip_idents_reserve+0x84/0x90`.
pub(crate) fn split_marker(text: &str) -> Option<(TraceLine, &str)> {
    let t = text.trim();
    let close = t.find('>')?;
    let marker = parse_marker(&t[..=close])?;
    let rest = t[close + 1..].trim_start();
    (!rest.is_empty()).then_some((marker, rest))
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

/// `[<ffffffff8105b6f0>]`, or ppc64's `[c000000010f930b0]` (8 hex digits at least, so that a
/// word in brackets is not taken for one).
fn skip_bracket_address(s: &str) -> Option<&str> {
    if let Some(inner) = s.strip_prefix("[<") {
        let close = inner.find(">]")?;
        let hex = &inner[..close];
        return (!hex.is_empty() && hex.len() <= 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| &inner[close + 2..]);
    }
    let inner = s.strip_prefix('[')?;
    let close = inner.find(']')?;
    let hex = &inner[..close];
    (hex.len() >= 8 && hex.len() <= 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| &inner[close + 1..])
}

/// `func+0x12/0x40`, optionally followed by ` [mod]` or ` [mod buildid]`, and frames that
/// syzkaller or `decode_stacktrace.sh` symbolized: `func+0x12/0x40 net/x.c:12`,
/// `func+0x12/0x40 (net/x.c:12)`, and the inlined `func net/x.h:34 [inline]` (no offset). The
/// text after the symbol must be empty, a module tag or a source location, so that prose is
/// not mistaken for a frame.
pub(crate) fn parse_symbol(s: &str) -> Option<Frame> {
    let s = s.trim();
    let (symbol, tail) = match s.find(' ') {
        Some(sp) => (&s[..sp], s[sp..].trim_start()),
        None => (s, ""),
    };
    let (function, offset, size) = match symbol.rfind("+0x") {
        Some(plus) => {
            let (offset, size) = match symbol[plus + 1..].split_once('/') {
                Some((o, z)) => (parse_hex(o)?, Some(parse_hex(z)?)),
                None => (parse_hex(&symbol[plus + 1..])?, None),
            };
            (&symbol[..plus], Some(offset), size)
        }
        // An inlined frame has no address of its own, only its source line.
        None if tail
            .strip_suffix(" [inline]")
            .is_some_and(is_source_location) =>
        {
            (symbol, None, None)
        }
        None => return None,
    };
    if function.is_empty() || !function.bytes().all(is_symbol_byte) {
        return None;
    }
    let (module_tag, source) = match tail.find(']') {
        Some(close) if tail.starts_with('[') => (&tail[..=close], tail[close + 1..].trim()),
        _ => ("", tail),
    };
    // arm64 (6.14+) marks where the unwinder got a frame from: ` (P)` pt_regs, ` (C)` the
    // current frame, ` (L)` the link register, ` (F)`/` (K)`… other sources.
    let source = match source.as_bytes() {
        [b'(', m, b')'] if m.is_ascii_uppercase() => "",
        _ => source,
    };
    let source = source.strip_suffix(" [inline]").unwrap_or(source);
    let source = source
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(source);
    if !source.is_empty() && !is_source_location(source) {
        return None;
    }
    let module = if module_tag.is_empty() {
        None
    } else {
        let inner = module_tag.strip_prefix('[')?.strip_suffix(']')?;
        let name = inner.split(' ').next().unwrap_or_default();
        if name.is_empty() || !name.bytes().all(is_symbol_byte) {
            return None;
        }
        Some(name.to_owned())
    };
    Some(Frame {
        function: function.to_owned(),
        offset,
        size,
        module,
        reliable: true,
        context: None,
    })
}

/// `net/ipv6/ip6_input.c:210` (a column may follow).
fn is_source_location(s: &str) -> bool {
    let Some((file, line)) = s.split_once(':') else {
        return false;
    };
    !file.is_empty()
        && !file.contains(' ')
        && file.rsplit_once('.').is_some_and(|(_, ext)| {
            !ext.is_empty() && ext.len() <= 3 && ext.bytes().all(|b| b.is_ascii_alphabetic())
        })
        && line
            .split(':')
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
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
/// everything from the first dot on was added by the compiler and varies between builds. A
/// Rust symbol in v0 mangling (`_RNvMs3_NtCs…_11rust_binder7processNtB5_7Process10update_ref`)
/// gives its last path segment (`update_ref`), the name the Rust source uses.
pub(crate) fn base_name(function: &str) -> &str {
    let function = match function.find('.') {
        Some(0) | None => function,
        Some(dot) => &function[..dot],
    };
    rust_v0_last_segment(function).unwrap_or(function)
}

/// The identifier that ends a v0-mangled Rust symbol: `<decimal length><identifier>` at the
/// very end.
fn rust_v0_last_segment(name: &str) -> Option<&str> {
    if !name.starts_with("_R") || !name.is_ascii() {
        return None;
    }
    let bytes = name.as_bytes();
    (3..bytes.len()).find_map(|start| {
        if bytes[start].is_ascii_digit() || !bytes[start - 1].is_ascii_digit() {
            return None;
        }
        let digits_from = bytes[..start]
            .iter()
            .rposition(|b| !b.is_ascii_digit())
            .map_or(0, |p| p + 1);
        let len: usize = name[digits_from..start].parse().ok()?;
        (len == bytes.len() - start).then(|| &name[start..])
    })
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
    fn symbolized_and_decoded_frames() {
        let f = frame(" ipv6_rcv+0x113/0x1c0 net/ipv6/ip6_input.c:210");
        assert_eq!((f.function.as_str(), f.offset), ("ipv6_rcv", Some(0x113)));
        let f = frame(" __skb_pull include/linux/skbuff.h:2069 [inline]");
        assert_eq!((f.function.as_str(), f.offset), ("__skb_pull", None));
        let f = frame(" ? my_probe+0x1c/0x30 [mymod] (drivers/my/probe.c:12)");
        assert_eq!(f.module.as_deref(), Some("mymod"));
        assert!(!f.reliable);
        let f = frame(" show_stack+0x18/0x24 (C)");
        assert_eq!(f.function, "show_stack");
        let f = frame(" el1h_64_sync+0x68/0x6c [mod] (P)");
        assert_eq!(f.module.as_deref(), Some("mod"));
        let f = frame(" tcp_v4_rcv+0x1a/0x2b (net/ipv4/tcp_ipv4.c:2000)");
        assert_eq!(f.function, "tcp_v4_rcv");
        assert_eq!(
            parse_trace_line("see the file include/linux/skbuff.h:2069 [inline]"),
            None
        );
        assert_eq!(parse_trace_line("f+0x1/0x2 at net/x.c:1"), None);
    }

    #[test]
    fn other_architectures() {
        let f = frame("[c000000010f93150] [c000000008028668] .rtas_read_config+0x128/0x170");
        assert_eq!(
            (f.function.as_str(), f.reliable),
            ("rtas_read_config", true)
        );
        let f = frame(
            "[c000000010f930b0] [c000000008068df8] .eeh_dev_check_failure+0x278/0x390 (unreliable)",
        );
        assert_eq!(
            (f.function.as_str(), f.reliable),
            ("eeh_dev_check_failure", false)
        );
        let f = frame("[c000000010f93340] [d0000000008c991c] .ipr_probe_ioa+0x6c/0x1390 [ipr]");
        assert_eq!(f.module.as_deref(), Some("ipr"));
        let f = frame("([<00000000027f8000>] 0x27f8000)");
        assert_eq!(f.function, "0x27f8000");
        let f = frame(" ([<0000000000432114>] scsi_init_io+0xdc/0x184)");
        assert_eq!(f.function, "scsi_init_io");
        let f =
            frame("[<c0014318>] (dump_backtrace_log_lvl) from [<c001457c>] (show_stack+0x24/0x2c)");
        assert_eq!(
            (f.function.as_str(), f.offset),
            ("dump_backtrace_log_lvl", None)
        );
        let f = frame(
            "[<c0057220>] ? (function_name+0x20/0x2c) from [<c018062c>] (foo_bar+0xdc/0x1bc)",
        );
        assert_eq!((f.function.as_str(), f.reliable), ("function_name", false));
        let f = frame(" unwind_backtrace+0x0/0x11c from show_stack+0x10/0x14");
        assert_eq!(f.function, "unwind_backtrace");
        assert_eq!(parse_trace_line("[add] the frame"), None);
        assert_eq!(parse_trace_line("this comes from there"), None);
    }

    #[test]
    fn marker_and_frame_on_one_line() {
        let (marker, rest) =
            split_marker(" <IRQ>  [<ffffffff8104e2b4>] ip_idents_reserve+0x84/0x90").unwrap();
        assert_eq!(marker, TraceLine::Open("irq".into()));
        assert_eq!(frame(rest).function, "ip_idents_reserve");
        assert!(split_marker(" <TASK>").is_none());
    }

    #[test]
    fn suffixes_stripped() {
        assert_eq!(base_name("__handle_sysrq.cold"), "__handle_sysrq");
        assert_eq!(base_name("foo.isra.0"), "foo");
        assert_eq!(base_name("bar.constprop.3.cold"), "bar");
        assert_eq!(base_name("plain"), "plain");
        assert_eq!(
            base_name("_RNvMs3_NtCshgDM7dBCdno_11rust_binder7processNtB5_7Process10update_ref"),
            "update_ref"
        );
        assert_eq!(
            base_name("_RNvCscSpY9Juk0HT_7___rustc17rust_begin_unwind"),
            "rust_begin_unwind"
        );
        assert_eq!(base_name("_Rfoo"), "_Rfoo");
    }
}
