//! Checks that a tenant's sending domain publishes the SPF, DKIM and DMARC
//! records we need, and says in plain English what is wrong when it does not.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::dns::{ascii_name, Dns, DnsError};

/// What we ask a tenant to publish for one sending domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainSetup {
    /// The domain in the From address, e.g. `acme.example`.
    pub domain: String,
    /// The DKIM selector; the key lives at `<selector>._domainkey.<domain>`.
    pub dkim_selector: String,
    /// Our DKIM public key: SubjectPublicKeyInfo DER, base64 (see
    /// [`crate::DkimKey::public_key_b64`]).
    pub dkim_public_key_b64: String,
    /// The SPF mechanism our senders need, as in `include:<spf_include>`,
    /// e.g. `_spf.leadline.test`.
    pub spf_include: String,
}

/// Which record a [`DnsRecordCheck`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecordKind {
    /// Sender Policy Framework (RFC 7208), a TXT record at the domain itself.
    Spf,
    /// DomainKeys Identified Mail public key (RFC 6376).
    Dkim,
    /// DMARC policy (RFC 7489), at `_dmarc.<domain>`.
    Dmarc,
}

/// The outcome of checking one record, ready to show in the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecordCheck {
    /// Which record.
    pub kind: RecordKind,
    /// The DNS name where the TXT record must be published.
    pub name: String,
    /// The value to publish.
    pub expected: String,
    /// The relevant TXT records found at `name` (for SPF only those starting
    /// with `v=spf1`, since the domain's apex often carries unrelated tokens).
    pub found: Vec<String>,
    /// Whether the record is acceptable.
    pub ok: bool,
    /// Why not, in English, when `ok` is false.
    pub problem: Option<String>,
}

/// Looks up the three records of `setup.domain` (in parallel) and checks them.
///
/// Returns the checks in the order SPF, DKIM, DMARC. A DNS failure (timeout,
/// SERVFAIL, …) on any of the three is an `Err`: we could not tell, which is
/// different from "the record is wrong". An internationalised domain is looked up
/// and reported in its punycode (`xn--`) form. SPF is followed through `include:`
/// and `redirect=` within RFC 7208's ten lookups. DMARC is looked for at the
/// domain and, when it has none, at its organisational domain (RFC 7489 §6.6.3).
pub async fn verify_domain(
    resolver: SocketAddr,
    setup: &DomainSetup,
    timeout: Duration,
) -> Result<Vec<DnsRecordCheck>, DnsError> {
    let invalid = |name: &str, reason: String| DnsError::InvalidName {
        name: name.to_owned(),
        reason,
    };
    let domain = ascii_name(setup.domain.trim()).map_err(|r| invalid(&setup.domain, r))?;
    let include =
        ascii_name(setup.spf_include.trim()).map_err(|r| invalid(&setup.spf_include, r))?;
    let dkim_name = format!("{}._domainkey.{domain}", setup.dkim_selector.trim());
    let dmarc_name = format!("_dmarc.{domain}");

    // One resolver for the whole check, so that its lookups share a cache.
    let dns = Dns::new(resolver, timeout)?;
    let (spf, dkim, dmarc) =
        tokio::join!(dns.txt(&domain), dns.txt(&dkim_name), dns.txt(&dmarc_name));
    let spf = spf?;
    // Only a single record is followed; two or more are an error of their own.
    let reach = match spf
        .iter()
        .filter(|r| is_spf(r))
        .collect::<Vec<_>>()
        .as_slice()
    {
        [record] => {
            let mut lookups = 0;
            reaches(&dns, record, &include, &mut lookups).await?
        }
        _ => Reach::No,
    };
    let dmarc = dmarc?;
    let (dmarc_name, dmarc) = match organisational_domain(&domain) {
        // RFC 7489 §6.6.3: no DMARC record at the domain itself, so the policy
        // is the organisational domain's.
        Some(org) if !dmarc.iter().any(|r| is_dmarc(r)) => {
            let org_name = format!("_dmarc.{org}");
            let at_org = dns.txt(&org_name).await?;
            if at_org.iter().any(|r| is_dmarc(r)) {
                (org_name, at_org)
            } else {
                (dmarc_name, dmarc)
            }
        }
        _ => (dmarc_name, dmarc),
    };
    Ok(vec![
        check_spf(&domain, &include, spf, reach),
        check_dkim(dkim_name, &setup.dkim_public_key_b64, dkim?),
        check_dmarc(&domain, dmarc_name, dmarc),
    ])
}

