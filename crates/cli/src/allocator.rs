//! The global allocator: mimalloc, a multi-threaded allocator (under load the system
//! allocator's arena locks cost a sixth of the server's time), asked for plain blocks where
//! their alignment allows.
//!
//! `mimalloc::MiMalloc` asks `mi_malloc_aligned` for every block, whose fast route takes only
//! blocks of at most 1 KiB; every larger one (a report's JSON, a request's buffers) took the
//! route that over-allocates and searches, about ten per listed report. Every block
//! `mi_malloc` hands out is aligned to a word (its size classes are whole words in pages
//! aligned to 16 bytes; not every class is aligned to 16, so 16 is not assumed), so a layout
//! aligned to at most a word is asked of the plain calls.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys::{
    mi_free, mi_malloc, mi_malloc_aligned, mi_realloc, mi_realloc_aligned, mi_zalloc,
    mi_zalloc_aligned,
};

pub struct Allocator;

/// Whether a block aligned to `align` may come from the plain calls.
fn plain(align: usize) -> bool {
    align <= std::mem::size_of::<usize>()
}

/// A block for `layout` from `plain_call` (a size) when [`plain`] allows, else from
/// `aligned_call` (a size and an alignment).
///
/// # Safety
/// As [`GlobalAlloc::alloc`]'s: `layout` has a non-zero size.
#[inline]
unsafe fn block(
    layout: Layout,
    plain_call: unsafe extern "C" fn(usize) -> *mut c_void,
    aligned_call: unsafe extern "C" fn(usize, usize) -> *mut c_void,
) -> *mut u8 {
    // SAFETY: both calls take any size and (the aligned one) a power-of-two alignment, which
    // a `Layout` has.
    unsafe {
        if plain(layout.align()) {
            plain_call(layout.size()).cast()
        } else {
            aligned_call(layout.size(), layout.align()).cast()
        }
    }
}

// SAFETY: every block comes from mimalloc with at least the layout's size and alignment (the
// plain calls only where `plain` shows mimalloc's own alignment suffices), and `mi_free` and
// the reallocations take any block mimalloc handed out, aligned or not.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as the impl's.
        unsafe { block(layout, mi_malloc, mi_malloc_aligned) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as the impl's.
        unsafe { block(layout, mi_zalloc, mi_zalloc_aligned) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from mimalloc.
        unsafe { mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as the impl's; `ptr` came from mimalloc.
        unsafe {
            if plain(layout.align()) {
                mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every layout from a byte to a page's alignment, around mimalloc's size classes and its
    /// small-block limit: each block is aligned as asked, zeroed when asked, and keeps its
    /// bytes through growing and shrinking.
    #[test]
    fn blocks_are_aligned_as_asked_through_reallocation() {
        let sizes = [1, 7, 8, 12, 16, 24, 40, 100, 1000, 1024, 1025, 4096, 70_000];
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in sizes {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a non-zero size; each block is freed once, with its layout.
                unsafe {
                    let zeroed = Allocator.alloc_zeroed(layout);
                    assert_eq!(zeroed as usize % align, 0, "zeroed {size} by {align}");
                    assert!(std::slice::from_raw_parts(zeroed, size)
                        .iter()
                        .all(|b| *b == 0));
                    Allocator.dealloc(zeroed, layout);

                    let block = Allocator.alloc(layout);
                    assert_eq!(block as usize % align, 0, "{size} by {align}");
                    for i in 0..size {
                        *block.add(i) = i as u8;
                    }
                    let grown = Allocator.realloc(block, layout, size * 3);
                    assert_eq!(grown as usize % align, 0, "{size} grown by {align}");
                    let shrunk = Allocator.realloc(
                        grown,
                        Layout::from_size_align(size * 3, align).unwrap(),
                        size.div_ceil(2),
                    );
                    assert_eq!(shrunk as usize % align, 0, "{size} shrunk by {align}");
                    for i in 0..size.div_ceil(2) {
                        assert_eq!(*shrunk.add(i), i as u8);
                    }
                    Allocator.dealloc(
                        shrunk,
                        Layout::from_size_align(size.div_ceil(2), align).unwrap(),
                    );
                }
            }
        }
    }
}
