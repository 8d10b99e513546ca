//! Bearer-token authentication (RFC 8725 practice) and scope checks as typed extractors, so
//! a handler's signature states the permission it needs.

use std::future::{ready, Ready};
use std::marker::PhantomData;

use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use isms_store::TenantId;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::problem::ApiError;

/// The claims isms-ledger requires. `scope` is space-delimited (RFC 9068 / RFC 8693).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub tenant: String,
    pub scope: String,
    pub iss: String,
    pub aud: Audience,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
}

/// The `aud` claim: one audience or several (RFC 7519 4.1.3). jsonwebtoken checks that ours is
/// among them; this type only lets both forms through deserialization.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: String,
    pub tenant: TenantId,
    pub scopes: Vec<String>,
}

impl Principal {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// Where verification keys come from.
enum Keys {
    /// One key for the single allowed algorithm (HS256 local secret, or an ES256/EdDSA PEM).
    Single(Algorithm, DecodingKey),
    /// A JWKS file: the token's `kid` picks the key; unknown kids are refused.
    Set(Vec<(String, Algorithm, DecodingKey)>),
}

/// Verifies tokens. Holds the algorithm allow-list, the keys, and the expected `iss`/`aud`.
pub struct Authenticator {
    keys: Keys,
    issuer: String,
    audience: String,
}

/// Tolerated clock skew for `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;

impl Authenticator {
    /// The local default: HS256 with a secret from the data directory.
    pub fn hs256(secret: &[u8], issuer: &str, audience: &str) -> Self {
        Self::with_keys(Keys::Single(Algorithm::HS256, DecodingKey::from_secret(secret)), issuer, audience)
    }

    /// An external issuer's public key in PEM, for `ES256` or `EdDSA`.
    pub fn public_key_pem(algorithm: Algorithm, pem: &[u8], issuer: &str, audience: &str) -> Result<Self, String> {
        let key = match algorithm {
            Algorithm::ES256 => DecodingKey::from_ec_pem(pem),
            Algorithm::EdDSA => DecodingKey::from_ed_pem(pem),
            other => return Err(format!("algorithm {other:?} is not allowed for public keys (use ES256 or EdDSA)")),
        }
        .map_err(|e| format!("cannot read the public key: {e}"))?;
        Ok(Self::with_keys(Keys::Single(algorithm, key), issuer, audience))
    }

