//! The dashboard: server-rendered HTML, no scripts and no build step. `/` ranks the top crashes
//! (with the list API's filters as a form), breaks reports down by kernel release and hardware
//! and lists the signatures new in the newest release; `/signatures/<sig>` shows one signature
//! with its daily trend as inline SVG; `/reports/<id>` one report with its log. Everything that
//! came from a report goes through `esc`.

use std::fmt::Write;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};

use crate::api::{ListQuery, SignatureView, archive_log, day_name, query_of, signature_view};
use crate::app::{Shared, rfc3339, url_escape};
use crate::db::{By, Count, ReportRow};
use crate::error::ApiError;

const STYLESHEET: &str = include_str!("dashboard.css");
/// Days the trend chart covers, ending at the signature's last report.
const TREND_DAYS: i64 = 60;

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{} · lastgasp</title><link rel=\"stylesheet\" href=\"/static/dashboard.css\">\
         </head><body><header><a href=\"/\">lastgasp</a> · kernel crashes of the fleet</header>\
         <main>{body}</main></body></html>\n",
        esc(title)
    ))
}

pub async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLESHEET,
    )
        .into_response()
}

/// Errors as a small HTML page with the API's status.
fn html_error(error: ApiError) -> Response {
    let status = error.status();
    let mut response = page(
        "error",
        &format!("<p class=\"error\">{}</p>", esc(&error.to_string())),
    )
    .into_response();
    *response.status_mut() = status;
    response
}

pub async fn index(
    State(state): State<Shared>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    match index_page(&state, &headers, query).await {
        Ok(html) => html.into_response(),
        Err(e) => html_error(e),
    }
}

