//! Bad uploads each get a clear 4xx with `{"error": ...}` and leave nothing behind: no row in
//! the database, no file under the archive directory. Good ones are idempotent by report id.

mod common;

use axum::http::StatusCode;
use common::*;
use server::config::Token;

/// The state holds no report and no archive file.
async fn assert_nothing_kept(state: &server::Shared) {
    assert_eq!(state.db.totals().await.unwrap(), (0, 0));
    assert_eq!(
        state.blobs.files().unwrap(),
        Vec::<std::path::PathBuf>::new()
    );
}

fn assert_error(answer: &Answer, status: StatusCode, words: &str) {
    assert_eq!(answer.status, status, "{}", answer.text());
    let message = answer.json()["error"].as_str().unwrap().to_owned();
    assert!(!message.contains('\n'));
    assert!(message.contains(words), "{message:?} lacks {words:?}");
}

/// One entry of `raw_tar`: name, type, link target, content.
type RawEntry<'a> = (&'a [u8], tar::EntryType, &'a [u8], &'a [u8]);

/// A tar whose headers are written by hand (tar::Builder refuses unsafe names).
fn raw_tar(entries: &[RawEntry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, kind, link, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        header.set_entry_type(*kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append(&header, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

/// The tar inside a real export, unpacked, to be tampered with.
fn good_tar() -> (String, Vec<u8>) {
    let (id, body) = archive(
        &oops_log("my_write", "6.1.0-1-amd64", "QEMU"),
        1_700_000_000,
    );
    (id, zstd::decode_all(body.as_slice()).unwrap())
}

/// The tar's entries as (name, data), directories left out.
fn entries(tar: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(tar);
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = entry.path().unwrap().display().to_string();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        out.push((name, data));
    }
    out
}

fn tar_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, name, data.as_slice())
            .unwrap();
    }
    builder.into_inner().unwrap()
}

