//! Password hashing, random tokens and digests.

use crate::db::internal;
use crate::error::AppError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};

fn argon2() -> Argon2<'static> {
    // OWASP's argon2id baseline: m=19 MiB, t=2, p=1.
    let params = Params::new(19_456, 2, 1, None).expect("static argon2 params are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes on the blocking pool: ~50 ms of CPU would stall the async workers.
pub async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&random_bytes::<16>()).map_err(internal)?;
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(internal)
    })
    .await
    .map_err(internal)?
}

pub async fn verify_password(password: String, hash: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(internal)?;
        Ok(argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(internal)?
}

/// A hash to verify against when the email is unknown, so a wrong email costs as much
/// time as a wrong password and does not reveal which accounts exist.
pub async fn burn_password_check(password: String) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = match DUMMY.get() {
        Some(h) => h.clone(),
        None => match hash_password("not-a-real-password".into()).await {
            Ok(h) => DUMMY.get_or_init(|| h).clone(),
            Err(_) => return,
        },
    };
    let _ = verify_password(password, hash).await;
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf).expect("the OS random source is available");
    buf
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A URL-safe secret token (256 bits).
pub fn token() -> String {
    hex(&random_bytes::<32>())
}

/// What the sessions table stores for a session id: its SHA-256, so a copy of the table
/// (a backup, a read replica) holds no cookie that signs anyone in. The id is 128
/// random bits, so a fast hash is enough.
pub fn session_key(id: &str) -> String {
    hex(&sha256(id.as_bytes()))
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// HMAC-SHA256, for webhook signatures and signed links.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    let mut mac =
        hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Compares two byte strings in time that depends on their length only (`subtle`).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// Decrypts a secret sealed before migration 0007 (`nonce ‖ ciphertext` under the raw
/// server key, no associated data); such values are sealed again by [`seal_field`] the
/// next time their row is saved.
fn open_legacy(key: &[u8; 32], sealed: &[u8]) -> Result<Vec<u8>, AppError> {
    use chacha20poly1305::aead::{Aead, KeyInit};
    if sealed.len() < 24 {
        return Err(internal("sealed secret too short"));
    }
    let (nonce, ciphertext) = sealed.split_at(24);
    chacha20poly1305::XChaCha20Poly1305::new(key.into())
        .decrypt(nonce.into(), ciphertext)
        .map_err(|_| {
            internal("a stored secret could not be decrypted (wrong LEADLINE_SECRET_KEY?)")
        })
}

/// A key for one purpose, derived from the server key with HKDF-SHA256 (RFC 5869), so
/// the key that encrypts secrets is never the key that signs links or hashes codes.
pub fn derive_key(master: &[u8; 32], purpose: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    hkdf::Hkdf::<Sha256>::new(Some(b"leadline"), master)
        .expand(purpose.as_bytes(), &mut out)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    out
}

/// Where a sealed secret is stored. It is bound into the ciphertext as associated
/// data, so a ciphertext copied into another row or column does not open.
pub struct SealedAt<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub row: uuid::Uuid,
}

impl SealedAt<'_> {
    fn aad(&self) -> Vec<u8> {
        format!("{}.{}.{}", self.table, self.column, self.row).into_bytes()
    }
}

/// The first byte of a [`seal_field`] ciphertext: which derived key sealed it. A new
/// server key gets a new version, so old ciphertexts stay readable while they are
/// re-sealed.
const SEAL_V1: u8 = 1;

/// Seals a secret for one column of one row: XChaCha20-Poly1305 under a key derived
/// for sealing, `version ‖ nonce ‖ ciphertext`.
pub fn seal_field(master: &[u8; 32], at: &SealedAt, plaintext: &[u8]) -> Vec<u8> {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    let key = derive_key(master, "seal v1");
    let cipher = chacha20poly1305::XChaCha20Poly1305::new((&key).into());
    let nonce = random_bytes::<24>();
    let aad = at.aad();
    let mut out = vec![SEAL_V1];
    out.extend_from_slice(&nonce);
    out.extend(
        cipher
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .expect("encryption of an in-memory buffer cannot fail"),
    );
    out
}

/// Opens what [`seal_field`] sealed for the same place.
pub fn open_field(master: &[u8; 32], at: &SealedAt, sealed: &[u8]) -> Result<Vec<u8>, AppError> {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    let Some((&SEAL_V1, rest)) = sealed.split_first() else {
        return Err(internal("sealed secret of an unknown version"));
    };
    if rest.len() < 24 {
        return Err(internal("sealed secret too short"));
    }
    let (nonce, ciphertext) = rest.split_at(24);
    let key = derive_key(master, "seal v1");
    let aad = at.aad();
    chacha20poly1305::XChaCha20Poly1305::new((&key).into())
        .decrypt(
            nonce.into(),
            Payload {
                msg: ciphertext,
                aad: &aad,
            },
        )
        .map_err(|_| {
            internal("a stored secret could not be decrypted (wrong LEADLINE_SECRET_KEY?)")
        })
}

