//! VMCOREINFO: the `KEY=VALUE` lines the crashed kernel wrote about itself (release, page size,
//! symbol addresses, struct offsets and sizes, numbers). Getters return `None` for an entry that
//! is missing or does not parse, so callers decide what is required.

use std::collections::BTreeMap;

/// Text beyond this is not VMCOREINFO (the kernel bounds it by one page).
const MAX_TEXT: usize = 1 << 20;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VmcoreInfo {
    entries: BTreeMap<String, String>,
}

impl VmcoreInfo {
    /// Parses the note's text. It ends at the first NUL; lines without `=` are ignored;
    /// a key given twice keeps its last value (CRASHTIME is appended at crash time).
    pub fn parse(text: &[u8]) -> Self {
        let text = text.get(..MAX_TEXT).unwrap_or(text);
        let text = text.split(|&b| b == 0).next().unwrap_or_default();
        let mut entries = BTreeMap::new();
        for line in text.split(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(line);
            let line = line.trim_end_matches('\r');
            if let Some((key, value)) = line.split_once('=')
                && !key.is_empty()
            {
                entries.insert(key.to_owned(), value.trim().to_owned());
            }
        }
        VmcoreInfo { entries }
    }

    /// The raw value of any key, e.g. `get("SYMBOL(prb)")`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn osrelease(&self) -> Option<&str> {
        self.get("OSRELEASE").filter(|s| !s.is_empty())
    }

    /// `PAGESIZE`, only if it is a power of two.
    pub fn page_size(&self) -> Option<u64> {
        self.get("PAGESIZE")?
            .parse::<u64>()
            .ok()
            .filter(|n| n.is_power_of_two())
    }

    /// `BUILD-ID`: the kernel's build id in hex.
    pub fn build_id(&self) -> Option<&str> {
        self.get("BUILD-ID")
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    /// `CRASHTIME`: Unix seconds at the crash.
    pub fn crash_time(&self) -> Option<i64> {
        self.get("CRASHTIME")?.parse().ok()
    }

    /// `KERNELOFFSET` (hex without `0x`): the KASLR slide of the kernel image.
    pub fn kernel_offset(&self) -> Option<u64> {
        parse_hex(self.get("KERNELOFFSET")?)
    }

    /// `SYMBOL(name)`: the runtime (already relocated) address, hex without `0x`.
    pub fn symbol(&self, name: &str) -> Option<u64> {
        parse_hex(self.get(&format!("SYMBOL({name})"))?)
    }

    /// `OFFSET(struct.member)` in bytes.
    pub fn offset(&self, member: &str) -> Option<u64> {
        parse_unsigned(self.get(&format!("OFFSET({member})"))?)
    }

    /// `SIZE(name)` in bytes.
    pub fn size(&self, name: &str) -> Option<u64> {
        parse_unsigned(self.get(&format!("SIZE({name})"))?)
    }

    /// `LENGTH(name)`: an array length.
    pub fn length(&self, name: &str) -> Option<u64> {
        parse_unsigned(self.get(&format!("LENGTH({name})"))?)
    }

    /// `NUMBER(name)`: signed decimal, or `0x` hex (arm64 writes addresses that way; a hex
    /// value above `i64::MAX` keeps its bit pattern).
    pub fn number(&self, name: &str) -> Option<i64> {
        parse_number(self.get(&format!("NUMBER({name})"))?)
    }

    /// `NUMBER(name)` as the unsigned bit pattern, for addresses and masks.
    pub fn number_bits(&self, name: &str) -> Option<u64> {
        self.number(name).map(|n| n as u64)
    }
}

fn parse_hex(value: &str) -> Option<u64> {
    let digits = value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
        .unwrap_or(value);
    u64::from_str_radix(digits, 16).ok()
}

fn parse_unsigned(value: &str) -> Option<u64> {
    match value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => value.parse().ok(),
    }
}

fn parse_number(value: &str) -> Option<i64> {
    let (negative, magnitude) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let unsigned = parse_unsigned(magnitude)?;
    if negative {
        0i64.checked_sub_unsigned(unsigned)
    } else if magnitude.starts_with("0x") || magnitude.starts_with("0X") {
        Some(unsigned as i64)
    } else {
        i64::try_from(unsigned).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "OSRELEASE=6.1.0-56-amd64\nBUILD-ID=0f3c9a\nPAGESIZE=4096\n\
        SYMBOL(init_uts_ns)=ffffffff9a8147a0\nOFFSET(uts_namespace.name)=0\nSIZE(page)=64\n\
        LENGTH(zone.free_area)=11\nNUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129\nNUMBER(phys_base)=0\n\
        NUMBER(kimage_voffset)=0xffff800007e00000\nKERNELOFFSET=18a00000\nCRASHTIME=1700000000\n\0garbage=1";

    #[test]
    fn typed_getters() {
        let info = VmcoreInfo::parse(SAMPLE.as_bytes());
        assert_eq!(info.osrelease(), Some("6.1.0-56-amd64"));
        assert_eq!(info.build_id(), Some("0f3c9a"));
        assert_eq!(info.page_size(), Some(4096));
        assert_eq!(info.symbol("init_uts_ns"), Some(0xffff_ffff_9a81_47a0));
        assert_eq!(info.offset("uts_namespace.name"), Some(0));
        assert_eq!(info.size("page"), Some(64));
        assert_eq!(info.length("zone.free_area"), Some(11));
        assert_eq!(info.number("PAGE_BUDDY_MAPCOUNT_VALUE"), Some(-129));
        assert_eq!(
            info.number_bits("kimage_voffset"),
            Some(0xffff_8000_07e0_0000)
        );
        assert_eq!(info.kernel_offset(), Some(0x18a0_0000));
        assert_eq!(info.crash_time(), Some(1_700_000_000));
        assert_eq!(info.get("garbage"), None, "text ends at the NUL");
        assert_eq!(info.symbol("prb"), None);
        assert_eq!(info.number("missing"), None);
    }

    #[test]
    fn rejects_what_does_not_parse() {
        let info = VmcoreInfo::parse(
            b"PAGESIZE=4095\nSYMBOL(x)=zz\nNUMBER(a)=99999999999999999999\nBUILD-ID=xyz\nOSRELEASE=\n",
        );
        assert_eq!(info.page_size(), None);
        assert_eq!(info.symbol("x"), None);
        assert_eq!(info.number("a"), None);
        assert_eq!(info.build_id(), None);
        assert_eq!(info.osrelease(), None);
    }

    #[test]
    fn later_value_wins() {
        let info = VmcoreInfo::parse(b"CRASHTIME=1\nCRASHTIME=2\n");
        assert_eq!(info.crash_time(), Some(2));
    }
}
