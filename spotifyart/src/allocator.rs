//! glibc's allocator tuned for painting, applied by the binary itself so
//! users get it without reading docs. Every layer's output is a fresh
//! tensor of up to 256 MiB; with glibc's defaults each is a new `mmap`
//! whose pages fault in on first write and go back to the system when
//! freed (`perf`: ~10% of a VAE decode in the kernel's page-fault path).
//! Raising the mmap threshold to 1 GiB and the trim threshold to 4 GiB
//! keeps freed blocks in the heap for the next layer. A setting the user
//! made (`MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`, or
//! `GLIBC_TUNABLES`) wins.

/// Largest block served from the heap rather than its own mapping.
const MMAP_THRESHOLD: i32 = 1 << 30;
/// Free memory kept at the heap's top before returning it.
const TRIM_THRESHOLD: i32 = i32::MAX;

/// Applies the settings unless the environment already chose; returns
/// whether it did.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune() -> bool {
    let chosen = [
        "MALLOC_MMAP_THRESHOLD_",
        "MALLOC_TRIM_THRESHOLD_",
        "GLIBC_TUNABLES",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some());
    if chosen {
        return false;
    }
    // SAFETY: mallopt only changes two of glibc's allocator parameters;
    // it is called once at start-up, before any thread is spawned.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    }
}

/// Other allocators keep their defaults.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune() -> bool {
    false
}