/// Opens a secret stored at `at`: sealed by [`seal_field`], or in the format of before
/// 0007.
pub fn open_sealed(master: &[u8; 32], at: &SealedAt, sealed: &[u8]) -> Result<Vec<u8>, AppError> {
    open_field(master, at, sealed).or_else(|e| open_legacy(master, sealed).map_err(|_| e))
}

/// A keyed digest of a short secret (a recovery code): without the server key, a
/// stolen table gives nothing to guess offline against.
pub fn keyed_digest(master: &[u8; 32], purpose: &str, data: &[u8]) -> Vec<u8> {
    hmac_sha256(&derive_key(master, purpose), data).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How secrets were sealed before 0007, to check they still open.
    fn seal(key: &[u8; 32], plaintext: &[u8]) -> Vec<u8> {
        use chacha20poly1305::aead::{Aead, KeyInit};
        let cipher = chacha20poly1305::XChaCha20Poly1305::new(key.into());
        let nonce = random_bytes::<24>();
        let mut out = nonce.to_vec();
        out.extend(cipher.encrypt((&nonce).into(), plaintext).unwrap());
        out
    }

    #[tokio::test]
    async fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse".into(), hash.clone())
            .await
            .unwrap());
        assert!(!verify_password("wrong horse".into(), hash).await.unwrap());
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key() {
        let key = [7u8; 32];
        let sealed = seal(&key, b"smtp-password");
        assert_ne!(&sealed[24..], b"smtp-password");
        assert_eq!(open_legacy(&key, &sealed).unwrap(), b"smtp-password");
        assert!(open_legacy(&[8u8; 32], &sealed).is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(open_legacy(&key, &tampered).is_err());
        assert_ne!(seal(&key, b"x"), seal(&key, b"x"), "fresh nonce each time");
    }

    #[test]
    fn hkdf_matches_rfc_5869_case_1() {
        let ikm = [0x0bu8; 22];
        let salt: Vec<u8> = (0x00u8..=0x0c).collect();
        let info: Vec<u8> = (0xf0u8..=0xf9).collect();
        let mut okm = [0u8; 42];
        hkdf::Hkdf::<Sha256>::new(Some(&salt), &ikm)
            .expand(&info, &mut okm)
            .unwrap();
        assert_eq!(
            hex(&okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
        let master = [9u8; 32];
        assert_ne!(
            derive_key(&master, "seal v1"),
            derive_key(&master, "recovery codes")
        );
        assert_ne!(derive_key(&master, "seal v1"), master);
    }

    #[test]
    fn sealed_fields_open_only_in_their_place() {
        let key = [7u8; 32];
        let row = uuid::Uuid::from_u128(1);
        let at = SealedAt {
            table: "users",
            column: "totp_secret_sealed",
            row,
        };
        let sealed = seal_field(&key, &at, b"JBSWY3DPEHPK3PXP");
        assert_eq!(sealed[0], 1, "version byte");
        assert_eq!(open_field(&key, &at, &sealed).unwrap(), b"JBSWY3DPEHPK3PXP");
        let other_row = SealedAt {
            row: uuid::Uuid::from_u128(2),
            ..at
        };
        assert!(
            open_field(&key, &other_row, &sealed).is_err(),
            "another row"
        );
        let other_column = SealedAt {
            table: "users",
            column: "other",
            row,
        };
        assert!(
            open_field(&key, &other_column, &sealed).is_err(),
            "another column"
        );
        let at = SealedAt {
            table: "users",
            column: "totp_secret_sealed",
            row,
        };
        assert!(open_field(&[8u8; 32], &at, &sealed).is_err(), "another key");
        // The legacy format (no version byte, the raw key) is not accepted here, but
        // opens through open_sealed until its row is saved again.
        let legacy = seal(&key, b"x");
        assert!(open_field(&key, &at, &legacy[1..]).is_err());
        assert_eq!(open_sealed(&key, &at, &legacy).unwrap(), b"x");
        assert_eq!(
            open_sealed(&key, &at, &sealed).unwrap(),
            b"JBSWY3DPEHPK3PXP"
        );
        assert!(open_sealed(&key, &other_row, &sealed).is_err());
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let (a, b) = (token(), token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