    /// An external issuer's JWKS document. Only ES256 and EdDSA keys with a `kid` are used.
    pub fn jwks(document: &str, issuer: &str, audience: &str) -> Result<Self, String> {
        let set: JwkSet = serde_json::from_str(document).map_err(|e| format!("cannot parse the JWKS file: {e}"))?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else { continue };
            // Only the curves of the allowed algorithms; anything else is skipped, not guessed.
            let algorithm = match &jwk.algorithm {
                jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(ec)
                    if ec.curve == jsonwebtoken::jwk::EllipticCurve::P256 =>
                {
                    Algorithm::ES256
                }
                jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(okp)
                    if okp.curve == jsonwebtoken::jwk::EllipticCurve::Ed25519 =>
                {
                    Algorithm::EdDSA
                }
                _ => continue,
            };
            let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("JWKS key '{kid}': {e}"))?;
            keys.push((kid, algorithm, key));
        }
        if keys.is_empty() {
            return Err("the JWKS file has no usable ES256 or EdDSA key with a kid".into());
        }
        Ok(Self::with_keys(Keys::Set(keys), issuer, audience))
    }

    fn with_keys(keys: Keys, issuer: &str, audience: &str) -> Self {
        Self { keys, issuer: issuer.to_owned(), audience: audience.to_owned() }
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.algorithms = vec![algorithm];
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.validate_nbf = true;
        validation.validate_exp = true;
        validation.leeway = LEEWAY_SECONDS;
        validation
    }

    /// Verifies a token and returns who it speaks for; the error says why not (for logs only).
    pub fn verify(&self, token: &str) -> Result<Principal, String> {
        self.check(token).map_err(|rejection| rejection.reason.to_owned())
    }

    /// Verifies a token; a refusal names its reason from a fixed vocabulary (never text taken
    /// from the token) and, when the signature verified, who the token was issued to.
    pub fn check(&self, token: &str) -> Result<Principal, Rejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::because("malformed_token"))?;
        // Keys named by the token itself would let the token choose how it is checked.
        if header.jku.is_some() || header.jwk.is_some() || header.x5u.is_some() || header.x5c.is_some() {
            return Err(Rejection::because("key_named_in_header"));
        }
        let (algorithm, key) = match &self.keys {
            Keys::Single(algorithm, key) => (*algorithm, key),
            Keys::Set(keys) => {
                let kid = header.kid.as_deref().ok_or(Rejection::because("missing_kid"))?;
                let (_, algorithm, key) =
                    keys.iter().find(|(k, _, _)| k == kid).ok_or(Rejection::because("unknown_kid"))?;
                (*algorithm, key)
            }
        };
        if header.alg != algorithm {
            return Err(Rejection::because("algorithm_not_allowed"));
        }
        let claims = match jsonwebtoken::decode::<Claims>(token, key, &self.validation(algorithm)) {
            Ok(data) => data.claims,
            Err(error) => return Err(self.rejection(token, key, algorithm, error.kind())),
        };
        if claims.sub.trim().is_empty() {
            return Err(Rejection::because("empty_sub"));
        }
        let tenant = TenantId::parse(&claims.tenant)
            .map_err(|_| Rejection { subject: Some(claims.sub.clone()), ..Rejection::because("invalid_tenant") })?;
        Ok(Principal {
            subject: claims.sub,
            tenant,
            scopes: claims.scope.split_whitespace().map(str::to_owned).collect(),
        })
    }

    /// Why `decode` refused; for claim failures (the signature was checked first and held) also
    /// the token's `sub` and `tenant`, read again with only the signature checked.
    fn rejection(
        &self,
        token: &str,
        key: &DecodingKey,
        algorithm: Algorithm,
        kind: &jsonwebtoken::errors::ErrorKind,
    ) -> Rejection {
        use jsonwebtoken::errors::ErrorKind;
        let (reason, signed) = match kind {
            ErrorKind::ExpiredSignature => ("expired", true),
            ErrorKind::ImmatureSignature => ("not_yet_valid", true),
            ErrorKind::InvalidAudience => ("wrong_audience", true),
            ErrorKind::InvalidIssuer => ("wrong_issuer", true),
            ErrorKind::MissingRequiredClaim(_) => ("missing_claim", true),
            ErrorKind::InvalidClaimFormat(_) | ErrorKind::Json(_) => ("invalid_claims", true),
            ErrorKind::InvalidSignature => ("bad_signature", false),
            ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => ("algorithm_not_allowed", false),
            _ => ("malformed_token", false),
        };
        let mut rejection = Rejection::because(reason);
        if signed {
            #[derive(Deserialize)]
            struct Issued {
                sub: Option<String>,
                tenant: Option<String>,
            }
            let mut lenient = Validation::new(algorithm);
            lenient.algorithms = vec![algorithm];
            lenient.required_spec_claims.clear();
            lenient.validate_exp = false;
            lenient.validate_nbf = false;
            lenient.validate_aud = false;
            if let Ok(data) = jsonwebtoken::decode::<Issued>(token, key, &lenient) {
                rejection.subject = data.claims.sub;
                rejection.tenant = data.claims.tenant;
            }
        }
        rejection
    }
}

/// Why a bearer token was refused. `subject` and `tenant` are set only when the token's
/// signature verified, so a log never names someone on a forger's word.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub reason: &'static str,
    pub subject: Option<String>,
    pub tenant: Option<String>,
}

impl Rejection {
    fn because(reason: &'static str) -> Self {
        Self { reason, subject: None, tenant: None }
    }
}

/// Signs a local HS256 token (the `isms token` command and tests).
pub fn mint_hs256(secret: &[u8], claims: &Claims) -> Result<String, String> {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret))
        .map_err(|e| e.to_string())
}

/// A scope a route requires.
pub trait RequiredScope {
    const SCOPE: &'static str;
    /// Other scopes that grant the same access.
    const ALSO_GRANTED_BY: &'static [&'static str] = &[];
}

macro_rules! scopes {
    ($($name:ident => $scope:literal $(or $also:literal)*),* $(,)?) => {
        $(
            #[doc = concat!("The `", $scope, "` scope", $(" (or `", $also, "`)",)* ".")]
            #[derive(Debug)]
            pub struct $name;
            impl RequiredScope for $name {
                const SCOPE: &'static str = $scope;
                const ALSO_GRANTED_BY: &'static [&'static str] = &[$($also),*];
            }
        )*
    };
}

scopes! {
    // An auditor's token (`audit:read` alone) reads everything a reader can, and changes nothing.
    ReadScope => "isms:read" or "audit:read",
    WriteScope => "isms:write",
    AuditScope => "audit:read",
    AdminScope => "admin",
    // Section: HR provisioning and training integrations.
    ScimScope => "scim",
    IntegrationsScope => "integrations",
    // Ticketing bridges (scope `integrations`) and people alike report a corrective action's ticket.
    TicketLinkScope => "isms:write" or "integrations",
    // Integrators read the event feed with `integrations`; auditors with `audit:read`.
    EventFeedScope => "audit:read" or "integrations",
}

