//! API and dashboard round trips on SQLite in a tempdir: uploads, the ranked list with its
//! filters, one signature, one report, metrics, health, the dashboard pages (escaped, with the
//! security headers).

mod common;

use axum::http::StatusCode;
use common::*;

#[tokio::test]
async fn uploads_come_back_ranked_filtered_and_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), config()).await;
    let day = 86_400;
    let t0 = 1_764_547_200; // 2025-12-01T00:00:00Z
    // Three reports of one crash on 6.1 (two machines), one of another crash on 6.12 only, whose
    // hardware name tries to inject markup.
    let evil = "<script>alert(1)</script>";
    let uploads = [
        (
            oops_log("my_write", "6.1.0-1-amd64", "QEMU Standard PC"),
            t0,
        ),
        (
            oops_log("my_write", "6.1.0-1-amd64", "ThinkPad X1"),
            t0 + day,
        ),
        (
            oops_log("my_write", "6.1.0-1-amd64", "QEMU Standard PC"),
            t0 + 3 * day,
        ),
        (oops_log("other_fn", "6.12.0-1-amd64", evil), t0 + 2 * day),
    ];
    let mut signatures = Vec::new();
    for (i, (log, time)) in uploads.iter().enumerate() {
        // Same log twice would be the same report: vary the log a little.
        let log = format!("<6>[    0.{i}] boot {i}\n{log}");
        let (_, body) = archive(&log, *time);
        let answer = upload(&state, body).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
        signatures.push(answer.json()["signature"].as_str().unwrap().to_owned());
    }
    let (common_sig, rare_sig) = (signatures[0].clone(), signatures[3].clone());
    assert!(signatures[..3].iter().all(|s| *s == common_sig));
    assert_ne!(common_sig, rare_sig);

    let list = get(&state, "/api/v1/signatures").await.json();
    let ranked = list["signatures"].as_array().unwrap();
    assert_eq!(ranked.len(), 2);
    assert_eq!(ranked[0]["signature"], common_sig.as_str());
    assert_eq!(ranked[0]["count"], 3);
    assert_eq!(ranked[0]["hardware"], 2);
    assert_eq!(ranked[0]["first_seen"], "2025-12-01T00:00:00Z");
    assert_eq!(ranked[0]["last_seen"], "2025-12-04T00:00:00Z");
    assert_eq!(ranked[1]["count"], 1);

    let only = |uri: &str| {
        let state = state.clone();
        let uri = uri.to_owned();
        async move {
            let answer = get(&state, &uri).await;
            assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.text());
            answer.json()["signatures"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["signature"].as_str().unwrap().to_owned(),
                        s["count"].as_i64().unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        only("/api/v1/signatures?release=6.12.0-1-amd64").await,
        [(rare_sig.clone(), 1)]
    );
    assert_eq!(
        only("/api/v1/signatures?hardware=ThinkPad%20X1").await,
        [(common_sig.clone(), 1)]
    );
    assert_eq!(
        only("/api/v1/signatures?since=2025-12-02&until=2025-12-04T00:00:00Z").await,
        // A tie in count: the one seen last comes first.
        [(rare_sig.clone(), 1), (common_sig.clone(), 1)]
    );
    assert_eq!(only("/api/v1/signatures?class=oom").await, []);
    assert_eq!(only("/api/v1/signatures?limit=1").await.len(), 1);
    let bad = get(&state, "/api/v1/signatures?since=yesterday").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.json()["error"].as_str().unwrap().contains("since"));

    let one = get(&state, &format!("/api/v1/signatures/{common_sig}"))
        .await
        .json();
    assert_eq!(one["count"], 3);
    assert_eq!(one["frames"][0], "mymod:my_write");
    assert!(
        one["representative"]["log"]
            .as_str()
            .unwrap()
            .contains("my_write+0x5/0x10")
    );
    assert_eq!(
        one["by_release"],
        serde_json::json!([{"value": "6.1.0-1-amd64", "count": 3}])
    );
    assert_eq!(
        one["by_hardware"][0],
        serde_json::json!({"value": "QEMU Standard PC", "count": 2})
    );
    assert_eq!(
        one["daily"],
        serde_json::json!([
            {"day": "2025-12-01", "count": 1},
            {"day": "2025-12-02", "count": 1},
            {"day": "2025-12-04", "count": 1}
        ])
    );
    assert_eq!(
        get(&state, "/api/v1/signatures/nope").await.status,
        StatusCode::NOT_FOUND
    );

    let id = one["representative"]["id"].as_str().unwrap();
    let report = get(&state, &format!("/api/v1/reports/{id}")).await.json();
    assert_eq!(report["signature"], common_sig.as_str());
    assert_eq!(report["client_signature"], common_sig.as_str());
    assert_eq!(report["kernel_release"], "6.1.0-1-amd64");
    assert_eq!(
        get(&state, "/api/v1/reports/nope").await.status,
        StatusCode::NOT_FOUND
    );

    let metrics = get(&state, "/metrics").await;
    assert!(
        metrics
            .text()
            .contains("lastgasp_uploads_total{outcome=\"created\"} 4")
    );
    assert!(metrics.text().contains("lastgasp_reports 4\n"));
    assert!(metrics.text().contains("lastgasp_signatures 2\n"));
    assert_eq!(get(&state, "/api/v1/health").await.json()["status"], "ok");

    let index = get(&state, "/").await;
    assert_eq!(index.status, StatusCode::OK);
    let html = index.text();
    assert!(
        !html.contains(evil),
        "unescaped hardware name in the dashboard"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("New in 6.12.0-1-amd64"), "{html}");
    assert!(html.find(&common_sig).unwrap() < html.find(&rare_sig).unwrap());
    let csp = index.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe"));
    assert_eq!(index.headers["x-content-type-options"], "nosniff");
    assert_eq!(index.headers["x-frame-options"], "DENY");

    let page = get(&state, &format!("/signatures/{rare_sig}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("<svg class=\"trend\""));
    assert!(!page.text().contains(evil));
    let missing = get(&state, "/signatures/%3Cb%3Enope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.text().contains("&lt;b&gt;nope") && !missing.text().contains("<b>nope"));
    let unknown = get(&state, "/no/such/route").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["error"], "no route for GET /no/such/route");
}
