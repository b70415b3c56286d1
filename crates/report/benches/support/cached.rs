//! A bench store generated once under `target/bench-store` and reused: written through the
//! store's writer into a temporary file, renamed when complete (an interrupted run leaves no
//! half store behind); delete the file to regenerate it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use threatintel_report::{ReportConfig, ReportEngine, VerdictConfig};
use threatintel_store::{SqliteStore, Store, StoreWriter};

/// The engine on the bench store `file`, which `fill` writes (then committed) when it does not
/// exist yet.
pub fn engine_on(file: &str, fill: impl FnOnce(&mut dyn StoreWriter)) -> ReportEngine {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-store");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(file);
    if !path.exists() {
        let started = Instant::now();
        let tmp = path.with_extension("tmp");
        let _ = std::fs::remove_file(&tmp);
        let store = SqliteStore::open(&tmp).unwrap();
        let mut w = store.writer().unwrap();
        fill(w.as_mut());
        w.commit().unwrap();
        drop(store);
        std::fs::rename(&tmp, &path).unwrap();
        let _ = std::fs::remove_file(tmp.with_extension("tmp-wal"));
        let _ = std::fs::remove_file(tmp.with_extension("tmp-shm"));
        eprintln!("generated {} in {:.1?}", path.display(), started.elapsed());
    }
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    ReportEngine::new(store, VerdictConfig::default(), ReportConfig::default()).unwrap()
}