async fn index_page(
    state: &Shared,
    headers: &HeaderMap,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Html<String>, ApiError> {
    state.require_read(headers)?;
    let query = query_of(query)?;
    let filter = query.filter()?;
    let ranked = state.db.ranked(&filter, query.limit()?).await?;
    let mut body = String::new();
    body.push_str(&filter_form(&query));
    body.push_str("<h1>Top crashes</h1>");
    if ranked.is_empty() {
        body.push_str("<p>No reports match.</p>");
    } else {
        body.push_str(
            "<table><thead><tr><th>reports</th><th>signature</th><th>class</th>\
             <th>releases</th><th>hardware</th><th>first seen</th><th>last seen</th></tr></thead><tbody>",
        );
        for s in &ranked {
            let _ = write!(
                body,
                "<tr><td class=\"n\">{}</td><td><a href=\"/signatures/{}\">{}</a><br><small>{}</small></td>\
                 <td class=\"nowrap\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"nowrap\">{}</td><td class=\"nowrap\">{}</td></tr>",
                s.count,
                esc(&url_escape(&s.signature)),
                esc(&s.title),
                esc(&s.signature),
                esc(&s.class),
                s.releases,
                s.hardware,
                esc(&rfc3339(s.first_seen)),
                esc(&rfc3339(s.last_seen)),
            );
        }
        body.push_str("</tbody></table>");
    }
    if let Some(release) = state.db.newest_release().await? {
        let new = state.db.new_in_release(&release).await?;
        let _ = write!(body, "<h2>New in {}</h2>", esc(&release));
        if new.is_empty() {
            body.push_str("<p>Every crash of this release was seen on an earlier one too.</p>");
        } else {
            body.push_str(&count_table("signature", &new, |v| {
                Some(format!("/signatures/{}", url_escape(v)))
            }));
        }
    }
    body.push_str("<div class=\"columns\"><section><h2>By kernel release</h2>");
    body.push_str(&count_table(
        "release",
        &state.db.counts(By::Release, &filter).await?,
        |v| Some(format!("/?release={}", url_escape(v))),
    ));
    body.push_str("</section><section><h2>By hardware</h2>");
    body.push_str(&count_table(
        "hardware",
        &state.db.counts(By::Hardware, &filter).await?,
        |v| Some(format!("/?hardware={}", url_escape(v))),
    ));
    body.push_str("</section></div>");
    Ok(page("top crashes", &body))
}

/// The list API's filters as a GET form, filled with the current values.
fn filter_form(query: &ListQuery) -> String {
    let field = |name: &str, label: &str, value: &Option<String>| {
        format!(
            "<label>{label} <input name=\"{name}\" value=\"{}\"></label> ",
            esc(value.as_deref().unwrap_or(""))
        )
    };
    format!(
        "<form method=\"get\" action=\"/\" class=\"filters\">{}{}{}{}{}<button>filter</button></form>",
        field("release", "kernel release", &query.release),
        field("hardware", "hardware", &query.hardware),
        field("class", "class", &query.class),
        field("since", "since", &query.since),
        field("until", "until", &query.until),
    )
}

/// A two-column table of counts; `link` gives each value's link, if any.
fn count_table(what: &str, counts: &[Count], link: impl Fn(&str) -> Option<String>) -> String {
    let mut out = format!(
        "<table><thead><tr><th>reports</th><th>{}</th></tr></thead><tbody>",
        esc(what)
    );
    for c in counts {
        let shown = if c.value.is_empty() {
            "unknown"
        } else {
            &c.value
        };
        let cell = match link(&c.value).filter(|_| !c.value.is_empty()) {
            Some(href) => format!("<a href=\"{}\">{}</a>", esc(&href), esc(shown)),
            None => esc(shown),
        };
        let _ = write!(
            out,
            "<tr><td class=\"n\">{}</td><td>{cell}</td></tr>",
            c.count
        );
    }
    out.push_str("</tbody></table>");
    out
}

pub async fn signature(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(signature): Path<String>,
) -> Response {
    let result = async {
        state.require_read(&headers)?;
        signature_view(&state, &signature).await
    }
    .await;
    match result {
        Ok(view) => signature_page(&view).into_response(),
        Err(e) => html_error(e),
    }
}

fn signature_page(view: &SignatureView) -> Html<String> {
    let s = &view.summary;
    let mut body = format!(
        "<h1>{}</h1><p class=\"sig\">{}</p><dl><dt>class</dt><dd>{}</dd><dt>reports</dt><dd>{}</dd>\
         <dt>first seen</dt><dd>{}</dd><dt>last seen</dt><dd>{}</dd></dl>",
        esc(&s.title),
        esc(&s.signature),
        esc(&s.class),
        s.count,
        esc(&rfc3339(s.first_seen)),
        esc(&rfc3339(s.last_seen)),
    );
    body.push_str("<h2>Reports a day</h2>");
    body.push_str(&trend_svg(&view.daily));
    body.push_str("<div class=\"columns\"><section><h2>By kernel release</h2>");
    body.push_str(&count_table("release", &view.by_release, |_| None));
    body.push_str("</section><section><h2>By hardware</h2>");
    body.push_str(&count_table("hardware", &view.by_hardware, |_| None));
    body.push_str("</section></div><h2>Frames</h2><ol class=\"frames\">");
    for frame in &view.facts.frames {
        let _ = write!(body, "<li><code>{}</code></li>", esc(frame));
    }
    let _ = write!(
        body,
        "</ol><h2>Log of report <a href=\"/reports/{}\">{}</a></h2>{}",
        esc(&url_escape(&view.representative)),
        esc(&view.representative),
        log_block(view.log.as_deref())
    );
    page(&s.title, &body)
}

/// A report's log as preformatted text, or why there is none.
fn log_block(log: Option<&str>) -> String {
    format!(
        "<pre class=\"log\">{}</pre>",
        esc(log.unwrap_or("(the archive could not be read)"))
    )
}

pub async fn report(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        state.require_read(&headers)?;
        state
            .db
            .report(&id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no report {id:?}")))
    }
    .await;
    match result {
        Ok(row) => {
            let log = archive_log(&state, row.archive_sha256.clone()).await;
            report_page(&row, log.as_deref()).into_response()
        }
        Err(e) => html_error(e),
    }
}

fn report_page(row: &ReportRow, log: Option<&str>) -> Html<String> {
    let link = |href: String, text: &str| format!("<a href=\"{}\">{}</a>", esc(&href), esc(text));
    let or_unknown = |v: &str| {
        if v.is_empty() {
            "unknown".to_owned()
        } else {
            v.to_owned()
        }
    };
    let mut body = format!("<h1>Report {}</h1><dl>", esc(&row.id));
    let mut fact = |name: &str, html: String| {
        let _ = write!(body, "<dt>{name}</dt><dd>{html}</dd>");
    };
    fact(
        "signature",
        link(
            format!("/signatures/{}", url_escape(&row.signature)),
            &row.signature,
        ),
    );
    if let Some(client) = row
        .client_signature
        .as_deref()
        .filter(|c| *c != row.signature)
    {
        fact("client's signature", esc(client));
    }
    fact("class", esc(&row.class));
    fact(
        "kernel release",
        link(
            format!("/?release={}", url_escape(&row.kernel_release)),
            &or_unknown(&row.kernel_release),
        ),
    );
    fact(
        "hardware",
        link(
            format!("/?hardware={}", url_escape(&row.hardware)),
            &or_unknown(&row.hardware),
        ),
    );
    fact(
        "crashed",
        esc(&row.crash_time.map_or_else(|| "unknown".to_owned(), rfc3339)),
    );
    fact("received", esc(&rfc3339(row.received)));
    fact("uploaded with", esc(&row.token_name));
    fact(
        "archive",
        format!(
            "<code>{}</code>, {} bytes",
            esc(&row.archive_sha256),
            row.archive_bytes
        ),
    );
    body.push_str("</dl><h2>Log</h2>");
    body.push_str(&log_block(log));
    page(&format!("report {}", row.id), &body)
}

/// Bars of reports a day over the last `TREND_DAYS` days up to the last report, days without
/// reports included, as inline SVG (presentation attributes only: the CSP allows no inline
/// style).
pub fn trend_svg(daily: &[(i64, i64)]) -> String {
    let Some(last) = daily.iter().map(|(d, _)| *d).max() else {
        return "<p>No reports.</p>".into();
    };
    let first = last - TREND_DAYS + 1;
    let max = daily.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
    // Above the bars a line for the scale, below them one for the first and last day.
    let (width, top, height, bar) = (TREND_DAYS * 10, 16, 120, 8);
    let (base, total) = (top + height, top + height + 20);
    let mut svg = format!(
        "<svg class=\"trend\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" \
         height=\"{total}\" viewBox=\"0 0 {width} {total}\" role=\"img\" \
         aria-label=\"reports a day from {} to {}\">\
         <line x1=\"0\" y1=\"{top}\" x2=\"{width}\" y2=\"{top}\" stroke=\"#ddd\"/>\
         <text x=\"0\" y=\"{}\" font-size=\"11\" fill=\"#666\">{max} a day</text>",
        day_name(first),
        day_name(last),
        top - 4,
    );
    for (day, n) in daily.iter().filter(|(d, _)| *d >= first) {
        let h = (n * height / max).max(1);
        let x = (day - first) * 10;
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"{bar}\" height=\"{h}\" fill=\"#c0392b\">\
             <title>{}: {n}</title></rect>",
            base - h,
            day_name(*day)
        );
    }
    let _ = write!(
        svg,
        "<line x1=\"0\" y1=\"{base}\" x2=\"{width}\" y2=\"{base}\" stroke=\"#888\"/>\
         <text x=\"0\" y=\"{}\" font-size=\"11\">{}</text>\
         <text x=\"{width}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text></svg>",
        base + 15,
        day_name(first),
        base + 15,
        day_name(last)
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_html_special_is_escaped() {
        assert_eq!(
            esc("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }

    #[test]
    fn trend_has_a_bar_per_day_with_reports() {
        let svg = trend_svg(&[(20_000, 1), (20_010, 4)]);
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(
            svg.contains("height=\"120\""),
            "the busiest day is full height: {svg}"
        );
        assert!(svg.contains(&day_name(20_010)));
        assert_eq!(trend_svg(&[]), "<p>No reports.</p>");
    }
}