/// The organisational domain of `domain` (RFC 7489 §3.2): its public suffix, by
/// the Public Suffix List, and one label more. `None` when that is `domain`
/// itself, or when `domain` is a public suffix (no one registers `co.uk`, so
/// `_dmarc.co.uk` is never asked).
fn organisational_domain(domain: &str) -> Option<&str> {
    psl::domain_str(domain).filter(|org| *org != domain)
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

fn is_spf(record: &str) -> bool {
    // RFC 7208 §4.5: exactly "v=spf1" followed by a space or the end, so that
    // "v=spf10" is not mistaken for one.
    let r = record.trim_start();
    starts_with_ignore_case(r, "v=spf1") && r[6..].chars().next().is_none_or(|c| c == ' ')
}

/// RFC 7208 §4.6.4: at most ten terms that cause DNS lookups in one evaluation.
const SPF_LOOKUP_LIMIT: u32 = 10;

/// Whether following an SPF policy lets our servers pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    /// Our include is reached with a pass qualifier, directly or through `include:`
    /// and `redirect=` of other domains.
    Yes,
    No,
    /// More than ten lookups: receivers give up with a permerror.
    TooManyLookups,
}

/// Follows `record`'s `include:` and `redirect=` terms, left to right as a receiver
/// evaluates them, counting every term that costs a DNS lookup. An included domain
/// with no SPF record is passed over: it cannot authorise us either way.
fn reaches<'a>(
    dns: &'a Dns,
    record: &'a str,
    ours: &'a str,
    lookups: &'a mut u32,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Reach, DnsError>> + Send + 'a>> {
    Box::pin(async move {
        let ours = ours.trim().trim_end_matches('.').to_ascii_lowercase();
        let mut redirect = None;
        let mut has_all = false;
        for term in record.split_whitespace().skip(1) {
            let term = term.to_ascii_lowercase();
            let (qualifier, mechanism) = match term.chars().next() {
                Some(q @ ('+' | '-' | '~' | '?')) => (q, &term[1..]),
                _ => ('+', term.as_str()),
            };
            let name = mechanism.split([':', '/', '=']).next().unwrap_or("");
            if matches!(name, "include" | "a" | "mx" | "ptr" | "exists" | "redirect") {
                *lookups += 1;
                if *lookups > SPF_LOOKUP_LIMIT {
                    return Ok(Reach::TooManyLookups);
                }
            }
            if name == "all" {
                has_all = true;
                break;
            }
            if let Some(target) = mechanism.strip_prefix("redirect=") {
                redirect = Some(target.trim_end_matches('.').to_string());
                continue;
            }
            let Some(target) = mechanism.strip_prefix("include:") else {
                continue;
            };
            // "~", "-" or "?" before an include would not let our servers pass.
            if qualifier != '+' {
                continue;
            }
            let target = target.trim_end_matches('.');
            if target == ours {
                return Ok(Reach::Yes);
            }
            match nested(dns, target, &ours, lookups).await? {
                Reach::No => {}
                found => return Ok(found),
            }
        }
        // A redirect applies only when the record has no "all" of its own.
        match redirect {
            Some(target) if !has_all && target == ours => Ok(Reach::Yes),
            Some(target) if !has_all => nested(dns, &target, &ours, lookups).await,
            _ => Ok(Reach::No),
        }
    })
}

/// The SPF record at `domain`, followed.
async fn nested(dns: &Dns, domain: &str, ours: &str, lookups: &mut u32) -> Result<Reach, DnsError> {
    let records = dns.txt(domain).await?;
    match records
        .iter()
        .filter(|r| is_spf(r))
        .collect::<Vec<_>>()
        .as_slice()
    {
        [record] => reaches(dns, record, ours, lookups).await,
        _ => Ok(Reach::No),
    }
}

fn check_spf(domain: &str, include: &str, records: Vec<String>, reach: Reach) -> DnsRecordCheck {
    let include = include.trim().trim_end_matches('.');
    let expected = format!("v=spf1 include:{include} ~all");
    let found: Vec<String> = records.into_iter().filter(|r| is_spf(r)).collect();

    let problem = match found.as_slice() {
        [] => Some(format!(
            "No SPF record found at {domain}. Publish a TXT record: {expected}"
        )),
        [_] => match reach {
            Reach::Yes => None,
            Reach::No => Some(format!(
                "The SPF record does not include {include}, so receivers will not \
                 accept our servers for {domain}. Add \"include:{include}\" to the \
                 existing record before its final \"all\" term (do not publish a \
                 second SPF record)."
            )),
            Reach::TooManyLookups => Some(format!(
                "Following the SPF record of {domain} takes more than \
                 {SPF_LOOKUP_LIMIT} DNS lookups, which receivers treat as an error \
                 (permerror) and so accept no server at all. Remove includes you no \
                 longer use, or replace them with the addresses they stand for."
            )),
        },
        _ => Some(format!(
            "{domain} has {} SPF records; more than one is an SPF error (permerror) and \
             receivers ignore them all. Merge them into a single record that contains \
             \"include:{include}\".",
            found.len()
        )),
    };
    DnsRecordCheck {
        kind: RecordKind::Spf,
        name: domain.to_owned(),
        expected,
        found,
        ok: problem.is_none(),
        problem,
    }
}

