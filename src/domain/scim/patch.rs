//! PATCH (RFC 7644 §3.5.2): a request's operations read, then applied to the resource's
//! JSON representation. The service reads the patched JSON again as it reads a PUT, so one
//! set of rules checks both.
//!
//! Beyond the RFC, the forms identity providers send: `op` in any case (`"Replace"`),
//! operations without a path whose value names attributes by path (`{"name.givenName":
//! "Barbara"}`), members removed by value (`{"op":"Remove","path":"members","value":
//! [{"value":"42"}]}`, Entra ID's older form), and `emails[type eq "work"].value` replaced
//! on a user who has no work email yet (it is added).

use serde_json::{Map, Value};

use super::filter::{self, Attributes, PatchPath, get_ci};
use super::{PATCH_OP, ScimError, ScimType};

/// The kind of operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Remove,
    Replace,
}

/// One operation of a PATCH request.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub op: Op,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// What a resource type says of its attributes that PATCH needs.
pub struct Rules<'a> {
    pub attributes: Attributes<'a>,
    /// Attributes a client cannot change (`id`, `meta`, …), lower case.
    pub read_only: &'a [&'a str],
    /// Multi-valued attributes, lower case: `add` appends to them.
    pub multi_valued: &'a [&'a str],
    /// Attribute names as the resource writes them, for attributes a PATCH adds.
    pub canonical: &'a [&'a str],
}

/// Reads a PATCH request's body: `Operations`, each with its `op`, `path` and `value`.
pub fn parse_request(body: &Value) -> Result<Vec<Operation>, ScimError> {
    if !body.is_object() {
        return Err(ScimError::invalid_syntax("A PATCH request is a JSON object with Operations."));
    }
    if let Some(schemas) = get_ci(body, "schemas")
        && !schemas
            .as_array()
            .is_some_and(|s| s.iter().any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(PATCH_OP))))
    {
        return Err(ScimError::invalid_syntax(format!("A PATCH request's schemas are [\"{PATCH_OP}\"].")));
    }
    let Some(Value::Array(ops)) = get_ci(body, "Operations") else {
        return Err(ScimError::invalid_syntax("A PATCH request needs Operations: a list of operations."));
    };
    if ops.is_empty() {
        return Err(ScimError::invalid_syntax("Operations is empty: nothing to do."));
    }
    ops.iter().enumerate().map(|(i, op)| operation(i + 1, op)).collect()
}

fn operation(n: usize, raw: &Value) -> Result<Operation, ScimError> {
    let op = match get_ci(raw, "op").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
        Some("add") => Op::Add,
        Some("remove") => Op::Remove,
        Some("replace") => Op::Replace,
        _ => {
            return Err(ScimError::invalid_syntax(format!("Operation {n}: op is add, remove or replace.")));
        }
    };
    let path = match get_ci(raw, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(filter::parse_path(p).map_err(|e| {
            ScimError::bad(
                ScimType::InvalidPath,
                format!("Operation {n}: the path “{}” does not read: {e}.", clip(p)),
            )
        })?),
        Some(_) => {
            return Err(ScimError::bad(ScimType::InvalidPath, format!("Operation {n}: path is a string.")));
        }
    };
    let value = get_ci(raw, "value").cloned();
    match (op, &path, &value) {
        (Op::Remove, None, _) => {
            Err(ScimError::bad(ScimType::NoTarget, format!("Operation {n}: remove needs a path.")))
        }
        (Op::Add | Op::Replace, _, None) => {
            Err(ScimError::invalid_syntax(format!("Operation {n}: add and replace need a value.")))
        }
        _ => Ok(Operation { op, path, value }),
    }
}

/// At most 60 characters of what a client sent, for a message.
fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(60).collect();
    if s.chars().count() > 60 {
        out.push('…');
    }
    out
}

