//! `/api/v1/users/{user_id}/user_generated_tokens` and `/api/v1/users/{user_id}/tokens/...`
//! — the Canvas Token object. Every operation goes through [`crate::tokens`] with the
//! token's owner as the actor, so the rules, the account settings, the permissions and the
//! audit log are those of the pages.

use actix_web::http::header::{CONTENT_TYPE, LINK};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Timelike, Utc};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{Array, ArrayBuilder, Object, ObjectBuilder, SchemaType, Type};

use super::pagination::{Page, PageQuery, absolute_url};
use super::{user_id, utc};
use crate::auth::bearer::scope::{CreateToken, DeleteToken, ListTokens, ShowToken, UpdateToken};
use crate::auth::bearer::{RouteScope, Scoped};
use crate::db::DbConnection;
use crate::domain::ValidationError;
use crate::domain::token::{ExpiryChoice, SCOPE_CATALOGUE, TokenChange};
use crate::domain::token_secret::TokenSecret;
use crate::error::ApiError;
use crate::error::api::{BadRequest, ErrorList};
use crate::models::AccessToken;
use crate::services::tokens::{self, Context, TokenDraft, TokenRef};
use crate::services::{self, Actor};
use crate::state::AppState;
use crate::views::tokens::{ServiceUse, usage_of};

/// Request bodies larger than this are refused before parsing.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// A token's state. An expired token keeps its state; its `expires_at` says it has expired.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WorkflowState {
    /// Authenticates requests (until it expires).
    Active,
    /// Created on the user's behalf; authenticates nothing until the user activates it.
    Pending,
}

/// The Canvas Token object. `token`, the secret, is present only in the response that
/// created or regenerated the token: it is never stored and cannot be shown again.
#[derive(Serialize, ToSchema)]
pub struct TokenJson {
    pub id: i64,
    /// The owner.
    pub user_id: i64,
    #[schema(example = "Grade sync")]
    pub purpose: String,
    /// The Canvas scopes the token is limited to; empty means no limitation.
    #[schema(example = json!(["url:GET|/api/v1/users/:id"]))]
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `null`: the token never expires.
    #[schema(required = true)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Recorded at most once per interval (10 minutes by default); `null`: never used.
    #[schema(required = true)]
    pub last_used_at: Option<DateTime<Utc>>,
    pub workflow_state: WorkflowState,
    /// The prefix and the last four characters of the secret.
    #[schema(example = "tw_…x9Qa")]
    pub token_hint: String,
    /// Who created the token on the owner's behalf; `null` when the owner did.
    #[schema(required = true)]
    pub real_user_id: Option<i64>,
    /// Whether the caller may regenerate this token.
    pub can_manually_regenerate: bool,
    /// The secret: only in the response to create or regenerate.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "tw_…")]
    pub token: Option<String>,
    /// How often the token was used in the last 30 days, per service (`api`: this API).
    pub usage: Vec<UsageJson>,
}

/// A token's uses at one service over the last 30 days (counted per day; the last few
/// seconds' uses may not be in yet).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageJson {
    /// `api` for this API, else the service's slug.
    #[schema(example = "gradebook")]
    pub service: String,
    #[schema(example = "Gradebook")]
    pub name: String,
    pub uses_last_30_days: i64,
}

impl TokenJson {
    fn of(t: &AccessToken, can_manually_regenerate: bool, secret: Option<&TokenSecret>) -> TokenJson {
        TokenJson {
            id: t.id,
            user_id: t.user_id,
            purpose: t.purpose.clone(),
            scopes: t.scope_set().as_slice().iter().map(|s| (*s).to_owned()).collect(),
            created_at: utc(t.created_at),
            updated_at: utc(t.updated_at),
            expires_at: t.expires_at.map(utc),
            last_used_at: t.last_used_at.map(utc),
            workflow_state: if t.is_pending() { WorkflowState::Pending } else { WorkflowState::Active },
            token_hint: t.hint.clone(),
            real_user_id: t.real_user_id,
            can_manually_regenerate,
            token: secret.map(|s| s.expose().to_owned()),
            usage: Vec::new(),
        }
    }

    fn with_usage(mut self, usage: &std::collections::HashMap<i64, Vec<ServiceUse>>) -> TokenJson {
        self.usage = usage
            .get(&self.id)
            .into_iter()
            .flatten()
            .map(|u| UsageJson { service: u.slug.clone(), name: u.name.clone(), uses_last_30_days: u.uses })
            .collect();
        self
    }
}

