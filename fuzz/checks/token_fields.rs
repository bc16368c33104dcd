//! A token's purpose and scopes, as forms and the API send them, and the scopes as stored
//! (SPEC 4.1, 4.9). One input: the purpose; its lines: the scopes; all of it: a stored value.

use super::{assert_clean_text, text};
use tokenwarden::domain::service::Holders;
use tokenwarden::domain::text::is_forbidden_in_text;
use tokenwarden::domain::token::{Catalogue, Purpose, SCOPE_CATALOGUE, Scopes, ServiceScopeDef};

/// The API's scopes and one service's two.
fn catalogue() -> Catalogue {
    let def = |scope: &str| ServiceScopeDef {
        scope: scope.into(),
        service: "Gradebook".into(),
        label: scope.into(),
        holders: Holders::default(),
        accepts_unscoped: false,
    };
    Catalogue { services: vec![def("gradebook:read"), def("gradebook:write")] }
}

/// Where a scope stands in the canonical order: the API's in their catalogue's order, then
/// the services' by name.
fn position(scope: &str) -> Option<(usize, String)> {
    match SCOPE_CATALOGUE.iter().position(|d| d.scope == scope) {
        Some(i) => Some((i, String::new())),
        None => catalogue().service_scope(scope).map(|d| (SCOPE_CATALOGUE.len(), d.scope.clone())),
    }
}

fn assert_canonical(s: &Scopes, what: &str) {
    let positions: Vec<(usize, String)> = s
        .as_slice()
        .iter()
        .map(|x| position(x).unwrap_or_else(|| panic!("{what}: {x:?} is unknown")))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{what}: not in canonical order, or repeated: {s:?}");
}

pub fn check(data: &[u8]) {
    let s = text(data);
    let s = s.as_ref();

    // Purpose: trimmed, 1–255 characters, no control characters and none that reorders the
    // text around it (a direction override), the same when parsed again.
    if let Ok(p) = Purpose::parse(s) {
        assert_clean_text("purpose", s, p.as_str(), Purpose::MAX_CHARS);
        assert!(!p.as_str().chars().any(is_forbidden_in_text), "kept a direction override: {s:?}");
        assert_eq!(Purpose::parse(p.as_str()).as_ref(), Ok(&p));
    } else {
        let t = s.trim();
        assert!(
            t.is_empty() || t.chars().count() > Purpose::MAX_CHARS || t.chars().any(is_forbidden_in_text),
            "refused a good purpose {s:?}"
        );
    }

    // Scopes: known ones only, canonical, and the same after a trip through storage.
    let items: Vec<&str> = s.split('\n').collect();
    match Scopes::parse(&items, &catalogue()) {
        Ok(scopes) => {
            assert_canonical(&scopes, "parse");
            for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
                assert!(scopes.contains(item), "{item:?} was dropped");
            }
            assert_eq!(scopes.is_unlimited(), items.iter().all(|i| i.trim().is_empty()));
            assert_eq!(Scopes::from_stored(&scopes.to_stored()), scopes, "storage changed {scopes:?}");
            assert!(!scopes.summary().is_empty());
        }
        Err(e) => {
            assert_eq!(e.field, Scopes::FIELD);
            assert!(items.iter().map(|i| i.trim()).any(|i| !i.is_empty() && position(i).is_none()));
            assert!(e.message.chars().count() <= "Unknown scope: ".len() + 80, "{}", e.message);
        }
    }

    // Stored scopes: never wider than what is stored — only an empty value is unlimited —
    // every stored word kept (a scope nothing knows any more opens nothing), and stable
    // through another trip.
    let stored = Scopes::from_stored(s);
    assert_eq!(stored.is_unlimited(), s.trim().is_empty(), "{s:?} read as {stored:?}");
    for x in stored.as_slice() {
        assert!(s.split_whitespace().any(|w| w == *x), "{x:?} from {s:?}");
    }
    for w in s.split_whitespace() {
        assert!(stored.contains(w), "{w:?} of {s:?} was dropped");
    }
    assert_eq!(Scopes::from_stored(&stored.to_stored()), stored);
}
