//! Users and Groups as SCIM writes them (RFC 7643 §4): read from a client's JSON into
//! tokenwarden's own parsed fields, and written from what tokenwarden keeps.
//!
//! Attribute names are read without regard to case; booleans also as the strings
//! `"True"`/`"False"` (Entra ID sends `"active":"False"`); attributes this server does not
//! keep, and read-only ones (`id`, `meta`, `groups`, `roles`), are ignored as RFC 7644
//! §3.5.1 says.

use chrono::NaiveDateTime;
use serde_json::{Map, Value, json};

use super::filter::{AttrPath, Attributes, get_ci};
use super::patch::Rules;
use super::{GROUP_SCHEMA, ScimError, USER_SCHEMA};
use crate::domain::{DisplayName, Email, Login, ValidationError};

/// How Users filter and patch.
pub const USER_RULES: Rules<'static> = Rules {
    attributes: Attributes { urn: USER_SCHEMA, case_exact: &["id", "externalid", "groups.value"] },
    read_only: &["id", "meta", "groups", "roles"],
    multi_valued: &["emails", "groups", "roles", "schemas"],
    canonical: &["schemas", "externalId", "userName", "name", "displayName", "emails", "active"],
};

/// How Groups filter and patch.
pub const GROUP_RULES: Rules<'static> = Rules {
    attributes: Attributes { urn: GROUP_SCHEMA, case_exact: &["id", "externalid", "members.value"] },
    read_only: &["id", "meta"],
    multi_valued: &["members", "schemas"],
    canonical: &["schemas", "externalId", "displayName", "members"],
};

/// The longest externalId kept.
const MAX_EXTERNAL_ID: usize = 255;
/// The longest part of a name kept.
const MAX_NAME_PART: usize = 100;

/// The parts of a person's name (`name`), each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameParts {
    pub formatted: Option<String>,
    pub given: Option<String>,
    pub family: Option<String>,
}

impl NameParts {
    /// "Barbara Jensen" from the parts, or the formatted name, if there is anything.
    pub fn full(&self) -> Option<String> {
        if let Some(f) = &self.formatted {
            return Some(f.clone());
        }
        let joined = [&self.given, &self.family].into_iter().flatten().cloned().collect::<Vec<_>>().join(" ");
        (!joined.is_empty()).then_some(joined)
    }
}

/// A User as a client asks for it, every field parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInput {
    pub login: Login,
    pub external_id: Option<String>,
    /// `displayName`, else the name's parts, else the login.
    pub display_name: DisplayName,
    /// Whether the client gave a `displayName` of its own.
    pub display_name_given: bool,
    pub name: NameParts,
    /// The primary email, else the work one, else the first.
    pub email: Option<Email>,
    /// `None` when the client did not say.
    pub active: Option<bool>,
}

/// A field error as SCIM's `invalidValue`, naming the attribute.
fn invalid(attr: &str, e: ValidationError) -> ScimError {
    ScimError::invalid_value(format!("{attr}: {}", e.message))
}

/// A string attribute, or `None` when it is missing, null or blank.
fn string(v: &Value, attr: &str) -> Result<Option<String>, ScimError> {
    match get_ci(v, attr) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok((!s.trim().is_empty()).then(|| s.trim().to_owned())),
        Some(_) => Err(ScimError::invalid_value(format!("{attr} is a string."))),
    }
}

/// A boolean, also written as a string (`"True"`, `"false"`).
pub fn boolean(v: &Value, attr: &str) -> Result<Option<bool>, ScimError> {
    match get_ci(v, attr) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(ScimError::invalid_value(format!("{attr} is true or false."))),
    }
}

/// Free text a client gives: trimmed, at most `max` characters, no control characters.
fn text(value: Option<String>, attr: &str, max: usize) -> Result<Option<String>, ScimError> {
    match value {
        Some(s) if s.chars().count() > max => {
            Err(ScimError::invalid_value(format!("{attr} has at most {max} characters.")))
        }
        Some(s) if s.chars().any(crate::domain::text::is_forbidden_in_text) => Err(ScimError::invalid_value(
            format!("{attr} cannot contain control characters or text-direction overrides."),
        )),
        other => Ok(other),
    }
}

