//! Accessibility checks run in the page: labels, visible keyboard focus, and axe-core's
//! WCAG 2 A/AA rules (colour contrast and labels among them).

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use serde_json::{Value as Json, json};

use crate::harness::{Page, axe_source};

/// Form controls (input except hidden, select, textarea) without an accessible label: no
/// `<label for>` or wrapping label with text, no `aria-label`, no `aria-labelledby` that
/// names an element with text. Each is described by its tag, id and name.
pub async fn unlabelled_controls(page: &Page) -> Vec<String> {
    let found = page
        .js(
            r#"
            const text = el => (el && el.textContent || '').trim().length > 0;
            const out = [];
            for (const el of document.querySelectorAll('input, select, textarea')) {
              if (el.type === 'hidden') continue;
              const byLabel = Array.from(el.labels || []).some(text);
              const byAria = (el.getAttribute('aria-label') || '').trim().length > 0;
              const byRef = (el.getAttribute('aria-labelledby') || '').split(/\s+/)
                .some(id => id && text(document.getElementById(id)));
              if (!byLabel && !byAria && !byRef) {
                out.push(`<${el.tagName.toLowerCase()} id="${el.id}" name="${el.name}" type="${el.type}">`);
              }
            }
            return out;
            "#,
            vec![],
        )
        .await;
    strings(found)
}

/// How many form controls the page has (so a label check cannot pass on an empty page).
pub async fn control_count(page: &Page) -> u64 {
    page.js(
        "return Array.from(document.querySelectorAll('input, select, textarea'))\
         .filter(el => el.type !== 'hidden').length;",
        vec![],
    )
    .await
    .as_u64()
    .expect("a count")
}

/// One stop of keyboard focus: what has focus and whether a focus indicator is drawn.
#[derive(Debug)]
pub struct FocusStop {
    pub tag: String,
    pub describe: String,
    pub visible_indicator: bool,
}

/// Presses Tab from the top of the page (freshly loaded) up to `max` times and records
/// each element that receives focus with whether its computed style draws an outline or a
/// box-shadow. Stops when focus leaves the document or comes back round.
pub async fn tab_through(page: &Page, max: usize) -> Vec<FocusStop> {
    // Start from the document itself, as after a page load without autofocus.
    page.js("if (document.activeElement) document.activeElement.blur(); window.scrollTo(0, 0);", vec![])
        .await;
    let mut stops: Vec<FocusStop> = Vec::new();
    for _ in 0..max {
        let tab = KeyActions::new("keyboard".to_owned())
            .then(KeyAction::Down { value: Key::Tab.into() })
            .then(KeyAction::Up { value: Key::Tab.into() });
        page.client.perform_actions(tab).await.expect("press Tab");
        let info = page
            .js(
                r#"
                const el = document.activeElement;
                if (!el || el === document.body || el === document.documentElement) return null;
                const s = getComputedStyle(el);
                const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
                const shadow = s.boxShadow && s.boxShadow !== 'none';
                const label = (el.getAttribute('aria-label') || el.textContent || el.value || '').trim().replace(/\s+/g, ' ').slice(0, 40);
                return { tag: el.tagName.toLowerCase(),
                         describe: `<${el.tagName.toLowerCase()}${el.id ? ' id=' + el.id : ''}> ${label}`,
                         visible: outline || !!shadow };
                "#,
                vec![],
            )
            .await;
        if info.is_null() {
            break;
        }
        let stop = FocusStop {
            tag: info["tag"].as_str().unwrap_or_default().to_owned(),
            describe: info["describe"].as_str().unwrap_or_default().to_owned(),
            visible_indicator: info["visible"] == json!(true),
        };
        if stops.first().is_some_and(|first| first.describe == stop.describe) {
            break;
        }
        stops.push(stop);
    }
    stops
}

/// Asserts that keyboard focus reaches at least one form field and one button, and that
/// every element it reaches shows a focus indicator.
pub async fn assert_focus_is_visible(page: &Page, what: &str) {
    let stops = tab_through(page, 80).await;
    let missing: Vec<&str> =
        stops.iter().filter(|s| !s.visible_indicator).map(|s| s.describe.as_str()).collect();
    assert!(missing.is_empty(), "{what}: focus is invisible on {missing:#?}");
    assert!(
        stops.iter().any(|s| matches!(s.tag.as_str(), "input" | "select" | "textarea")),
        "{what}: Tab never reached a form field: {stops:#?}"
    );
    assert!(
        stops.iter().any(|s| s.tag == "button" || s.tag == "summary"),
        "{what}: Tab never reached a button: {stops:#?}"
    );
}

/// What axe-core found on a page.
#[derive(Debug)]
pub struct AxeReport {
    /// One line per violating node: rule, impact, help, selector, how to fix.
    pub violations: Vec<String>,
    /// The rules that applied to something on the page (passed or not).
    pub applied: Vec<String>,
}

/// The WCAG 2.x levels A and AA, whose rules include `color-contrast` and `label`.
pub const AXE_TAGS: &[&str] = &["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

/// Runs axe-core's rules tagged `tags` on the page as it is now.
pub async fn axe(page: &Page, tags: &[&str]) -> AxeReport {
    // The source goes in as the script itself: WebDriver scripts are not subject to the
    // page's CSP, but a <script> tag or eval() of it would be.
    if page.js("return typeof window.axe;", vec![]).await != json!("object") {
        let script = format!("{}\n;return typeof window.axe;", axe_source());
        let loaded = page.js(&script, vec![]).await;
        assert_eq!(loaded, json!("object"), "axe-core did not load");
    }
    let result = page
        .js_async(
            r#"
            const [tags, done] = arguments;
            axe.run(document, { runOnly: { type: 'tag', values: tags } })
              .then(r => done({
                violations: r.violations.flatMap(v => v.nodes.map(n =>
                  `${v.id} (${v.impact}): ${v.help} — ${n.target.join(' ')}: ${(n.failureSummary || '').replace(/\s+/g, ' ')}`)),
                applied: r.passes.concat(r.violations).map(v => v.id),
              }))
              .catch(e => done({ violations: [`axe failed: ${e}`], applied: [] }));
            "#,
            vec![json!(tags)],
        )
        .await;
    AxeReport {
        violations: strings(result["violations"].clone()),
        applied: strings(result["applied"].clone()),
    }
}

/// Labels, focus and axe on the page as it is now; `what` names it in failures.
pub async fn assert_accessible(page: &Page, what: &str) {
    assert!(control_count(page).await > 0, "{what}: no form controls to check");
    let unlabelled = unlabelled_controls(page).await;
    assert!(unlabelled.is_empty(), "{what}: controls without a label: {unlabelled:#?}");
    let report = axe(page, AXE_TAGS).await;
    assert!(report.violations.is_empty(), "{what}: axe-core found {:#?}", report.violations);
    for rule in ["color-contrast", "label"] {
        assert!(report.applied.iter().any(|r| r == rule), "{what}: axe's {rule} rule checked nothing");
    }
}

fn strings(value: Json) -> Vec<String> {
    match value {
        Json::Array(items) => items.into_iter().map(|v| v.as_str().unwrap_or_default().to_owned()).collect(),
        other => panic!("expected a list, got {other}"),
    }
}
