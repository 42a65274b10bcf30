//! `leadline bench bundle`: the WASM and JS a first visit to a page downloads, after
//! brotli, against the budgets of issue 16 (sign-in ≤ 200 kB, pipeline board ≤ 350 kB).
//!
//! What a page downloads is read off its own HTML, as a browser would: every
//! `/pkg/….js` and `/pkg/….wasm` the server links (the main module, its WASM, and
//! the preloaded chunks of the page's lazy route), plus the wasm-split loader the
//! main module imports. Sizes are those of the `.br` files that `cargo leptos build
//! --release --precompress` writes and the server sends as they are. The pages before
//! sign-in link no WASM, only `/assets/forms.….js`, which is fetched through the
//! router with `Accept-Encoding: br` and counted as it comes.

use axum::body::Body;
use axum::http::{header, Request};
use axum::Router;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tower::ServiceExt;

const PAGES: [(&str, bool, u64); 2] = [("/login", false, 200_000), ("/pipeline", true, 350_000)];

pub async fn print(
    router: &Router,
    cookie: &str,
    options: &leptos::config::LeptosOptions,
) -> Result<(), String> {
    let pkg_dir = &Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    if !pkg_dir.is_dir() {
        println!("bundle: no {} (build the site first)", pkg_dir.display());
        return Ok(());
    }
    let loader = wasm_split_loader(pkg_dir);
    println!("first load of a page, WASM + JS after brotli (budget in brackets):");
    for (path, signed_in, budget) in PAGES {
        let html = page(router, path, signed_in.then_some(cookie)).await?;
        let mut files = pkg_files(&html);
        if !files.is_empty() {
            files.extend(loader.clone());
        }
        let mut total = 0;
        let assets = asset_scripts(&html);
        for script in &assets {
            total += served_size(router, script).await?;
        }
        let mut missing = Vec::new();
        for file in &files {
            match brotli_size(pkg_dir, file) {
                Some(size) => total += size,
                None => missing.push(file.clone()),
            }
        }
        if !missing.is_empty() {
            return Err(format!(
                "{path}: no .br file for {missing:?} (bench builds with --precompress)"
            ));
        }
        let verdict = if total <= budget { "within" } else { "OVER" };
        println!(
            "  {path}: {:.1} kB in {} files ({verdict} {:.0} kB)",
            total as f64 / 1000.0,
            files.len() + assets.len(),
            budget as f64 / 1000.0
        );
    }
    let (chunks, chunk_bytes) = chunk_total(pkg_dir, &options.output_name);
    println!(
        "  all {chunks} lazy chunks together: {:.1} kB (fetched only as pages are opened)",
        chunk_bytes as f64 / 1000.0
    );
    Ok(())
}

/// Scripts the HTML loads from `/assets/`.
fn asset_scripts(html: &str) -> BTreeSet<String> {
    html.split("src=\"/assets/")
        .skip(1)
        .filter_map(|rest| Some(format!("/assets/{}", &rest[..rest.find('"')?])))
        .filter(|path| path.ends_with(".js"))
        .collect()
}

/// Bytes of a response body as the server sends it to a browser that takes brotli.
async fn served_size(router: &Router, path: &str) -> Result<u64, String> {
    let req = Request::get(path)
        .header(header::ACCEPT_ENCODING, "br")
        .body(Body::empty())
        .map_err(|e| e.to_string())?;
    let res = router
        .clone()
        .oneshot(req)
        .await
        .map_err(|e| e.to_string())?;
    if !res.status().is_success() {
        return Err(format!("bundle: GET {path} answered {}", res.status()));
    }
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .map_err(|e| e.to_string())?;
    Ok(body.len() as u64)
}

async fn page(router: &Router, path: &str, cookie: Option<&str>) -> Result<String, String> {
    let mut req = Request::get(path);
    if let Some(cookie) = cookie {
        req = req.header(header::COOKIE, cookie);
    }
    let res = router
        .clone()
        .oneshot(req.body(Body::empty()).map_err(|e| e.to_string())?)
        .await
        .map_err(|e| e.to_string())?;
    if !res.status().is_success() {
        return Err(format!("bundle: GET {path} answered {}", res.status()));
    }
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Names of the `.js` and `.wasm` files under `/pkg/` that the HTML refers to.
fn pkg_files(html: &str) -> BTreeSet<String> {
    html.split("/pkg/")
        .skip(1)
        .filter_map(|rest| {
            let end = rest.find(['"', '\'', '?', '#', ' ', ')'])?;
            let name = &rest[..end];
            (name.ends_with(".js") || name.ends_with(".wasm")).then(|| name.to_string())
        })
        .collect()
}

/// The module the main JS imports to load chunks (hashed like the other files).
fn wasm_split_loader(pkg_dir: &Path) -> Vec<String> {
    file_names(pkg_dir)
        .filter(|name| name.starts_with("__wasm_split.") && name.ends_with(".js"))
        .collect()
}

/// Every WASM file but the main module's.
fn chunk_total(pkg_dir: &Path, output_name: &str) -> (usize, u64) {
    let chunks: Vec<String> = file_names(pkg_dir)
        .filter(|name| name.ends_with(".wasm") && !name.starts_with(output_name))
        .collect();
    let bytes = chunks.iter().filter_map(|c| brotli_size(pkg_dir, c)).sum();
    (chunks.len(), bytes)
}

fn file_names(dir: &Path) -> impl Iterator<Item = String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
}

fn brotli_size(pkg_dir: &Path, file: &str) -> Option<u64> {
    let path: PathBuf = pkg_dir.join(format!("{file}.br"));
    std::fs::metadata(path).ok().map(|m| m.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkg_files_are_read_off_links_and_scripts() {
        let html = r#"<link rel="modulepreload" href="/pkg/leadline.abc.js">
            <link rel="preload" href="/pkg/leadline.abc.wasm" as="fetch">
            <link rel="preload" href="/pkg/board_123.wasm" as="fetch">
            <link rel="stylesheet" href="/pkg/leadline.abc.css">
            <script type="module">import('/pkg/leadline.abc.js').then(m => m.default('/pkg/leadline.abc.wasm'))</script>"#;
        let files: Vec<String> = pkg_files(html).into_iter().collect();
        assert_eq!(
            files,
            ["board_123.wasm", "leadline.abc.js", "leadline.abc.wasm"]
        );
    }

    #[test]
    fn asset_scripts_are_read_off_script_tags() {
        let html = r#"<link rel="stylesheet" href="/pkg/leadline.abc.css">
            <script src="/assets/forms.0123abcd.js" defer></script>"#;
        let scripts: Vec<String> = asset_scripts(html).into_iter().collect();
        assert_eq!(scripts, ["/assets/forms.0123abcd.js"]);
        assert!(pkg_files(html).is_empty());
    }
}
