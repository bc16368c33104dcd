//! SCIM 2.0 (RFC 7643, RFC 7644), as pure rules: the filter and path parser, PATCH
//! applied to a resource's JSON, Users and Groups read from and written to JSON, the
//! discovery documents, and SCIM's errors. The service layer (`services::provisioning`)
//! does the I/O; the routes speak HTTP.

pub mod discovery;
pub mod filter;
pub mod patch;
pub mod resource;

use serde_json::{Value, json};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// The media type of every SCIM answer (RFC 7644 §3.1).
pub const MEDIA_TYPE: &str = "application/scim+json";

/// Most resources one list answers with, whatever `count` asks (advertised as
/// `filter.maxResults`).
pub const MAX_RESULTS: usize = 200;

/// SCIM's `scimType` (RFC 7644 §3.12): what kind of bad request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
}

impl ScimType {
    pub const fn key(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
        }
    }
}

/// A SCIM error: the HTTP status it goes with, its `scimType` if any, and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> ScimError {
        ScimError { status, scim_type, detail: detail.into() }
    }

    /// A 400 of this kind.
    pub fn bad(scim_type: ScimType, detail: impl Into<String>) -> ScimError {
        ScimError::new(400, Some(scim_type), detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> ScimError {
        ScimError::bad(ScimType::InvalidValue, detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> ScimError {
        ScimError::bad(ScimType::InvalidSyntax, detail)
    }

    pub fn uniqueness(detail: impl Into<String>) -> ScimError {
        ScimError::new(409, Some(ScimType::Uniqueness), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> ScimError {
        ScimError::new(404, None, detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> ScimError {
        ScimError::new(403, None, detail)
    }

    /// The answer to a missing or wrong credential (no hint which).
    pub fn unauthorized() -> ScimError {
        ScimError::new(
            401,
            None,
            "Authenticate with a provisioning credential: Authorization: Bearer twscim_…",
        )
    }

    /// The error message body (RFC 7644 §3.12): `status` is a string.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = t.key().into();
        }
        body
    }
}

impl std::fmt::Display for ScimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.scim_type {
            Some(t) => write!(f, "{} {}: {}", self.status, t.key(), self.detail),
            None => write!(f, "{}: {}", self.status, self.detail),
        }
    }
}

impl std::error::Error for ScimError {}

/// `startIndex` and `count` of a list request (RFC 7644 §3.4.2.4), read leniently: a
/// `startIndex` below 1 is 1, a negative `count` is 0, a `count` above [`MAX_RESULTS`] is
/// that; anything that is not a whole number is an `invalidValue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// 1-based.
    pub start_index: usize,
    pub count: usize,
}

impl Paging {
    pub fn parse(start_index: Option<&str>, count: Option<&str>) -> Result<Paging, ScimError> {
        let number = |name: &str, raw: Option<&str>, default: i64| -> Result<i64, ScimError> {
            match raw.map(str::trim) {
                None | Some("") => Ok(default),
                Some(s) => s.parse::<i64>().or_else(|_| {
                    // A number too large for i64 is still a number: as large as can be.
                    if s.trim_start_matches(['-', '+']).bytes().all(|b| b.is_ascii_digit()) {
                        Ok(if s.starts_with('-') { i64::MIN } else { i64::MAX })
                    } else {
                        Err(ScimError::invalid_value(format!("{name} is a whole number, not “{s}”.")))
                    }
                }),
            }
        };
        let start = number("startIndex", start_index, 1)?.max(1);
        let count = number("count", count, MAX_RESULTS as i64)?.clamp(0, MAX_RESULTS as i64);
        Ok(Paging {
            start_index: usize::try_from(start).unwrap_or(usize::MAX),
            count: usize::try_from(count).unwrap_or(0),
        })
    }

    /// The 0-based offset of the first resource.
    pub fn offset(&self) -> usize {
        self.start_index - 1
    }
}

/// A list response (RFC 7644 §3.4.2): the page of resources and the total.
pub fn list_response(resources: Vec<Value>, total: usize, paging: Paging) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": paging.start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_has_scims_shape_with_the_status_as_a_string() {
        let e = ScimError::bad(ScimType::InvalidFilter, "nope");
        assert_eq!(
            e.body(),
            json!({"schemas": [ERROR], "status": "400", "scimType": "invalidFilter", "detail": "nope"})
        );
        assert!(ScimError::not_found("x").body().get("scimType").is_none());
    }

    #[test]
    fn paging_is_read_leniently_and_bounded() {
        assert_eq!(Paging::parse(None, None).unwrap(), Paging { start_index: 1, count: MAX_RESULTS });
        assert_eq!(Paging::parse(Some("0"), Some("-5")).unwrap(), Paging { start_index: 1, count: 0 });
        assert_eq!(
            Paging::parse(Some("3"), Some("100000")).unwrap(),
            Paging { start_index: 3, count: MAX_RESULTS }
        );
        let huge = Paging::parse(Some("99999999999999999999999"), Some("7")).unwrap();
        assert_eq!(huge.count, 7);
        assert!(huge.start_index > 1_000_000);
        assert_eq!(Paging::parse(Some("two"), None).unwrap_err().scim_type, Some(ScimType::InvalidValue));
        assert!(Paging::parse(None, Some("1.5")).is_err());
    }
}
