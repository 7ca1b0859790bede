//! Bearer token verification: ES256 and RS256 JWTs against a configured
//! JWKS, with the RustCrypto `p256` and `rsa` crates (no hand-written
//! crypto).
//!
//! Refused: any `alg` other than ES256 and RS256 (so `none` and every HS*
//! algorithm, which would let a public key be used as an HMAC secret), a
//! missing `kid` or one matching no configured key, a key whose type does
//! not match the algorithm, a bad signature, a wrong issuer or audience, a
//! token past `exp` or before `nbf` (with a small clock-skew leeway), a
//! token with no `exp`, and anything oversized or malformed. Errors never
//! carry token content.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Largest token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: i64 = 60;

/// Why a token was refused (the caller gets 401 whatever it is).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no bearer token")]
    Missing,
    #[error("token is malformed")]
    Malformed,
    #[error("algorithm not accepted")]
    Algorithm,
    #[error("no configured key matches `kid`")]
    UnknownKey,
    #[error("signature does not verify")]
    Signature,
    #[error("issuer not accepted")]
    Issuer,
    #[error("audience not accepted")]
    Audience,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
}

/// Problems with a configured JWKS (a configuration error: the edge
/// refuses to start serving).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("JWKS is not valid JSON with a `keys` array")]
    Shape,
    #[error("key `/keys/{index}` is not a usable ES256 (P-256) or RS256 (RSA, 2048 bits or more) public key")]
    Key { index: usize },
}

#[derive(Clone)]
enum KeyMaterial {
    Es256(p256::ecdsa::VerifyingKey),
    Rs256(Box<rsa::pkcs1v15::VerifyingKey<sha2::Sha256>>),
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Es256(_) => "Es256",
            Self::Rs256(_) => "Rs256",
        })
    }
}

/// One public key, by `kid`.
#[derive(Debug, Clone)]
pub struct Key {
    pub kid: String,
    material: KeyMaterial,
}

/// The keys tokens may be signed with.
#[derive(Debug, Clone, Default)]
pub struct Jwks {
    keys: Vec<Key>,
}