/// Splits a DKIM/DMARC tag list (`tag=value; tag=value`) into pairs, names
/// and values trimmed. Malformed parts (no `=`) are skipped, as verifiers do.
fn tags(record: &str) -> Vec<(String, String)> {
    record
        .split(';')
        .filter_map(|part| {
            let (name, value) = part.split_once('=')?;
            Some((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

fn tag<'a>(tags: &'a [(String, String)], name: &str) -> Option<&'a str> {
    tags.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn strip_ws(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn check_dkim(name: String, public_key_b64: &str, found: Vec<String>) -> DnsRecordCheck {
    let ours = strip_ws(public_key_b64);
    let expected = format!("v=DKIM1; k=rsa; p={ours}");

    let problem = match found.as_slice() {
        [] => Some(format!(
            "No DKIM record found at {name}. Publish a TXT record: {expected}"
        )),
        [record] => {
            let t = tags(record);
            match (tag(&t, "v"), tag(&t, "k"), tag(&t, "p")) {
                (Some(v), _, _) if v != "DKIM1" => Some(format!(
                    "The DKIM record at {name} has v={v}; it must be v=DKIM1."
                )),
                (_, Some(k), _) if !k.eq_ignore_ascii_case("rsa") => Some(format!(
                    "The DKIM record at {name} is for a {k} key; ours is rsa (k=rsa)."
                )),
                (_, _, None) => Some(format!(
                    "The DKIM record at {name} has no public key (p= tag)."
                )),
                (_, _, Some(p)) if strip_ws(p).is_empty() => Some(format!(
                    "The DKIM key at {name} is revoked (empty p=). Publish our key instead."
                )),
                (_, _, Some(p)) if strip_ws(p) != ours => Some(format!(
                    "The DKIM key published at {name} is not ours, so our signatures will \
                     fail. Replace the record with: {expected}"
                )),
                _ => None,
            }
        }
        _ => Some(format!(
            "There are {} TXT records at {name}; there must be exactly one DKIM key.",
            found.len()
        )),
    };
    DnsRecordCheck {
        kind: RecordKind::Dkim,
        name,
        expected,
        found,
        ok: problem.is_none(),
        problem,
    }
}

/// RFC 7489 §6.6.3: a DMARC record starts with `v=DMARC1`; other TXT records at
/// `_dmarc.` are passed over.
fn is_dmarc(record: &str) -> bool {
    tags(record)
        .first()
        .is_some_and(|(n, v)| n == "v" && v.eq_ignore_ascii_case("DMARC1"))
}

fn check_dmarc(domain: &str, name: String, records: Vec<String>) -> DnsRecordCheck {
    let expected = format!("v=DMARC1; p=quarantine; rua=mailto:dmarc@{domain}");
    let dmarc: Vec<&String> = records.iter().filter(|r| is_dmarc(r)).collect();

    let problem = match dmarc.as_slice() {
        [] => Some(format!(
            "No DMARC record found at {name}. Publish a TXT record: {expected}"
        )),
        [record] => {
            let t = tags(record);
            match tag(&t, "p") {
                Some(p)
                    if ["none", "quarantine", "reject"]
                        .iter()
                        .any(|ok| p.eq_ignore_ascii_case(ok)) =>
                {
                    None
                }
                Some(p) => Some(format!(
                    "The DMARC record at {name} has an invalid policy p={p}; use none, \
                     quarantine or reject."
                )),
                None => Some(format!(
                    "The DMARC record at {name} has no policy (p= tag). Use: {expected}"
                )),
            }
        }
        _ => Some(format!(
            "There are {} DMARC records at {name}; receivers ignore them all when there \
             is more than one. Keep a single record.",
            dmarc.len()
        )),
    };
    DnsRecordCheck {
        kind: RecordKind::Dmarc,
        name,
        expected,
        found: records,
        ok: problem.is_none(),
        problem,
    }
}

#[cfg(test)]
mod tests;
