//! Which stored report already holds a set of pstore records. A save killed between unlinking
//! a crash's records leaves some of them behind; without this lookup the next save would make a
//! second, partial report of the leftovers (its id hashes a different set of records).

use crate::error::Error;
use crate::store::{Loaded, Store};

impl Store {
    /// The id of an intact report (manifest readable, every file matching it) whose records
    /// include every SHA-256 in `sha256s`; `None` when there is none or `sha256s` is empty.
    /// Only the candidate is re-hashed, so a directory of large dumps is not read at every boot.
    pub fn holding(&self, sha256s: &[&str]) -> Result<Option<String>, Error> {
        if sha256s.is_empty() {
            return Ok(None);
        }
        for listed in self.list()? {
            let Ok(manifest) = listed.manifest else {
                continue;
            };
            let holds = |sha: &&str| manifest.records.iter().any(|r| r.sha256 == *sha);
            if !sha256s.iter().all(holds) {
                continue;
            }
            let loaded = Loaded {
                id: listed.id,
                path: listed.path,
                manifest,
            };
            if self.verify(&loaded).is_empty() {
                return Ok(Some(loaded.id));
            }
        }
        Ok(None)
    }
}