/// The uses of these tokens, for their Token objects.
fn usage(
    conn: &mut DbConnection,
    owner: i64,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, Vec<ServiceUse>>, services::Error> {
    Ok(usage_of(conn, owner, ids, crate::domain::now().date())?)
}

// ---------------------------------------------------------------------------------------
// Request bodies: the same fields as form fields or as JSON, chosen by Content-Type.

/// A field that is there, even as `null` or empty: `Some(None)`; a field that is not
/// there: `None` (by `#[serde(default)]`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// `T` read from an object only. Serde also reads a struct from an array of its fields in
/// order (`["Grade sync"]` for `{"purpose": "Grade sync"}`): the document says object, and
/// so does the server.
pub struct ObjectOnly<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ObjectOnly<T>, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData)).map(ObjectOnly)
    }
}

fn object_only<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    ObjectOnly::<T>::deserialize(d).map(|o| o.0)
}

/// `true`, `1`, `"1"`, `"true"`, `"on"`, `"yes"`; anything else is false.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flag(bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Flag, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a boolean, 0 or 1")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Flag, E> {
                Ok(Flag(v != 0))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Flag, E> {
                Ok(Flag(v != 0))
            }
            // `1.0` is the number 1 (JSON Schema's `integer` says so too).
            fn visit_f64<E>(self, v: f64) -> Result<Flag, E> {
                Ok(Flag(v != 0.0))
            }
            fn visit_str<E>(self, v: &str) -> Result<Flag, E> {
                Ok(Flag(matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "on" | "yes")))
            }
            fn visit_unit<E>(self) -> Result<Flag, E> {
                Ok(Flag(false))
            }
        }
        d.deserialize_any(V)
    }
}

// The schemas of the fields whose reading is wider than one JSON type. Each says exactly
// what the server takes, no narrower (a schema narrower than the server would call
// requests "invalid" that the server accepts) and no wider than it must.

const EXPIRES_AT: &str = "ISO 8601, e.g. `2027-01-31T00:00:00Z` (an offset is converted to UTC; none \
                          means UTC) or a bare date `2027-01-31` (its midnight, UTC); in the future. \
                          `null`, empty or `\"null\"`: no expiry (refused for students, whose tokens \
                          expire within the student maximum). Left out: no expiry on create, \
                          unchanged on update. Anything else is a 400 under `expires_at`.";

fn expires_at_json() -> Object {
    ObjectBuilder::new()
        .schema_type([Type::String, Type::Null].into_iter().collect::<SchemaType>())
        .description(Some(EXPIRES_AT))
        .examples(["2027-01-31T00:00:00Z"])
        .build()
}

fn expires_at_form() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(EXPIRES_AT))
        .examples(["2027-01-31T00:00:00Z"])
        .build()
}

/// One scope: a Canvas scope of the catalogue, a scope of a registered service
/// (`slug:name`, e.g. `gradebook:read`), or `""` (skipped: one empty value clears the
/// scopes). Surrounding spaces are ignored.
fn scope_item() -> utoipa::openapi::schema::OneOfBuilder {
    let mut values: Vec<&str> = SCOPE_CATALOGUE.iter().map(|d| d.scope).collect();
    values.push("");
    utoipa::openapi::schema::OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values)))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[a-z][a-z0-9-]{0,38}[a-z0-9]:[a-z0-9._-]{1,40}$"))
                .description(Some("A scope of a registered service; one that no service has is a 400.")),
        )
}

const SCOPES: &str = "Canvas scopes from the catalogue, e.g. `url:GET|/api/v1/users/:id`, or scopes of the \
                      institution's services, e.g. `gradebook:read`; an empty list (or one empty value) means no limitation. A token that creates or changes \
                      tokens gives them only scopes within its own. Left out: none on create, \
                      unchanged on update. An unknown scope is a 400 under `scopes`.";

fn scopes_json() -> Array {
    ArrayBuilder::new()
        .schema_type([Type::Array, Type::Null].into_iter().collect::<SchemaType>())
        .items(scope_item())
        .description(Some(SCOPES))
        .build()
}

fn scopes_form() -> Array {
    ArrayBuilder::new()
        .items(scope_item())
        .description(Some(format!("Repeat the field for each scope. {SCOPES}")))
        .build()
}

/// `regenerate` in JSON: read as Canvas reads a boolean, so any of these types is taken.
fn regenerate_json() -> Object {
    ObjectBuilder::new()
        .schema_type(
            [Type::Boolean, Type::Number, Type::String, Type::Null].into_iter().collect::<SchemaType>(),
        )
        .description(Some(
            "Update only: issue a new secret (the old one stops working at once). `true`, a non-zero \
             number, or `\"1\"`, `\"true\"`, `\"on\"`, `\"yes\"`; anything else is false.",
        ))
        .examples([serde_json::Value::Bool(true)])
        .build()
}

