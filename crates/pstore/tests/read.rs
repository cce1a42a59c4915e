//! Reading record files from a pstore directory and from systemd-pstore's archive.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use pstore::{Origin, ReadOptions, RecordKind, read_pstore_dir, read_systemd_archive};

fn write(path: &Path, data: &[u8]) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap();
    }
    fs::write(path, data).unwrap();
}

#[test]
fn missing_directory_has_no_records() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = ReadOptions::default();
    assert!(
        read_pstore_dir(&tmp.path().join("absent"), &opts)
            .unwrap()
            .is_empty()
    );
    assert!(
        read_systemd_archive(&tmp.path().join("absent"), &opts)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn flat_directory_reads_files_but_not_links_or_subdirs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pstore");
    write(&dir.join("dmesg-ramoops-0"), b"Panic#1 Part1\nx\n");
    write(&dir.join("console-ramoops-0"), b"console\n");
    write(&dir.join("README"), b"not a record");
    write(&dir.join("sub/dmesg-ramoops-9"), b"nested");
    write(&tmp.path().join("secret"), b"outside");
    symlink(tmp.path().join("secret"), dir.join("dmesg-ramoops-5")).unwrap();

    let records = read_pstore_dir(&dir, &ReadOptions::default()).unwrap();
    let names: Vec<&str> = records.iter().map(|r| r.file_name.as_str()).collect();
    assert_eq!(names, ["README", "console-ramoops-0", "dmesg-ramoops-0"]);
    assert!(records[0].name.is_none());
    assert_eq!(
        records[2].name.as_ref().map(|n| n.kind),
        Some(RecordKind::Dmesg)
    );
    assert_eq!(records[2].data, b"Panic#1 Part1\nx\n");
    assert_eq!(records[2].origin, Origin::Pstore);
    assert_eq!(records[2].path, dir.join("dmesg-ramoops-0"));
    assert!(records[2].mtime.is_some_and(|t| t > 1_600_000_000));
    assert!(records.iter().all(|r| !r.truncated));
}

#[test]
fn long_files_are_truncated_at_the_limit() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("dmesg-ramoops-0"), &[b'a'; 100]);
    write(&tmp.path().join("dmesg-ramoops-1"), &[b'b'; 10]);
    let opts = ReadOptions {
        max_record_bytes: 10,
    };
    let records = read_pstore_dir(tmp.path(), &opts).unwrap();
    assert_eq!(records[0].data.len(), 10);
    assert!(records[0].truncated);
    assert_eq!(records[1].data.len(), 10);
    assert!(!records[1].truncated);
}

#[test]
fn sixty_four_mib_record_is_read_bounded_and_assembled() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("dmesg-ramoops-0");
    let line = b"<6>[    1.000000] a long log line that repeats to fill sixty-four mebibytes\n";
    let limit = pstore::DEFAULT_MAX_RECORD_BYTES as usize;
    let mut data = b"Panic#1 Part1\n".to_vec();
    while data.len() <= limit {
        data.extend_from_slice(line);
    }
    fs::write(&path, &data).unwrap();
    drop(data);
    let records = read_pstore_dir(tmp.path(), &ReadOptions::default()).unwrap();
    assert_eq!(records[0].data.len(), limit);
    assert!(records[0].truncated);
    let crashes = pstore::assemble(records);
    assert_eq!(crashes.len(), 1);
    assert!(crashes[0].partial);
    assert!(crashes[0].dmesg.len() > limit - 100);
}

#[test]
fn empty_file_is_a_record() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("dmesg-ramoops-0"), b"");
    let records = read_pstore_dir(tmp.path(), &ReadOptions::default()).unwrap();
    assert_eq!(records.len(), 1);
    assert!(records[0].data.is_empty());
    assert_eq!(pstore::assemble(records).len(), 1);
}

#[test]
fn systemd_archive_is_walked_and_its_dmesg_txt_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        &root.join("1700000000/dmesg-efi_pstore-170000000001001"),
        b"Panic#1 Part1\nb\n",
    );
    write(
        &root.join("1700000000/dmesg-efi_pstore-170000000002001"),
        b"Panic#1 Part2\na\n",
    );
    write(
        &root.join("1700000000/dmesg.txt"),
        b"systemd's own concatenation",
    );
    write(
        &root.join("1600000000/001/dmesg-ramoops-0"),
        b"Oops#1 Part1\nc\n",
    );
    write(&root.join("notes.txt"), b"x");
    symlink(root.join("1600000000"), root.join("loop")).unwrap();

    let records = read_systemd_archive(root, &ReadOptions::default()).unwrap();
    let names: Vec<&str> = records.iter().map(|r| r.file_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "dmesg-ramoops-0",
            "dmesg-efi_pstore-170000000001001",
            "dmesg-efi_pstore-170000000002001"
        ]
    );
    assert!(records.iter().all(|r| r.origin == Origin::SystemdArchive));
    let crashes = pstore::assemble(records);
    assert_eq!(crashes.len(), 2);
    assert!(crashes.iter().any(|c| c.dmesg == b"a\nb\n"));
}

#[test]
fn unreadable_directory_error_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-dir");
    write(&file, b"");
    let err = read_pstore_dir(&file, &ReadOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("not-a-dir") && msg.starts_with("cannot list"),
        "{msg}"
    );
    // The OS error is kept as the source, for the caller to print after the message.
    let source = std::error::Error::source(&err).expect("the OS error as source");
    assert!(
        source.downcast_ref::<std::io::Error>().is_some(),
        "{source}"
    );
}
