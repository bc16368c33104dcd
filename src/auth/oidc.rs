//! Signing in with the institution's identity provider: OpenID Connect's authorization code
//! flow with PKCE, through the `openidconnect` crate. The provider's discovery document and
//! keys are fetched when first needed (the server starts while the provider is down) and
//! kept a quarter of an hour; an ID token signed with a key not seen yet fetches them again
//! once, so the provider can rotate its keys.
//!
//! What the ID token is checked for: signature against the provider's JWKS, issuer,
//! audience, expiry and the nonce this sign-in sent. What the sign-in then does is
//! `services::sso`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType, CoreGenderClaim,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessToken, AdditionalClaims, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, StandardErrorResponse,
    StandardTokenResponse, SubjectIdentifier, TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::services::sso::{Identity, Pending};

/// How long the provider's discovery document and keys are used before they are fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(15 * 60);

/// Every claim of the ID token and user info, to find the configured roles claim in.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    claims: serde_json::Map<String, serde_json::Value>,
}

impl AdditionalClaims for OtherClaims {}

impl OtherClaims {
    /// The groups in `claim`: a list of strings, or one string.
    fn groups(&self, claim: &str) -> Option<Vec<String>> {
        match self.claims.get(claim)? {
            serde_json::Value::Array(items) => {
                Some(items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            }
            serde_json::Value::String(one) => Some(vec![one.clone()]),
            _ => None,
        }
    }
}

type IdFields = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type TokenAnswer = StandardTokenResponse<IdFields, CoreTokenType>;
type ProviderClient = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenAnswer,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why a sign-in with the provider did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    /// The provider could not be reached or answered nonsense: try again later.
    #[error("{0}")]
    Unreachable(String),
    /// The provider's answer is not one to accept (a bad token, a refused code).
    #[error("{0}")]
    Rejected(String),
}

/// The configuration single sign-on needs (from `serve`'s settings). Its `Debug` leaves
/// out the client secret.
#[derive(Clone)]
pub struct SsoConfig {
    pub issuer: IssuerUrl,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// `<public-url>/login/oidc/callback`
    pub redirect: RedirectUrl,
    pub scopes: Vec<String>,
    pub roles_claim: String,
    /// The provider's name on the button.
    pub name: String,
}

impl std::fmt::Debug for SsoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "(redacted)"))
            .field("redirect", &self.redirect)
            .field("scopes", &self.scopes)
            .field("roles_claim", &self.roles_claim)
            .field("name", &self.name)
            .finish()
    }
}

/// The institution's identity provider, as this server knows it.
pub struct Sso {
    pub config: SsoConfig,
    http: openidconnect::reqwest::Client,
    discovered: Mutex<Option<(Instant, Arc<ProviderClient>)>>,
}

/// Where to send the browser, and what the callback will need.
pub struct Started {
    pub authorize_url: url::Url,
    pub state: String,
    pub pending: Pending,
}

impl Sso {
    pub fn new(config: SsoConfig) -> anyhow::Result<Sso> {
        let http = openidconnect::reqwest::ClientBuilder::new()
            // The crate's advice: a redirect could lead a token request elsewhere.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Sso { config, http, discovered: Mutex::new(None) })
    }