/// What the server reads from a request body: the fields of create and of update.
#[derive(Debug, Default)]
pub struct TokenParams {
    pub purpose: Option<String>,
    /// `Some(None)`: given as `null` or empty (no expiry); `None`: left out.
    pub expires_at: Option<Option<String>>,
    pub scopes: Option<Vec<String>>,
    pub regenerate: Option<Flag>,
}

/// The new token's fields in a JSON body. A key that is none of them is refused, not
/// ignored: a misspelt `scope` would otherwise make a token that may call everything.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenParams {
    /// What the token is for: 1–255 characters once trimmed, no control characters.
    #[serde(default)]
    #[schema(required = true, nullable = false, min_length = 1, example = "Grade sync")]
    pub purpose: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = expires_at_json)]
    pub expires_at: Option<Option<String>>,
    #[serde(default)]
    #[schema(schema_with = scopes_json)]
    pub scopes: Option<Vec<String>>,
}

/// A JSON body to create a token: `{"token": {"purpose": …}}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct NewTokenRequest {
    #[serde(default, deserialize_with = "object_only")]
    #[schema(required = true)]
    pub token: NewTokenParams,
}

/// The fields to change in a JSON body; a field left out stays as it is, and a key that
/// is none of them is refused.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenChanges {
    /// What the token is for: 1–255 characters once trimmed, no control characters.
    /// `null` or left out: unchanged.
    #[serde(default)]
    #[schema(min_length = 1, example = "Grade sync")]
    pub purpose: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = expires_at_json)]
    pub expires_at: Option<Option<String>>,
    #[serde(default)]
    #[schema(schema_with = scopes_json)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    #[schema(schema_with = regenerate_json)]
    pub regenerate: Option<Flag>,
}

/// A JSON body to update or regenerate a token: `{"token": {…}}`; `{}` changes nothing.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TokenChangesRequest {
    #[serde(default, deserialize_with = "object_only")]
    pub token: TokenChanges,
}

/// The new token's fields as `application/x-www-form-urlencoded`, named as Canvas names them.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct NewTokenForm {
    /// What the token is for: 1–255 characters once trimmed, no control characters.
    #[serde(rename = "token[purpose]", default, deserialize_with = "present")]
    #[schema(required = true, nullable = false, min_length = 1, example = "Grade sync")]
    pub purpose: Option<String>,
    #[serde(rename = "token[expires_at]", default, deserialize_with = "present")]
    #[schema(schema_with = expires_at_form)]
    pub expires_at: Option<Option<String>>,
    #[serde(rename = "token[scopes][]", default, deserialize_with = "present")]
    #[schema(schema_with = scopes_form)]
    pub scopes: Option<Vec<String>>,
}

/// The fields to change as `application/x-www-form-urlencoded`; a field left out stays.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TokenChangesForm {
    /// What the token is for: 1–255 characters once trimmed, no control characters.
    #[serde(rename = "token[purpose]", default, deserialize_with = "present")]
    #[schema(nullable = false, min_length = 1, example = "Grade sync")]
    pub purpose: Option<String>,
    #[serde(rename = "token[expires_at]", default, deserialize_with = "present")]
    #[schema(schema_with = expires_at_form)]
    pub expires_at: Option<Option<String>>,
    #[serde(rename = "token[scopes][]", default, deserialize_with = "present")]
    #[schema(schema_with = scopes_form)]
    pub scopes: Option<Vec<String>>,
    /// `1` (or `true`, `on`, `yes`) to issue a new secret; anything else is false.
    #[serde(rename = "token[regenerate]", default)]
    #[schema(value_type = String, example = "1")]
    pub regenerate: Option<Flag>,
}

/// The fields of a form, as Canvas names them. A field under `token[…]` that is none of
/// them is refused, not ignored: a misspelt `token[scopes]` (without `[]`) would otherwise
/// make a token that may call everything. Fields outside `token[…]` are left alone, as
/// Canvas leaves them (`utf8`, `_method`, …).
trait FormFields {
    const FIELDS: &'static [&'static str];
}

impl FormFields for NewTokenForm {
    const FIELDS: &'static [&'static str] = &["token[purpose]", "token[expires_at]", "token[scopes][]"];
}

impl FormFields for TokenChangesForm {
    const FIELDS: &'static [&'static str] =
        &["token[purpose]", "token[expires_at]", "token[scopes][]", "token[regenerate]"];
}

/// The first field under `token[…]` that is not one of `known`, or a token's field sent
/// outside `token[…]` (`scopes[]=…`), which would be ignored as easily.
fn unknown_token_field(body: &[u8], known: &[&str]) -> Option<String> {
    url::form_urlencoded::parse(body)
        .map(|(key, _)| key)
        .find(|key| {
            (key.starts_with("token[") && !known.contains(&key.as_ref())) || is_loose_token_field(key)
        })
        .map(std::borrow::Cow::into_owned)
}

