//! The cryptography behind `jsonwebtoken`: Ed25519 on ring, and nothing else.
//!
//! `jsonwebtoken` is built without a crypto backend; [`install`] gives it this provider, which
//! signs and verifies EdDSA only. Every other algorithm fails with `InvalidAlgorithm` at the
//! crypto layer too (RFC 8725 §3.1: accept only the algorithms in use), and the functions carry
//! one crypto library (ring, also under rustls) instead of `jsonwebtoken`'s own backend.
//! [`crate::auth`] installs it before it builds a signer or a verifier, so no token is ever
//! handled without it.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

/// The EdDSA-only provider.
pub static EDDSA_ONLY: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(ErrorKind::InvalidAlgorithm.into()),
        rsa_pub_components_from_public_key: |_| Err(ErrorKind::InvalidAlgorithm.into()),
        ec_pub_components_from_private_key: |_, _| Err(ErrorKind::InvalidAlgorithm.into()),
        ed_pub_components_from_private_key,
        compute_digest,
    },
};

/// Makes [`EDDSA_ONLY`] the process's `jsonwebtoken` provider. Idempotent; call it before the
/// first token is signed or verified.
pub fn install() {
    // Err means a provider is installed already: this one, as nothing else installs one.
    let _ = EDDSA_ONLY.install_default();
}

fn new_signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    if *alg != Algorithm::EdDSA {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    if key.family() != AlgorithmFamily::Ed {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(key.as_bytes())
        .map_err(|_| Error::from(ErrorKind::InvalidEddsaKey))?;
    Ok(Box::new(EdDsaSigner(pair)))
}

fn new_verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    if *alg != Algorithm::EdDSA {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    if key.family() != AlgorithmFamily::Ed {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    Ok(Box::new(EdDsaVerifier(key.try_get_as_bytes()?.to_vec())))
}

fn ed_pub_components_from_private_key(
    pkcs8: &[u8],
    curve: &EllipticCurve,
) -> Result<Vec<u8>, Error> {
    if *curve != EllipticCurve::Ed25519 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
        .map_err(|_| Error::from(ErrorKind::InvalidEddsaKey))?;
    Ok(pair.public_key().as_ref().to_vec())
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>, Error> {
    let alg = match hash {
        ThumbprintHash::SHA256 => &ring::digest::SHA256,
        ThumbprintHash::SHA384 => &ring::digest::SHA384,
        ThumbprintHash::SHA512 => &ring::digest::SHA512,
        _ => return Err(ErrorKind::InvalidAlgorithm.into()),
    };
    Ok(ring::digest::digest(alg, data).as_ref().to_vec())
}

struct EdDsaSigner(Ed25519KeyPair);

impl Signer<Vec<u8>> for EdDsaSigner {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(self.0.sign(msg).as_ref().to_vec())
    }
}

impl JwtSigner for EdDsaSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

/// The raw 32-byte public key.
struct EdDsaVerifier(Vec<u8>);

impl Verifier<Vec<u8>> for EdDsaVerifier {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> Result<(), signature::Error> {
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(msg, sig)
            .map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for EdDsaVerifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::keys::{DEV_ONLY_SIGNING_KEY_PKCS8_B64, SigningKey};
    use jsonwebtoken::{Header, Validation};

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Claims {
        sub: String,
        exp: u64,
    }

    fn claims() -> Claims {
        Claims {
            sub: "7".into(),
            exp: 4_102_444_800,
        }
    }

    #[test]
    fn signs_and_verifies_eddsa_with_v1_and_v2_keys() {
        install();
        let v1 = SigningKey::from_pkcs8_base64("dev", DEV_ONLY_SIGNING_KEY_PKCS8_B64).unwrap();
        let v2 = SigningKey::generate("new").unwrap();
        for key in [v1, v2] {
            let token = jsonwebtoken::encode(
                &Header::new(Algorithm::EdDSA),
                &claims(),
                &EncodingKey::from_ed_der(key.pkcs8()),
            )
            .unwrap();
            let public = DecodingKey::from_ed_components(&key.public_jwk().x).unwrap();
            let got =
                jsonwebtoken::decode::<Claims>(&token, &public, &Validation::new(Algorithm::EdDSA))
                    .unwrap();
            assert_eq!(got.claims, claims());
            // One flipped bit in the signature is refused.
            let mut bytes = token.into_bytes();
            let last = bytes.len() - 2;
            bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
            let forged = String::from_utf8(bytes).unwrap();
            let err = jsonwebtoken::decode::<Claims>(
                &forged,
                &public,
                &Validation::new(Algorithm::EdDSA),
            )
            .unwrap_err();
            assert_eq!(err.kind(), &ErrorKind::InvalidSignature);
        }
    }

    #[test]
    fn every_other_algorithm_is_an_error_not_a_panic() {
        install();
        let secret = EncodingKey::from_secret(b"a shared secret of some length");
        for alg in [
            Algorithm::HS256,
            Algorithm::HS384,
            Algorithm::HS512,
            Algorithm::RS256,
            Algorithm::PS256,
            Algorithm::ES256,
            Algorithm::ES384,
        ] {
            let err = jsonwebtoken::encode(&Header::new(alg), &claims(), &secret).unwrap_err();
            assert!(
                matches!(
                    err.kind(),
                    ErrorKind::InvalidAlgorithm | ErrorKind::InvalidKeyFormat
                ),
                "{alg:?}: {err:?}"
            );
        }
        // An EdDSA key named for another algorithm, and an HMAC key named EdDSA.
        let key = SigningKey::generate("k").unwrap();
        let ed = EncodingKey::from_ed_der(key.pkcs8());
        assert!(jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims(), &ed).is_err());
        assert!(jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims(), &secret).is_err());
        let verify = jsonwebtoken::crypto::verify(
            "c2ln",
            b"header.payload",
            &DecodingKey::from_secret(b"a shared secret of some length"),
            Algorithm::HS256,
        );
        assert!(verify.is_err());
    }

    #[test]
    fn jwk_helpers_use_ring() {
        let key = SigningKey::generate("k").unwrap();
        let x = ed_pub_components_from_private_key(key.pkcs8(), &EllipticCurve::Ed25519).unwrap();
        assert_eq!(
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, x),
            key.public_jwk().x
        );
        assert!(ed_pub_components_from_private_key(key.pkcs8(), &EllipticCurve::P256).is_err());
        // SHA-256 of "abc" (FIPS 180-2 appendix B.1).
        assert_eq!(
            compute_digest(b"abc", ThumbprintHash::SHA256).unwrap()[..4],
            [0xba, 0x78, 0x16, 0xbf]
        );
    }
}
