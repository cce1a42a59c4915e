//! The directory target: `<dir>/<id>.tar.zst`, written atomically. A file already there under
//! the id is the same report sent before: it is left as it is and counted as a duplicate.

use std::path::Path;

use setup::atomic::write_atomic;

use super::Outcome;
use crate::error::Result;

pub fn send(dir: &Path, id: &str, archive: &[u8]) -> Result<Outcome> {
    let path = dir.join(format!("{id}.tar.zst"));
    if path.exists() {
        return Ok(Outcome::Accepted {
            duplicate: true,
            location: Some(path.display().to_string()),
        });
    }
    write_atomic(&path, archive, 0o644)?;
    Ok(Outcome::Accepted {
        duplicate: false,
        location: Some(path.display().to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_once_then_counts_duplicates() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("drop");
        let first = send(&dir, "r1", b"one").unwrap();
        assert!(matches!(
            first,
            Outcome::Accepted {
                duplicate: false,
                ..
            }
        ));
        let again = send(&dir, "r1", b"two").unwrap();
        assert!(matches!(
            again,
            Outcome::Accepted {
                duplicate: true,
                ..
            }
        ));
        assert_eq!(std::fs::read(dir.join("r1.tar.zst")).unwrap(), b"one");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    }
}