/// The first token field of one value that a form gives twice
/// (`token[purpose]=a&token[purpose]=b`): which of the two was meant, nobody can tell.
/// Lists (`…[]`) may repeat, and fields outside `token[…]` are left alone.
fn repeated_field(body: &[u8]) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    url::form_urlencoded::parse(body)
        .map(|(key, _)| key)
        .find(|key| key.starts_with("token[") && !key.ends_with("[]") && !seen.insert(key.clone()))
        .map(std::borrow::Cow::into_owned)
}

/// A token's field without its `token` around it: `scopes`, `scopes[]`, `purpose`, …
fn is_loose_token_field(key: &str) -> bool {
    let name = key.split('[').next().unwrap_or(key);
    matches!(name, "purpose" | "expires_at" | "scopes" | "scope" | "regenerate")
}

/// The first key of a JSON body's object, beside `token`, that is a token's field: sent so,
/// it would be ignored and the token made without it.
fn loose_json_field(body: &[u8]) -> Option<String> {
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body).ok()?;
    object.keys().find(|k| is_loose_token_field(k)).cloned()
}

impl From<NewTokenRequest> for TokenParams {
    fn from(r: NewTokenRequest) -> TokenParams {
        let t = r.token;
        TokenParams { purpose: t.purpose, expires_at: t.expires_at, scopes: t.scopes, regenerate: None }
    }
}

impl From<TokenChangesRequest> for TokenParams {
    fn from(r: TokenChangesRequest) -> TokenParams {
        let t = r.token;
        TokenParams {
            purpose: t.purpose,
            expires_at: t.expires_at,
            scopes: t.scopes,
            regenerate: t.regenerate,
        }
    }
}

impl From<NewTokenForm> for TokenParams {
    fn from(f: NewTokenForm) -> TokenParams {
        TokenParams { purpose: f.purpose, expires_at: f.expires_at, scopes: f.scopes, regenerate: None }
    }
}

impl From<TokenChangesForm> for TokenParams {
    fn from(f: TokenChangesForm) -> TokenParams {
        TokenParams {
            purpose: f.purpose,
            expires_at: f.expires_at,
            scopes: f.scopes,
            regenerate: f.regenerate,
        }
    }
}

/// `expires_at` as given: `null`, empty or `"null"` is no expiry; otherwise an ISO 8601
/// date-time (an offset is converted to UTC; none means UTC) or a bare date (its midnight,
/// UTC). Kept to the second, as every stored time.
pub fn parse_expires_at(value: Option<&str>) -> Result<ExpiryChoice, ValidationError> {
    let s = match value.map(str::trim) {
        None | Some("" | "null") => return Ok(ExpiryChoice::Never),
        Some(s) => s,
    };
    let at = DateTime::parse_from_rfc3339(s)
        .map(|d| d.naive_utc())
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .map(|t| t.with_nanosecond(0).unwrap_or(t));
    match at {
        Ok(at) => Ok(ExpiryChoice::At(at)),
        Err(_) => NaiveDate::parse_from_str(s, "%Y-%m-%d").map(ExpiryChoice::OnDate).map_err(|_| {
            ValidationError::new(
                ExpiryChoice::FIELD,
                "Give expires_at as an ISO 8601 date and time, e.g. 2027-01-31T00:00:00Z, or null for no expiry.",
            )
        }),
    }
}

impl TokenParams {
    pub fn expiry(&self) -> Option<Result<ExpiryChoice, ValidationError>> {
        self.expires_at.as_ref().map(|v| parse_expires_at(v.as_deref()))
    }

    pub fn regenerate(&self) -> bool {
        self.regenerate.is_some_and(|f| f.0)
    }

    /// What the request asks for. A field left out is left as it is (on create: no
    /// scopes, no expiry — Canvas's defaults; a purpose is still required).
    pub fn draft(&self) -> TokenDraft {
        TokenDraft { purpose: self.purpose.clone(), scopes: self.scopes.clone(), expiry: self.expiry() }
    }
}

/// The media types a token body may come in, as a 415's `Accept` names them.
const BODY_TYPES: &str = "application/x-www-form-urlencoded, application/json";

