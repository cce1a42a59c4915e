//! Properties: the glob matcher agrees with a plain recursive definition of glob matching, and
//! any set of files written to an archive reads back unchanged.

use initramfs::modules::glob_matches;
use proptest::prelude::*;

/// The definition, exponential in the worst case but obviously right.
fn reference(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).any(|skip| reference(rest, &text[skip..])),
        Some(('?', rest)) => !text.is_empty() && reference(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && reference(rest, &text[1..]),
    }
}

proptest! {
    #[test]
    fn glob_agrees_with_the_definition(pattern in "[ab*?]{0,8}", text in "[ab]{0,10}") {
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        prop_assert_eq!(glob_matches(&pattern, &text), reference(&p, &t));
    }

    #[test]
    fn archives_read_back(files in proptest::collection::btree_map("[a-z]{1,6}(/[a-z]{1,6}){0,2}", proptest::collection::vec(any::<u8>(), 0..300), 0..8)) {
        let mut archive = initramfs::Archive::default();
        // A path that is also another's directory cannot be a file too.
        let files: Vec<_> = files
            .iter()
            .filter(|(path, _)| !files.keys().any(|other| other.starts_with(&format!("{path}/"))))
            .collect();
        for (path, data) in &files {
            archive.file(path, 0o644, data).unwrap();
        }
        let entries = initramfs::cpio::read(&archive.finish()).unwrap();
        for (path, data) in &files {
            let entry = entries.iter().find(|e| &e.path == *path).unwrap();
            prop_assert!(entry.is_file());
            prop_assert_eq!(&entry.data, *data);
        }
        prop_assert_eq!(entries.iter().filter(|e| e.is_file()).count(), files.len());
    }
}
