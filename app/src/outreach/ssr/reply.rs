//! Which of our emails a reply answers, told by the address it was sent to. Every
//! outgoing email's `Reply-To` is its mailbox with a `+` tag holding the message id and
//! a MAC of it (`sales+r-<id>-<mac>@acme.example`), so a reply is attributed only when
//! it reaches an address we made. The Message-ID in `In-Reply-To`/`References` still
//! threads the conversation in mail clients, but it is no proof: everyone who saw the
//! email, or a forward of it, knows it.

use crate::crypto::{constant_time_eq, derive_key, hmac_sha256};
use uuid::Uuid;

/// Bytes of HMAC-SHA256 kept: 80 bits, far beyond guessing one address at a time by
/// mail, and short enough that the tag (45 characters) leaves room in the 64-octet
/// local part of RFC 5321 for the mailbox's own name.
const MAC_BYTES: usize = 10;

/// RFC 4648 base32, lowercase: mail systems may change the case of a local part, and
/// these letters read back the same either way.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The bytes of `text`, if it is exactly what [`base32`] makes of them.
fn unbase32(text: &str) -> Option<Vec<u8>> {
    let text = text.to_ascii_lowercase();
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c)? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    (base32(&out) == text).then_some(out)
}

fn mac(secret_key: &[u8; 32], id: Uuid) -> [u8; MAC_BYTES] {
    let key = derive_key(secret_key, "reply token");
    let full = hmac_sha256(&key, id.as_bytes());
    let mut mac = [0u8; MAC_BYTES];
    mac.copy_from_slice(&full[..MAC_BYTES]);
    mac
}

/// The `Reply-To` address of message `id` sent from `mailbox` (`sales@acme.example`):
/// the mailbox's own name (without any tag of its own, as subaddressing delivers to
/// it) and `+r-<id>-<mac>`.
pub fn reply_address(secret_key: &[u8; 32], mailbox: &str, id: Uuid) -> String {
    let (local, domain) = mailbox.rsplit_once('@').unwrap_or((mailbox, ""));
    let name = local.split('+').next().unwrap_or(local);
    format!(
        "{name}+r-{}-{}@{domain}",
        base32(id.as_bytes()),
        base32(&mac(secret_key, id))
    )
}

/// The message a reply answers, from the addresses it was sent to (`to`, as a header
/// would have it: `a@x, Name <b@y>`), if one of them carries a tag whose MAC is ours.
pub fn replied_message(secret_key: &[u8; 32], to: &str) -> Option<Uuid> {
    to.split(',').find_map(|address| {
        let address = match (address.find('<'), address.rfind('>')) {
            (Some(start), Some(end)) if start < end => &address[start + 1..end],
            _ => address,
        };
        let (local, _) = address.trim().rsplit_once('@')?;
        let (_, tag) = local.split_once('+')?;
        let tag = tag.strip_prefix("r-").or_else(|| tag.strip_prefix("R-"))?;
        let (id, given) = tag.split_once('-')?;
        let id = Uuid::from_slice(&unbase32(id)?).ok()?;
        let given = unbase32(given)?;
        constant_time_eq(&mac(secret_key, id), &given).then_some(id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8; 32] = b"leadline-local-development-key!!";

    #[test]
    fn base32_follows_rfc_4648() {
        // RFC 4648 §10, lowercase and without padding.
        for (plain, encoded) in [
            ("", ""),
            ("f", "my"),
            ("fo", "mzxq"),
            ("foo", "mzxw6"),
            ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"),
            ("foobar", "mzxw6ytboi"),
        ] {
            assert_eq!(base32(plain.as_bytes()), encoded);
            assert_eq!(unbase32(encoded).as_deref(), Some(plain.as_bytes()));
            assert_eq!(
                unbase32(&encoded.to_uppercase()).as_deref(),
                Some(plain.as_bytes())
            );
        }
        // Only the canonical spelling: no stray trailing bits, no foreign letters.
        assert_eq!(unbase32("mz"), None);
        assert_eq!(unbase32("mzxw1"), None);
    }

    #[test]
    fn a_reply_address_names_its_message_and_nothing_else_does() {
        let id = Uuid::now_v7();
        let address = reply_address(KEY, "sales+team@acme.test", id);
        assert!(address.starts_with("sales+r-"), "{address}");
        assert!(address.ends_with("@acme.test"), "{address}");
        assert!(address.split('@').next().unwrap().len() <= 64);
        assert_eq!(replied_message(KEY, &address), Some(id));
        assert_eq!(
            replied_message(
                KEY,
                &format!("x@y.test, \"Acme\" <{}>", address.to_uppercase())
            ),
            Some(id)
        );
        // Another key, another message's id with this MAC, a changed MAC, no tag.
        assert_eq!(replied_message(&[7; 32], &address), None);
        let other = reply_address(KEY, "sales@acme.test", Uuid::now_v7());
        let (other_tag, _) = other.rsplit_once('-').unwrap();
        let (_, mac) = address.rsplit_once('-').unwrap();
        assert_eq!(replied_message(KEY, &format!("{other_tag}-{mac}")), None);
        let last = address.find('@').unwrap() - 1;
        let mut forged = address.clone();
        let flipped = if &address[last..=last] == "a" {
            "b"
        } else {
            "a"
        };
        forged.replace_range(last..=last, flipped);
        assert_eq!(replied_message(KEY, &forged), None);
        assert_eq!(replied_message(KEY, "sales@acme.test"), None);
        assert_eq!(replied_message(KEY, ""), None);
    }
}
