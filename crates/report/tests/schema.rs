//! The JSON Schema is not vacuous: a manifest the store writes passes, and each kind of damage
//! to it is caught.

mod common;

use std::path::Path;

use common::{PANIC_LOG, sample};
use report::Store;
use serde_json::{Value, json};

/// A named way of damaging a manifest.
type Damage = (&'static str, fn(&mut Value));

fn validator() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/report.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

#[test]
fn each_kind_of_damage_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Store::open(tmp.path())
        .write(&sample(PANIC_LOG, Some(1_700_000_000)))
        .unwrap();
    let text = std::fs::read_to_string(out.path.join("report.json")).unwrap();
    let good: Value = serde_json::from_str(&text).unwrap();
    let validator = validator();
    assert!(validator.is_valid(&good));

    let damage: [Damage; 9] = [
        ("unknown key", |m| m["surprise"] = json!(1)),
        ("missing key", |m| {
            m.as_object_mut().unwrap().remove("records");
        }),
        ("other version", |m| m["format-version"] = json!(2)),
        ("bad id", |m| m["id"] = json!("../etc")),
        ("local time", |m| {
            m["created"] = json!("2026-11-26T04:00:00+01:00")
        }),
        ("short hash", |m| m["files"][0]["sha256"] = json!("abc")),
        ("escaping file name", |m| {
            m["files"][0]["name"] = json!("../x")
        }),
        ("unknown origin", |m| {
            m["records"][0]["origin"] = json!("elsewhere")
        }),
        ("decoding without kind", |m| {
            m["records"][0]["decoding"] = json!({"algorithm": "deflate"})
        }),
    ];
    for (what, spoil) in damage {
        let mut manifest = good.clone();
        spoil(&mut manifest);
        assert!(!validator.is_valid(&manifest), "{what} was accepted");
    }
}

#[test]
fn context_items_validate_and_their_damage_is_rejected() {
    use report::{ContextItem, ContextKind, Describes};
    let tmp = tempfile::tempdir().unwrap();
    let mut new = sample(PANIC_LOG, Some(1_700_000_000));
    let facts = [("ID".to_string(), "debian".to_string())].into();
    new.context.push(ContextItem::collected(
        ContextKind::OsRelease,
        Describes::ThisBoot,
        facts,
    ));
    let tail = ContextItem::collected(ContextKind::JournalTail, Describes::CrashedBoot, [].into());
    new.add_context_file(tail, "journal-tail.txt", b"[ 1.0] h k: x\n".to_vec());
    new.context.push(ContextItem::missing(
        ContextKind::Dmi,
        Describes::ThisBoot,
        "no DMI table",
    ));
    let out = Store::open(tmp.path()).write(&new).unwrap();
    let text = std::fs::read_to_string(out.path.join("report.json")).unwrap();
    let good: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(good["context"][1]["file"], "context/journal-tail.txt");
    assert!(out.path.join("context/journal-tail.txt").is_file());
    let validator = validator();
    assert!(validator.is_valid(&good));

    let damage: [Damage; 5] = [
        ("unknown kind", |m| {
            m["context"][0]["kind"] = json!("hostname")
        }),
        ("before the crash", |m| {
            m["context"][0]["collected-after-crash"] = json!(false)
        }),
        ("facts and missing", |m| {
            m["context"][0]["missing"] = json!("both")
        }),
        ("non-string fact", |m| {
            m["context"][0]["facts"]["ID"] = json!(1)
        }),
        ("file outside context/", |m| {
            m["context"][1]["file"] = json!("dmesg.txt")
        }),
    ];
    for (what, spoil) in damage {
        let mut manifest = good.clone();
        spoil(&mut manifest);
        assert!(!validator.is_valid(&manifest), "{what} was accepted");
    }
}
