//! The console bundle compiled into the binary (web/dist, committed so a
//! fresh clone builds with cargo alone) is exactly what `web/build.mjs`
//! makes from web/src and the locked npm packages: a change to the sources
//! without a rebuild, or a hand-edited bundle, fails here.
//!
//! Outside CI the test prints SKIPPED when node or web/node_modules (scripts/test
//! runs `npm ci`) are missing; in CI (env CI set) it fails.

use std::path::Path;
use std::process::Command;

const FILES: [&str; 3] = ["index.html", "assets/app.js", "assets/app.css"];

#[test]
fn the_committed_console_bundle_equals_a_fresh_build_of_web_src() {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let node = Command::new("node").arg("--version").output();
    let why = if !node.is_ok_and(|o| o.status.success()) {
        Some("node is not installed")
    } else if !web.join("node_modules/esbuild").exists() {
        Some("web/node_modules is missing (run `npm ci` in web/)")
    } else {
        None
    };
    if let Some(why) = why {
        assert!(
            std::env::var_os("CI").is_none(),
            "cannot check the console bundle in CI: {why}"
        );
        println!("SKIPPED: {why}");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let built = Command::new("node")
        .arg(web.join("build.mjs"))
        .arg(out.path())
        .output()
        .expect("running node web/build.mjs");
    assert!(
        built.status.success(),
        "web/build.mjs failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    for file in FILES {
        let fresh = std::fs::read(out.path().join(file)).unwrap();
        let committed = std::fs::read(web.join("dist").join(file)).unwrap();
        assert!(
            fresh == committed,
            "web/dist/{file} differs from a fresh build ({} bytes vs {} committed): run `npm run build` in web/ and commit web/dist",
            fresh.len(),
            committed.len()
        );
    }
}
