//! The one writer of lookup results: a thread that commits whatever results are waiting in
//! one `StoreWriter` transaction, so many concurrent lookups cost one commit, not one each.
//! A lookup's record ([`LookupState`]) is committed with the evidence it brought.

use std::sync::Arc;
use std::time::Duration;

use threatintel_model::Evidence;
use threatintel_store::{LookupState, Store};
use tokio::sync::{mpsc, oneshot};

use crate::EnrichError;

/// Results committed together at most.
const MAX_GROUP: usize = 256;

/// How long a busy writer waits for more results before it commits: a commit rewrites every
/// page it touched, so fewer, larger groups cost less (10,000 names at concurrency 64: 2 ms
/// made about 3,400 commits, 10 ms about 1,200 and 0.5 s less client CPU).
const LINGER: Duration = Duration::from_millis(10);

type Reply = oneshot::Sender<Result<(), String>>;

/// One lookup's result: its evidence and its record.
type Written = (Vec<Evidence>, LookupState);

pub struct Sink {
    sender: mpsc::Sender<(Written, Reply)>,
}

impl Sink {
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (sender, mut receiver) = mpsc::channel::<(Written, Reply)>(MAX_GROUP);
        std::thread::Builder::new()
            .name("enrich-writer".into())
            .spawn(move || {
                while let Some(first) = receiver.blocking_recv() {
                    let mut group = vec![first];
                    drain(&mut receiver, &mut group);
                    if group.len() > 1 && group.len() < MAX_GROUP {
                        // Busy: results keep coming, and a commit costs about the same for
                        // one result as for a hundred; let a few more join this one.
                        std::thread::sleep(LINGER);
                        drain(&mut receiver, &mut group);
                    }
                    let result = write(&*store, group.iter().map(|(result, _)| result));
                    if let Err(e) = &result {
                        tracing::error!(error = %e, "storing lookup results failed");
                    }
                    for (_, reply) in group {
                        let _ = reply.send(result.clone());
                    }
                }
            })
            .expect("spawning the enrichment writer");
        Self { sender }
    }

    /// Stores `evidence` and the lookup's `state` in the next commit and waits for it.
    pub async fn write(
        &self,
        evidence: Vec<Evidence>,
        state: LookupState,
    ) -> Result<(), EnrichError> {
        let (reply, done) = oneshot::channel();
        let closed = || EnrichError::Store("the writer stopped".into());
        self.sender
            .send(((evidence, state), reply))
            .await
            .map_err(|_| closed())?;
        done.await
            .map_err(|_| closed())?
            .map_err(EnrichError::Store)
    }
}

/// Moves the results waiting now into `group`, up to [`MAX_GROUP`].
fn drain(receiver: &mut mpsc::Receiver<(Written, Reply)>, group: &mut Vec<(Written, Reply)>) {
    while group.len() < MAX_GROUP {
        match receiver.try_recv() {
            Ok(next) => group.push(next),
            Err(_) => break,
        }
    }
}

fn write<'a>(store: &dyn Store, results: impl Iterator<Item = &'a Written>) -> Result<(), String> {
    let mut writer = store.writer().map_err(|e| e.to_string())?;
    for (evidence, state) in results {
        writer.put_batch(evidence).map_err(|e| e.to_string())?;
        writer.put_lookup(state).map_err(|e| e.to_string())?;
    }
    writer.commit().map_err(|e| e.to_string())?;
    Ok(())
}
