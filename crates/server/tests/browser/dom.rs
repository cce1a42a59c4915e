//! Reading the DOM Chromium serialised (`--dump-dom`): elements by tag, a table's cells, and the
//! text a user sees. Chromium's serialisation is regular (lower-case tags, quoted attributes,
//! `&lt;` `&gt;` `&amp;` in text), which is all these helpers rely on.

/// Every `<tag ...>inner</tag>` in `html` (not nested in one another): (attributes, inner HTML).
pub fn elements<'a>(html: &'a str, tag: &str) -> Vec<(&'a str, &'a str)> {
    let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(&open) {
        let after = &rest[at + open.len()..];
        // `<tr` must not match `<track`: the name ends at a space or `>`.
        if !after.starts_with([' ', '>']) {
            rest = after;
            continue;
        }
        let Some(gt) = after.find('>') else { break };
        let attrs = &after[..gt];
        let body = &after[gt + 1..];
        let end = body.find(&close).unwrap_or(body.len());
        out.push((attrs, &body[..end]));
        rest = &body[end..];
    }
    out
}

/// The value of attribute `name` in an element's attribute text.
pub fn attr<'a>(attrs: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let at = attrs.find(&key)? + key.len();
    Some(&attrs[at..at + attrs[at..].find('"')?])
}

/// The text of an HTML fragment as shown: tags dropped, entities decoded.
pub fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// The body rows of the first table after the heading whose text starts with `heading`, as
/// each cell's inner HTML.
pub fn table_after(html: &str, heading: &str) -> Vec<Vec<String>> {
    let found = ["h1", "h2"]
        .iter()
        .flat_map(|h| elements(html, h))
        .map(|(_, inner)| inner)
        .find(|inner| text(inner).starts_with(heading))
        .unwrap_or_else(|| panic!("no heading {heading:?} in the page"));
    // `inner` borrows from `html`, so its offset is where the heading is.
    let offset = found.as_ptr() as usize - html.as_ptr() as usize;
    let (_, table) = elements(&html[offset..], "table")
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no table after {heading:?}"));
    let (_, tbody) = elements(table, "tbody")
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("the table after {heading:?} has no body"));
    elements(tbody, "tr")
        .into_iter()
        .map(|(_, row)| {
            elements(row, "td")
                .into_iter()
                .map(|(_, cell)| cell.to_owned())
                .collect()
        })
        .collect()
}

/// (count, shown text) of a two-column count table's rows.
pub fn counts(rows: &[Vec<String>]) -> Vec<(i64, String)> {
    rows.iter()
        .map(|cells| {
            assert_eq!(cells.len(), 2, "a count row has two cells: {cells:?}");
            let n = text(&cells[0]).trim().parse().unwrap_or_else(|_| {
                panic!("count cell {:?} is not a number", cells[0]);
            });
            (n, text(&cells[1]))
        })
        .collect()
}
