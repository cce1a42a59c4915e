//! Integrity of a stored report: every file the manifest lists, re-hashed and compared with
//! the size and SHA-256 recorded when it was written.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::manifest::FileEntry;
use crate::store::{Loaded, MANIFEST_FILE, Store, is_safe_relative};

impl Store {
    /// Compares the report's files with the sizes and hashes its manifest records. Returns one
    /// line per problem; empty means intact.
    pub fn verify(&self, loaded: &Loaded) -> Vec<String> {
        let mut problems = Vec::new();
        if loaded.manifest.id != loaded.id {
            problems.push(format!(
                "{MANIFEST_FILE}: id {} does not match directory {}",
                loaded.manifest.id, loaded.id
            ));
        }
        for entry in &loaded.manifest.files {
            if let Some(problem) = check_entry(&loaded.path, entry) {
                problems.push(problem);
            }
        }
        problems
    }
}

fn check_entry(report_dir: &Path, entry: &FileEntry) -> Option<String> {
    if !is_safe_relative(&entry.name) {
        return Some(format!("{}: unsafe file name in manifest", entry.name));
    }
    let (size, sha256) = match hash_file(&report_dir.join(&entry.name)) {
        Ok(found) => found,
        Err(e) => return Some(format!("{}: {}", entry.name, crate::error::cause(&e))),
    };
    if size != entry.size {
        Some(format!(
            "{}: size is {size}, manifest says {}",
            entry.name, entry.size
        ))
    } else if !sha256.eq_ignore_ascii_case(&entry.sha256) {
        Some(format!("{}: SHA-256 differs from the manifest", entry.name))
    } else {
        None
    }
}

fn hash_file(path: &Path) -> io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut digest = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        digest.update(buf.get(..n).unwrap_or_default());
        size += n as u64;
    }
    Ok((size, hex::encode(digest.finalize())))
}