/// Reads the body as JSON (`J`) or as form fields (`F`), by its Content-Type (none: form
/// fields, as curl's `-d` sends them). A body that cannot be read is a 400 that says why,
/// one too large a 413, one of another media type a 415; nothing is changed.
async fn read_params<J, F>(req: &HttpRequest, mut payload: web::Payload) -> Result<TokenParams, ApiError>
where
    J: DeserializeOwned + Into<TokenParams>,
    F: DeserializeOwned + Into<TokenParams> + FormFields,
{
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let json = content_type == "application/json" || content_type.ends_with("+json");
    let form = content_type.is_empty() || content_type == "application/x-www-form-urlencoded";
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("The request body could not be read: {e}")))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge(format!(
                "The request body is too large: at most {} KiB.",
                MAX_BODY_BYTES / 1024
            )));
        }
        body.extend_from_slice(&chunk);
    }
    // Read to its end first, whatever its type: a body left unread would end the connection.
    if !json && !form {
        return Err(ApiError::UnsupportedMediaType { accept: BODY_TYPES });
    }
    if json {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(TokenParams::default());
        }
        if let Some(key) = loose_json_field(&body) {
            return Err(ApiError::BadRequest(format!(
                "`{key}` belongs inside the token object: {{\"token\": {{\"{key}\": …}}}}."
            )));
        }
        return serde_json::from_slice::<ObjectOnly<J>>(&body).map(|o| o.0.into()).map_err(|e| {
            ApiError::BadRequest(format!("The request body is not valid JSON for a token: {e}"))
        });
    }
    if !crate::routes::form_is_text(&body) {
        return Err(ApiError::BadRequest(crate::routes::NOT_TEXT.to_owned()));
    }
    if let Some(field) = unknown_token_field(&body, F::FIELDS) {
        return Err(ApiError::BadRequest(format!(
            "The form field `{field}` is not one of {}. Scopes are a list: one `token[scopes][]` per scope.",
            F::FIELDS.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
        )));
    }
    if let Some(field) = repeated_field(&body) {
        return Err(ApiError::BadRequest(format!("The form field `{field}` is given twice; give it once.")));
    }
    serde_html_form::from_bytes::<F>(&body)
        .map(Into::into)
        .map_err(|e| ApiError::BadRequest(format!("The form fields could not be read: {e}")))
}

// ---------------------------------------------------------------------------------------
// Handlers. Every operation also answers 401 and 503, which the document adds to each
// (`openapi::CommonResponses`).

const BAD_BODY: &str = "A rule broken, under the field it concerns (`purpose`, `expires_at`, `scopes`): \
                        `{\"errors\": {FIELD: [{\"message\": …}]}}`; or a body that could not be read at \
                        all (not JSON, not a token object, a field given twice): `{\"errors\": [{\"message\": …}]}`.";
const AMBIGUOUS_HINT: &str = "The hint names more than one of the user's tokens (the same last four characters): \
                              address the token by its id.";
const TOO_LARGE: &str = "The request body is larger than 64 KiB.";
const UNSUPPORTED_TYPE: &str = "The request body is neither `application/x-www-form-urlencoded` nor JSON.";

/// Whether `actor` may regenerate `owner_id`'s tokens, as `can_manually_regenerate` says.
fn may_regenerate(conn: &mut DbConnection, actor: &Actor, owner_id: i64) -> Result<bool, services::Error> {
    Ok(Context::load(conn, actor, owner_id)?.may(TokenChange::Regenerate).is_ok())
}

/// `GET /api/v1/users/{user_id}/user_generated_tokens` — the user's tokens, oldest first,
/// a page at a time, with a Canvas-style `Link` header. Never secrets.
#[utoipa::path(
    context_path = "/api/v1",
    get,
    path = "/users/{user_id}/user_generated_tokens",
    operation_id = "list_user_generated_tokens",
    tag = "Access tokens",
    params(("user_id" = String, Path, description = "A user id, or `self`."), PageQuery),
    responses(
        (status = 200, description = "One page of the user's tokens (past the last page: an empty list).", body = [TokenJson],
            headers(("Link" = String, description = "Canvas pagination links: rel=\"current\", \"next\", \"prev\", \"first\", \"last\"."))),
        (status = 400, description = "The query could not be read: `page` or `per_page` is not a whole number, or is given twice.", body = ErrorList),
        (status = 403, description = "Outside the token's scopes, or another user's tokens without access_tokens.view.", body = ErrorList),
        (status = 404, description = "No such user.", body = ErrorList),
    ),
    security(("bearer" = [ListTokens::SCOPE]))
)]
#[tracing::instrument(skip_all, fields(user_id = auth.owner.id))]
pub async fn list(
    req: HttpRequest,
    auth: Scoped<ListTokens>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let owner = user_id(&path, &auth)?;
    let page = Page::of(&query)?;
    let actor = auth.actor();
    let (ctx, rows, total, used) = crate::db::run(&state.pool, move |conn| -> Result<_, services::Error> {
        let (ctx, rows, total) = tokens::page(conn, &actor, owner, page.offset(), page.per_page)?;
        let used = usage(conn, owner, &rows.iter().map(|t| t.id).collect::<Vec<_>>())?;
        Ok((ctx, rows, total, used))
    })
    .await?;
    let can_regenerate = ctx.may(TokenChange::Regenerate).is_ok();
    let body: Vec<TokenJson> =
        rows.iter().map(|t| TokenJson::of(t, can_regenerate, None).with_usage(&used)).collect();
    let url = absolute_url(&req, &state.settings.serve);
    Ok(HttpResponse::Ok().insert_header((LINK, page.link_header(&url, total))).json(body))
}

