//! The dashboard in a real browser (issue 10, item 8). The server, with the project's real
//! corpus uploaded plus a signature reported on chosen days and a report whose log and hardware
//! name carry a `<script>`, listens on loopback; headless Chromium (Debian's `chromium`) loads
//! the top page, that signature's page and that report's page. The DOM it built must show what
//! a user checks (ranking and counts, one trend bar per day with reports, the breakdowns, the
//! script as text), its console must stay empty (no CSP violation, no failed load), and its
//! screenshots, kept in target/test-artifacts/dashboard/, must be PNGs of the window with the
//! stylesheet applied and the page drawn.

#[path = "../common/mod.rs"]
mod common;

mod chromium;
mod dom;
mod shot;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use chromium::{Chromium, HEIGHT, WIDTH};
use common::*;
use server::db::{By, Filter};
use shot::Shot;

/// The header's background in dashboard.css: seen only when the stylesheet was allowed to load.
const HEADER_RGB: [u8; 3] = [0x2c, 0x3e, 0x50];
/// The trend bars' fill.
const BAR_RGB: [u8; 3] = [0xc0, 0x39, 0x2b];

/// Reports of the trend signature: (day, reports that day, kernel release).
const TREND: [(&str, i64, &str); 4] = [
    ("2025-12-08", 2, "6.12.9-amd64"),
    ("2025-12-09", 1, "6.12.9-amd64"),
    ("2025-12-13", 4, "6.13.1-amd64"),
    ("2025-12-18", 1, "6.12.9-amd64"),
];
const TREND_HARDWARE: &str = "QEMU Standard PC (i440FX + PIIX 1996)";
const HOSTILE: &str = "<script>document.title='pwned'</script>";
const HOSTILE_RELEASE: &str = "7.0.0-lastgasp";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_headless_chromium() {
    let browser = Chromium::find();
    let artifacts = artifacts();
    control_shows_csp_violations_in_the_console(&browser);

    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), config()).await;
    let mut expected = upload_corpus(&state).await;
    let trend = upload_trend(&state).await;
    expected.insert(trend.clone(), TREND.iter().map(|(_, n, _)| n).sum());
    let hostile_hardware = format!("QEMU {HOSTILE}");
    let (hostile_id, body) = archive(
        &format!(
            "{}<4>[   27.3] {HOSTILE}\n",
            oops_log("hostile_probe", HOSTILE_RELEASE, &hostile_hardware)
        ),
        unix("2025-12-20T08:00:00Z"),
    );
    let answer = upload(&state, body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    let hostile = answer.json()["signature"].as_str().unwrap().to_owned();
    expected.insert(hostile.clone(), 1);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(server::serve(
        listener,
        state.clone(),
        std::future::pending(),
    ));

    // Chromium blocks this thread only: the server runs on the runtime's worker threads.
    let (top, _) = load(&browser, &artifacts, "top", &format!("{base}/"));
    check_top(&state, &top, &expected, &hostile, &hostile_hardware).await;
    let (sig, sig_shot) = load(
        &browser,
        &artifacts,
        "signature",
        &format!("{base}/signatures/{trend}"),
    );
    check_signature(&sig, &trend);
    assert!(
        sig_shot.count(BAR_RGB) > 100,
        "the trend bars are not drawn in signature.png"
    );
    let (report, _) = load(
        &browser,
        &artifacts,
        "report",
        &format!("{base}/reports/{hostile_id}"),
    );
    check_report(&report, &hostile_id, &hostile, &hostile_hardware);
}

/// target/test-artifacts/dashboard/, emptied of an earlier run's files.
fn artifacts() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let dir = target.join("test-artifacts/dashboard");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn unix(time: &str) -> i64 {
    time.parse::<jiff::Timestamp>().unwrap().as_second()
}

/// The console check below is only worth something if a violation does show up in it.
fn control_shows_csp_violations_in_the_console(browser: &Chromium) {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("control.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" \
         content=\"default-src 'none'\"><title>control</title></head>\
         <body><script>document.title = 'ran'</script></body></html>",
    )
    .unwrap();
    let run = browser.run(
        "control",
        &["--dump-dom".into()],
        &format!("file://{}", page.display()),
    );
    assert!(
        run.console
            .iter()
            .any(|m| m.contains("Content Security Policy")),
        "a blocked inline script left no console message, so the console is not being read: {:?}",
        run.console
    );
    assert!(
        run.stdout.contains("<title>control</title>"),
        "{}",
        run.stdout
    );
}

