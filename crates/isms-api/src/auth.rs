//! Bearer-token authentication (RFC 8725 practice) and scope checks as typed extractors, so
//! a handler's signature states the permission it needs.

use std::future::{ready, Ready};
use std::marker::PhantomData;

use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest};
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
        let header = jsonwebtoken::decode_header(token).map_err(|e| format!("malformed token: {e}"))?;
        // Keys named by the token itself would let the token choose how it is checked.
        if header.jku.is_some() || header.jwk.is_some() || header.x5u.is_some() || header.x5c.is_some() {
            return Err("token header names its own key (jku/jwk/x5u/x5c); refused".into());
        }
        let (algorithm, key) = match &self.keys {
            Keys::Single(algorithm, key) => (*algorithm, key),
            Keys::Set(keys) => {
                let kid = header.kid.as_deref().ok_or("token has no kid")?;
                let (_, algorithm, key) =
                    keys.iter().find(|(k, _, _)| k == kid).ok_or_else(|| format!("unknown kid '{kid}'"))?;
                (*algorithm, key)
            }
        };
        if header.alg != algorithm {
            return Err(format!("algorithm {:?} is not allowed", header.alg));
        }
        let data =
            jsonwebtoken::decode::<Claims>(token, key, &self.validation(algorithm)).map_err(|e| e.to_string())?;
        let claims = data.claims;
        if claims.sub.trim().is_empty() {
            return Err("empty sub".into());
        }
        let tenant = TenantId::parse(&claims.tenant).map_err(|e| e.to_string())?;
        Ok(Principal {
            subject: claims.sub,
            tenant,
            scopes: claims.scope.split_whitespace().map(str::to_owned).collect(),
        })
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
    IntegrationsScope => "integrations",
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

/// Authenticates the request's bearer token, logging a security line on failure.
pub fn authenticate(request: &HttpRequest) -> Result<Principal, ApiError> {
    let authenticator = request
        .app_data::<web::Data<Authenticator>>()
        .ok_or_else(|| ApiError::Internal("no authenticator configured".into()))?;
    let token = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let outcome = match token {
        Some(token) if !token.is_empty() => authenticator.verify(token),
        _ => Err("missing bearer token".to_owned()),
    };
    outcome.map_err(|reason| {
        tracing::warn!(target: "security", event = "authentication_failed", method = %request.method(), route = %request.path(), %reason);
        ApiError::Unauthorized(reason)
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
        target: "security", event = "authorization_failed", method = %request.method(), route = %request.path(),
        subject = %principal.subject, tenant = %principal.tenant, required_scope = scope
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
