//! A global allocator that counts allocations and reallocations, on the
//! calling thread and over all threads, for the tests that prove the hot
//! path allocates nothing per packet. A test file installs it with
//! `#[global_allocator] static GLOBAL: alloc_count::Counting = alloc_count::Counting;`.

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Counting;

thread_local! {
    static THREAD: Cell<u64> = const { Cell::new(0) };
}

static ALL: AtomicU64 = AtomicU64::new(0);

fn count() {
    THREAD.with(|c| c.set(c.get() + 1));
    ALL.fetch_add(1, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations made so far by the calling thread.
pub fn allocations() -> u64 {
    THREAD.with(|c| c.get())
}

/// Allocations made so far by every thread.
pub fn all_allocations() -> u64 {
    ALL.load(Ordering::Relaxed)
}
