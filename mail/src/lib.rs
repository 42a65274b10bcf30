//! Email sending infrastructure for the outreach engine.
//!
//! * [`lookup_txt`] / [`system_resolver`]: TXT lookups through `hickory-resolver`
//!   (every nameserver of `/etc/resolv.conf`, or one given address; EDNS0, TCP
//!   for truncated answers, CNAMEs, a cache per check). Names are asked in their
//!   punycode form ([`ascii_name`]).
//! * [`Blocklists`]: whether a sending IP is on DNS blocklists (RFC 5782), telling
//!   a list that refuses or does not answer apart from a clean address.
//! * [`verify_domain`]: checks the SPF, DKIM and DMARC records a tenant must
//!   publish before we send on their behalf, with English explanations for the UI.
//!   SPF is followed through `include:`/`redirect=`; DMARC falls back to the
//!   organisational domain, found with the Public Suffix List of the `psl` crate.
//! * [`DkimKey`], [`dkim_sign`], [`dkim_verify`]: RSA-SHA256 DKIM with
//!   relaxed/relaxed canonicalisation (RFC 6376), written on `rsa` + `sha2`
//!   (signing on `ring`). Our signatures are checked in tests by Stalwart's
//!   `mail-auth` verifier (`tests/dkim_interop.rs`), not only by our own.
//! * [`build_message`]: RFC 5322 bytes for an [`OutgoingEmail`], optionally signed.
//! * [`resolve`] / [`Egress`]: where a tenant's settings may make us connect (no
//!   private, loopback or metadata addresses; SMTP ports only).
//! * [`send`]: hands those exact bytes to an SMTP server and classifies failures
//!   as [`SendError::Transient`] (retry later) or [`SendError::Permanent`].
//!
//! Everything here is server-side; nothing is compiled to WASM.

#![warn(missing_docs)]

mod dkim;
mod dns;
mod dnsbl;
mod egress;
mod message;
mod smtp;
#[cfg(test)]
mod testserver;
mod verify;

pub use dkim::{dkim_sign, dkim_verify, DkimKey};
pub use dns::ascii_name;
pub use dns::{lookup_txt, system_resolver, DnsError};
pub use dnsbl::{Blocklists, Verdict, ZoneAnswer};
pub use egress::{is_public, resolve, Egress, EgressError, SMTP_PORTS};
pub use message::{build_message, valid_address, EmailAttachment, OutgoingEmail};
pub use smtp::{send, SendError, SmtpSecurity, SmtpSettings};
pub use verify::{verify_domain, DnsRecordCheck, DomainSetup, RecordKind};

/// Errors from building, signing or verifying messages and from key handling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// An email address (From, To, …) could not be parsed.
    #[error("invalid email address {address:?}: {reason}")]
    InvalidAddress {
        /// The address as given.
        address: String,
        /// Why the parser rejected it.
        reason: String,
    },
    /// A header name or value we were asked to write is not acceptable.
    #[error("invalid header {name}: {reason}")]
    InvalidHeader {
        /// The header concerned.
        name: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The message could not be assembled.
    #[error("could not build the message: {0}")]
    Build(String),
    /// The raw message given for signing or verification is not a usable
    /// RFC 5322 message (or carries no usable DKIM-Signature).
    #[error("malformed message: {0}")]
    Malformed(String),
    /// Key generation, parsing or encoding failed.
    #[error("DKIM key error: {0}")]
    Key(String),
    /// A DKIM-Signature uses an algorithm or option this crate does not implement.
    #[error("unsupported DKIM signature: {0}")]
    Unsupported(String),
}
