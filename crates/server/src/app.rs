//! The HTTP application: shared state, the route table (which the OpenAPI test reads), token
//! checks, and the security headers every answer carries.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};

use crate::blobs::Blobs;
use crate::config::{Config, Role};
use crate::db::Db;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::{api, dashboard, ingest};

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub db: Db,
    pub blobs: Blobs,
    pub config: Config,
    pub limits: ingest::Limits,
    pub limiter: RateLimiter,
    pub metrics: Metrics,
}

pub type Shared = Arc<AppState>;

impl AppState {
    pub fn new(db: Db, blobs: Blobs, config: Config) -> Shared {
        let limits = config.limits.into();
        Arc::new(Self {
            db,
            blobs,
            config,
            limits,
            limiter: RateLimiter::default(),
            metrics: Metrics::default(),
        })
    }

    /// The role of the request's bearer token.
    pub fn caller(&self, headers: &HeaderMap) -> Result<Role, ApiError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized)?;
        let secret = value
            .strip_prefix("Bearer ")
            .ok_or(ApiError::Unauthorized)?
            .trim();
        self.config.role(secret).ok_or(ApiError::Unauthorized)
    }

    /// Reads (API, dashboard, metrics) need an admin token once one is configured.
    pub fn require_read(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if self.config.reads_open() {
            return Ok(());
        }
        match self.caller(headers)? {
            Role::Admin { .. } => Ok(()),
            Role::Upload { .. } => Err(ApiError::Forbidden("upload tokens cannot read")),
        }
    }
}

/// Routes and the (method, path) list they serve, built together so the list cannot drift.
pub struct Routes {
    router: Router<Shared>,
    served: Vec<(Method, &'static str)>,
}

impl Routes {
    fn add(mut self, method: Method, path: &'static str, handler: MethodRouter<Shared>) -> Self {
        self.router = self.router.route(path, handler);
        self.served.push((method, path));
        self
    }

    fn table() -> Self {
        Self {
            router: Router::new(),
            served: Vec::new(),
        }
        .add(Method::POST, "/api/v1/reports", post(api::upload))
        .add(Method::GET, "/api/v1/reports/{id}", get(api::report))
        .add(Method::GET, "/api/v1/signatures", get(api::signatures))
        .add(
            Method::GET,
            "/api/v1/signatures/{signature}",
            get(api::signature),
        )
        .add(Method::GET, "/api/v1/health", get(api::health))
        .add(Method::GET, "/api/v1/openapi.json", get(api::openapi))
        .add(Method::GET, "/metrics", get(api::metrics))
        .add(Method::GET, "/", get(dashboard::index))
        .add(
            Method::GET,
            "/signatures/{signature}",
            get(dashboard::signature),
        )
        .add(Method::GET, "/reports/{id}", get(dashboard::report))
        .add(
            Method::GET,
            "/static/dashboard.css",
            get(dashboard::stylesheet),
        )
    }
}

/// Every (method, path template) the application serves.
pub fn served_routes() -> Vec<(Method, &'static str)> {
    Routes::table().served
}

/// The whole application over `state`.
pub fn app(state: Shared) -> Router {
    Routes::table()
        .router
        .fallback(no_route)
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {method} {}", uri.path()))
}

/// The content security policy: nothing but this server's own stylesheet; no scripts at all.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await.into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// Percent-encodes `s` for a URL path segment or query value (only unreserved bytes stay).
pub fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Unix seconds as RFC 3339 UTC.
pub fn rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs).map_or_else(|_| secs.to_string(), |t| t.to_string())
}
