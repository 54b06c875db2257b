//! NATS JWTs: `base64url(header).base64url(claims).base64url(ed25519 signature)`, signed by
//! the nkey named in `iss`.
//!
//! Decoded here with serde and the `nkeys` crate rather than a JWT crate: the Rust
//! `nats-jwt` crate only creates tokens, and generic JWT crates do not know the
//! `ed25519-nkey` algorithm nor verify against an nkey public key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Why a JWT was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not three base64url parts of JSON, or claims of another shape.
    #[error("invalid JWT: {0}")]
    Malformed(String),
    /// Not signed with `ed25519-nkey`.
    #[error("invalid JWT: unsupported algorithm {0:?}")]
    Algorithm(String),
    /// The signature does not verify against `iss`.
    #[error("invalid JWT: signature does not verify against issuer {0}")]
    Signature(String),
    /// The claims are of another type than expected (`operator`, `account`, `user`).
    #[error("invalid JWT: expected {expected} claims, found {found:?}")]
    Type {
        /// The type wanted.
        expected: &'static str,
        /// The type found.
        found: String,
    },
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    alg: String,
}

/// The registered claims every NATS JWT has, with the NATS-specific part `nats`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Claims<T> {
    #[serde(default)]
    pub iss: String,
    #[serde(default)]
    pub sub: String,
    #[serde(default)]
    pub iat: i64,
    #[serde(default)]
    pub exp: Option<i64>,
    #[serde(default)]
    pub nbf: Option<i64>,
    /// The human-readable name the JWT gives its subject.
    #[serde(default)]
    pub name: String,
    pub nats: T,
}

/// The `type` field every `nats` part carries.
#[derive(Deserialize)]
struct Typed {
    #[serde(default, rename = "type")]
    kind: String,
}

/// Decodes `token`, checks its signature against its issuer and that its `nats.type` is
/// `kind`.
pub(crate) fn decode<T: DeserializeOwned>(
    token: &str,
    kind: &'static str,
) -> Result<Claims<T>, JwtError> {
    let token = token.trim();
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("expected three parts".into()));
    };
    let bytes = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .map_err(|e| JwtError::Malformed(e.to_string()))
    };
    let h: Header =
        serde_json::from_slice(&bytes(header)?).map_err(|e| JwtError::Malformed(e.to_string()))?;
    if h.alg != "ed25519-nkey" && h.alg != "ed25519" {
        return Err(JwtError::Algorithm(h.alg));
    }
    let claims_json = bytes(claims)?;
    let typed: Claims<Typed> =
        serde_json::from_slice(&claims_json).map_err(|e| JwtError::Malformed(e.to_string()))?;
    let signed = &token[..header.len() + 1 + claims.len()];
    let signature = bytes(sig)?;
    let verified = nkeys::KeyPair::from_public_key(&typed.iss)
        .and_then(|issuer| issuer.verify(signed.as_bytes(), &signature));
    if verified.is_err() {
        return Err(JwtError::Signature(typed.iss));
    }
    if typed.nats.kind != kind {
        return Err(JwtError::Type {
            expected: kind,
            found: typed.nats.kind,
        });
    }
    serde_json::from_slice(&claims_json).map_err(|e| JwtError::Malformed(e.to_string()))
}