#[tokio::test]
async fn malformed_uploads_are_refused_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), config()).await;
    let (id, body) = archive(
        &oops_log("my_write", "6.1.0-1-amd64", "QEMU"),
        1_700_000_000,
    );
    let (_, tar) = good_tar();

    let truncated = body[..body.len() / 2].to_vec();
    assert_error(
        &upload(&state, truncated).await,
        StatusCode::BAD_REQUEST,
        "truncated",
    );
    assert_error(
        &upload(&state, tar.clone()).await,
        StatusCode::BAD_REQUEST,
        "not zstd",
    );
    assert_error(
        &upload(&state, Vec::new()).await,
        StatusCode::BAD_REQUEST,
        "not zstd",
    );

    let traversal = raw_tar(&[(b"../evil", tar::EntryType::Regular, b"", b"x")]);
    assert_error(
        &upload(&state, zst(&traversal)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "climbs out",
    );
    let absolute = raw_tar(&[(b"/etc/passwd", tar::EntryType::Regular, b"", b"x")]);
    assert_error(
        &upload(&state, zst(&absolute)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "absolute",
    );
    let inner = format!("{id}/../../x");
    let sneaky = raw_tar(&[(inner.as_bytes(), tar::EntryType::Regular, b"", b"x")]);
    assert_error(
        &upload(&state, zst(&sneaky)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "climbs out",
    );
    let link_name = format!("{id}/dmesg.txt");
    let symlink = raw_tar(&[(
        link_name.as_bytes(),
        tar::EntryType::Symlink,
        b"/etc/shadow",
        b"",
    )]);
    assert_error(
        &upload(&state, zst(&symlink)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "symbolic link",
    );
    let hardlink = raw_tar(&[(
        link_name.as_bytes(),
        tar::EntryType::Link,
        b"/etc/shadow",
        b"",
    )]);
    assert_error(
        &upload(&state, zst(&hardlink)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "hard link",
    );
    let device = raw_tar(&[(link_name.as_bytes(), tar::EntryType::Block, b"", b"")]);
    assert_error(
        &upload(&state, zst(&device)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "block device",
    );
    let fifo = raw_tar(&[(link_name.as_bytes(), tar::EntryType::Fifo, b"", b"")]);
    assert_error(
        &upload(&state, zst(&fifo)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "fifo",
    );

    // report.json that breaks the schema, one that lies about a file, an extra file, no log.
    let mut files = entries(&tar);
    let manifest_at = files
        .iter()
        .position(|(n, _)| n.ends_with("/report.json"))
        .unwrap();
    let mut wrong = files.clone();
    let mut json: serde_json::Value = serde_json::from_slice(&wrong[manifest_at].1).unwrap();
    json["format-version"] = serde_json::json!(2);
    wrong[manifest_at].1 = serde_json::to_vec(&json).unwrap();
    assert_error(
        &upload(&state, zst(&tar_of(&wrong))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "schema",
    );
    let mut not_json = files.clone();
    not_json[manifest_at].1 = b"{\"id\":".to_vec();
    assert_error(
        &upload(&state, zst(&tar_of(&not_json))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "report.json",
    );
    let mut lying = files.clone();
    let log_at = lying
        .iter()
        .position(|(n, _)| n.ends_with("/dmesg.txt"))
        .unwrap();
    lying[log_at].1[0] ^= 1;
    assert_error(
        &upload(&state, zst(&tar_of(&lying))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "sha256 differs",
    );
    let mut extra = files.clone();
    extra.push((format!("{id}/vmcore"), b"memory".to_vec()));
    assert_error(
        &upload(&state, zst(&tar_of(&extra))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not listed",
    );
    let mut elsewhere = files.clone();
    elsewhere.push(("other/x".into(), b"x".to_vec()));
    assert_error(
        &upload(&state, zst(&tar_of(&elsewhere))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "outside",
    );
    files.retain(|(n, _)| n.ends_with("/report.json"));
    assert_error(
        &upload(&state, zst(&tar_of(&files))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "dmesg.txt",
    );

    assert_nothing_kept(&state).await;
}

#[tokio::test]
async fn oversized_and_bombs_get_413() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config();
    config.limits.max_upload_bytes = 64 << 10;
    config.limits.max_unpacked_bytes = 1 << 20;
    config.limits.max_entries = 8;
    let state = state(dir.path(), config).await;

    // Incompressible bytes over the upload limit: refused before decompression.
    let mut noise = Vec::with_capacity(100 << 10);
    let mut x: u32 = 1;
    for _ in 0..(100 << 10) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise.push(x as u8);
    }
    let mut big = vec![0x28, 0xb5, 0x2f, 0xfd];
    big.extend_from_slice(&noise);
    assert_error(
        &upload(&state, big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "limit of 65536",
    );

    // 64 MiB of zeros in a few KiB: stopped at the unpacked limit.
    let zeros = vec![0u8; 64 << 20];
    let bomb_tar = raw_tar(&[(b"x/dmesg.txt", tar::EntryType::Regular, b"", &zeros)]);
    let bomb = zst(&bomb_tar);
    assert!(bomb.len() < 64 << 10, "bomb is {} bytes", bomb.len());
    assert_error(
        &upload(&state, bomb).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "unpacks to more",
    );

    let many: Vec<(String, Vec<u8>)> = (0..20).map(|i| (format!("x/f{i}"), vec![])).collect();
    assert_error(
        &upload(&state, zst(&tar_of(&many))).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "entries",
    );
    assert_nothing_kept(&state).await;
}

#[tokio::test]
async fn duplicates_answer_like_the_first_and_other_content_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), config()).await;
    let (id, body) = archive(
        &oops_log("my_write", "6.1.0-1-amd64", "QEMU"),
        1_700_000_000,
    );
    let first = upload(&state, body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let answer = first.json();
    assert_eq!(answer["id"], id.as_str());
    assert_eq!(answer["duplicate"], false);
    let again = upload(&state, body.clone()).await;
    assert_eq!(again.status, StatusCode::OK);
    let mut expected = answer.clone();
    expected["duplicate"] = true.into();
    assert_eq!(again.json(), expected);

    // Same id, other bytes (another compression level): 409, and no second archive kept.
    let tar = zstd::decode_all(body.as_slice()).unwrap();
    let other = zstd::encode_all(tar.as_slice(), 19).unwrap();
    assert_ne!(other, body);
    assert_error(
        &upload(&state, other).await,
        StatusCode::CONFLICT,
        "other content",
    );
    assert_eq!(state.db.totals().await.unwrap(), (1, 1));
    assert_eq!(state.blobs.files().unwrap().len(), 1);

    // The id header must match report.json's.
    let request = axum::http::Request::post("/api/v1/reports")
        .header("authorization", format!("Bearer {UPLOAD_TOKEN}"))
        .header("content-type", "application/zstd")
        .header("x-lastgasp-report-id", "undated-000000000000")
        .body(axum::body::Body::from(body))
        .unwrap();
    assert_error(
        &send(&state, request).await,
        StatusCode::BAD_REQUEST,
        "does not match",
    );
}

#[tokio::test]
async fn tokens_content_type_and_rate_limits() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config();
    config.upload_tokens[0].per_minute = 2;
    config.admin_tokens.push(Token {
        name: "ops".into(),
        token: ADMIN_TOKEN.into(),
        per_minute: 60,
    });
    let state = state(dir.path(), config).await;
    let (_, body) = archive(
        &oops_log("my_write", "6.1.0-1-amd64", "QEMU"),
        1_700_000_000,
    );

    assert_error(
        &upload_with(&state, "wrong-token-0123456789", body.clone()).await,
        StatusCode::UNAUTHORIZED,
        "Bearer",
    );
    assert_error(
        &upload_with(&state, ADMIN_TOKEN, body.clone()).await,
        StatusCode::FORBIDDEN,
        "admin tokens cannot upload",
    );
    let plain = axum::http::Request::post("/api/v1/reports")
        .header("authorization", format!("Bearer {UPLOAD_TOKEN}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.clone()))
        .unwrap();
    assert_error(
        &send(&state, plain).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "application/zstd",
    );
    // The 415 above took one of the bucket's two requests, this upload the other.
    assert_eq!(
        upload(&state, body.clone()).await.status,
        StatusCode::CREATED
    );
    let limited = upload(&state, body.clone()).await;
    assert_error(&limited, StatusCode::TOO_MANY_REQUESTS, "rate limit");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    assert_eq!(state.db.totals().await.unwrap(), (1, 1));

    // Reads need the admin token now; an upload token is not one.
    assert_eq!(
        get(&state, "/api/v1/signatures").await.status,
        StatusCode::UNAUTHORIZED
    );
    let as_uploader = axum::http::Request::get("/api/v1/signatures")
        .header("authorization", format!("Bearer {UPLOAD_TOKEN}"))
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(
        send(&state, as_uploader).await.status,
        StatusCode::FORBIDDEN
    );
    let as_admin = axum::http::Request::get("/api/v1/signatures")
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(send(&state, as_admin).await.status, StatusCode::OK);
    assert_eq!(get(&state, "/api/v1/health").await.status, StatusCode::OK);
}
