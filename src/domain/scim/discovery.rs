//! What a provisioning client reads to learn this server (RFC 7643 §5–7, RFC 7644 §4):
//! `ServiceProviderConfig`, `ResourceTypes` and `Schemas` — the attributes tokenwarden
//! keeps, with the characteristics the parsers and PATCH of this module hold to.

use serde_json::{Value, json};

use super::{GROUP_SCHEMA, LIST_RESPONSE, MAX_RESULTS, USER_SCHEMA};

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// `GET /ServiceProviderConfig`
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Provisioning credential",
            "description": "A provisioning credential (twscim_…) that an administrator creates on the Provisioning page or with `tokenwarden provisioning-credential create`, sent as Authorization: Bearer.",
            "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
    })
}

fn resource_type(base: &str, name: &str, endpoint: &str, schema: &str, description: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": name,
        "name": name,
        "endpoint": endpoint,
        "description": description,
        "schema": schema,
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{name}")}
    })
}

/// Every resource type, by name.
pub fn resource_types(base: &str) -> Vec<Value> {
    vec![
        resource_type(
            base,
            "User",
            "/Users",
            USER_SCHEMA,
            "A person of the institution: a tokenwarden user.",
        ),
        resource_type(
            base,
            "Group",
            "/Groups",
            GROUP_SCHEMA,
            "A group of the institution; the role map (--oidc-role-map) gives its members roles.",
        ),
    ]
}

/// An attribute's definition (RFC 7643 §7).
struct Attr {
    name: &'static str,
    kind: &'static str,
    multi: bool,
    required: bool,
    case_exact: bool,
    mutability: &'static str,
    returned: &'static str,
    uniqueness: &'static str,
    description: &'static str,
    subs: &'static [Attr],
}

const fn attr(name: &'static str, kind: &'static str, description: &'static str) -> Attr {
    Attr {
        name,
        kind,
        multi: false,
        required: false,
        case_exact: false,
        mutability: "readWrite",
        returned: "default",
        uniqueness: "none",
        description,
        subs: &[],
    }
}

impl Attr {
    fn to_json(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "type": self.kind,
            "multiValued": self.multi,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": self.returned,
            "uniqueness": self.uniqueness,
        });
        if !self.subs.is_empty() {
            v["subAttributes"] = self.subs.iter().map(Attr::to_json).collect::<Vec<_>>().into();
        }
        if self.kind == "reference" {
            v["referenceTypes"] = json!(["User", "Group"]);
        }
        v
    }
}

const REF: Attr = Attr { mutability: "readOnly", ..attr("$ref", "reference", "The URI of the resource.") };

const USER_ATTRS: &[Attr] = &[
    Attr {
        required: true,
        uniqueness: "server",
        returned: "always",
        ..attr("userName", "string", "The login, unique without regard to case; kept in lower case.")
    },
    Attr {
        subs: &[
            attr("formatted", "string", "The full name."),
            attr("familyName", "string", "The family name."),
            attr("givenName", "string", "The given name."),
        ],
        ..attr("name", "complex", "The parts of the user's name.")
    },
    attr(
        "displayName",
        "string",
        "The name shown in tokenwarden; when left out, the name's parts, else the userName.",
    ),
    Attr {
        multi: true,
        subs: &[
            attr("value", "string", "The address."),
            attr("type", "string", "work, home or other."),
            attr(
                "primary",
                "boolean",
                "The address kept: the primary one, else the work one, else the first.",
            ),
        ],
        ..attr("emails", "complex", "Email addresses; tokenwarden keeps one.")
    },
    attr(
        "active",
        "boolean",
        "false suspends the user (their sessions end, their tokens stop working); true reactivates them.",
    ),
    Attr {
        multi: true,
        mutability: "readOnly",
        subs: &[
            Attr { mutability: "readOnly", ..attr("value", "string", "The group's id.") },
            REF,
            Attr { mutability: "readOnly", ..attr("display", "string", "The group's name.") },
            Attr { mutability: "readOnly", ..attr("type", "string", "direct.") },
        ],
        ..attr("groups", "complex", "The groups the user is a member of; change them through the Groups.")
    },
    Attr {
        multi: true,
        mutability: "readOnly",
        subs: &[
            Attr { mutability: "readOnly", ..attr("value", "string", "The role.") },
            Attr { mutability: "readOnly", ..attr("display", "string", "The role's name.") },
            Attr {
                mutability: "readOnly",
                ..attr("type", "string", "Where the role came from: admin, sso or scim.")
            },
        ],
        ..attr(
            "roles",
            "complex",
            "The user's roles. Groups give roles through the role map; they cannot be set here.",
        )
    },
];

const GROUP_ATTRS: &[Attr] = &[
    Attr {
        required: true,
        uniqueness: "server",
        ..attr(
            "displayName",
            "string",
            "The group's name; the role map names groups by it (without regard to case).",
        )
    },
    Attr {
        multi: true,
        subs: &[
            Attr {
                case_exact: true,
                mutability: "immutable",
                ..attr("value", "string", "The member user's id.")
            },
            REF,
            Attr { mutability: "readOnly", ..attr("display", "string", "The member's name.") },
            Attr { mutability: "immutable", ..attr("type", "string", "User.") },
        ],
        ..attr("members", "complex", "The group's members: users.")
    },
];

fn schema(base: &str, id: &str, name: &str, description: &str, attrs: &[Attr]) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attrs.iter().map(Attr::to_json).collect::<Vec<_>>(),
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")}
    })
}

/// Every schema, by id.
pub fn schemas(base: &str) -> Vec<Value> {
    vec![
        schema(base, USER_SCHEMA, "User", "A tokenwarden user.", USER_ATTRS),
        schema(base, GROUP_SCHEMA, "Group", "A group of users, mapped to roles.", GROUP_ATTRS),
    ]
}

/// A list response of every one of `items` (discovery lists are not paged).
pub fn all(items: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": items.len(),
        "startIndex": 1,
        "itemsPerPage": items.len(),
        "Resources": items,
    })
}

/// The one of `items` whose `id` is `id`.
pub fn find(items: Vec<Value>, id: &str) -> Option<Value> {
    items.into_iter().find(|v| v["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schemas_say_which_attributes_a_client_cannot_set() {
        let user = find(schemas("b"), USER_SCHEMA).unwrap();
        let attr = |n: &str| {
            user["attributes"].as_array().unwrap().iter().find(|a| a["name"] == n).cloned().unwrap()
        };
        assert_eq!(attr("roles")["mutability"], "readOnly");
        assert_eq!(attr("groups")["mutability"], "readOnly");
        assert_eq!(attr("userName")["uniqueness"], "server");
        assert_eq!(attr("userName")["required"], true);
        assert!(find(schemas("b"), "urn:nope").is_none());
        assert_eq!(find(resource_types("b"), "group").unwrap()["endpoint"], "/Groups");
    }

    #[test]
    fn the_config_says_patch_and_filter_yes_bulk_sort_etag_no() {
        let c = service_provider_config("b");
        assert_eq!(c["patch"]["supported"], true);
        assert_eq!(c["filter"]["supported"], true);
        assert_eq!(c["bulk"]["supported"], false);
        assert_eq!(c["authenticationSchemes"][0]["type"], "oauthbearertoken");
    }
}