/// Applies the operations, in order, to `resource` (a JSON object). All or nothing: on an
/// error the caller keeps the resource as it was.
pub fn apply(resource: &mut Value, ops: &[Operation], rules: &Rules<'_>) -> Result<(), ScimError> {
    let Some(object) = resource.as_object_mut() else {
        return Err(ScimError::invalid_syntax("The resource is not an object."));
    };
    for (i, op) in ops.iter().enumerate() {
        let n = i + 1;
        match (&op.path, &op.value) {
            (Some(path), value) => apply_at(object, op.op, path, value.as_ref(), rules, n)?,
            (None, Some(Value::Object(values))) => apply_values(object, op.op, values, rules, n)?,
            (None, _) => {
                return Err(ScimError::invalid_syntax(format!(
                    "Operation {n}: without a path, the value is an object of attributes."
                )));
            }
        }
    }
    Ok(())
}

/// An operation without a path: each member of the value names an attribute by its path.
fn apply_values(
    object: &mut Map<String, Value>,
    op: Op,
    values: &Map<String, Value>,
    rules: &Rules<'_>,
    n: usize,
) -> Result<(), ScimError> {
    for (key, value) in values {
        // `{"urn:…:core:2.0:User": {…}}`: the core schema's attributes, by name.
        if key.eq_ignore_ascii_case(rules.attributes.urn) {
            if let Value::Object(inner) = value {
                apply_values(object, op, inner, rules, n)?;
            }
            continue;
        }
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let path = filter::parse_path(key).map_err(|e| {
            ScimError::bad(
                ScimType::InvalidPath,
                format!("Operation {n}: the attribute “{}” does not read: {e}.", clip(key)),
            )
        })?;
        apply_at(object, op, &path, Some(value), rules, n)?;
    }
    Ok(())
}

/// The key under which `name` is (or is to be) kept.
fn key_of(object: &Map<String, Value>, name: &str, rules: &Rules<'_>) -> String {
    object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .or_else(|| rules.canonical.iter().find(|c| c.eq_ignore_ascii_case(name)).map(|c| (*c).to_owned()))
        .unwrap_or_else(|| name.to_owned())
}

fn sub_key(object: &Map<String, Value>, name: &str) -> String {
    object.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned().unwrap_or_else(|| name.to_owned())
}

fn apply_at(
    object: &mut Map<String, Value>,
    op: Op,
    path: &PatchPath,
    value: Option<&Value>,
    rules: &Rules<'_>,
    n: usize,
) -> Result<(), ScimError> {
    // Another schema's attribute (an extension this server does not keep): nothing to do.
    if !path.attr().in_schema(rules.attributes.urn) {
        return Ok(());
    }
    let lower = path.name.to_ascii_lowercase();
    if rules.read_only.contains(&lower.as_str()) {
        return Err(ScimError::bad(
            ScimType::Mutability,
            format!("Operation {n}: {} cannot be changed by a client.", path.name),
        ));
    }
    let multi = rules.multi_valued.contains(&lower.as_str());
    let key = key_of(object, &path.name, rules);
    match &path.filter {
        None => apply_plain(object, op, &key, path.sub.as_deref(), value, multi, n),
        Some(f) => apply_filtered(object, op, &key, f, path.sub.as_deref(), value, rules, n),
    }
}

