//! A reader connection with the statements it keeps prepared, found by their SQL text.
//!
//! rusqlite's own statement cache hashes a statement's SQL when it is taken and again when it is
//! put back, and copies the text into a new allocation every time: for the three statements of
//! a listed name's report about 4,600 instructions, 5% of the request. A reader asks for a
//! dozen distinct statements at most, so [`Statements`] keeps them in a short list and finds
//! one by comparing texts (lengths first, as `str` equality does).

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};

use rusqlite::{Connection, PrepFlags, Statement};

use crate::Result;

/// The most statements a connection keeps prepared; past it the least recently used one is
/// finalized.
const CAPACITY: usize = 32;

self_cell::self_cell!(
    /// A connection and its [`Statements`].
    pub(crate) struct PreparedConnection {
        owner: Connection,
        #[not_covariant]
        dependent: Statements,
    }
);

// SAFETY: a `PreparedConnection` moves between threads as one value (the reader pool hands it
// out): the connection and every statement prepared on it, whose references and handles point
// into that connection only. Moving them together is what moving a `Connection` alone does,
// which rusqlite allows (`Connection: Send`; SQLite is built thread-safe). The cell is not
// `Sync` (a `Connection` is not), so no two threads ever use it at once. `Statement` is not
// `Send` only because it could otherwise leave its connection behind on another thread.
unsafe impl Send for PreparedConnection {}

impl PreparedConnection {
    pub(crate) fn open(conn: Connection) -> Self {
        Self::new(conn, |conn| Statements {
            conn,
            idle: RefCell::new(Vec::new()),
        })
    }

    pub(crate) fn conn(&self) -> &Connection {
        self.borrow_owner()
    }

    /// Runs `f` with the connection's statements (which dereference to the connection).
    pub(crate) fn with<T>(&self, f: impl FnOnce(&Statements<'_>) -> T) -> T {
        self.with_dependent(|_, statements| f(statements))
    }
}

/// The statements prepared on one connection and not in use, most recently used last.
pub(crate) struct Statements<'c> {
    conn: &'c Connection,
    idle: RefCell<Vec<(Box<str>, Statement<'c>)>>,
}

impl<'c> Deref for Statements<'c> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl<'c> Statements<'c> {
    /// `sql` prepared: the kept statement when there is one, else a new one, kept once it is
    /// dropped. (Used twice at once, the second use prepares its own.)
    pub(crate) fn prepare_cached(&self, sql: &str) -> Result<Prepared<'_, 'c>> {
        let taken = {
            let mut idle = self.idle.borrow_mut();
            idle.iter()
                .rposition(|(text, _)| **text == *sql)
                .map(|i| idle.remove(i))
        };
        let (sql, statement) = match taken {
            Some(kept) => kept,
            // Persistent, as rusqlite's cache prepares its statements: SQLite then keeps their
            // memory out of the connection's lookaside slots, and their steps cost less (a
            // listed report's 16k instructions in SQLite were 19.8k without it).
            None => (
                sql.into(),
                self.conn
                    .prepare_with_flags(sql, PrepFlags::SQLITE_PREPARE_PERSISTENT)?,
            ),
        };
        Ok(Prepared {
            statements: self,
            kept: Some((sql, statement)),
        })
    }
}

/// A statement in use; dropped, it goes back to its connection's [`Statements`]. Its rows reset
/// it when they are dropped, and every use binds all of its parameters.
pub(crate) struct Prepared<'s, 'c> {
    statements: &'s Statements<'c>,
    kept: Option<(Box<str>, Statement<'c>)>,
}

impl<'c> Deref for Prepared<'_, 'c> {
    type Target = Statement<'c>;

    fn deref(&self) -> &Statement<'c> {
        &self.kept.as_ref().expect("present until drop").1
    }
}

impl<'c> DerefMut for Prepared<'_, 'c> {
    fn deref_mut(&mut self) -> &mut Statement<'c> {
        &mut self.kept.as_mut().expect("present until drop").1
    }
}

impl Drop for Prepared<'_, '_> {
    fn drop(&mut self) {
        let Some((sql, statement)) = self.kept.take() else {
            return;
        };
        let mut idle = self.statements.idle.borrow_mut();
        if idle.iter().any(|(text, _)| *text == sql) {
            return;
        }
        if idle.len() == CAPACITY {
            idle.remove(0);
        }
        idle.push((sql, statement));
    }
}

#[cfg(test)]
mod tests {
    use super::PreparedConnection;

    #[test]
    fn a_statement_is_kept_and_found_again_by_its_text() {
        let conn = PreparedConnection::open(rusqlite::Connection::open_in_memory().unwrap());
        conn.with(|statements| {
            let sql = String::from("SELECT ?1 + 1");
            let first: i64 = statements
                .prepare_cached(&sql)
                .unwrap()
                .query_row([1], |r| r.get(0))
                .unwrap();
            assert_eq!(first, 2);
            // The same text at another address finds the kept statement; other text does not.
            let again = sql.clone();
            {
                let held = statements.prepare_cached(&again).unwrap();
                // In use twice at once: the second use has its own statement.
                let mut other = statements.prepare_cached(&sql).unwrap();
                assert_eq!(other.query_row([5], |r| r.get::<_, i64>(0)).unwrap(), 6);
                drop(held);
            }
            assert_eq!(statements.idle.borrow().len(), 1);
            let doubled: i64 = statements
                .prepare_cached("SELECT ?1 * 2")
                .unwrap()
                .query_row([4], |r| r.get(0))
                .unwrap();
            assert_eq!(doubled, 8);
            assert_eq!(statements.idle.borrow().len(), 2);
        });
    }

    #[test]
    fn past_its_capacity_the_least_recently_used_statement_goes() {
        let conn = PreparedConnection::open(rusqlite::Connection::open_in_memory().unwrap());
        conn.with(|statements| {
            for n in 0..=super::CAPACITY {
                let sql = format!("SELECT {n}");
                let got: i64 = statements
                    .prepare_cached(&sql)
                    .unwrap()
                    .query_row([], |r| r.get(0))
                    .unwrap();
                assert_eq!(got, n as i64);
            }
            let idle = statements.idle.borrow();
            assert_eq!(idle.len(), super::CAPACITY);
            assert_eq!(&*idle[0].0, "SELECT 1");
        });
    }
}