/// Reads a User (a POST, a PUT, or a patched User).
pub fn parse_user(v: &Value) -> Result<UserInput, ScimError> {
    if !v.is_object() {
        return Err(ScimError::invalid_syntax("A User is a JSON object."));
    }
    let Some(user_name) = string(v, "userName")? else {
        return Err(ScimError::invalid_value("userName is required."));
    };
    let login = Login::parse(&user_name).map_err(|e| invalid("userName", e))?;
    let external_id = text(string(v, "externalId")?, "externalId", MAX_EXTERNAL_ID)?;
    let name = match get_ci(v, "name") {
        None | Some(Value::Null) => NameParts::default(),
        Some(n @ Value::Object(_)) => NameParts {
            formatted: text(string(n, "formatted")?, "name.formatted", MAX_NAME_PART)?,
            given: text(string(n, "givenName")?, "name.givenName", MAX_NAME_PART)?,
            family: text(string(n, "familyName")?, "name.familyName", MAX_NAME_PART)?,
        },
        Some(_) => {
            return Err(ScimError::invalid_value("name is an object (givenName, familyName, formatted)."));
        }
    };
    let given = string(v, "displayName")?;
    let display_name_given = given.is_some();
    let display = given.or_else(|| name.full()).unwrap_or_else(|| login.as_str().to_owned());
    let display_name = DisplayName::parse(&display).map_err(|e| invalid("displayName", e))?;
    let email = match get_ci(v, "emails") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => chosen_email(items)?,
        Some(_) => return Err(ScimError::invalid_value("emails is a list of {\"value\": …} objects.")),
    };
    let active = boolean(v, "active")?;
    Ok(UserInput { login, external_id, display_name, display_name_given, name, email, active })
}

/// The address to keep of a user's emails: the primary one, else the work one, else the first.
fn chosen_email(items: &[Value]) -> Result<Option<Email>, ScimError> {
    let mut candidates = Vec::new();
    for item in items {
        if !item.is_object() {
            return Err(ScimError::invalid_value("emails is a list of {\"value\": …} objects."));
        }
        let Some(value) = string(item, "value")? else { continue };
        let primary = boolean(item, "primary")?.unwrap_or(false);
        let work = string(item, "type")?.is_some_and(|t| t.eq_ignore_ascii_case("work"));
        candidates.push((primary, work, value));
    }
    let pick = candidates
        .iter()
        .find(|(primary, _, _)| *primary)
        .or_else(|| candidates.iter().find(|(_, work, _)| *work))
        .or_else(|| candidates.first());
    pick.map(|(_, _, value)| Email::parse(value).map_err(|e| invalid("emails", e))).transpose()
}

/// A Group as a client asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInput {
    pub display_name: String,
    pub external_id: Option<String>,
    /// The ids of the member users, each once. Left out, there are none: a PUT without
    /// members empties the group, as RFC 7644 §3.5.1 says.
    pub members: Vec<i64>,
}

/// The longest group name kept.
const MAX_GROUP_NAME: usize = 255;

/// Reads a Group (a POST, a PUT, or a patched Group). A member that is not a user id of
/// this server is an `invalidValue`.
pub fn parse_group(v: &Value) -> Result<GroupInput, ScimError> {
    if !v.is_object() {
        return Err(ScimError::invalid_syntax("A Group is a JSON object."));
    }
    let Some(display_name) = text(string(v, "displayName")?, "displayName", MAX_GROUP_NAME)? else {
        return Err(ScimError::invalid_value("displayName is required."));
    };
    let external_id = text(string(v, "externalId")?, "externalId", MAX_EXTERNAL_ID)?;
    let mut members = Vec::new();
    match get_ci(v, "members") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                let id = match get_ci(item, "value") {
                    Some(Value::String(s)) => s.trim().parse::<i64>().ok().filter(|id| *id > 0),
                    Some(Value::Number(n)) => n.as_i64().filter(|id| *id > 0),
                    _ => None,
                };
                let Some(id) = id else {
                    let shown =
                        get_ci(item, "value").map(|v| v.to_string()).unwrap_or_else(|| "nothing".into());
                    return Err(ScimError::invalid_value(format!(
                        "members: {} is not the id of a user here.",
                        shown.chars().take(60).collect::<String>()
                    )));
                };
                if !members.contains(&id) {
                    members.push(id);
                }
            }
        }
        Some(_) => {
            return Err(ScimError::invalid_value("members is a list of {\"value\": \"<user id>\"} objects."));
        }
    }
    Ok(GroupInput { display_name, external_id, members })
}

