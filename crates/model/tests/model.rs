//! Integration tests of threatintel-model: one test binary for the crate, one module per area.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

#[path = "model/domain.rs"]
mod domain;
#[path = "model/evidence.rs"]
mod evidence;
#[path = "model/file.rs"]
mod file;
#[path = "model/time.rs"]
mod time;

/// Counts allocations per thread, so that tests can pin down hot-path allocation behaviour
/// while other tests run in parallel.
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting has no effect on it.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Runs `f` and counts the allocations it made on this thread.
fn allocations<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (out, ALLOCATIONS.with(Cell::get) - before)
}
