//! Standard Webhooks (standardwebhooks.com, v1): the signature scheme of our inbound
//! email events, and of every webhook we send.
//!
//! The secret is `whsec_` followed by base64 of the key bytes, and the HMAC is keyed
//! with those decoded bytes. Keying it with the literal string, as we once did, is
//! what no real sender does, so none of their signatures would verify.

use crate::crypto::{constant_time_eq, hmac_sha256};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Events older or newer than this are refused (replays).
pub const TOLERANCE_SECONDS: i64 = 300;

/// The prefix the specification gives secrets, so they are recognisable in a config.
const PREFIX: &str = "whsec_";

/// A decoded signing key.
#[derive(Clone)]
pub struct WebhookKey(Vec<u8>);

impl WebhookKey {
    /// Reads `whsec_<base64>`. The prefix may be left off, as the reference libraries
    /// allow. A key must be 24 to 64 bytes, the range the specification recommends.
    pub fn parse(secret: &str) -> Result<WebhookKey, String> {
        let encoded = secret.trim();
        let encoded = encoded.strip_prefix(PREFIX).unwrap_or(encoded);
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| format!("a webhook secret is {PREFIX} followed by base64"))?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(format!(
                "a webhook secret holds 24 to 64 bytes, this one {}",
                bytes.len()
            ));
        }
        Ok(WebhookKey(bytes))
    }

    /// A fresh random key, for a new endpoint.
    pub fn generate() -> WebhookKey {
        WebhookKey(crate::crypto::random_bytes::<32>().to_vec())
    }

    /// The `whsec_` form to show once to whoever receives our webhooks.
    pub fn secret(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// The `webhook-signature` value for one delivery: `v1,<base64 HMAC-SHA256 of
    /// id.timestamp.body>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(id, timestamp, body)))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
        let mut signed = format!("{id}.{timestamp}.").into_bytes();
        signed.extend_from_slice(body);
        hmac_sha256(&self.0, &signed)
    }

    /// Checks a delivery: a timestamp within [`TOLERANCE_SECONDS`] of `now`, and any
    /// of the space-separated signatures (several during a key rotation) a `v1` MAC
    /// of this id, timestamp and body. Other versions are ignored.
    pub fn verify(
        &self,
        id: &str,
        timestamp: &str,
        body: &[u8],
        signatures: &str,
        now: i64,
    ) -> Result<(), &'static str> {
        let ts: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| "bad webhook-timestamp")?;
        if now.abs_diff(ts) > TOLERANCE_SECONDS.unsigned_abs() {
            return Err("webhook-timestamp outside the tolerance");
        }
        let expected = STANDARD.encode(self.mac(id, ts, body));
        let ok = signatures.split(' ').any(|s| {
            s.strip_prefix("v1,")
                .is_some_and(|sig| constant_time_eq(sig.as_bytes(), expected.as_bytes()))
        });
        if ok {
            Ok(())
        } else {
            Err("signature does not match")
        }
    }
}

impl std::fmt::Debug for WebhookKey {
    // The key stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the specification's README and its reference libraries.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_published_test_vector() {
        let key = WebhookKey::parse(SECRET).unwrap();
        assert_eq!(key.sign(ID, TIMESTAMP, BODY), SIGNATURE);
        // The prefix is optional.
        let bare = WebhookKey::parse(SECRET.trim_start_matches(PREFIX)).unwrap();
        assert_eq!(bare.sign(ID, TIMESTAMP, BODY), SIGNATURE);
    }

    #[test]
    fn verifies_the_published_test_vector_and_refuses_changes() {
        let key = WebhookKey::parse(SECRET).unwrap();
        let ts = TIMESTAMP.to_string();
        assert_eq!(key.verify(ID, &ts, BODY, SIGNATURE, TIMESTAMP + 10), Ok(()));
        // Rotation: any one of several signatures.
        let several = format!("v1,bm9wZQ== v1a,xyz {SIGNATURE}");
        assert_eq!(key.verify(ID, &ts, BODY, &several, TIMESTAMP), Ok(()));
        assert!(key
            .verify("msg_other", &ts, BODY, SIGNATURE, TIMESTAMP)
            .is_err());
        assert!(key
            .verify(ID, &ts, br#"{"test": 2432232315}"#, SIGNATURE, TIMESTAMP)
            .is_err());
        assert!(key
            .verify(ID, &ts, BODY, SIGNATURE, TIMESTAMP + TOLERANCE_SECONDS + 1)
            .is_err());
        assert!(key
            .verify(ID, &ts, BODY, SIGNATURE, TIMESTAMP - TOLERANCE_SECONDS - 1)
            .is_err());
        assert!(key.verify(ID, "soon", BODY, SIGNATURE, TIMESTAMP).is_err());
        // The literal secret string as the key is what we must not accept.
        let literal = STANDARD.encode(hmac_sha256(
            SECRET.as_bytes(),
            format!("{ID}.{TIMESTAMP}.{}", std::str::from_utf8(BODY).unwrap()).as_bytes(),
        ));
        assert!(key
            .verify(ID, &ts, BODY, &format!("v1,{literal}"), TIMESTAMP)
            .is_err());
    }

    #[test]
    fn secrets_that_are_not_keys_are_refused() {
        assert!(WebhookKey::parse("leadline-local-email-webhook-secret").is_err());
        assert!(WebhookKey::parse("whsec_c2hvcnQ=").is_err());
        assert!(WebhookKey::parse("whsec_").is_err());
        let fresh = WebhookKey::generate();
        let again = WebhookKey::parse(&fresh.secret()).unwrap();
        assert_eq!(again.sign("a", 1, b"b"), fresh.sign("a", 1, b"b"));
    }

    #[test]
    fn extreme_timestamps_do_not_overflow() {
        let key = WebhookKey::parse(SECRET).unwrap();
        assert!(key
            .verify(ID, &i64::MIN.to_string(), BODY, SIGNATURE, i64::MAX)
            .is_err());
    }
}
