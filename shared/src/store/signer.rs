//! SigV4 for the wire client's one request shape: `POST /` to DynamoDB with a JSON body and a
//! handful of headers, no query string.
//!
//! `aws-sigv4`'s general signer costs about 11 µs a request here, most of it building the
//! canonical request for any shape of request (and formatting it twice) and deriving the
//! day's signing key again each time. For this shape the canonical request is a few fixed
//! lines, and the key changes once a day (or with the credentials): it is derived by
//! `aws-sigv4` (`generate_signing_key`) and kept. A property test checks every signature
//! against `aws-sigv4`'s for the same request.

use aws_credential_types::Credentials;
use aws_sigv4::sign::v4;
use chrono::{DateTime, Datelike, Timelike, Utc};
use data_encoding::HEXLOWER;
use ring::{digest, hmac};
use std::fmt::Write;
use std::sync::Mutex;
use std::time::SystemTime;

/// The service name DynamoDB's signatures are scoped to.
const SERVICE: &str = "dynamodb";

/// Signs requests for DynamoDB in one region, keeping the day's signing key.
#[derive(Debug)]
pub(crate) struct Signer {
    region: String,
    key: Mutex<Option<DayKey>>,
}

/// A signing key, with what it was derived from (the secret by its SHA-256: no second copy).
struct DayKey {
    date: String,
    secret: digest::Digest,
    key: hmac::Key,
}

impl std::fmt::Debug for DayKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DayKey")
            .field("date", &self.date)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer for DynamoDB in `region`.
    pub(crate) fn new(region: &str) -> Self {
        Self {
            region: region.to_owned(),
            key: Mutex::new(None),
        }
    }

    /// The `x-amz-date` of a request sent at `at`.
    pub(crate) fn amz_date(at: SystemTime) -> String {
        let t: DateTime<Utc> = at.into();
        let mut out = String::with_capacity(16);
        // Infallible: writing to a String.
        let _ = write!(
            out,
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        out
    }

    /// The `Authorization` header of `POST /` sent at `at` with `headers` (every header sent,
    /// names in lower case, among them `x-amz-date`, [`Signer::amz_date`] of `at`, and the
    /// session token's when `credentials` have one) and `body`, signed with `credentials`.
    pub(crate) fn authorization<'a>(
        &self,
        credentials: &Credentials,
        at: SystemTime,
        headers: impl Iterator<Item = (&'a str, &'a str)>,
        body: &[u8],
    ) -> Result<String, &'static str> {
        let mut headers: Vec<(&str, &str)> = headers.collect();
        headers.sort_unstable_by_key(|(name, _)| *name);
        if headers.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return Err("a header is repeated");
        }
        let amz_date = Self::amz_date(at);
        if !headers.contains(&("x-amz-date", amz_date.as_str())) {
            return Err("the request's x-amz-date is not the signing time");
        }
        let date = &amz_date[..8];

        // The canonical request (method, path, query, headers, signed headers, payload hash).
        let mut canonical = String::with_capacity(512);
        canonical.push_str("POST\n/\n\n");
        let mut signed = String::with_capacity(80);
        for (name, value) in &headers {
            canonical.push_str(name);
            canonical.push(':');
            push_trimmed(&mut canonical, value);
            canonical.push('\n');
            if !signed.is_empty() {
                signed.push(';');
            }
            signed.push_str(name);
        }
        canonical.push('\n');
        canonical.push_str(&signed);
        canonical.push('\n');
        canonical.push_str(&hex_sha256(body));

        let scope = format!("{date}/{}/{SERVICE}/aws4_request", self.region);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex_sha256(canonical.as_bytes())
        );
        let key = self.key(credentials.secret_access_key(), date, at)?;
        let signature = HEXLOWER.encode(hmac::sign(&key, string_to_sign.as_bytes()).as_ref());
        Ok(format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            credentials.access_key_id()
        ))
    }
}

impl Signer {
    /// The signing key for `secret` on `date` (`YYYYMMDD` of `at`): the one kept, or derived
    /// by `aws-sigv4` and kept.
    fn key(&self, secret: &str, date: &str, at: SystemTime) -> Result<hmac::Key, &'static str> {
        let fingerprint = digest::digest(&digest::SHA256, secret.as_bytes());
        let mut kept = self.key.lock().map_err(|_| "the signing key is poisoned")?;
        if let Some(k) = kept.as_ref()
            && k.date == date
            && k.secret.as_ref() == fingerprint.as_ref()
        {
            return Ok(k.key.clone());
        }
        let derived = v4::generate_signing_key(secret, at, &self.region, SERVICE);
        let key = hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref());
        *kept = Some(DayKey {
            date: date.to_owned(),
            secret: fingerprint,
            key: key.clone(),
        });
        Ok(key)
    }
}

