//! Report archives made by the server itself, in the layout `lastgasp export` writes and the
//! upload parser reads: a `.tar.zst` of one `<id>/` folder with `report.json` and the files it
//! lists. The netconsole receiver makes its reports with it, so they go through the same
//! parser and storage as an upload.

use sha2::{Digest, Sha256};

/// One file of a report besides `report.json`.
pub struct File<'a> {
    pub name: &'a str,
    pub data: &'a [u8],
}

/// The manifest's entries for `files`: sizes and SHA-256 as the parser checks them.
pub fn entries(files: &[File<'_>]) -> Vec<report::FileEntry> {
    files
        .iter()
        .map(|f| report::FileEntry {
            name: f.name.to_owned(),
            size: f.data.len() as u64,
            sha256: hex::encode(Sha256::digest(f.data)),
            dump: false,
        })
        .collect()
}

/// The `.tar.zst` of `manifest` (as `report.json`) and `files` under `<manifest.id>/`.
pub fn tar_zst(manifest: &report::Manifest, files: &[File<'_>]) -> std::io::Result<Vec<u8>> {
    let json = serde_json::to_vec_pretty(manifest)?;
    let id = &manifest.id;
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |name: String, data: &[u8], kind: tar::EntryType| {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        header.set_entry_type(kind);
        builder.append_data(&mut header, name, data)
    };
    add(format!("{id}/"), b"", tar::EntryType::Directory)?;
    for file in files {
        add(
            format!("{id}/{}", file.name),
            file.data,
            tar::EntryType::Regular,
        )?;
    }
    add(format!("{id}/report.json"), &json, tar::EntryType::Regular)?;
    let tar = builder.into_inner()?;
    zstd::encode_all(tar.as_slice(), 3)
}
