//! Where the tests find the real Entra exports.

use std::path::{Path, PathBuf};

/// `shared/fixtures/entra-exports` beside the repository, or `PORTCULLIS_FIXTURES`.
pub fn fixtures() -> PathBuf {
    let dir = std::env::var_os("PORTCULLIS_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/entra-exports")
        });
    assert!(
        dir.is_dir(),
        "fixtures not found at {} (set PORTCULLIS_FIXTURES)",
        dir.display()
    );
    dir
}
