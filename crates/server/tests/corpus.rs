//! The project's real crash logs (tests/fixtures/kmsg), uploaded as reports: they come out
//! grouped one signature per kind, with the golden's signature, ranked by how many reports
//! each kind got.

mod common;

use common::*;

#[tokio::test]
async fn real_corpus_groups_one_signature_per_kind_ranked_by_count() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), config()).await;
    let expected = upload_corpus(&state).await;
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
