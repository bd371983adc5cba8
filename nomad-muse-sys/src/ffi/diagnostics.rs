//! What a host checks about the library's behaviour on its threads.

use super::error::MuseStatus;
use super::guard::{guard, Out};

/// Heap allocations the calling thread has made inside libnomad_muse so far:
/// `system` from the system heap, `arena` from session arenas (where a
/// per-token call's temporaries live when the model runs on tract's graph;
/// the fused step has none, so both stay put). A host checks that its real-time
/// thread's `system` count stays put across `muse_generate_next` calls after
/// the first call on that thread. Either pointer may be NULL.
///
/// Threads: any; counts are per thread.
///
/// # Safety
/// Non-NULL pointers must be writable.
#[no_mangle]
pub unsafe extern "C" fn muse_thread_alloc_counts(system: *mut u64, arena: *mut u64) -> MuseStatus {
    guard(|| {
        let (system, arena) = (Out::clear(system, 0), Out::clear(arena, 0));
        let (s, a) = crate::runtime::realtime_alloc::thread_counters();
        system.set(s);
        arena.set(a);
        Ok(())
    })
}