#[derive(Deserialize)]
struct JwkIn {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

fn b64(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

impl Jwks {
    /// Reads a JWKS (`{"keys": [...]}`). Every key needs a `kid`; private
    /// parts, if present, are ignored.
    pub fn from_json(bytes: &[u8]) -> Result<Self, JwksError> {
        #[derive(Deserialize)]
        struct Set {
            keys: Vec<Value>,
        }
        let set: Set = serde_json::from_slice(bytes).map_err(|_| JwksError::Shape)?;
        let mut keys = Vec::new();
        for (index, v) in set.keys.into_iter().enumerate() {
            let jwk: JwkIn = serde_json::from_value(v).map_err(|_| JwksError::Key { index })?;
            keys.push(Key::from_jwk(&jwk).ok_or(JwksError::Key { index })?);
        }
        Ok(Self { keys })
    }

    /// Adds the keys of another set (e.g. the demo key when the demo is on).
    pub fn extend(&mut self, other: Jwks) {
        self.keys.extend(other.keys);
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn find(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

impl Key {
    fn from_jwk(jwk: &JwkIn) -> Option<Self> {
        let kid = jwk.kid.clone().filter(|k| !k.is_empty())?;
        let material = match (jwk.kty.as_str(), jwk.alg.as_deref()) {
            ("EC", None | Some("ES256")) => {
                if jwk.crv.as_deref() != Some("P-256") {
                    return None;
                }
                let x: [u8; 32] = b64(jwk.x.as_deref()?)?.try_into().ok()?;
                let y: [u8; 32] = b64(jwk.y.as_deref()?)?.try_into().ok()?;
                let point = p256::EncodedPoint::from_affine_coordinates(
                    &p256::FieldBytes::from(x),
                    &p256::FieldBytes::from(y),
                    false,
                );
                KeyMaterial::Es256(p256::ecdsa::VerifyingKey::from_encoded_point(&point).ok()?)
            }
            ("RSA", None | Some("RS256")) => {
                let n = rsa::BigUint::from_bytes_be(&b64(jwk.n.as_deref()?)?);
                let e = rsa::BigUint::from_bytes_be(&b64(jwk.e.as_deref()?)?);
                let key = rsa::RsaPublicKey::new(n, e).ok()?;
                if rsa::traits::PublicKeyParts::size(&key) < 256 {
                    return None;
                }
                KeyMaterial::Rs256(Box::new(rsa::pkcs1v15::VerifyingKey::new(key)))
            }
            _ => return None,
        };
        Some(Self { kid, material })
    }
}

/// What a verified token must say about itself.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    /// Seconds since the Unix epoch.
    pub now: i64,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

/// Verifies a compact JWS and returns its claims.
pub fn verify(
    token: &str,
    jwks: &Jwks,
    expect: &Expectations<'_>,
) -> Result<Map<String, Value>, TokenError> {
    if token.is_empty() {
        return Err(TokenError::Missing);
    }
    if token.len() > MAX_TOKEN_BYTES || !token.is_ascii() {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header: Header = b64(h)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed)?;
    if header.alg != "ES256" && header.alg != "RS256" {
        return Err(TokenError::Algorithm);
    }
    let key = header
        .kid
        .as_deref()
        .and_then(|kid| jwks.find(kid))
        .ok_or(TokenError::UnknownKey)?;
    let signed = token
        .get(..h.len() + 1 + p.len())
        .ok_or(TokenError::Malformed)?
        .as_bytes();
    let sig = b64(s).ok_or(TokenError::Malformed)?;
    match (&key.material, header.alg.as_str()) {
        (KeyMaterial::Es256(vk), "ES256") => {
            let sig =
                p256::ecdsa::Signature::from_slice(&sig).map_err(|_| TokenError::Signature)?;
            vk.verify(signed, &sig).map_err(|_| TokenError::Signature)?;
        }
        (KeyMaterial::Rs256(vk), "RS256") => {
            let sig = rsa::pkcs1v15::Signature::try_from(sig.as_slice())
                .map_err(|_| TokenError::Signature)?;
            vk.verify(signed, &sig).map_err(|_| TokenError::Signature)?;
        }
        _ => return Err(TokenError::Algorithm),
    }
    let claims: Map<String, Value> = b64(p)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed)?;
    if claims.get("iss").and_then(Value::as_str) != Some(expect.issuer) {
        return Err(TokenError::Issuer);
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == expect.audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(expect.audience)),
        _ => false,
    };
    if !aud_ok {
        return Err(TokenError::Audience);
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(TokenError::Expired)?;
    if expect.now >= exp.saturating_add(LEEWAY_SECONDS) {
        return Err(TokenError::Expired);
    }
    match claims.get("nbf") {
        None => {}
        Some(v) => {
            let nbf = v.as_i64().ok_or(TokenError::Malformed)?;
            if expect.now.saturating_add(LEEWAY_SECONDS) < nbf {
                return Err(TokenError::NotYetValid);
            }
        }
    }
    Ok(claims)
}

/// Signs claims as an ES256 JWS. Used only by the demo login (the demo
/// key) and by tests.
pub fn sign_es256(claims: &Value, kid: &str, key: &p256::ecdsa::SigningKey) -> String {
    use p256::ecdsa::signature::Signer as _;
    let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": kid});
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let p = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{h}.{p}");
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

/// The public JWK of a P-256 signing key.
pub fn es256_public_jwk(key: &p256::ecdsa::SigningKey, kid: &str) -> Value {
    let point = key.verifying_key().to_encoded_point(false);
    let x = point
        .x()
        .map(|x| URL_SAFE_NO_PAD.encode(x))
        .unwrap_or_default();
    let y = point
        .y()
        .map(|y| URL_SAFE_NO_PAD.encode(y))
        .unwrap_or_default();
    serde_json::json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid, "x": x, "y": y})
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_790_000_000;

    fn ec_key(seed: u8) -> p256::ecdsa::SigningKey {
        p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap()
    }

    fn jwks_of(keys: &[Value]) -> Jwks {
        Jwks::from_json(json!({"keys": keys}).to_string().as_bytes()).unwrap()
    }

    fn claims() -> Value {
        json!({"iss": "https://idp.test", "aud": "tiergate", "sub": "u1", "exp": NOW + 300, "nbf": NOW - 10})
    }

    fn expect() -> Expectations<'static> {
        Expectations {
            issuer: "https://idp.test",
            audience: "tiergate",
            now: NOW,
        }
    }

    #[test]
    fn es256_round_trip() {
        let k = ec_key(7);
        let jwks = jwks_of(&[es256_public_jwk(&k, "k1")]);
        let t = sign_es256(&claims(), "k1", &k);
        let c = verify(&t, &jwks, &expect()).unwrap();
        assert_eq!(c["sub"], "u1");
    }

    #[test]
    fn forged_signature_is_refused() {
        let k = ec_key(7);
        let other = ec_key(9);
        let jwks = jwks_of(&[es256_public_jwk(&k, "k1")]);
        let t = sign_es256(&claims(), "k1", &other);
        assert_eq!(verify(&t, &jwks, &expect()), Err(TokenError::Signature));
        // Tampered payload.
        let good = sign_es256(&claims(), "k1", &k);
        let mut parts: Vec<&str> = good.split('.').collect();
        let evil = URL_SAFE_NO_PAD.encode(
            json!({"iss": "https://idp.test", "aud": "tiergate", "sub": "admin", "exp": NOW + 300})
                .to_string(),
        );
        parts[1] = &evil;
        assert_eq!(
            verify(&parts.join("."), &jwks, &expect()),
            Err(TokenError::Signature)
        );
    }

    #[test]
    fn claims_are_checked() {
        let k = ec_key(7);
        let jwks = jwks_of(&[es256_public_jwk(&k, "k1")]);
        let with = |patch: Value| {
            let mut c = claims();
            for (key, v) in patch.as_object().unwrap() {
                if v.is_null() {
                    c.as_object_mut().unwrap().remove(key);
                } else {
                    c[key] = v.clone();
                }
            }
            verify(&sign_es256(&c, "k1", &k), &jwks, &expect())
        };
        assert_eq!(
            with(json!({"iss": "https://evil.test"})),
            Err(TokenError::Issuer)
        );
        assert_eq!(with(json!({"iss": null})), Err(TokenError::Issuer));
        assert_eq!(with(json!({"aud": "other"})), Err(TokenError::Audience));
        assert_eq!(with(json!({"aud": null})), Err(TokenError::Audience));
        assert!(with(json!({"aud": ["other", "tiergate"]})).is_ok());
        assert_eq!(with(json!({"exp": NOW - 61})), Err(TokenError::Expired));
        assert!(with(json!({"exp": NOW - 30})).is_ok());
        assert_eq!(with(json!({"exp": null})), Err(TokenError::Expired));
        assert_eq!(with(json!({"exp": "soon"})), Err(TokenError::Expired));
        assert_eq!(
            with(json!({"nbf": NOW + 120})),
            Err(TokenError::NotYetValid)
        );
        assert_eq!(with(json!({"nbf": "x"})), Err(TokenError::Malformed));
    }

    #[test]
    fn alg_none_and_hmac_are_refused() {
        let k = ec_key(7);
        let jwks = jwks_of(&[es256_public_jwk(&k, "k1")]);
        let p = URL_SAFE_NO_PAD.encode(claims().to_string());
        for alg in ["none", "None", "HS256", "HS384", "HS512", "ES384", "PS256"] {
            let h = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": "k1"}).to_string());
            for sig in ["", "c2ln"] {
                let t = format!("{h}.{p}.{sig}");
                assert_eq!(
                    verify(&t, &jwks, &expect()),
                    Err(TokenError::Algorithm),
                    "{alg}"
                );
            }
        }
    }

    #[test]
    fn kid_must_match_a_key_of_the_right_type() {
        let k = ec_key(7);
        let jwks = jwks_of(&[es256_public_jwk(&k, "k1")]);
        assert_eq!(
            verify(&sign_es256(&claims(), "k2", &k), &jwks, &expect()),
            Err(TokenError::UnknownKey)
        );
        // No kid at all.
        let h = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256"}).to_string());
        let p = URL_SAFE_NO_PAD.encode(claims().to_string());
        assert_eq!(
            verify(&format!("{h}.{p}.AAAA"), &jwks, &expect()),
            Err(TokenError::UnknownKey)
        );
        // RS256 header naming an EC key.
        let h = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "kid": "k1"}).to_string());
        assert_eq!(
            verify(&format!("{h}.{p}.AAAA"), &jwks, &expect()),
            Err(TokenError::Algorithm)
        );
    }

    #[test]
    fn malformed_tokens() {
        let jwks = jwks_of(&[es256_public_jwk(&ec_key(7), "k1")]);
        for t in [
            "",
            "a",
            "a.b",
            "a.b.c.d",
            "!!.??.##",
            &"a".repeat(MAX_TOKEN_BYTES + 1),
            "é.é.é",
        ] {
            assert!(verify(t, &jwks, &expect()).is_err(), "{t}");
        }
    }

    #[test]
    fn rs256_round_trip() {
        use rsa::pkcs1v15::SigningKey;
        use rsa::signature::{SignatureEncoding, Signer};
        use rsa::traits::PublicKeyParts;
        let pem = include_str!("../tests/keys/test-only-rsa.pem");
        let private =
            <rsa::RsaPrivateKey as rsa::pkcs8::DecodePrivateKey>::from_pkcs8_pem(pem).unwrap();
        let public = private.to_public_key();
        let jwk = json!({"kty": "RSA", "kid": "r1", "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be())});
        let jwks = jwks_of(&[jwk, es256_public_jwk(&ec_key(7), "k1")]);
        let h = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "kid": "r1"}).to_string());
        let p = URL_SAFE_NO_PAD.encode(claims().to_string());
        let input = format!("{h}.{p}");
        let sig = SigningKey::<sha2::Sha256>::new(private).sign(input.as_bytes());
        let t = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()));
        assert!(verify(&t, &jwks, &expect()).is_ok());
        // ES256 header on an RSA key.
        let h2 = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "kid": "r1"}).to_string());
        assert_eq!(
            verify(
                &format!("{h2}.{p}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes())),
                &jwks,
                &expect()
            ),
            Err(TokenError::Algorithm)
        );
        // Tampered.
        let bad = format!(
            "{h}.{}.{}",
            URL_SAFE_NO_PAD.encode(b"{}"),
            URL_SAFE_NO_PAD.encode(sig.to_bytes())
        );
        assert_eq!(verify(&bad, &jwks, &expect()), Err(TokenError::Signature));
    }

    #[test]
    fn bad_jwks() {
        assert_eq!(Jwks::from_json(b"[]").unwrap_err(), JwksError::Shape);
        assert_eq!(
            Jwks::from_json(br#"{"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}]}"#)
                .unwrap_err(),
            JwksError::Key { index: 0 }
        );
        let mut jwk = es256_public_jwk(&ec_key(7), "k1");
        jwk.as_object_mut().unwrap().remove("kid");
        assert!(Jwks::from_json(json!({"keys": [jwk]}).to_string().as_bytes()).is_err());
        let mut jwk = es256_public_jwk(&ec_key(7), "k1");
        jwk["x"] = json!("AAAA");
        assert!(Jwks::from_json(json!({"keys": [jwk]}).to_string().as_bytes()).is_err());
    }
}