/// `GET /api/v1/users/{user_id}/tokens/{id}` — one token, by id or hint.
#[utoipa::path(
    context_path = "/api/v1",
    get,
    path = "/users/{user_id}/tokens/{id}",
    operation_id = "show_token",
    tag = "Access tokens",
    params(
        ("user_id" = String, Path, description = "A user id, or `self`."),
        ("id" = String, Path, description = "The token's id, or its hint (`tw_…x9Qa`, also `tw_x9Qa`)."),
    ),
    responses(
        (status = 200, description = "The token (without its secret).", body = TokenJson),
        (status = 403, description = "Outside the token's scopes, or another user's tokens without access_tokens.view.", body = ErrorList),
        (status = 404, description = "No such token of this user.", body = ErrorList),
        (status = 409, description = AMBIGUOUS_HINT, body = ErrorList),
    ),
    security(("bearer" = [ShowToken::SCOPE]))
)]
#[tracing::instrument(skip_all, fields(user_id = auth.owner.id))]
pub async fn show(
    auth: Scoped<ShowToken>,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<TokenJson>, ApiError> {
    let (owner, token) = path.into_inner();
    let owner = user_id(&owner, &auth)?;
    let token = TokenRef::parse(&token);
    let actor = auth.actor();
    let json = crate::db::run(&state.pool, move |conn| -> Result<_, services::Error> {
        let t = tokens::get(conn, &actor, owner, &token)?;
        let used = usage(conn, t.user_id, &[t.id])?;
        Ok(TokenJson::of(&t, may_regenerate(conn, &actor, owner)?, None).with_usage(&used))
    })
    .await?;
    Ok(web::Json(json))
}

/// `POST /api/v1/users/{user_id}/tokens` — creates a token; the response carries its
/// secret, once. On another user's behalf (with `access_tokens.create_update`) the token
/// starts `pending` until its owner activates it.
#[utoipa::path(
    context_path = "/api/v1",
    post,
    path = "/users/{user_id}/tokens",
    operation_id = "create_token",
    tag = "Access tokens",
    params(("user_id" = String, Path, description = "A user id, or `self`.")),
    request_body(description = "The new token's fields, as JSON or as form fields (no Content-Type: form fields).", content(
        (NewTokenRequest = "application/json"),
        (NewTokenForm = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "The new token, with its secret in `token`.", body = TokenJson,
            links(
                ("show" = (operation_id = "show_token", parameters(("user_id" = "$response.body#/user_id"), ("id" = "$response.body#/id")))),
                ("update" = (operation_id = "update_token", parameters(("user_id" = "$response.body#/user_id"), ("id" = "$response.body#/id")))),
                ("delete" = (operation_id = "delete_token", parameters(("user_id" = "$response.body#/user_id"), ("id" = "$response.body#/id")))),
            )),
        (status = 400, description = BAD_BODY, body = BadRequest),
        (status = 403, description = "Outside the token's scopes, or refused by the account settings or permissions.", body = ErrorList),
        (status = 404, description = "No such user.", body = ErrorList),
        (status = 413, description = TOO_LARGE, body = ErrorList),
        (status = 415, description = UNSUPPORTED_TYPE, body = ErrorList,
            headers(("Accept" = String, description = "The media types a token body may come in."))),
    ),
    security(("bearer" = [CreateToken::SCOPE]))
)]
#[tracing::instrument(skip_all, fields(user_id = auth.owner.id))]
pub async fn create(
    req: HttpRequest,
    auth: Scoped<CreateToken>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<web::Json<TokenJson>, ApiError> {
    let owner = user_id(&path, &auth)?;
    let params = read_params::<NewTokenRequest, NewTokenForm>(&req, payload).await?;
    let draft = params.draft();
    let actor = auth.actor();
    let json = crate::db::run(&state.pool, move |conn| -> Result<_, services::Error> {
        let issued = tokens::create(conn, &actor, owner, &draft)?;
        let can = may_regenerate(conn, &actor, owner)?;
        Ok(TokenJson::of(&issued.token, can, Some(&issued.secret)))
    })
    .await?;
    tracing::info!(token_id = json.id, owner_id = owner, "token created through the API");
    Ok(web::Json(json))
}

/// `PUT /api/v1/users/{user_id}/tokens/{id}` — updates purpose, scopes and expiry (the
/// secret stays); with `regenerate` it also issues a new secret, carried once in the
/// response. An expired token needs a new `expires_at` to be regenerated.
#[utoipa::path(
    context_path = "/api/v1",
    put,
    path = "/users/{user_id}/tokens/{id}",
    operation_id = "update_token",
    tag = "Access tokens",
    params(
        ("user_id" = String, Path, description = "A user id, or `self`."),
        ("id" = String, Path, description = "The token's id, or its hint (`tw_…x9Qa`, also `tw_x9Qa`)."),
    ),
    request_body(description = "The fields to change, as JSON or as form fields (no Content-Type: form fields); left-out fields stay, and no body changes nothing.", content(
        (TokenChangesRequest = "application/json"),
        (TokenChangesForm = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "The token; with its new secret in `token` when regenerated.", body = TokenJson),
        (status = 400, description = BAD_BODY, body = BadRequest),
        (status = 403, description = "Outside the token's scopes, or refused by the account settings or permissions.", body = ErrorList),
        (status = 404, description = "No such token of this user.", body = ErrorList),
        (status = 409, description = AMBIGUOUS_HINT, body = ErrorList),
        (status = 413, description = TOO_LARGE, body = ErrorList),
        (status = 415, description = UNSUPPORTED_TYPE, body = ErrorList,
            headers(("Accept" = String, description = "The media types a token body may come in."))),
    ),
    security(("bearer" = [UpdateToken::SCOPE]))
)]
#[tracing::instrument(skip_all, fields(user_id = auth.owner.id))]
pub async fn update(
    req: HttpRequest,
    auth: Scoped<UpdateToken>,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<web::Json<TokenJson>, ApiError> {
    let (owner, token) = path.into_inner();
    let owner = user_id(&owner, &auth)?;
    let token = TokenRef::parse(&token);
    let params = read_params::<TokenChangesRequest, TokenChangesForm>(&req, payload).await?;
    let actor = auth.actor();
    let regenerate = params.regenerate();
    let draft = params.draft();
    let json = crate::db::run(&state.pool, move |conn| -> Result<_, services::Error> {
        // With `regenerate`, the other fields change in the same operation: all or nothing.
        let (t, secret) = if regenerate {
            let issued = tokens::regenerate(conn, &actor, owner, &token, &draft)?;
            (issued.token, Some(issued.secret))
        } else {
            (tokens::update(conn, &actor, owner, &token, &draft)?.token, None)
        };
        let used = usage(conn, t.user_id, &[t.id])?;
        Ok(TokenJson::of(&t, may_regenerate(conn, &actor, owner)?, secret.as_ref()).with_usage(&used))
    })
    .await?;
    if regenerate {
        tracing::info!(token_id = json.id, owner_id = owner, "token regenerated through the API");
    }
    Ok(web::Json(json))
}

/// `DELETE /api/v1/users/{user_id}/tokens/{id}` — deletes (revokes) a token: it stops
/// working at once. Answers with the deleted token.
#[utoipa::path(
    context_path = "/api/v1",
    delete,
    path = "/users/{user_id}/tokens/{id}",
    operation_id = "delete_token",
    tag = "Access tokens",
    params(
        ("user_id" = String, Path, description = "A user id, or `self`."),
        ("id" = String, Path, description = "The token's id, or its hint (`tw_…x9Qa`, also `tw_x9Qa`)."),
    ),
    responses(
        (status = 200, description = "The deleted token.", body = TokenJson),
        (status = 403, description = "Outside the token's scopes, or another user's token without access_tokens.delete.", body = ErrorList),
        (status = 404, description = "No such token of this user.", body = ErrorList),
        (status = 409, description = AMBIGUOUS_HINT, body = ErrorList),
    ),
    security(("bearer" = [DeleteToken::SCOPE]))
)]
#[tracing::instrument(skip_all, fields(user_id = auth.owner.id))]
pub async fn delete(
    auth: Scoped<DeleteToken>,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<TokenJson>, ApiError> {
    let (owner, token) = path.into_inner();
    let owner = user_id(&owner, &auth)?;
    let token = TokenRef::parse(&token);
    let actor = auth.actor();
    let deleted =
        crate::db::run(&state.pool, move |conn| tokens::delete(conn, &actor, owner, &token)).await?;
    tracing::info!(token_id = deleted.id, owner_id = owner, "token deleted through the API");
    // A deleted token can no longer be regenerated.
    Ok(web::Json(TokenJson::of(&deleted, false, None)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn expires_at_reads_iso_8601_and_null() {
        assert_eq!(parse_expires_at(None), Ok(ExpiryChoice::Never));
        assert_eq!(parse_expires_at(Some("")), Ok(ExpiryChoice::Never));
        assert_eq!(parse_expires_at(Some("null")), Ok(ExpiryChoice::Never));
        assert_eq!(
            parse_expires_at(Some("2027-01-31T10:00:00Z")),
            Ok(ExpiryChoice::At(at("2027-01-31 10:00:00")))
        );
        assert_eq!(
            parse_expires_at(Some("2027-01-31T12:00:00.999+02:00")),
            Ok(ExpiryChoice::At(at("2027-01-31 10:00:00")))
        );
        assert_eq!(
            parse_expires_at(Some("2027-01-31T10:00:00")),
            Ok(ExpiryChoice::At(at("2027-01-31 10:00:00")))
        );
        assert_eq!(
            parse_expires_at(Some("2027-01-31")),
            Ok(ExpiryChoice::OnDate(NaiveDate::from_ymd_opt(2027, 1, 31).unwrap()))
        );
        assert_eq!(parse_expires_at(Some("next tuesday")).unwrap_err().field, "expires_at");
    }

    #[test]
    fn form_fields_tell_absent_from_empty() {
        let f: TokenChangesForm = serde_html_form::from_str("token[purpose]=x").unwrap();
        assert_eq!(f.purpose.as_deref(), Some("x"));
        assert_eq!(f.expires_at, None, "left out: keep");
        assert_eq!(f.scopes, None);
        let f: TokenChangesForm =
            serde_html_form::from_str("token[expires_at]=&token[scopes][]=&token[regenerate]=1").unwrap();
        assert_eq!(f.expires_at, Some(None), "empty: no expiry");
        let blank: NewTokenForm = serde_html_form::from_str("token[purpose]=").unwrap();
        assert_eq!(blank.purpose.as_deref(), Some(""), "empty: a blank purpose, refused by the rule");
        assert_eq!(f.scopes, Some(vec![String::new()]), "one empty value: clear the scopes");
        assert_eq!(f.regenerate, Some(Flag(true)));
        let f: NewTokenForm = serde_html_form::from_str(
            "token[scopes][]=url%3AGET%7C%2Fapi%2Fv1%2Fusers%2F%3Aid&token[scopes][]=url:DELETE|/api/v1/users/:user_id/tokens/:id",
        )
        .unwrap();
        assert_eq!(f.scopes.unwrap().len(), 2);
    }

    #[test]
    fn json_fields_tell_absent_from_null() {
        let r: NewTokenRequest = serde_json::from_str(r#"{"token": {"purpose": "x"}}"#).unwrap();
        assert_eq!(r.token.expires_at, None);
        let r: TokenParams = serde_json::from_str::<TokenChangesRequest>(
            r#"{"token": {"expires_at": null, "scopes": [], "regenerate": true}}"#,
        )
        .unwrap()
        .into();
        assert_eq!(r.expires_at, Some(None));
        assert_eq!(r.scopes, Some(vec![]));
        assert!(r.regenerate());
        for (flag, expected) in
            [("1", true), ("1.0", true), ("\"1\"", true), ("0", false), ("false", false), ("null", false)]
        {
            let r: TokenParams = serde_json::from_str::<TokenChangesRequest>(&format!(
                r#"{{"token": {{"regenerate": {flag}}}}}"#
            ))
            .unwrap()
            .into();
            assert_eq!(r.regenerate(), expected, "{flag}");
        }
        for unreadable in [
            r#"[null, null]"#,
            r#"[{"purpose": "x"}]"#,
            r#"{"token": null}"#,
            r#"{"token": ["x"]}"#,
            r#"{"token": {"regenerate": []}}"#,
            r#"{"token": {"purpose": "a", "purpose": "b"}}"#,
        ] {
            assert!(
                serde_json::from_str::<ObjectOnly<TokenChangesRequest>>(unreadable).is_err(),
                "{unreadable}"
            );
        }
    }

    #[test]
    fn the_secret_is_serialized_only_when_issued() {
        let t = AccessToken {
            id: 1,
            user_id: 2,
            real_user_id: None,
            purpose: "p".into(),
            scopes: String::new(),
            digest: "d".into(),
            hint: "tw_…abcd".into(),
            workflow_state: "active".into(),
            created_at: at("2026-11-23 10:00:00"),
            updated_at: at("2026-11-23 10:00:00"),
            expires_at: None,
            last_used_at: None,
        };
        let json = serde_json::to_value(TokenJson::of(&t, true, None)).unwrap();
        assert!(json.get("token").is_none());
        assert_eq!(json["expires_at"], serde_json::Value::Null);
        assert_eq!(json["created_at"], "2026-11-23T10:00:00Z");
        assert_eq!(json["workflow_state"], "active");
        assert!(json.get("digest").is_none());
        let secret = TokenSecret::generate();
        let json = serde_json::to_value(TokenJson::of(&t, true, Some(&secret))).unwrap();
        assert_eq!(json["token"], secret.expose());
    }
}