/// `name` or `name.sub`.
fn apply_plain(
    object: &mut Map<String, Value>,
    op: Op,
    key: &str,
    sub: Option<&str>,
    value: Option<&Value>,
    multi: bool,
    n: usize,
) -> Result<(), ScimError> {
    if let Some(sub) = sub {
        return match object.get_mut(key) {
            Some(Value::Array(_)) => Err(ScimError::bad(
                ScimType::InvalidPath,
                format!(
                    "Operation {n}: name which of {key}'s values with a filter, e.g. {key}[type eq \"work\"].{sub}."
                ),
            )),
            Some(Value::Object(inner)) => {
                let k = sub_key(inner, sub);
                match (op, value) {
                    (Op::Remove, _) => {
                        inner.remove(&k);
                    }
                    (_, Some(v)) => {
                        inner.insert(k, v.clone());
                    }
                    (_, None) => {}
                }
                Ok(())
            }
            _ => {
                if let (Op::Add | Op::Replace, Some(v)) = (op, value) {
                    let mut inner = Map::new();
                    inner.insert(sub.to_owned(), v.clone());
                    object.insert(key.to_owned(), Value::Object(inner));
                }
                Ok(())
            }
        };
    }
    match op {
        Op::Remove => {
            // Entra ID's older form: the values to remove in `value`, matched by `value`.
            if let (Some(Value::Array(gone)), Some(Value::Array(items))) = (value, object.get_mut(key)) {
                let ids: Vec<Option<String>> = gone.iter().map(value_of).collect();
                items.retain(|item| !ids.contains(&value_of(item)));
                if items.is_empty() {
                    object.remove(key);
                }
            } else {
                object.remove(key);
            }
        }
        Op::Add if multi => {
            let new: Vec<Value> = match value {
                Some(Value::Array(v)) => v.clone(),
                Some(other) => vec![other.clone()],
                None => Vec::new(),
            };
            let entry = object.entry(key.to_owned()).or_insert_with(|| Value::Array(Vec::new()));
            if !entry.is_array() {
                *entry = Value::Array(Vec::new());
            }
            if let Value::Array(items) = entry {
                for v in new {
                    let id = value_of(&v);
                    match items.iter_mut().find(|i| id.is_some() && value_of(i) == id) {
                        // Already there: its other sub-attributes as given now.
                        Some(existing) => merge(existing, &v),
                        None => items.push(v),
                    }
                }
            }
        }
        Op::Add | Op::Replace => {
            let Some(v) = value else { return Ok(()) };
            match (object.get_mut(key), v) {
                // A complex attribute's sub-attributes are set one by one; those not named stay.
                (Some(existing @ Value::Object(_)), Value::Object(_)) if !multi => merge(existing, v),
                _ => {
                    object.insert(key.to_owned(), v.clone());
                }
            }
        }
    }
    Ok(())
}

/// `name[filter]` or `name[filter].sub`.
#[expect(clippy::too_many_arguments, reason = "one operation's every part, in the order the RFC reads them")]
fn apply_filtered(
    object: &mut Map<String, Value>,
    op: Op,
    key: &str,
    filter: &filter::Filter,
    sub: Option<&str>,
    value: Option<&Value>,
    rules: &Rules<'_>,
    n: usize,
) -> Result<(), ScimError> {
    let outer = filter::AttrPath::named(key);
    let wrapped = filter::Filter::Has(outer, Box::new(filter.clone()));
    let items: Vec<Value> = match object.get(key) {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::Object(_)) | None => Vec::new(),
        Some(_) => {
            return Err(ScimError::bad(
                ScimType::InvalidPath,
                format!("Operation {n}: {key} has no values to filter."),
            ));
        }
    };
    let matched: Vec<bool> = items
        .iter()
        .map(|item| {
            let mut probe = Map::new();
            probe.insert(key.to_owned(), Value::Array(vec![item.clone()]));
            wrapped.matches(&Value::Object(probe), &rules.attributes)
        })
        .collect();
    let mut items = items;
    match op {
        Op::Remove => {
            let mut kept = Vec::new();
            for (mut item, hit) in items.into_iter().zip(&matched) {
                match (hit, sub) {
                    (false, _) => kept.push(item),
                    (true, None) => {}
                    (true, Some(sub)) => {
                        if let Value::Object(inner) = &mut item {
                            let k = sub_key(inner, sub);
                            inner.remove(&k);
                        }
                        kept.push(item);
                    }
                }
            }
            if kept.is_empty() {
                object.remove(key);
            } else {
                object.insert(key.to_owned(), Value::Array(kept));
            }
        }
        Op::Add | Op::Replace => {
            let Some(value) = value else { return Ok(()) };
            if !matched.contains(&true) {
                // Nothing matches: `emails[type eq "work"].value` means a work email.
                let Some((attr, equals)) = filter.as_equality() else {
                    return Err(ScimError::bad(
                        ScimType::NoTarget,
                        format!("Operation {n}: no value of {key} matches the filter."),
                    ));
                };
                let mut item = Map::new();
                item.insert(attr.to_owned(), equals);
                let mut item = Value::Object(item);
                match sub {
                    Some(sub) => {
                        if let Value::Object(inner) = &mut item {
                            inner.insert(sub.to_owned(), value.clone());
                        }
                    }
                    None if value.is_object() => merge(&mut item, value),
                    None => {
                        return Err(ScimError::invalid_value(format!(
                            "Operation {n}: the value for {key}[…] is an object of its sub-attributes."
                        )));
                    }
                }
                items.push(item);
            } else {
                for (item, hit) in items.iter_mut().zip(&matched) {
                    if !hit {
                        continue;
                    }
                    match (sub, item) {
                        (Some(sub), Value::Object(inner)) => {
                            let k = sub_key(inner, sub);
                            inner.insert(k, value.clone());
                        }
                        (None, item) if value.is_object() => merge(item, value),
                        _ => {
                            return Err(ScimError::invalid_value(format!(
                                "Operation {n}: the value for {key}[…] is an object of its sub-attributes."
                            )));
                        }
                    }
                }
            }
            object.insert(key.to_owned(), Value::Array(items));
        }
    }
    Ok(())
}

