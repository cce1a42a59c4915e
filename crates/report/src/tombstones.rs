//! Ids of reports that retention removed, kept in `<reports>/.pruned` so that records seen again
//! (systemd-pstore's archive keeps them for weeks) do not bring a pruned report back at every
//! boot. Bounded to the most recent `MAX_TOMBSTONES` ids.

use std::fs::File;
use std::io::{self, Read};

use crate::durable::replace_file_synced;
use crate::id::is_valid_id;
use crate::store::Store;

const TOMBSTONE_FILE: &str = ".pruned";
const MAX_TOMBSTONES: usize = 1000;
/// 1000 ids of 29 bytes plus newlines, with room to spare.
const MAX_FILE_BYTES: u64 = 256 << 10;

impl Store {
    /// Whether retention removed the report `id` earlier.
    pub fn was_pruned(&self, id: &str) -> bool {
        self.tombstones().iter().any(|t| t == id)
    }

    fn tombstones(&self) -> Vec<String> {
        let mut text = String::new();
        let read = File::open(self.dir().join(TOMBSTONE_FILE))
            .and_then(|f| f.take(MAX_FILE_BYTES).read_to_string(&mut text));
        if read.is_err() {
            return Vec::new();
        }
        text.lines()
            .map(str::trim)
            .filter(|id| is_valid_id(id))
            .map(str::to_string)
            .collect()
    }

    /// Adds `ids` to the tombstones, dropping the oldest beyond the bound; replaced atomically.
    pub(crate) fn remember_pruned(&self, ids: &[String]) -> io::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut all = self.tombstones();
        all.extend(ids.iter().cloned());
        let keep_from = all.len().saturating_sub(MAX_TOMBSTONES);
        let text: String = all
            .get(keep_from..)
            .unwrap_or_default()
            .iter()
            .map(|id| format!("{id}\n"))
            .collect();
        replace_file_synced(&self.dir().join(TOMBSTONE_FILE), text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_a_bounded_number_of_ids() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path());
        assert!(!store.was_pruned("undated-000000000001"));
        let ids: Vec<String> = (0..MAX_TOMBSTONES + 5)
            .map(|i| format!("undated-{i:012x}"))
            .collect();
        store.remember_pruned(&ids[..3]).unwrap();
        assert!(store.was_pruned(&ids[0]));
        store.remember_pruned(&ids[3..]).unwrap();
        assert!(!store.was_pruned(&ids[0]), "oldest dropped");
        assert!(store.was_pruned(&ids[5]));
        assert!(store.was_pruned(ids.last().unwrap()));
        assert_eq!(store.tombstones().len(), MAX_TOMBSTONES);
    }

    #[test]
    fn junk_lines_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(TOMBSTONE_FILE),
            "../x\n\nundated-0123456789ab\n",
        )
        .unwrap();
        let store = Store::open(dir.path());
        assert_eq!(store.tombstones(), ["undated-0123456789ab"]);
    }
}