/// `value` without leading and trailing spaces and with runs of spaces inside made one, as
/// SigV4 canonicalises header values.
fn push_trimmed(out: &mut String, value: &str) {
    let mut space = false;
    for c in value.trim_matches(' ').chars() {
        if c == ' ' {
            space = true;
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    HEXLOWER.encode(digest::digest(&digest::SHA256, bytes).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_smithy_runtime_api::client::identity::Identity;
    use proptest::prelude::*;
    use std::time::Duration;

    /// `aws-sigv4`'s `Authorization` for the same request.
    fn reference(
        credentials: &Credentials,
        region: &str,
        at: SystemTime,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> String {
        let signable = SignableRequest::new(
            "POST",
            "https://dynamodb.example.com/",
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .expect("signable");
        let identity: Identity = credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(SERVICE)
            .time(at)
            .settings(SigningSettings::default())
            .build()
            .expect("params")
            .into();
        let (instructions, _) = sign(signable, &params).expect("signed").into_parts();
        let (headers, _) = instructions.into_parts();
        headers
            .into_iter()
            .find(|h| h.name() == "authorization")
            .map(|h| h.value().to_owned())
            .expect("an authorization header")
    }

    proptest! {
        /// Every request shape the wire client sends is signed as `aws-sigv4` signs it:
        /// any body, operation, region, host, time, and credentials with or without a
        /// session token, the same signer across days and credentials.
        #[test]
        fn signatures_are_aws_sigv4s(
            requests in prop::collection::vec(
                (
                    prop::collection::vec(any::<u8>(), 0..300),
                    "[A-Za-z]{1,20}",
                    prop::option::of("[A-Za-z0-9/+=]{1,80}"),
                    "[a-z0-9/+]{16,40}",
                    0u64..4_000_000_000,
                    "[a-z0-9.-]{1,30}(:[0-9]{1,5})?",
                ),
                1..4,
            ),
            region in "[a-z]{2}-[a-z]{4,9}-[1-9]",
        ) {
            let signer = Signer::new(&region);
            for (body, op, token, secret, seconds, host) in requests {
                let at = SystemTime::UNIX_EPOCH + Duration::from_secs(seconds);
                let credentials = Credentials::new("AKIDEXAMPLE", secret, token.clone(), None, "t");
                let target = format!("DynamoDB_20120810.{op}");
                let mut headers = vec![
                    ("host", host.as_str()),
                    ("content-type", "application/x-amz-json-1.0"),
                    ("x-amz-target", target.as_str()),
                ];
                let expected = reference(&credentials, &region, at, &headers, &body);
                let amz_date = Signer::amz_date(at);
                headers.push(("x-amz-date", &amz_date));
                if let Some(token) = token.as_deref() {
                    headers.push(("x-amz-security-token", token));
                }
                let ours = signer
                    .authorization(&credentials, at, headers.into_iter(), &body)
                    .expect("signed");
                prop_assert_eq!(ours, expected);
            }
        }
    }

    #[test]
    fn header_values_are_trimmed_as_sigv4_trims_them() {
        let mut out = String::new();
        push_trimmed(&mut out, "  a   b c  ");
        assert_eq!(out, "a b c");
    }

    /// A header given twice is refused, not signed as two.
    #[test]
    fn a_repeated_header_is_not_signed() {
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "t");
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_765_000_000);
        let date = Signer::amz_date(at);
        let headers = [("host", "a"), ("host", "b"), ("x-amz-date", date.as_str())];
        assert!(
            Signer::new("eu-west-1")
                .authorization(&credentials, at, headers.into_iter(), b"")
                .is_err()
        );
    }

    /// A request whose `x-amz-date` is missing or another time than the signature's is not
    /// signed.
    #[test]
    fn a_request_must_carry_its_signing_time() {
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "t");
        let signer = Signer::new("eu-west-1");
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_765_000_000);
        let other = Signer::amz_date(at + Duration::from_secs(1));
        for headers in [
            vec![("host", "h")],
            vec![("host", "h"), ("x-amz-date", &other)],
        ] {
            assert!(
                signer
                    .authorization(&credentials, at, headers.into_iter(), b"")
                    .is_err()
            );
        }
    }
}
