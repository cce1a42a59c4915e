//! The entry point shared by the fuzz target and the corpus replay test: any bytes given to
//! `probe` give a result or an error, never a panic, and a result keeps its promises.

/// One device's first bytes.
pub fn check_superblock(data: &[u8]) {
    if let Ok(Some(fs)) = crate::probe(data) {
        assert!(["ext2", "ext3", "ext4", "xfs", "btrfs", "vfat"].contains(&fs.kind));
        if let Some(uuid) = &fs.uuid {
            let shape = if fs.kind == "vfat" { 9 } else { 36 };
            assert_eq!(uuid.len(), shape, "{uuid}");
        }
        if let Some(label) = &fs.label {
            assert!(!label.is_empty() && !label.ends_with(' ') && !label.contains('\0'));
        }
    }
}
