//! What the library keeps resident in a host after a load: pages it read
//! once and never needs again go back to the system. Load time only, never
//! per call.

/// Returns the pages a load freed (the decoded file, tract's graph and its
/// copy of the weights: several times the weights a session keeps), and
/// once per process the library's relocation table. glibc keeps freed heap
/// pages mapped, so without this a host's resident memory stays at the
/// load's peak.
pub fn release_load_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only returns free heap pages to the kernel; it
        // takes malloc's lock like any allocation, and loading allocates anyway.
        unsafe {
            libc::malloc_trim(0);
        }
        static RELOCATIONS: std::sync::Once = std::sync::Once::new();
        RELOCATIONS.call_once(relocation_table::release);
    }
}

/// The dynamic loader reads the library's `.rela.dyn` (34,000 relocations,
/// 0.8 MB) once, when it maps the library, and never again; its pages stay
/// resident. They are file-backed and read-only, so dropping them loses
/// nothing: a later read (none is made) would map them from the file again.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod relocation_table {
    use std::ffi::{c_int, c_void};
    use std::ops::Range;

    /// An entry of the ELF dynamic section (`Elf64_Dyn`).
    #[repr(C)]
    struct DynamicEntry {
        tag: i64,
        value: u64,
    }
    const DT_NULL: i64 = 0;
    const DT_RELA: i64 = 7;
    const DT_RELASZ: i64 = 8;

    pub fn release() {
        // SAFETY: the callback only reads the loader's program headers and
        // the object's dynamic section, both mapped while it runs.
        unsafe {
            libc::dl_iterate_phdr(Some(visit), std::ptr::null_mut());
        }
    }

    unsafe extern "C" fn visit(info: *mut libc::dl_phdr_info, _: usize, _: *mut c_void) -> c_int {
        // SAFETY: the loader passes a valid entry and `dlpi_phnum` headers.
        let info = unsafe { &*info };
        let headers =
            unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
        let base = info.dlpi_addr as usize;
        let segment = |h: &libc::Elf64_Phdr| {
            base + h.p_vaddr as usize..base + (h.p_vaddr + h.p_memsz) as usize
        };
        let loads = || headers.iter().filter(|h| h.p_type == libc::PT_LOAD);
        let this_code = release as fn() as usize;
        if !loads().any(|h| segment(h).contains(&this_code)) {
            return 0; // another object: keep looking
        }
        let table = headers
            .iter()
            .find(|h| h.p_type == libc::PT_DYNAMIC)
            // SAFETY: PT_DYNAMIC locates this object's mapped dynamic section.
            .and_then(|h| unsafe { table_range(segment(h).start, base) });
        // Only pages inside a read-only segment: nothing written there is lost.
        let read_only = |r: &Range<usize>| {
            loads().any(|h| {
                h.p_flags & libc::PF_W == 0
                    && segment(h).start <= r.start
                    && r.end <= segment(h).end
            })
        };
        if let Some(table) = table.filter(read_only) {
            drop_pages(table);
        }
        1
    }

    /// Where `.rela.dyn` is mapped, from DT_RELA and DT_RELASZ. glibc may
    /// have rebased DT_RELA in place (a value below the base is unrebased).
    unsafe fn table_range(dynamic: usize, base: usize) -> Option<Range<usize>> {
        let (mut start, mut size) = (None, None);
        let mut entry = dynamic as *const DynamicEntry;
        loop {
            // SAFETY: the dynamic section ends with a DT_NULL entry.
            let e = unsafe { &*entry };
            match e.tag {
                DT_NULL => break,
                DT_RELA => start = Some(e.value as usize),
                DT_RELASZ => size = Some(e.value as usize),
                _ => {}
            }
            entry = unsafe { entry.add(1) };
        }
        let start = start.map(|s| if s < base { s + base } else { s })?;
        Some(start..start.checked_add(size?)?)
    }

    /// Drops the whole pages inside `range` from this process's memory.
    fn drop_pages(range: Range<usize>) {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let first = range.start.div_ceil(page) * page;
        let end = range.end / page * page;
        if end > first {
            // SAFETY: whole pages of a read-only, file-backed mapping that no
            // one reads after relocation; MADV_DONTNEED maps them from the
            // file again if anyone did.
            unsafe {
                libc::madvise(first as *mut c_void, end - first, libc::MADV_DONTNEED);
            }
        }
    }
}
