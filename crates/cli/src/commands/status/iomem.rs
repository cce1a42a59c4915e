//! `/proc/iomem` enough to say what holds a physical range: its lines are `start-end : name`,
//! nested by two spaces of indentation per level. As non-root the kernel prints every address
//! as zero, which reads as "cannot tell".

/// One resource line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub start: u64,
    /// Inclusive, as the kernel prints it.
    pub end: u64,
    pub name: String,
    pub depth: usize,
}

pub fn parse(text: &str) -> Vec<Resource> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Resource> {
    let depth = (line.len() - line.trim_start().len()) / 2;
    let (range, name) = line.trim().split_once(" : ")?;
    let (start, end) = range.split_once('-')?;
    Some(Resource {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        name: name.trim().to_string(),
        depth,
    })
}

/// Whether the listing shows real addresses (root) rather than all zeros.
pub fn readable(resources: &[Resource]) -> bool {
    resources.iter().any(|r| r.end != 0)
}

/// The innermost resource that covers all of `[start, start + size)`.
pub fn holder(resources: &[Resource], start: u64, size: u64) -> Option<&Resource> {
    let last = start.checked_add(size.checked_sub(1)?)?;
    resources
        .iter()
        .filter(|r| r.start <= start && last <= r.end)
        .max_by_key(|r| r.depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IOMEM: &str = "\
00000000-00000fff : Reserved
00001000-0009fbff : System RAM
00100000-3effffff : System RAM
  1a000000-1b002596 : Kernel code
3f000000-3f0fffff : reserved
3f100000-3ffdffff : System RAM
";

    #[test]
    fn the_innermost_covering_line_holds_the_range() {
        let resources = parse(IOMEM);
        assert_eq!(resources.len(), 6);
        assert!(readable(&resources));
        let held = holder(&resources, 0x3f00_0000, 0x10_0000).unwrap();
        assert_eq!(held.name, "reserved");
        let held = holder(&resources, 0x1a00_0000, 0x1000).unwrap();
        assert_eq!(held.name, "Kernel code");
        // Across two lines: nothing holds all of it.
        assert_eq!(holder(&resources, 0x3eff_0000, 0x2_0000), None);
        assert_eq!(holder(&resources, 0, 0), None);
    }

    #[test]
    fn zeros_as_non_root_sees_them_are_unreadable() {
        let resources = parse("00000000-00000000 : System RAM\n");
        assert!(!readable(&resources));
    }
}