/// A stored time as SCIM writes it (xsd:dateTime, UTC).
fn time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// What a User is written from.
#[derive(Debug, Clone)]
pub struct UserView {
    pub id: i64,
    pub login: String,
    pub external_id: Option<String>,
    pub display_name: String,
    pub name: NameParts,
    /// Empty when the user has no address.
    pub email: String,
    pub active: bool,
    pub created: NaiveDateTime,
    pub last_modified: NaiveDateTime,
    /// (group id, display name)
    pub groups: Vec<(String, String)>,
    /// (role key or name, label, where it came from)
    pub roles: Vec<(String, String, String)>,
}

/// `base` is the SCIM base URL, `https://host/scim/v2`.
pub fn render_user(u: &UserView, base: &str) -> Value {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([USER_SCHEMA]));
    out.insert("id".into(), u.id.to_string().into());
    if let Some(x) = &u.external_id {
        out.insert("externalId".into(), x.clone().into());
    }
    out.insert("userName".into(), u.login.clone().into());
    // Only the parts the user has: a `formatted` made up here would be read back from a
    // patched user as one the client gave, and outlive the parts it was made from.
    let mut name = Map::new();
    for (key, part) in
        [("formatted", &u.name.formatted), ("givenName", &u.name.given), ("familyName", &u.name.family)]
    {
        if let Some(p) = part {
            name.insert(key.into(), p.clone().into());
        }
    }
    if !name.is_empty() {
        out.insert("name".into(), Value::Object(name));
    }
    out.insert("displayName".into(), u.display_name.clone().into());
    if !u.email.is_empty() {
        out.insert("emails".into(), json!([{"value": u.email, "type": "work", "primary": true}]));
    }
    out.insert("active".into(), u.active.into());
    if !u.groups.is_empty() {
        let groups: Vec<Value> = u
            .groups
            .iter()
            .map(|(id, display)| json!({"value": id, "display": display, "$ref": format!("{base}/Groups/{id}"), "type": "direct"}))
            .collect();
        out.insert("groups".into(), groups.into());
    }
    if !u.roles.is_empty() {
        let roles: Vec<Value> = u
            .roles
            .iter()
            .map(|(value, display, source)| json!({"value": value, "display": display, "type": source}))
            .collect();
        out.insert("roles".into(), roles.into());
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": time(u.created),
            "lastModified": time(u.last_modified),
            "location": format!("{base}/Users/{}", u.id),
        }),
    );
    Value::Object(out)
}

/// What a Group is written from.
#[derive(Debug, Clone)]
pub struct GroupView {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    /// (user id, display name)
    pub members: Vec<(i64, String)>,
    pub created: NaiveDateTime,
    pub last_modified: NaiveDateTime,
}

pub fn render_group(g: &GroupView, base: &str) -> Value {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([GROUP_SCHEMA]));
    out.insert("id".into(), g.id.clone().into());
    if let Some(x) = &g.external_id {
        out.insert("externalId".into(), x.clone().into());
    }
    out.insert("displayName".into(), g.display_name.clone().into());
    let members: Vec<Value> = g
        .members
        .iter()
        .map(|(id, name)| {
            json!({"value": id.to_string(), "display": name, "$ref": format!("{base}/Users/{id}"), "type": "User"})
        })
        .collect();
    out.insert("members".into(), members.into());
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": time(g.created),
            "lastModified": time(g.last_modified),
            "location": format!("{base}/Groups/{}", g.id),
        }),
    );
    Value::Object(out)
}

