//! The pages a visitor sees before signing in are plain server-rendered forms: they load
//! no WebAssembly, only `forms.js` (a few kB), and work with no script at all
//! (DECISIONS 59). The first page of every visit is one of them, often on a phone.

/// Whether `path` is one of those pages. The invitation page is not: it may be opened
/// signed in, with the app around it.
pub fn is_plain_page(path: &str) -> bool {
    matches!(path, "/login" | "/login/2fa" | "/signup" | "/forgot")
        || ["/reset/", "/verify/"].iter().any(|prefix| {
            path.strip_prefix(prefix)
                .is_some_and(|token| !token.is_empty() && !token.contains('/'))
        })
}

/// The script those pages load instead of the app's bundle.
pub const SCRIPT: &str = include_str!("forms.js");

/// Its address: the name carries a hash of the content, so it is cached for good and a
/// new version is a new address.
pub fn script_url() -> &'static str {
    use sha2::{Digest, Sha256};
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        let digest = Sha256::digest(SCRIPT.as_bytes());
        let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("/assets/forms.{hash}.js")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pages_before_sign_in_are_plain() {
        for path in [
            "/login",
            "/login/2fa",
            "/signup",
            "/forgot",
            "/reset/abc",
            "/verify/abc",
        ] {
            assert!(is_plain_page(path), "{path}");
        }
        for path in [
            "/",
            "/pipeline",
            "/invite/abc",
            "/reset/abc/x",
            "/reset/",
            "/loginx",
        ] {
            assert!(!is_plain_page(path), "{path}");
        }
        assert!(script_url().starts_with("/assets/forms.") && script_url().ends_with(".js"));
    }
}