/// States in the OpenAPI document what [`ReadScope`] accepts: every operation whose security
/// requirement is `isms:read` also lists `audit:read`, as an alternative requirement (OpenAPI
/// security requirements in one list are alternatives; Swagger UI shows both under the lock).
/// Done once over the whole document so that no read operation can be documented otherwise.
pub fn document_read_scope_alternatives(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::security::SecurityRequirement;
    let read = SecurityRequirement::new("bearer", [ReadScope::SCOPE]);
    let alternatives: Vec<SecurityRequirement> =
        ReadScope::ALSO_GRANTED_BY.iter().map(|scope| SecurityRequirement::new("bearer", [*scope])).collect();
    for item in document.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            let Some(security) = operation.security.as_mut() else { continue };
            if security.contains(&read) {
                for alternative in &alternatives {
                    if !security.contains(alternative) {
                        security.push(alternative.clone());
                    }
                }
            }
        }
    }
}

/// An authenticated caller holding scope `S`. Failing extraction answers 401 or 403 and logs a
/// security line (never the token).
#[derive(Debug)]
pub struct Authorized<S> {
    pub principal: Principal,
    scope: PhantomData<S>,
}

/// The outcome of verifying a request's bearer token, kept in the request's extensions so the
/// token is verified once whoever asks first (the rate limiter or an extractor).
#[derive(Debug, Clone)]
pub struct Authentication(pub Result<Principal, Rejection>);

/// Verifies the request's bearer token once; `None` when the server has no authenticator.
pub fn authentication(request: &HttpRequest) -> Option<Authentication> {
    if let Some(done) = request.extensions().get::<Authentication>() {
        return Some(done.clone());
    }
    let authenticator = request.app_data::<web::Data<Authenticator>>()?;
    let token = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let outcome = match token {
        Some(token) if !token.is_empty() => authenticator.check(token),
        Some(_) => Err(Rejection::because("empty_token")),
        None if request.headers().contains_key(actix_web::http::header::AUTHORIZATION) => {
            Err(Rejection::because("not_a_bearer_token"))
        }
        None => Err(Rejection::because("missing_token")),
    };
    let done = Authentication(outcome);
    request.extensions_mut().insert(done.clone());
    Some(done)
}

/// The route pattern a request matched (`/api/v1/risks/{id}`), or `unmatched`: logs and
/// metrics name routes, never raw paths, which carry ids and unbounded variety.
pub fn route_label(request: &HttpRequest) -> String {
    request.match_pattern().unwrap_or_else(|| "unmatched".to_owned())
}

fn peer(request: &HttpRequest) -> String {
    request.peer_addr().map_or_else(|| "unknown".to_owned(), |peer| peer.ip().to_string())
}

/// Authenticates the request's bearer token, logging a security line on failure.
pub fn authenticate(request: &HttpRequest) -> Result<Principal, ApiError> {
    let Authentication(outcome) =
        authentication(request).ok_or_else(|| ApiError::Internal("no authenticator configured".into()))?;
    outcome.map_err(|rejection| {
        tracing::warn!(
            target: "security", event = "authentication_failed", reason = rejection.reason,
            subject = rejection.subject.as_deref(), tenant = rejection.tenant.as_deref(),
            method = %request.method(), route = %route_label(request), peer = %peer(request),
        );
        ApiError::Unauthorized(rejection.reason.to_owned())
    })
}

/// Checks a scope the route needs beyond its extractor's (e.g. `audit:read` for time travel).
pub fn require_scope(request: &HttpRequest, principal: &Principal, scope: &str) -> Result<(), ApiError> {
    require_any_scope(request, principal, scope, &[])
}

/// Checks that the caller holds `scope` or one of the scopes that grant the same access.
fn require_any_scope(
    request: &HttpRequest,
    principal: &Principal,
    scope: &str,
    also_granted_by: &[&str],
) -> Result<(), ApiError> {
    if principal.has_scope(scope) || also_granted_by.iter().any(|other| principal.has_scope(other)) {
        return Ok(());
    }
    tracing::warn!(
        target: "security", event = "authorization_failed", reason = "missing_scope", required_scope = scope,
        subject = %principal.subject, tenant = %principal.tenant,
        method = %request.method(), route = %route_label(request), peer = %peer(request),
    );
    let needed = std::iter::once(scope).chain(also_granted_by.iter().copied()).map(|s| format!("'{s}'"));
    let needed = needed.collect::<Vec<_>>().join(" or ");
    Err(ApiError::new(StatusCode::FORBIDDEN, "insufficient_scope", format!("this request needs the {needed} scope")))
}

impl<S: RequiredScope> FromRequest for Authorized<S> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(authenticate(request).and_then(|principal| {
            require_any_scope(request, &principal, S::SCOPE, S::ALSO_GRANTED_BY)?;
            Ok(Self { principal, scope: PhantomData })
        }))
    }
}
