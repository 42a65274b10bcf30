//! Who is on the other end: the client's address behind our proxies, and the per-address
//! budget of the endpoints that answer anyone.

use super::error_json;
use crate::state::AppState;
use app::error::AppError;
use app::i18n::Locale;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// The client's address: the peer's, or, when the peer is one of our proxies, the
/// right-most address in `X-Forwarded-For` that is not one of our proxies. Addresses
/// left of that were written by the client and prove nothing.
pub(crate) fn request_ip(req: &Request, trusted_proxies: &[IpNet]) -> Option<IpAddr> {
    let peer = peer(req)?;
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    Some(client_ip(peer, &forwarded, trusted_proxies))
}

/// Webhooks and the links in emails answer anyone: each address gets a budget per
/// minute (`app::throttle`), shared by every instance, and a 429 with `Retry-After`
/// beyond it.
pub(super) async fn throttle_public(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let limit = if req.uri().path().starts_with("/webhooks/") {
        app::throttle::WEBHOOK_IP
    } else {
        app::throttle::PUBLIC_LINK_IP
    };
    let ip = request_ip(&req, &state.http.trusted_proxies)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into());
    let locale = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Locale::from_accept_language)
        .unwrap_or_default();
    match app::throttle::hit(&state.db, limit, &ip, locale).await {
        Ok(()) => next.run(req).await,
        Err(AppError::TooManyRequests {
            message,
            retry_after,
        }) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after.to_string())],
            message,
        )
            .into_response(),
        Err(e) => error_json(e),
    }
}

/// The address of the other end of the connection.
pub(super) fn peer(req: &Request) -> Option<IpAddr> {
    Some(req.extensions().get::<ConnectInfo<SocketAddr>>()?.0.ip())
}

fn client_ip(peer: IpAddr, forwarded_for: &str, trusted_proxies: &[IpNet]) -> IpAddr {
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|n| n.contains(ip));
    let mut client = peer;
    for hop in forwarded_for.rsplit(',') {
        if !trusted(&client) {
            break;
        }
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => client = ip,
            // Garbage from a hop we trust: stop at the last address we believe.
            Err(_) => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_counts_only_from_our_proxies() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // A client that is not our proxy cannot claim another address.
        assert_eq!(
            client_ip(ip("203.0.113.9"), "1.2.3.4", &proxies),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(ip("203.0.113.9"), "1.2.3.4", &[]),
            ip("203.0.113.9")
        );
        // Through our proxy: the right-most address it did not write itself.
        assert_eq!(
            client_ip(ip("10.0.0.2"), "1.2.3.4, 198.51.100.7", &proxies),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), "1.2.3.4, 198.51.100.7, 10.0.0.5", &proxies),
            ip("198.51.100.7")
        );
        assert_eq!(client_ip(ip("10.0.0.2"), "", &proxies), ip("10.0.0.2"));
        assert_eq!(client_ip(ip("10.0.0.2"), "junk", &proxies), ip("10.0.0.2"));
    }
}
