//! The console's background work: an uploaded file's import and a feed's refresh run on the
//! blocking pool, outside the request that started them (and its timeout), through the same
//! `threatintel_ingest` calls as the CLI; their progress (records read, rejects so far) is kept
//! here for the pages that show it.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use threatintel_console::pages::{ImportStatus, Outcome, REJECTS_SHOWN};
use threatintel_ingest::feeds::{FeedConfig, HttpConfig};
use threatintel_ingest::{Format, ImportSummary, Progress, RejectedRecord};
use threatintel_model::IpNetwork;

/// Jobs remembered, running or ended; past it the oldest ended one is forgotten, and while
/// this many run no other starts.
const KEPT_JOBS: usize = 64;

/// One background import.
pub struct Job {
    /// Random (unguessable): the job's page is `/console/import/{id}`.
    pub id: String,
    /// The access key that started it; only it sees the job.
    pub owner: String,
    /// The feed it refreshes, for a refresh.
    pub feed: Option<String>,
    status: Mutex<ImportStatus>,
}

impl Job {
    pub fn status(&self) -> ImportStatus {
        self.status.lock().clone()
    }

    fn running(&self) -> bool {
        self.status.lock().outcome.is_none()
    }

    fn end(&self, outcome: Outcome) {
        self.status.lock().outcome = Some(outcome);
    }
}

/// Hands the import's progress to its job.
struct JobProgress(Arc<Job>);

impl Progress for JobProgress {
    fn begin(&mut self, _path: &Path, format: Format, bytes: u64) {
        let mut status = self.0.status.lock();
        status.format = Some(format);
        status.bytes_total = bytes;
    }

    fn advance(&mut self, bytes: u64, records: u64) {
        let mut status = self.0.status.lock();
        status.bytes_read = bytes;
        status.records = records;
    }

    fn rejected(&mut self, reject: &RejectedRecord) {
        let mut status = self.0.status.lock();
        status.rejected += 1;
        if status.rejects.len() < REJECTS_SHOWN {
            status.rejects.push(reject.clone());
        }
    }
}

/// The jobs of one server.
#[derive(Default)]
pub struct Jobs {
    recent: Mutex<VecDeque<Arc<Job>>>,
}

impl Jobs {
    /// Registers a job of `owner` named `file`: `Err` with the running refresh of `feed` if
    /// there is one, `Ok(None)` when [`KEPT_JOBS`] jobs are running.
    fn register(
        &self,
        owner: &str,
        feed: Option<&str>,
        file: &str,
    ) -> Result<Option<Arc<Job>>, Arc<Job>> {
        let mut recent = self.recent.lock();
        if let Some(running) = feed.and_then(|name| {
            recent
                .iter()
                .find(|j| j.feed.as_deref() == Some(name) && j.running())
        }) {
            return Err(running.clone());
        }
        if recent.len() >= KEPT_JOBS {
            let Some(ended) = recent.iter().position(|j| !j.running()) else {
                return Ok(None);
            };
            recent.remove(ended);
        }
        let job = Arc::new(Job {
            id: crate::session::random_token(),
            owner: owner.to_owned(),
            feed: feed.map(str::to_owned),
            status: Mutex::new(ImportStatus {
                file: file.to_owned(),
                ..ImportStatus::default()
            }),
        });
        recent.push_back(job.clone());
        Ok(Some(job))
    }

    /// Starts `work` on the blocking pool as a job of `owner` named `file`; `None` when
    /// [`KEPT_JOBS`] jobs are running. A refresh of a feed that is already running is that job.
    pub fn start(
        &self,
        owner: &str,
        feed: Option<&str>,
        file: &str,
        work: impl FnOnce(&mut dyn Progress) -> Outcome + Send + 'static,
    ) -> Option<Arc<Job>> {
        let job = match self.register(owner, feed, file) {
            Ok(job) => job?,
            Err(running) => return Some(running),
        };
        let worker = job.clone();
        tokio::spawn(async move {
            let progress_of = worker.clone();
            let ran =
                tokio::task::spawn_blocking(move || work(&mut JobProgress(progress_of))).await;
            worker.end(ran.unwrap_or_else(|e| {
                tracing::error!(error = %e, job = %worker.id, "console import panicked");
                Outcome::Failed("internal error: the log has the details".into())
            }));
        });
        Some(job)
    }

    /// Runs `work` on this thread as a job of `owner` named `file` and returns its outcome;
    /// `None`, without running it, when the feed is being refreshed already or
    /// [`KEPT_JOBS`] jobs are running.
    pub fn run(
        &self,
        owner: &str,
        feed: Option<&str>,
        file: &str,
        work: impl FnOnce(&mut dyn Progress) -> Outcome,
    ) -> Option<Outcome> {
        let job = self.register(owner, feed, file).ok()??;
        let outcome = work(&mut JobProgress(job.clone()));
        job.end(outcome.clone());
        Some(outcome)
    }

    /// The job `id` if `owner` started it.
    pub fn get(&self, id: &str, owner: &str) -> Option<Arc<Job>> {
        self.recent
            .lock()
            .iter()
            .find(|j| j.id == id && j.owner == owner)
            .cloned()
    }

    /// The latest refresh of `feed` started from the console.
    pub fn last_of_feed(&self, feed: &str) -> Option<Arc<Job>> {
        self.recent
            .lock()
            .iter()
            .rev()
            .find(|j| j.feed.as_deref() == Some(feed))
            .cloned()
    }
}

/// The feeds of the config, which the sources page lists and may refresh.
#[derive(Debug, Clone, Default)]
pub struct Feeds {
    pub feeds: Vec<FeedConfig>,
    pub http: HttpConfig,
    /// `[events]`' networks and the industries they belong to.
    pub industries: Vec<(IpNetwork, String)>,
}

/// The outcome of an import that ended with `summary`, keeping the rejects a page shows.
pub fn imported(mut summary: ImportSummary) -> Outcome {
    summary.rejects.truncate(REJECTS_SHOWN);
    Outcome::Imported(summary)
}

/// The owner of the jobs the server runs itself (scheduled refreshes): no access key has an
/// empty id, so no visitor opens their pages.
pub const SERVER: &str = "";

/// A refresh of `feed` as `threatintel feeds refresh` does it (`threatintel_ingest::feeds::refresh`).
pub fn feed_refresh(
    state: &crate::AppState,
    feed: FeedConfig,
) -> impl FnOnce(&mut dyn Progress) -> Outcome + Send + 'static {
    use threatintel_ingest::feeds::{refresh, Refreshed};
    let (store, http, industries) = (
        state.engine.store().clone(),
        state.feeds.http.clone(),
        state.feeds.industries.clone(),
    );
    move |progress| match refresh(
        &*store,
        &feed,
        &http,
        &industries,
        chrono::Utc::now(),
        progress,
    ) {
        Ok(Refreshed::NotModified) => Outcome::NotModified,
        Ok(Refreshed::Imported(summary)) => imported(summary),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}
