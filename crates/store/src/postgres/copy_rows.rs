//! Rows in PostgreSQL's binary `COPY` format, encoded here and handed to the copy a buffer at a
//! time. The `postgres` crate's own `BinaryCopyInWriter` enters the client's runtime once a row
//! (a `block_on` each), which cost the writer's thread more than encoding the row did; this
//! one enters it once per [`CopyRows::FLUSH_BYTES`].

use std::io::Write;

use ::postgres::types::{IsNull, ToSql, Type};
use ::postgres::{Client, CopyInWriter};
use bytes::{BufMut, BytesMut};

use crate::{Result, StoreError};

/// The binary format's header: its signature, no flags, no header extension.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// A binary `COPY ... FROM STDIN` in progress: rows of `types`, ended by [`finish`](Self::finish)
/// (dropped unfinished, the copy is aborted and its statement fails).
pub(super) struct CopyRows<'a> {
    sink: CopyInWriter<'a>,
    types: Vec<Type>,
    buf: BytesMut,
}

impl<'a> CopyRows<'a> {
    /// How many encoded bytes are gathered before they are handed to the copy.
    const FLUSH_BYTES: usize = 64 * 1024;

    /// Starts `COPY table (columns) FROM STDIN` in binary on `client`, for rows of `types`.
    pub fn start(
        client: &'a mut Client,
        table: &str,
        columns: &str,
        types: &[Type],
    ) -> Result<Self> {
        let sink = client.copy_in(&format!(
            "COPY {table} ({columns}) FROM STDIN (FORMAT binary)"
        ))?;
        let mut buf = BytesMut::with_capacity(Self::FLUSH_BYTES + 1024);
        buf.put_slice(HEADER);
        Ok(Self {
            sink,
            types: types.to_vec(),
            buf,
        })
    }

    /// Writes one row: a value for each of the types, in order.
    pub fn write(&mut self, values: &[&(dyn ToSql + Sync)]) -> Result<()> {
        if values.len() != self.types.len() {
            return Err(StoreError::Backend(
                format!(
                    "a COPY row of {} values for {} columns",
                    values.len(),
                    self.types.len()
                )
                .into(),
            ));
        }
        self.buf.put_i16(values.len() as i16);
        for (value, ty) in values.iter().zip(&self.types) {
            let at = self.buf.len();
            self.buf.put_i32(0);
            let length = match value.to_sql_checked(ty, &mut self.buf) {
                Ok(IsNull::Yes) => -1,
                Ok(IsNull::No) => i32::try_from(self.buf.len() - at - 4)
                    .map_err(|_| StoreError::Backend("a COPY value over 2 GiB".into()))?,
                Err(e) => return Err(StoreError::Backend(e)),
            };
            self.buf[at..at + 4].copy_from_slice(&length.to_be_bytes());
        }
        if self.buf.len() >= Self::FLUSH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.sink
            .write_all(&self.buf)
            .map_err(|e| StoreError::Backend(e.into()))?;
        self.buf.clear();
        Ok(())
    }

    /// Ends the copy; returns how many rows it added.
    pub fn finish(mut self) -> Result<u64> {
        self.buf.put_i16(-1);
        self.flush()?;
        Ok(self.sink.finish()?)
    }
}
