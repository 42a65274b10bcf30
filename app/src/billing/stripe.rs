//! The payment provider's webhook signature, as Stripe defines it: the header
//! `Stripe-Signature: t=<unix time>,v1=<hex>[,v1=<hex>…]`, where each `v1` is
//! HMAC-SHA256 keyed by the endpoint secret (the whole `whsec_…` string) over
//! `"<t>.<raw body>"`. Several `v1` values arrive while a secret is being rolled; any
//! one matching is enough. A timestamp further than the tolerance from now is refused,
//! so a captured request cannot be replayed later.

use crate::crypto::{constant_time_eq, hex, hmac_sha256};

/// How far a signature's timestamp may be from now (Stripe's default).
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureError {
    /// No header, or no `t=` or `v1=` in it.
    Malformed,
    /// Signed too long ago (or in the future): a replay.
    Stale,
    /// No `v1` matches.
    Mismatch,
}

/// The `v1` signature of `body` sent at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    hex(&hmac_sha256(secret.as_bytes(), &signed))
}

/// A whole `Stripe-Signature` header, as a sender would write it.
pub fn header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", sign(secret, timestamp, body))
}

/// Checks a `Stripe-Signature` header over the raw `body` at `now` (unix seconds).
pub fn verify(
    secret: &str,
    header: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Malformed)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.push(s.to_ascii_lowercase()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    let expected = sign(secret, timestamp, body);
    if signatures
        .iter()
        .any(|s| constant_time_eq(s.as_bytes(), expected.as_bytes()))
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_test_webhook","object":"event"}"#;
    const T: i64 = 1_492_774_577;
    /// Computed independently: Python's hmac.new(b"whsec_test_secret",
    /// b'1492774577.{"id":"evt_test_webhook","object":"event"}', sha256).
    const V1: &str = "88a022085c6bdb887b02cb26ff76dd681234d9675c0f22844059f55552a8883a";

    #[test]
    fn a_signature_made_elsewhere_verifies() {
        assert_eq!(sign(SECRET, T, BODY), V1);
        let header = format!("t={T},v1={V1}");
        assert_eq!(verify(SECRET, Some(&header), BODY, T + 10), Ok(()));
    }

    #[test]
    fn any_one_of_several_v1_signatures_will_do_and_v0_is_ignored() {
        let header = format!("t={T},v1=00ff,v0=deadbeef,v1={V1}");
        assert_eq!(verify(SECRET, Some(&header), BODY, T), Ok(()));
    }

    #[test]
    fn tampering_staleness_and_garbage_are_refused() {
        let header = format!("t={T},v1={V1}");
        assert_eq!(
            verify(SECRET, Some(&header), b"{}", T),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("whsec_other", Some(&header), BODY, T),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, Some(&header), BODY, T + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, Some(&header), BODY, T - 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, None, BODY, T),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(SECRET, Some("t=abc,v1=00"), BODY, T),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(SECRET, Some(&format!("t={T}")), BODY, T),
            Err(SignatureError::Malformed)
        );
    }
}