/// A multi-valued attribute's value as its `value` (ids of members, addresses of emails),
/// or the value itself when it is simple.
fn value_of(item: &Value) -> Option<String> {
    let v = if item.is_object() { get_ci(item, "value")? } else { item };
    match v {
        Value::String(s) => Some(s.to_lowercase()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Sets each member of `from` on `into` (both objects), matching names without case.
fn merge(into: &mut Value, from: &Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        for (k, v) in from {
            let key = sub_key(into, k);
            into.insert(key, v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::scim::USER_SCHEMA;

    const RULES: Rules<'static> = Rules {
        attributes: Attributes { urn: USER_SCHEMA, case_exact: &["id", "externalid"] },
        read_only: &["id", "meta", "groups", "roles"],
        multi_valued: &["emails", "members", "groups", "roles"],
        canonical: &["userName", "displayName", "emails", "members", "name", "active", "externalId"],
    };

    fn patch(resource: Value, body: Value) -> Result<Value, ScimError> {
        let ops = parse_request(&body)?;
        let mut r = resource;
        apply(&mut r, &ops, &RULES)?;
        Ok(r)
    }

    fn ops(ops: Value) -> Value {
        json!({"schemas": [PATCH_OP], "Operations": ops})
    }

    fn user() -> Value {
        json!({
            "id": "7",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            "active": true,
        })
    }

    #[test]
    fn entra_ids_capitalised_replace_and_string_booleans_are_taken_as_given() {
        let r = patch(user(), ops(json!([{"op": "Replace", "path": "active", "value": "False"}]))).unwrap();
        assert_eq!(r["active"], json!("False"), "read as a boolean by the resource's parser");
    }

    #[test]
    fn a_value_filter_path_replaces_the_matching_values_sub_attribute() {
        let r = patch(
            user(),
            ops(json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}])),
        )
        .unwrap();
        assert_eq!(r["emails"], json!([{"value": "new@example.com", "type": "work", "primary": true}]));
        // None matches: a work email is added.
        let mut bare = user();
        bare.as_object_mut().unwrap().remove("emails");
        let r = patch(
            bare,
            ops(json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "w@example.com"}])),
        )
        .unwrap();
        assert_eq!(r["emails"], json!([{"type": "work", "value": "w@example.com"}]));
        // A filter that names no value to create: noTarget.
        let e = patch(
            user(),
            ops(json!([{"op": "replace", "path": "emails[type ne \"work\"].value", "value": "x"}])),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::NoTarget));
    }

    #[test]
    fn sub_attributes_and_path_less_values_are_set() {
        let r = patch(user(), ops(json!([{"op": "replace", "path": "name.givenName", "value": "Babs"}])))
            .unwrap();
        assert_eq!(r["name"], json!({"givenName": "Babs", "familyName": "Jensen"}));
        let r = patch(
            user(),
            ops(json!([{"op": "replace", "value": {"name.familyName": "Smith", "displayName": "Babs Smith", "active": false}}])),
        )
        .unwrap();
        assert_eq!(
            (r["name"]["familyName"].clone(), r["displayName"].clone(), r["active"].clone()),
            (json!("Smith"), json!("Babs Smith"), json!(false))
        );
        // Okta's deactivation.
        let r = patch(user(), ops(json!([{"op": "replace", "value": {"active": false}}]))).unwrap();
        assert_eq!(r["active"], json!(false));
        // A complex attribute replaced without a sub-attribute keeps the sub-attributes not named.
        let r = patch(user(), ops(json!([{"op": "replace", "path": "name", "value": {"givenName": "B"}}])))
            .unwrap();
        assert_eq!(r["name"], json!({"givenName": "B", "familyName": "Jensen"}));
    }

    #[test]
    fn the_rfcs_add_without_a_path_appends_emails() {
        let r = patch(
            user(),
            ops(json!([{"op": "add", "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}], "nickname": "Babs"}}])),
        )
        .unwrap();
        assert_eq!(r["emails"].as_array().unwrap().len(), 2);
        assert_eq!(r["nickname"], json!("Babs"));
    }

    #[test]
    fn members_are_added_and_removed_in_every_form_clients_send() {
        let group =
            json!({"id": "g", "displayName": "Students", "members": [{"value": "1"}, {"value": "2"}]});
        let r = patch(
            group.clone(),
            ops(json!([{"op": "Add", "path": "members", "value": [{"value": "3"}, {"value": "1"}]}])),
        )
        .unwrap();
        assert_eq!(r["members"], json!([{"value": "1"}, {"value": "2"}, {"value": "3"}]), "each once");
        let r =
            patch(group.clone(), ops(json!([{"op": "Remove", "path": "members[value eq \"2\"]"}]))).unwrap();
        assert_eq!(r["members"], json!([{"value": "1"}]));
        let r = patch(
            group.clone(),
            ops(json!([{"op": "Remove", "path": "members", "value": [{"value": "1"}]}])),
        )
        .unwrap();
        assert_eq!(r["members"], json!([{"value": "2"}]));
        let r = patch(group.clone(), ops(json!([{"op": "remove", "path": "members"}]))).unwrap();
        assert!(r.get("members").is_none());
        let r = patch(group, ops(json!([{"op": "replace", "path": "members", "value": [{"value": "9"}]}])))
            .unwrap();
        assert_eq!(r["members"], json!([{"value": "9"}]));
    }

    #[test]
    fn read_only_attributes_are_refused_and_other_schemas_ignored() {
        for path in ["id", "meta.created", "roles", "groups"] {
            let e = patch(user(), ops(json!([{"op": "replace", "path": path, "value": "x"}]))).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::Mutability), "{path}");
        }
        let e = patch(user(), ops(json!([{"op": "add", "value": {"roles": [{"value": "Account Admin"}]}}])))
            .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        let r = patch(
            user(),
            ops(json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "7"}])),
        )
        .unwrap();
        assert_eq!(r, user());
    }

    #[test]
    fn bad_requests_say_what_is_wrong_in_scims_terms() {
        let kind = |body: Value| patch(user(), body).unwrap_err().scim_type;
        assert_eq!(kind(json!([])), Some(ScimType::InvalidSyntax));
        assert_eq!(kind(json!({"Operations": []})), Some(ScimType::InvalidSyntax));
        assert_eq!(
            kind(json!({"schemas": ["urn:wrong"], "Operations": [{"op": "add", "value": {}}]})),
            Some(ScimType::InvalidSyntax)
        );
        assert_eq!(kind(ops(json!([{"op": "move", "path": "a"}]))), Some(ScimType::InvalidSyntax));
        assert_eq!(kind(ops(json!([{"op": "remove"}]))), Some(ScimType::NoTarget));
        assert_eq!(kind(ops(json!([{"op": "add", "path": "a"}]))), Some(ScimType::InvalidSyntax));
        assert_eq!(
            kind(ops(json!([{"op": "add", "path": "emails[", "value": 1}]))),
            Some(ScimType::InvalidPath)
        );
        assert_eq!(
            kind(ops(json!([{"op": "add", "value": "not an object"}]))),
            Some(ScimType::InvalidSyntax)
        );
        assert_eq!(
            kind(ops(json!([{"op": "replace", "path": "emails.value", "value": "x"}]))),
            Some(ScimType::InvalidPath)
        );
    }
}
