//! Batches written while the next one is staged. [`Pipelined`] wraps a [`PgWriter`]: an owned
//! batch ([`StoreWriter::put_batch_owned`]) is staged on the caller's thread, then handed with
//! the writer to a thread of its own that writes it, and the caller goes back for the next
//! batch. So the client's staging runs while PostgreSQL works, instead of PostgreSQL waiting
//! for it. Any later call first waits for that thread; what it wrote, or its error
//! ([`StoreError::InEarlierBatch`]), is reported then.
//!
//! A batch whose staging needs the writer (a source or list to put, or one whose id the
//! writer has not looked up yet) is written on the caller's thread, once the writer is back.

use std::collections::HashMap;
use std::thread::{self, JoinHandle};

use threatintel_model::Evidence;

use super::staging::{stage, StagedBatch, Unstageable, Unstaged};
use super::writer::PgWriter;
use crate::{FeedState, LookupState, PutOutcome, Result, StoreError, StoreWriter, WriteSummary};

self_cell::self_cell!(
    /// An owned batch, staged.
    struct OwnedBatch {
        owner: Vec<Evidence>,
        #[covariant]
        dependent: StagedBatch,
    }
);

/// A [`PgWriter`] that writes owned batches on a thread of its own.
pub(super) struct Pipelined {
    /// The writer, while no thread writes with it.
    writer: Option<PgWriter>,
    /// The thread writing a batch; it hands the writer back, and the batch.
    writing: Option<JoinHandle<(PgWriter, Result<WriteSummary>, OwnedBatch)>>,
    /// The batch the thread wrote, dropped once the next one is on its way: freeing 200k
    /// records took the writing thread tens of milliseconds, with PostgreSQL idle.
    written: Option<OwnedBatch>,
    /// The ids of the sources and lists the writer knew when it was last back.
    sources: HashMap<String, i32>,
    lists: HashMap<String, i32>,
    /// What the batches written on the thread did, not yet reported.
    unreported: WriteSummary,
    /// The writer's [`StoreWriter::batch_records`] when it was last back.
    batch_records: usize,
}

impl Pipelined {
    pub(super) fn new(writer: PgWriter) -> Self {
        Self {
            writer: Some(writer),
            writing: None,
            written: None,
            sources: HashMap::new(),
            lists: HashMap::new(),
            unreported: WriteSummary::default(),
            batch_records: crate::BATCH_RECORDS,
        }
    }

    /// The writer, once the batch being written is: its error, if it failed.
    fn settle(&mut self) -> Result<&mut PgWriter> {
        if let Some(writing) = self.writing.take() {
            let (writer, written, batch) = writing
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            self.written = Some(batch);
            self.batch_records = writer.batch_records();
            self.writer = Some(writer);
            self.unreported += written.map_err(|e| StoreError::InEarlierBatch(Box::new(e)))?;
        }
        Ok(self
            .writer
            .as_mut()
            .expect("the writer is back once no thread writes with it"))
    }

    /// Takes the ids the writer learned since the last call (it only learns more: a source
    /// or list keeps its id).
    fn learn_ids(&mut self) {
        if let Some(writer) = &self.writer {
            let (sources, lists) = writer.known_ids();
            if sources.len() != self.sources.len() {
                self.sources.clone_from(sources);
            }
            if lists.len() != self.lists.len() {
                self.lists.clone_from(lists);
            }
        }
    }
}

/// Staging without the writer: the ids it knew, and no source or list put.
struct Detached<'i> {
    sources: &'i HashMap<String, i32>,
    lists: &'i HashMap<String, i32>,
}

impl Unstaged for Detached<'_> {
    fn id(&mut self, list: bool, name: &str) -> Result<i32, Unstageable> {
        let ids = if list { self.lists } else { self.sources };
        ids.get(name).copied().ok_or(Unstageable::NeedsWriter)
    }

    fn put_now(&mut self, _: &Evidence) -> Result<(), Unstageable> {
        Err(Unstageable::NeedsWriter)
    }
}

impl StoreWriter for Pipelined {
    fn put(&mut self, evidence: &Evidence) -> Result<PutOutcome> {
        self.settle()?.put(evidence)
    }

    fn put_batch(&mut self, batch: &[Evidence]) -> Result<WriteSummary> {
        self.settle()?.put_batch(batch)
    }

    fn put_batch_owned(&mut self, batch: Vec<Evidence>) -> Result<WriteSummary> {
        self.learn_ids();
        let mut detached = Detached {
            sources: &self.sources,
            lists: &self.lists,
        };
        let staged = OwnedBatch::try_new_or_recover(batch, |batch| stage(batch, &mut detached));
        let staged = match staged {
            Ok(staged) => staged,
            Err((_, Unstageable::Failed(e))) => return Err(e),
            Err((batch, Unstageable::NeedsWriter)) => {
                let written = self.settle()?.put_batch(&batch)?;
                let mut summary = std::mem::take(&mut self.unreported);
                summary += written;
                return Ok(summary);
            }
        };
        self.settle()?;
        let mut writer = self.writer.take().expect("settled");
        let writing = thread::Builder::new()
            .name("postgres-writer".into())
            .spawn(move || {
                let written = writer.write_staged(staged.borrow_dependent());
                (writer, written, staged)
            })
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        self.writing = Some(writing);
        self.written = None;
        Ok(std::mem::take(&mut self.unreported))
    }

    fn finish_batches(&mut self) -> Result<WriteSummary> {
        self.settle()?;
        Ok(std::mem::take(&mut self.unreported))
    }

    /// The writer's, as of the last batch it finished (the one after is still being written).
    fn batch_records(&self) -> usize {
        self.writer
            .as_ref()
            .map_or(self.batch_records, |writer| writer.batch_records())
    }

    fn put_feed_state(&mut self, state: &FeedState) -> Result<()> {
        self.settle()?.put_feed_state(state)
    }

    fn put_lookup(&mut self, state: &LookupState) -> Result<()> {
        self.settle()?.put_lookup(state)
    }

    fn commit(mut self: Box<Self>) -> Result<WriteSummary> {
        self.settle()?;
        let writer = self.writer.take().expect("settled");
        Box::new(writer).commit()
    }
}

impl Drop for Pipelined {
    /// Waits for the batch being written, so the transaction is rolled back (the writer
    /// dropped) before the drop returns.
    fn drop(&mut self) {
        if let Some(writing) = self.writing.take() {
            drop(writing.join());
        }
    }
}
