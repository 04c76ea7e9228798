//! Embeds the web UI (docs/ui.md): every file under `web/dist` (built by `bash scripts/web-build`)
//! becomes an entry of `ASSETS` in `$OUT_DIR/web_assets.rs`, with its URL path and content type,
//! sorted by path (equal files, equal binary). Without a build, `ASSETS` holds a one-page
//! placeholder that says how to build the UI, so `cargo build` alone still works.

use std::path::{Path, PathBuf};

fn main() {
    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let web = manifest.join("../../web");
    let dist = web.join("dist");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("web_assets.rs");
    let mut files = Vec::new();
    if dist.join("index.html").is_file() {
        collect(&dist, &dist, &mut files);
        println!("cargo:rerun-if-changed={}", dist.display());
    } else {
        // Watching `web/` (not the missing `web/dist`, which would rerun this every build)
        // notices the first build of the UI.
        let placeholder = manifest.join("src/web/placeholder.html");
        files.push(("/index.html".to_string(), placeholder.clone()));
        println!("cargo:rerun-if-changed={}", placeholder.display());
        if web.is_dir() {
            println!("cargo:rerun-if-changed={}", web.display());
        }
    }
    files.sort();
    let mut code = format!(
        "/// Whether the UI was built (`false`: the placeholder page).\npub const BUILT: bool = {};\n\
         /// Every embedded file: URL path, content type, bytes.\n\
         pub static ASSETS: &[(&str, &str, &[u8])] = &[\n",
        !files.is_empty() && dist.join("index.html").is_file()
    );
    for (url, path) in &files {
        // `{:?}` writes a Rust string literal: any file name is escaped by construction.
        let abs = path.canonicalize().expect("an asset's path");
        code.push_str(&format!(
            "    ({url:?}, {:?}, include_bytes!({:?})),\n",
            content_type(url),
            abs.to_str().expect("a UTF-8 path to the web assets")
        ));
    }
    code.push_str("];\n");
    std::fs::write(&out, code).expect("write web_assets.rs");
}

/// Every file under `dir`, as (`/relative/path`, path).
fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let entries = std::fs::read_dir(dir).expect("read the web UI's dist directory");
    for entry in entries {
        let path = entry.expect("a dist entry").path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if let (Ok(rel), true) = (path.strip_prefix(root), path.is_file()) {
            let url: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push((format!("/{}", url.join("/")), path));
        }
    }
}

fn content_type(url: &str) -> &'static str {
    let ext = url.rsplit_once('.').map_or("", |(_, e)| e);
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