/// Reports of one oops on the days of `TREND`; returns its signature.
async fn upload_trend(state: &server::Shared) -> String {
    let mut signature = None;
    for (day, reports, release) in TREND {
        for hour in 0..reports {
            let log = oops_log("lastgasp_trend_probe", release, TREND_HARDWARE);
            let (_, body) = archive(&log, unix(&format!("{day}T1{hour}:00:00Z")));
            let answer = upload(state, body).await;
            assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
            let got = answer.json()["signature"].as_str().unwrap().to_owned();
            assert_eq!(signature.get_or_insert(got.clone()), &got);
        }
    }
    signature.unwrap()
}

/// One page in Chromium: its DOM (also kept as `<name>.html`) and its screenshot
/// `<name>.png`, both with an empty console.
fn load(browser: &Chromium, artifacts: &Path, name: &str, url: &str) -> (String, Shot) {
    let dom = browser.run(name, &["--dump-dom".into()], url);
    assert_eq!(dom.console, Vec::<String>::new(), "console of {url}");
    std::fs::write(artifacts.join(format!("{name}.html")), &dom.stdout).unwrap();
    let png = artifacts.join(format!("{name}.png"));
    let shot = browser.run(
        &format!("{name}-shot"),
        &[format!("--screenshot={}", png.display())],
        url,
    );
    assert_eq!(shot.console, Vec::<String>::new(), "console of {url}");
    let image = Shot::decode(&png);
    assert_eq!(
        (image.width, image.height),
        (WIDTH, HEIGHT),
        "{}",
        png.display()
    );
    assert_eq!(
        image.pixel(4, 4),
        HEADER_RGB,
        "{}: no header colour, so no stylesheet",
        png.display()
    );
    assert!(
        image.colours() > 20,
        "{}: {} colours, nothing drawn",
        png.display(),
        image.colours()
    );
    (dom.stdout, image)
}

