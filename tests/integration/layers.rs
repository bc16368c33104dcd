//! The architecture, checked: lower layers never import higher ones (STYLE.md). Reads the
//! source, so a new import that breaks the rule fails here, not in review.

use std::path::Path;

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the source folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).expect("read a source file"),
            ));
        }
    }
    out
}

/// Whether `text` names the module `path` (`crate::cli`, not `crate::client`).
fn uses(text: &str, path: &str) -> bool {
    text.match_indices(path).any(|(at, _)| {
        text[at + path.len()..].chars().next().is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    })
}

#[test]
fn domain_models_db_auth_and_services_never_import_routes_or_startup() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offences = Vec::new();
    for layer in ["domain", "models", "db", "auth", "services", "views", "notify"] {
        for (file, text) in sources(&src.join(layer)) {
            for forbidden in ["crate::routes", "crate::startup", "crate::cli", "crate::middleware"] {
                if uses(&text, forbidden) {
                    offences.push(format!("{file} uses {forbidden}"));
                }
            }
        }
    }
    assert!(offences.is_empty(), "layers point one way:\n{}", offences.join("\n"));
}

#[test]
fn the_domain_knows_neither_http_nor_sql() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
    for (file, text) in sources(&src) {
        for forbidden in ["actix_web", "diesel", "crate::models", "crate::db", "crate::services"] {
            assert!(!uses(&text, forbidden), "{file} uses {forbidden}: the domain is pure rules");
        }
    }
}

#[test]
fn services_and_models_know_nothing_of_http() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for layer in ["services", "models", "db", "notify"] {
        for (file, text) in sources(&src.join(layer)) {
            for forbidden in ["HttpRequest", "HttpResponse", "crate::error::", "crate::auth"] {
                assert!(!uses(&text, forbidden), "{file} uses {forbidden}");
            }
        }
    }
}
