//! Large buffers backed by 2 MiB pages. Touching fresh memory costs a page
//! fault per 4 KiB page; on the virtual machines measured here that was
//! the largest single cost of a painting after the arithmetic (a fifth of
//! a bf16 UNet step: packed weights, unfolded columns, outputs). Linux
//! backs a range with huge pages when asked (`MADV_HUGEPAGE`, honoured
//! with transparent huge pages in `madvise` or `always` mode), cutting
//! the faults 512-fold.

/// Buffers below this are left to the allocator as they are.
const HUGE: usize = 4 << 20;
const PAGE: usize = 2 << 20;

/// `buf` emptied and refilled with `len` zeros, in its own memory when
/// that is large enough, else in fresh memory backed by huge pages.
pub(crate) fn zeroed<T: Copy + Default>(mut buf: Vec<T>, len: usize) -> Vec<T> {
    buf.clear();
    if buf.capacity() < len {
        buf = Vec::with_capacity(len);
        advise_huge(buf.as_ptr() as usize, len * std::mem::size_of::<T>());
    }
    buf.resize(len, T::default());
    buf
}

/// A vector of `len` zeros (see [`zeroed`]).
pub(crate) fn zeros<T: Copy + Default>(len: usize) -> Vec<T> {
    zeroed(Vec::new(), len)
}

#[cfg(target_os = "linux")]
fn advise_huge(start: usize, bytes: usize) {
    if bytes < HUGE {
        return;
    }
    let (lo, hi) = (start.next_multiple_of(PAGE), (start + bytes) / PAGE * PAGE);
    if hi > lo {
        // SAFETY: advice about pages of an allocation this process owns
        // (the range is inside it); it changes how they are backed, never
        // their contents, and failure is harmless.
        #[allow(unsafe_code)]
        unsafe {
            libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge(_: usize, _: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_zeroed_and_reused() {
        let mut v = zeros::<f32>(3 << 20);
        assert!(v.iter().all(|&x| x == 0.0));
        v[5] = 1.0;
        let p = v.as_ptr();
        let v = zeroed(v, 1 << 20);
        assert_eq!((v.len(), v.as_ptr()), (1 << 20, p));
        assert!(v.iter().all(|&x| x == 0.0));
    }
}
