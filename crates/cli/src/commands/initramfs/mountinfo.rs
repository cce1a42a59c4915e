//! /proc/self/mountinfo, for the filesystem that holds the capture directory and where that
//! directory lies inside it (a separate /var, a Btrfs subvolume, a bind mount).

use std::path::{Component, Path, PathBuf};

/// One mount: `major:minor`, the path inside the filesystem that is mounted, where, and from
/// which source device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub device: String,
    pub root: PathBuf,
    pub mount_point: PathBuf,
    pub fstype: String,
    pub source: String,
}

/// The mounts, in file order; lines that do not read as mountinfo are skipped (the kernel
/// writes this file, and a line we cannot read is one mount we cannot use).
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Mount> {
    let (before, after) = line.split_once(" - ")?;
    let fields: Vec<&str> = before.split(' ').collect();
    let mut tail = after.split(' ');
    Some(Mount {
        device: fields.get(2)?.to_string(),
        root: PathBuf::from(unescape(fields.get(3)?)),
        mount_point: PathBuf::from(unescape(fields.get(4)?)),
        fstype: tail.next()?.to_string(),
        source: unescape(tail.next()?),
    })
}

/// mountinfo writes space, tab, newline and backslash as octal escapes.
fn unescape(field: &str) -> String {
    let mut out = String::new();
    let mut rest = field;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let code = rest
            .get(at + 1..at + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[at + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The mount that `path` (absolute, lexically clean) lives on: the last mounted of those with
/// the longest mount point that is a prefix of it, as the kernel's own lookup resolves.
pub fn holding<'a>(mounts: &'a [Mount], path: &Path) -> Option<&'a Mount> {
    mounts
        .iter()
        .enumerate()
        .filter(|(_, m)| path.starts_with(&m.mount_point))
        .max_by_key(|(index, m)| (m.mount_point.components().count(), *index))
        .map(|(_, m)| m)
}

/// Where `path` lies inside the filesystem of `mount`, from the filesystem's top.
pub fn inside(mount: &Mount, path: &Path) -> PathBuf {
    let relative = path.strip_prefix(&mount.mount_point).unwrap_or(path);
    let mut inside = PathBuf::from("/");
    for component in mount.root.components().chain(relative.components()) {
        if let Component::Normal(part) = component {
            inside.push(part);
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro
23 22 0:21 / /proc rw,nosuid - proc proc rw
30 22 253:2 / /var rw,relatime shared:5 - xfs /dev/vda2 rw
31 22 0:35 /@home /home rw shared:6 - btrfs /dev/vdb rw,subvol=/@home
32 22 253:3 / /mnt/with\\040space rw - vfat /dev/vdc1 rw
";

    #[test]
    fn reads_mounts_and_escapes() {
        let mounts = parse(TEXT);
        assert_eq!(mounts.len(), 5);
        assert_eq!(mounts[2].device, "253:2");
        assert_eq!(mounts[2].fstype, "xfs");
        assert_eq!(mounts[3].root, Path::new("/@home"));
        assert_eq!(mounts[4].mount_point, Path::new("/mnt/with space"));
        assert!(parse("garbage\n").is_empty());
    }

    #[test]
    fn the_deepest_mount_holds_a_path_and_the_path_inside_follows() {
        let mounts = parse(TEXT);
        let dir = Path::new("/var/lib/lastgasp/kdump");
        let var = holding(&mounts, dir).unwrap();
        assert_eq!(var.source, "/dev/vda2");
        assert_eq!(inside(var, dir), Path::new("/lib/lastgasp/kdump"));
        let home = Path::new("/home/dumps");
        let btrfs = holding(&mounts, home).unwrap();
        assert_eq!(inside(btrfs, home), Path::new("/@home/dumps"));
        let root = holding(&mounts, Path::new("/srv/x")).unwrap();
        assert_eq!(inside(root, Path::new("/srv/x")), Path::new("/srv/x"));
    }
}