/// `attributes=` and `excludedAttributes=` (RFC 7644 §3.9): with `attributes`, only those
/// (and `id` and `schemas`, which are always returned); without, all but the excluded.
pub fn project(resource: &mut Value, attributes: &[AttrPath], excluded: &[AttrPath], urn: &str) {
    let Some(object) = resource.as_object_mut() else { return };
    let always = |k: &str| k.eq_ignore_ascii_case("id") || k.eq_ignore_ascii_case("schemas");
    let mine = |p: &&AttrPath| p.in_schema(urn);
    if !attributes.is_empty() {
        let wanted: Vec<&AttrPath> = attributes.iter().filter(mine).collect();
        object.retain(|k, _| always(k) || wanted.iter().any(|p| p.name.eq_ignore_ascii_case(k)));
        for (k, v) in object.iter_mut() {
            // Sub-attributes asked for one by one: only those.
            let subs: Vec<&str> = wanted
                .iter()
                .filter(|p| p.name.eq_ignore_ascii_case(k))
                .map(|p| p.sub.as_deref())
                .collect::<Option<Vec<_>>>()
                .unwrap_or_default();
            if subs.is_empty() {
                continue;
            }
            let keep = |inner: &mut Map<String, Value>| {
                inner.retain(|s, _| subs.iter().any(|w| w.eq_ignore_ascii_case(s)))
            };
            match v {
                Value::Object(inner) => keep(inner),
                Value::Array(items) => items.iter_mut().filter_map(Value::as_object_mut).for_each(keep),
                _ => {}
            }
        }
    }
    for p in excluded.iter().filter(mine) {
        match &p.sub {
            None if !always(&p.name) => object.retain(|k, _| !k.eq_ignore_ascii_case(&p.name)),
            None => {}
            Some(sub) => {
                if let Some((_, v)) = object.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(&p.name)) {
                    let drop =
                        |inner: &mut Map<String, Value>| inner.retain(|s, _| !s.eq_ignore_ascii_case(sub));
                    match v {
                        Value::Object(inner) => drop(inner),
                        Value::Array(items) => {
                            items.iter_mut().filter_map(Value::as_object_mut).for_each(drop)
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scim::filter::parse_attr_list;

    #[test]
    fn the_rfcs_create_example_reads_without_an_email() {
        let u = parse_user(&json!({
            "schemas": [USER_SCHEMA],
            "userName": "bjensen",
            "externalId": "bjensen",
            "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara"}
        }))
        .unwrap();
        assert_eq!(u.login.as_str(), "bjensen");
        assert_eq!(u.display_name.as_str(), "Ms. Barbara J Jensen III");
        assert!(!u.display_name_given && u.email.is_none() && u.active.is_none());
        assert_eq!(u.name.given.as_deref(), Some("Barbara"));
    }

    #[test]
    fn the_kept_email_is_the_primary_else_the_work_else_the_first() {
        let with = |emails: Value| {
            parse_user(&json!({"userName": "a", "emails": emails}))
                .unwrap()
                .email
                .map(|e| e.as_str().to_owned())
        };
        assert_eq!(
            with(json!([{"value": "h@x.org", "type": "home"}, {"value": "p@x.org", "primary": "True"}]))
                .as_deref(),
            Some("p@x.org")
        );
        assert_eq!(
            with(json!([{"value": "h@x.org", "type": "home"}, {"value": "w@x.org", "type": "work"}]))
                .as_deref(),
            Some("w@x.org")
        );
        assert_eq!(with(json!([{"value": "h@x.org"}, {"value": "b@x.org"}])).as_deref(), Some("h@x.org"));
        assert_eq!(with(json!([])), None);
        assert!(parse_user(&json!({"userName": "a", "emails": [{"value": "not an address"}]})).is_err());
    }

    #[test]
    fn attributes_are_read_without_regard_to_case_and_booleans_also_as_strings() {
        let u = parse_user(&json!({"USERNAME": "Ann", "Active": "False", "DISPLAYNAME": "Ann A"})).unwrap();
        assert_eq!((u.login.as_str(), u.active, u.display_name.as_str()), ("ann", Some(false), "Ann A"));
        assert_eq!(parse_user(&json!({"userName": "a", "active": "True"})).unwrap().active, Some(true));
        assert!(parse_user(&json!({"userName": "a", "active": "maybe"})).is_err());
    }

    #[test]
    fn a_user_that_breaks_a_rule_is_an_invalid_value_naming_the_attribute() {
        for (bad, attr) in [
            (json!({}), "userName"),
            (json!({"userName": "has space"}), "userName"),
            (json!({"userName": 7}), "userName"),
            (json!({"userName": "a", "displayName": "x\u{7}"}), "displayName"),
            (json!({"userName": "a", "name": "Ann"}), "name"),
            (json!({"userName": "a", "externalId": "e".repeat(300)}), "externalId"),
            (json!({"userName": "a", "emails": "a@b.c"}), "emails"),
        ] {
            let e = parse_user(&bad).unwrap_err();
            assert_eq!(e.scim_type, Some(super::super::ScimType::InvalidValue), "{bad}");
            assert!(e.detail.starts_with(attr), "{bad}: {}", e.detail);
        }
        assert!(parse_user(&json!("a user")).is_err());
    }

    #[test]
    fn a_group_names_its_members_by_user_id() {
        let g = parse_group(
            &json!({"displayName": " Students ", "members": [{"value": "4"}, {"value": 5}, {"value": "4"}]}),
        )
        .unwrap();
        assert_eq!((g.display_name.as_str(), g.members), ("Students", vec![4, 5]));
        assert!(parse_group(&json!({"displayName": "S", "members": [{"value": "2819c223"}]})).is_err());
        assert!(parse_group(&json!({"members": []})).is_err());
    }

    fn view() -> UserView {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap().and_hms_opt(9, 5, 0).unwrap();
        UserView {
            id: 42,
            login: "bjensen".into(),
            external_id: Some("bj".into()),
            display_name: "Barbara Jensen".into(),
            name: NameParts { formatted: None, given: Some("Barbara".into()), family: Some("Jensen".into()) },
            email: "bjensen@example.com".into(),
            active: true,
            created: t,
            last_modified: t,
            groups: vec![("g1".into(), "Students".into())],
            roles: vec![("student".into(), "Student".into(), "scim".into())],
        }
    }

    #[test]
    fn a_user_is_written_as_scim_writes_it_and_reads_back_the_same() {
        let v = render_user(&view(), "https://h/scim/v2");
        assert_eq!(v["id"], "42");
        assert_eq!(v["meta"]["location"], "https://h/scim/v2/Users/42");
        assert_eq!(v["meta"]["created"], "2026-12-01T09:05:00Z");
        assert_eq!(
            v["name"],
            json!({"givenName": "Barbara", "familyName": "Jensen"}),
            "no made-up formatted name"
        );
        assert_eq!(v["groups"][0]["$ref"], "https://h/scim/v2/Groups/g1");
        let back = parse_user(&v).unwrap();
        assert_eq!(
            (back.login.as_str(), back.email.unwrap().as_str(), back.active),
            ("bjensen", "bjensen@example.com", Some(true))
        );
    }

    #[test]
    fn attributes_and_excluded_attributes_shape_the_answer() {
        let mut v = render_user(&view(), "b");
        project(&mut v, &parse_attr_list("userName,name.givenName").unwrap(), &[], USER_SCHEMA);
        let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["id", "name", "schemas", "userName"]);
        assert_eq!(v["name"], json!({"givenName": "Barbara"}));
        let mut v = render_user(&view(), "b");
        project(&mut v, &[], &parse_attr_list("groups,emails.type,id").unwrap(), USER_SCHEMA);
        assert!(v.get("groups").is_none() && v.get("id").is_some());
        assert_eq!(v["emails"], json!([{"value": "bjensen@example.com", "primary": true}]));
    }
}
