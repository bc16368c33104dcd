//! SCIM (RFC 7644) as a provisioning client sends it: a `filter=`, a PATCH operation's
//! `path`, an `attributes=` list, and the JSON of a User, a Group or a PATCH request — each
//! parsed, then used on a resource as the server uses it.
//!
//! The input is taken whole as a filter, a path, an attribute list and (if it reads) JSON;
//! its first two lines also as `startIndex` and `count`.

use serde_json::{Value, json};
use tokenwarden::domain::scim::filter::{MAX_LEN, parse_attr_list, parse_filter, parse_path};
use tokenwarden::domain::scim::patch::{Op, Operation, apply, parse_request};
use tokenwarden::domain::scim::resource::{GROUP_RULES, USER_RULES, parse_group, parse_user, project};
use tokenwarden::domain::scim::{GROUP_SCHEMA, MAX_RESULTS, Paging, USER_SCHEMA};

use super::{line, text};

fn user() -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "id": "42",
        "externalId": "ext-42",
        "userName": "bjensen",
        "name": {"formatted": "Barbara Jensen", "givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Barbara Jensen",
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
        "active": true,
        "groups": [{"value": "g-1", "display": "Students"}],
        "meta": {"resourceType": "User", "lastModified": "2026-12-01T10:00:00Z"}
    })
}

fn group() -> Value {
    json!({"schemas": [GROUP_SCHEMA], "id": "g-1", "displayName": "Students", "members": [{"value": "42"}, {"value": "7"}]})
}

/// A patch either applies or fails with a 400 naming its kind; a failed patch is not
/// half-applied by the caller (it keeps its copy), and what applies reads as a resource or
/// fails with a 400 too.
fn check_patch(ops: &[Operation]) {
    for (resource, rules, user_like) in [(user(), &USER_RULES, true), (group(), &GROUP_RULES, false)] {
        let mut patched = resource.clone();
        match apply(&mut patched, ops, rules) {
            Ok(()) => {
                assert!(patched.is_object(), "a patched resource is an object: {patched}");
                let read = if user_like { parse_user(&patched).err() } else { parse_group(&patched).err() };
                if let Some(e) = read {
                    assert_eq!(e.status, 400, "{e}");
                    assert!(e.scim_type.is_some(), "{e}");
                }
            }
            Err(e) => {
                assert_eq!(e.status, 400, "{e}");
                assert!(e.scim_type.is_some(), "a refused patch says its kind: {e}");
            }
        }
    }
}

pub fn check(data: &[u8]) {
    let s = text(data);
    let s = s.as_ref();

    match parse_filter(s) {
        Ok(f) => {
            assert!(s.len() <= MAX_LEN);
            // Evaluated on both kinds of resource and on things that are not resources.
            for resource in [user(), group(), json!({}), json!([1, 2]), json!("x")] {
                let _ = f.matches(&resource, &USER_RULES.attributes);
                let _ = f.matches(&resource, &GROUP_RULES.attributes);
            }
        }
        Err(e) => assert!(e.at <= s.len().max(MAX_LEN), "the error points inside the input: {e:?}"),
    }

    if let Ok(path) = parse_path(s) {
        assert!(!path.name.is_empty());
        let value = Some(json!("x"));
        let ops: Vec<Operation> = [Op::Add, Op::Replace, Op::Remove]
            .into_iter()
            .map(|op| Operation { op, path: Some(path.clone()), value: value.clone() })
            .collect();
        for op in &ops {
            check_patch(std::slice::from_ref(op));
        }
        let object = Some(json!({"value": "9", "type": "work", "primary": "True"}));
        check_patch(&[Operation { op: Op::Add, path: Some(path), value: object }]);
    }

    if let Ok(list) = parse_attr_list(s) {
        let mut u = user();
        project(&mut u, &list, &[], USER_SCHEMA);
        assert_eq!(u["id"], "42", "id is always returned");
        let mut u = user();
        project(&mut u, &[], &list, USER_SCHEMA);
        assert_eq!(u["schemas"], json!([USER_SCHEMA]), "schemas are always returned");
    }

    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        match parse_request(&value) {
            Ok(ops) => {
                assert!(!ops.is_empty());
                check_patch(&ops);
            }
            Err(e) => assert!(e.status == 400 && e.scim_type.is_some(), "{e}"),
        }
        if let Ok(u) = parse_user(&value) {
            // What is kept reads back the same.
            assert_eq!(tokenwarden::domain::Login::parse(u.login.as_str()).as_ref(), Ok(&u.login));
            assert!(u.display_name.as_str().chars().count() <= 100);
        }
        if let Ok(g) = parse_group(&value) {
            assert!(!g.display_name.is_empty() && g.members.iter().all(|m| *m > 0));
            let mut unique = g.members.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), g.members.len(), "each member once");
        }
    }

    if let Ok(p) = Paging::parse(Some(line(s, 0)), Some(line(s, 1))) {
        assert!(p.start_index >= 1 && p.count <= MAX_RESULTS, "{p:?}");
        assert_eq!(p.offset(), p.start_index - 1);
    }
}
