//! The project's real crash logs (tests/fixtures/kmsg), uploaded as reports: they come out
//! grouped one signature per kind, with the golden's signature, ranked by how many reports
//! each kind got.

mod common;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use common::*;

#[tokio::test]
async fn real_corpus_groups_one_signature_per_kind_ranked_by_count() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), config()).await;
    let mut kinds = Vec::new();
    for arch in std::fs::read_dir(corpus_dir()).unwrap() {
        let arch = arch.unwrap().path();
        if !arch.is_dir() {
            continue;
        }
        for kind in std::fs::read_dir(&arch).unwrap() {
            kinds.push(kind.unwrap().path());
        }
    }
    kinds.sort();
    assert!(
        kinds.len() >= 20,
        "only {} kinds in the corpus",
        kinds.len()
    );
    // Kind k gets 1 + k % 4 of its logs uploaded, so counts differ and ranking shows.
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    let mut time = 1_764_547_200;
    for (k, kind) in kinds.iter().enumerate() {
        let golden: serde_json::Value =
            serde_json::from_slice(&std::fs::read(kind.join("expected.json")).unwrap()).unwrap();
        let signature = golden["signature"].as_str().unwrap().to_owned();
        let mut logs: Vec<_> = std::fs::read_dir(kind)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        logs.sort();
        let take = (1 + k % 4).min(logs.len());
        for log in &logs[..take] {
            let text = String::from_utf8_lossy(&std::fs::read(log).unwrap()).into_owned();
            time += 3600;
            let (_, body) = archive(&text, time);
            let answer = upload(&state, body).await;
            assert_eq!(
                answer.status,
                StatusCode::CREATED,
                "{}: {}",
                log.display(),
                answer.text()
            );
            assert_eq!(
                answer.json()["signature"],
                signature.as_str(),
                "{}",
                log.display()
            );
        }
        assert!(
            expected.insert(signature.clone(), take as i64).is_none(),
            "two kinds share {signature}"
        );
    }
    let list = get(&state, "/api/v1/signatures?limit=1000").await.json();
    let ranked: Vec<(String, i64)> = list["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["signature"].as_str().unwrap().to_owned(),
                s["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(ranked.len(), expected.len(), "one signature per kind");
    assert!(
        ranked.windows(2).all(|w| w[0].1 >= w[1].1),
        "not ranked: {ranked:?}"
    );
    for (signature, count) in &ranked {
        assert_eq!(expected.get(signature), Some(count), "{signature}");
    }
}
