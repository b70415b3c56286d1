//! The one writer of lookup results: a thread that commits whatever results are waiting in
//! one `StoreWriter` transaction, so many concurrent lookups cost one commit, not one each.
//! A lookup's record ([`LookupState`]) is committed with the evidence it brought.

use std::sync::Arc;

use threatintel_model::Evidence;
use threatintel_store::{LookupState, Store};
use tokio::sync::{mpsc, oneshot};

use crate::EnrichError;

/// Results committed together at most.
const MAX_GROUP: usize = 256;

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
                    while group.len() < MAX_GROUP {
                        match receiver.try_recv() {
                            Ok(next) => group.push(next),
                            Err(_) => break,
                        }
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

fn write<'a>(
    store: &dyn Store,
    results: impl Iterator<Item = &'a Written> + Clone,
) -> Result<(), String> {
    let batch: Vec<Evidence> = results.clone().flat_map(|(e, _)| e).cloned().collect();
    let mut writer = store.writer().map_err(|e| e.to_string())?;
    writer.put_batch(&batch).map_err(|e| e.to_string())?;
    for (_, state) in results {
        writer.put_lookup(state).map_err(|e| e.to_string())?;
    }
    writer.commit().map_err(|e| e.to_string())?;
    Ok(())
}