async fn check_top(
    state: &server::Shared,
    html: &str,
    expected: &BTreeMap<String, i64>,
    hostile: &str,
    hostile_hardware: &str,
) {
    // The top crashes, as shown: count and the signature under each title.
    let shown: Vec<(i64, String)> = dom::table_after(html, "Top crashes")
        .iter()
        .map(|cells| {
            let (_, small) = dom::elements(&cells[1], "small")[0];
            (dom::text(&cells[0]).parse().unwrap(), dom::text(small))
        })
        .collect();
    assert_eq!(shown.len(), expected.len(), "every signature listed");
    for (n, signature) in &shown {
        assert_eq!(expected.get(signature), Some(n), "{signature}");
    }
    assert!(
        shown.windows(2).all(|w| w[0].0 >= w[1].0),
        "not ranked by count: {shown:?}"
    );
    let api = get(state, "/api/v1/signatures").await.json();
    let ranked: Vec<(i64, String)> = api["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["count"].as_i64().unwrap(),
                s["signature"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(shown, ranked, "the page ranks as the API does");

    assert_eq!(
        dom::counts(&dom::table_after(
            html,
            &format!("New in {HOSTILE_RELEASE}")
        )),
        vec![(1, hostile.to_owned())]
    );

    let total: i64 = expected.values().sum();
    for (heading, by) in [
        ("By kernel release", By::Release),
        ("By hardware", By::Hardware),
    ] {
        let shown = dom::counts(&dom::table_after(html, heading));
        let stored: Vec<(i64, String)> = state
            .db
            .counts(by, &Filter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|c| {
                let value = if c.value.is_empty() {
                    "unknown".to_owned()
                } else {
                    c.value
                };
                (c.count, value)
            })
            .collect();
        assert_eq!(shown, stored, "{heading}");
        assert_eq!(
            shown.iter().map(|(n, _)| n).sum::<i64>(),
            total,
            "{heading}"
        );
    }
    let hardware = dom::counts(&dom::table_after(html, "By hardware"));
    assert!(
        hardware
            .iter()
            .any(|(n, value)| *n == 1 && value == hostile_hardware),
        "the hostile hardware name is shown as text: {hardware:?}"
    );
    assert!(
        hardware
            .iter()
            .any(|(n, value)| *n == 8 && value == TREND_HARDWARE),
        "{hardware:?}"
    );
    assert_no_script(html, "top page");
}

fn check_signature(html: &str, trend: &str) {
    let (_, sig) = dom::elements(html, "p")
        .into_iter()
        .find(|(attrs, _)| dom::attr(attrs, "class") == Some("sig"))
        .expect("the signature line");
    assert_eq!(dom::text(sig), trend);

    // One bar per day with reports, titled with the day and its count, placed by day, the
    // busiest day full height.
    let (_, svg) = dom::elements(html, "svg")
        .into_iter()
        .find(|(attrs, _)| dom::attr(attrs, "class") == Some("trend"))
        .expect("the trend chart");
    assert!(
        dom::text(svg).contains("4 a day"),
        "the scale names the busiest day's count: {svg}"
    );
    let bars = dom::elements(svg, "rect");
    let titles: Vec<String> = bars.iter().map(|(_, inner)| dom::text(inner)).collect();
    let wanted: Vec<String> = TREND.iter().map(|(d, n, _)| format!("{d}: {n}")).collect();
    assert_eq!(titles, wanted, "one bar per day with reports");
    let number = |attrs: &str, name: &str| -> i64 {
        dom::attr(attrs, name)
            .unwrap_or_else(|| panic!("bar without {name}: {attrs}"))
            .parse()
            .unwrap()
    };
    let day = |d: &str| unix(&format!("{d}T00:00:00Z")) / 86_400;
    for ((attrs, _), (d, n, _)) in bars.iter().zip(TREND) {
        assert_eq!(
            number(attrs, "x") - number(bars[0].0, "x"),
            (day(d) - day(TREND[0].0)) * 10,
            "bar of {d} placed by its day"
        );
        assert_eq!(number(attrs, "height"), n * 120 / 4, "bar of {d}");
    }

    let mut releases: BTreeMap<&str, i64> = BTreeMap::new();
    for (_, n, release) in TREND {
        *releases.entry(release).or_default() += n;
    }
    let mut wanted: Vec<(i64, String)> = releases
        .into_iter()
        .map(|(r, n)| (n, r.to_owned()))
        .collect();
    wanted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    assert_eq!(
        dom::counts(&dom::table_after(html, "By kernel release")),
        wanted
    );
    assert_eq!(
        dom::counts(&dom::table_after(html, "By hardware")),
        vec![(8, TREND_HARDWARE.to_owned())]
    );
    let frames: Vec<String> = dom::elements(html, "li")
        .into_iter()
        .map(|(_, inner)| dom::text(inner))
        .collect();
    assert!(
        frames.iter().any(|f| f.contains("lastgasp_trend_probe")),
        "{frames:?}"
    );
    let (_, log) = dom::elements(html, "pre")[0];
    assert!(
        dom::text(log).contains("RIP: 0010:lastgasp_trend_probe+0x5/0x10"),
        "{log}"
    );
    assert_no_script(html, "signature page");
}

fn check_report(html: &str, id: &str, hostile: &str, hostile_hardware: &str) {
    // Had the script run, the title would say so.
    let (_, title) = dom::elements(html, "title")[0];
    assert_eq!(dom::text(title), format!("report {id} · lastgasp"));
    let facts: BTreeMap<String, String> = dom::elements(html, "dt")
        .into_iter()
        .zip(dom::elements(html, "dd"))
        .map(|((_, dt), (_, dd))| (dom::text(dt), dom::text(dd)))
        .collect();
    assert_eq!(facts["signature"], hostile, "{facts:?}");
    assert_eq!(facts["kernel release"], HOSTILE_RELEASE, "{facts:?}");
    assert_eq!(facts["hardware"], hostile_hardware, "{facts:?}");
    let (_, log) = dom::elements(html, "pre")[0];
    assert!(
        dom::text(log).contains(&format!("[   27.3] {HOSTILE}")),
        "the log's script shown as text: {log}"
    );
    assert_no_script(html, "report page");
}

/// Nothing from a report became an element: the DOM has no script at all.
fn assert_no_script(html: &str, page: &str) {
    assert!(
        !html.to_ascii_lowercase().contains("<script"),
        "{page} has a script element"
    );
}