    /// The provider's client, from its discovery document (fetched again when old or when
    /// `refresh`).
    async fn client(&self, refresh: bool) -> Result<Arc<ProviderClient>, SsoError> {
        let mut cached = self.discovered.lock().await;
        if let Some((at, client)) = cached.as_ref()
            && !refresh
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(client.clone());
        }
        let metadata = CoreProviderMetadata::discover_async(self.config.issuer.clone(), &self.http)
            .await
            .map_err(|e| {
                tracing::warn!(issuer = %self.config.issuer.as_str(), error = %error_chain(&e), "the identity provider's discovery failed");
                SsoError::Unreachable(format!(
                    "{} cannot be reached at the moment. Try again in a few minutes.",
                    self.config.name
                ))
            })?;
        let client = Arc::new(
            ProviderClient::from_provider_metadata(
                metadata,
                ClientId::new(self.config.client_id.clone()),
                self.config.client_secret.clone().map(ClientSecret::new),
            )
            .set_redirect_uri(self.config.redirect.clone()),
        );
        *cached = Some((Instant::now(), client.clone()));
        Ok(client)
    }

    /// Begins a sign-in: the provider's authorization URL with a fresh state, nonce and
    /// PKCE challenge. `next` is where to go after.
    pub async fn start(&self, next: String) -> Result<Started, SsoError> {
        let client = self.client(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in self.config.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (authorize_url, state, nonce) = request.url();
        Ok(Started {
            authorize_url,
            state: state.secret().clone(),
            pending: Pending {
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                next,
            },
        })
    }

    /// Completes a sign-in: trades the code for tokens, verifies the ID token, and reads
    /// who signed in (from the user info endpoint too, for what the ID token leaves out).
    pub async fn finish(&self, code: String, pending: &Pending) -> Result<Identity, SsoError> {
        let client = self.client(false).await?;
        let request = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| SsoError::Unreachable(format!("The identity provider has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()));
        let answer = request.request_async(&self.http).await.map_err(|e| {
            use openidconnect::RequestTokenError;
            let chain = error_chain(&e);
            tracing::warn!(error = %chain, "the identity provider's token endpoint refused or failed");
            match e {
                RequestTokenError::ServerResponse(r) => SsoError::Rejected(format!(
                    "{} did not accept this sign-in ({}). Start again.",
                    self.config.name,
                    r.error()
                )),
                _ => SsoError::Unreachable(format!(
                    "{} could not complete the sign-in. Try again in a few minutes.",
                    self.config.name
                )),
            }
        })?;
        let id_token = answer
            .id_token()
            .ok_or_else(|| SsoError::Rejected("The identity provider sent no ID token.".into()))?;
        let nonce = Nonce::new(pending.nonce.clone());
        let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(claims) => claims.clone(),
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(_)) => {
                // Perhaps a key the provider rotated in since: fetch its keys once more.
                let fresh = self.client(true).await?;
                id_token.claims(&fresh.id_token_verifier(), &nonce).map_err(rejected_token)?.clone()
            }
            Err(e) => return Err(rejected_token(e)),
        };

        let mut identity = Identity {
            subject: format!("{}|{}", claims.issuer().as_str(), claims.subject().as_str()),
            preferred_username: claims.preferred_username().map(|u| u.as_str().to_owned()),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified(),
            name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
            groups: Vec::new(),
        };
        let groups = claims.additional_claims().groups(&self.config.roles_claim);
        let incomplete =
            groups.is_none() || (identity.preferred_username.is_none() && identity.email.is_none());
        let from_user_info = match (incomplete, client.user_info_url()) {
            (true, Some(_)) => {
                Some(self.user_info(&client, answer.access_token().clone(), claims.subject().clone()).await?)
            }
            _ => None,
        };
        identity.groups = groups
            .or_else(|| from_user_info.as_ref()?.additional_claims().groups(&self.config.roles_claim))
            .unwrap_or_default();
        if let Some(info) = from_user_info {
            identity.preferred_username = identity
                .preferred_username
                .or_else(|| info.preferred_username().map(|u| u.as_str().to_owned()));
            if identity.email.is_none() {
                identity.email = info.email().map(|e| e.as_str().to_owned());
                identity.email_verified = info.email_verified();
            }
            identity.name = identity
                .name
                .or_else(|| info.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()));
        }
        Ok(identity)
    }

    async fn user_info(
        &self,
        client: &ProviderClient,
        access_token: AccessToken,
        subject: SubjectIdentifier,
    ) -> Result<UserInfoClaims<OtherClaims, CoreGenderClaim>, SsoError> {
        let request = client.user_info(access_token, Some(subject)).map_err(|e| {
            SsoError::Unreachable(format!("The identity provider has no user info endpoint: {e}"))
        })?;
        request.request_async(&self.http).await.map_err(|e| {
            tracing::warn!(error = %error_chain(&e), "the identity provider's user info failed");
            SsoError::Unreachable(format!(
                "{} could not say who signed in. Try again in a few minutes.",
                self.config.name
            ))
        })
    }
}

fn rejected_token(e: openidconnect::ClaimsVerificationError) -> SsoError {
    tracing::warn!(error = %e, "an ID token from the identity provider was refused");
    SsoError::Rejected(format!("The identity provider's answer could not be verified ({e}). Start again."))
}

/// An error with its causes, for the log.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sso_configuration_formatted_for_a_log_shows_no_client_secret() {
        let config = SsoConfig {
            issuer: IssuerUrl::new("https://idp.example.edu".into()).unwrap(),
            client_id: "tokenwarden".into(),
            client_secret: Some("client-s3cret".into()),
            redirect: RedirectUrl::new("https://tokens.example.edu/login/oidc/callback".into()).unwrap(),
            scopes: vec!["openid".into()],
            roles_claim: "groups".into(),
            name: "Campus sign-in".into(),
        };
        let shown = format!("{config:?}");
        assert!(shown.contains("tokenwarden") && shown.contains("(redacted)"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn groups_come_from_the_configured_claim_as_a_list_or_one_string() {
        let claims: OtherClaims =
            serde_json::from_str(r#"{"groups":["Faculty", 7, "IT"],"role":"Students","n":1}"#).unwrap();
        assert_eq!(claims.groups("groups").unwrap(), ["Faculty", "IT"]);
        assert_eq!(claims.groups("role").unwrap(), ["Students"]);
        assert_eq!(claims.groups("n"), None);
        assert_eq!(claims.groups("missing"), None);
    }
}
