//! The OpenAPI description (openapi.json, served at /api/v1/openapi.json) and the router name
//! the same routes: every route served is described, every described route is served.

mod common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;

fn described() -> BTreeSet<(String, String)> {
    let spec: serde_json::Value = serde_json::from_str(server::api::OPENAPI).unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    let mut out = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

#[tokio::test]
async fn every_route_is_described_and_every_description_served() {
    let served: BTreeSet<(String, String)> = server::served_routes()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_owned()))
        .collect();
    let described = described();
    assert_eq!(
        served.difference(&described).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "served but not in openapi.json"
    );
    assert_eq!(
        described.difference(&served).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "in openapi.json but not served"
    );

    // And the router answers each described route (with any placeholder filled), not with the
    // fallback's "no route".
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), config()).await;
    for (method, path) in &described {
        let uri = path.replace("{id}", "x").replace("{signature}", "x");
        let request = Request::builder()
            .method(method.as_str())
            .uri(&uri)
            .body(Body::empty())
            .unwrap();
        let answer = send(&state, request).await;
        assert_ne!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}"
        );
        assert!(
            !answer.text().contains("no route for"),
            "{method} {uri} is not routed"
        );
    }
    let served_spec = get(&state, "/api/v1/openapi.json").await;
    assert_eq!(
        served_spec.json(),
        serde_json::from_str::<serde_json::Value>(server::api::OPENAPI).unwrap()
    );
}
