//! A global allocator that counts the bytes each thread allocated and has not
//! freed yet: for the tests of what a connection keeps. Included only by the
//! binaries that measure (`mod live_bytes;`).
//!
//! Per thread, because the tests run server and client on their own thread
//! (`block_on`) while other threads come and go (the other tests of the
//! binary, each on its own thread, among them): async-io's timer thread
//! starts when a connection first arms a timeout and allocates as it likes,
//! and a count of every thread saw it land between two readings (a body
//! measured 812 bytes smaller than itself).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Live;

thread_local! {
    /// Bytes this thread allocated and has not freed. Constant-initialised
    /// and without a destructor: reading it never allocates.
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

/// The bytes the calling thread has allocated and not yet freed.
pub fn live() -> isize {
    LIVE.with(Cell::get)
}

fn count(change: isize) {
    // `try_with`: an allocation while the thread's locals are torn down is
    // not counted rather than a panic inside the allocator.
    let _ = LIVE.try_with(|live| live.set(live.get() + change));
}

unsafe impl GlobalAlloc for Live {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Live = Live;
