//! The API's JSON request body, `{"token": {…}}` (create and update), through to the draft
//! the services get: fields left out, `null`, or of the wrong type.

use super::check_draft;
use serde_json::Value;
use tokenwarden::routes::api::v1::tokens::{NewTokenRequest, TokenChangesRequest, TokenParams};

pub fn check(data: &[u8]) {
    // The create body reads as the update body does, without `regenerate`.
    if let Ok(create) = serde_json::from_slice::<NewTokenRequest>(data) {
        check_draft(&TokenParams::from(create).draft());
    }
    let Ok(request) = serde_json::from_slice::<TokenChangesRequest>(data) else {
        return;
    };
    let params = &TokenParams::from(request);
    let draft = params.draft();
    assert_eq!(draft.purpose, params.purpose);
    assert_eq!(draft.scopes, params.scopes);
    assert_eq!(draft.expiry, params.expiry());
    assert_eq!(draft.expiry.is_some(), params.expires_at.is_some());
    check_draft(&draft);

    // Each field says what the JSON said. (serde_json skips unknown fields without reading
    // them, bad UTF-8 and lone surrogates in them included: such a body is accepted as a
    // request but is no `Value`.)
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // serde also reads a struct from an array, field by field: no names to compare then.
    let Some(object) = value.as_object() else {
        return;
    };
    let token = match object.get("token") {
        None => None,
        Some(Value::Object(t)) => Some(t),
        Some(_) => return,
    };
    let field = |name: &str| token.and_then(|t| t.get(name));
    match field("purpose") {
        Some(Value::String(p)) => assert_eq!(params.purpose.as_deref(), Some(p.as_str())),
        _ => assert_eq!(params.purpose, None),
    }
    match field("expires_at") {
        None => assert_eq!(params.expires_at, None, "left out: unchanged"),
        Some(Value::Null) => assert_eq!(params.expires_at, Some(None), "null: no expiry"),
        Some(Value::String(e)) => assert_eq!(params.expires_at, Some(Some(e.clone()))),
        Some(other) => panic!("expires_at {other} accepted"),
    }
    match field("scopes") {
        None | Some(Value::Null) => assert_eq!(params.scopes, None),
        Some(Value::Array(a)) => {
            let strings: Vec<String> =
                a.iter().map(|v| v.as_str().expect("a scope that is a string").to_owned()).collect();
            assert_eq!(params.scopes.as_ref(), Some(&strings));
        }
        Some(other) => panic!("scopes {other} accepted"),
    }
    if params.regenerate() {
        let r = field("regenerate").expect("regenerate without the field");
        assert!(matches!(r, Value::Bool(true) | Value::Number(_) | Value::String(_)), "{r}");
    }
}
