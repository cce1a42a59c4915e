//! The `Modules linked in:` list (kernel/module/main.c `print_modules`) and `Kernel Offset:`.

use crate::model::Module;

/// Bounds the list: a kernel has a few hundred modules at most.
const MAX_MODULES: usize = 1024;

/// The modules and `[last unloaded: x]` of a `Modules linked in:` line.
pub(crate) fn parse_modules(text: &str) -> Option<(Vec<Module>, Option<String>)> {
    let rest = text.trim_start().strip_prefix("Modules linked in:")?;
    let (list, last) = match rest.find("[last unloaded: ") {
        Some(at) => {
            let tail = &rest[at + "[last unloaded: ".len()..];
            let name = tail.split(']').next().unwrap_or_default().trim();
            (&rest[..at], (!name.is_empty()).then(|| name.to_owned()))
        }
        None => (rest, None),
    };
    let modules = list
        .split_whitespace()
        .take(MAX_MODULES)
        .filter_map(|word| {
            let (name, flags) = match word.split_once('(') {
                Some((n, f)) => (n, f.trim_end_matches(')')),
                None => (word, ""),
            };
            (!name.is_empty()).then(|| Module {
                name: name.to_owned(),
                flags: flags.to_owned(),
            })
        })
        .collect();
    Some((modules, last))
}

/// `Kernel Offset: 0x1a000000 from 0xffffffff81000000 (...)` gives `0x1a000000`;
/// `Kernel Offset: disabled` gives `disabled`.
pub(crate) fn parse_kernel_offset(text: &str) -> Option<String> {
    let rest = text.trim_start().strip_prefix("Kernel Offset: ")?;
    let word = rest.split(' ').next()?;
    (!word.is_empty()).then(|| word.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_with_flags_and_last_unloaded() {
        let (m, last) =
            parse_modules("Modules linked in: mymod(OE) nf_tables virtio_blk [last unloaded: foo]")
                .unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].name, "mymod");
        assert_eq!(m[0].flags, "OE");
        assert_eq!(m[2].flags, "");
        assert_eq!(last.as_deref(), Some("foo"));
    }

    #[test]
    fn empty_list() {
        let (m, last) = parse_modules("Modules linked in:").unwrap();
        assert!(m.is_empty());
        assert!(last.is_none());
    }

    #[test]
    fn kernel_offset() {
        assert_eq!(
            parse_kernel_offset(
                "Kernel Offset: 0x1a000000 from 0xffffffff81000000 (relocation range: 0xffffffff80000000-0xffffffffbfffffff)"
            )
            .as_deref(),
            Some("0x1a000000")
        );
        assert_eq!(
            parse_kernel_offset("Kernel Offset: disabled").as_deref(),
            Some("disabled")
        );
    }
}
