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

/// A vector of `len` zeros. Fresh large allocations come zeroed from
/// the kernel (`calloc` does not write them), so the advice still comes
/// before any page is touched.
pub(crate) fn zeros<T: Copy + Default + IsZero>(len: usize) -> Vec<T> {
    let v = vec![T::ZERO; len];
    advise_huge(v.as_ptr() as usize, len * std::mem::size_of::<T>());
    v
}

/// `buf` at length `len` for a caller that writes every element: its
/// memory when large enough (old values left in place), else fresh zeros.
pub(crate) fn reuse<T: Copy + Default + IsZero>(mut buf: Vec<T>, len: usize) -> Vec<T> {
    if buf.capacity() < len {
        return zeros(len);
    }
    buf.resize(len, T::ZERO);
    buf
}

/// Element types whose zero is all zero bits (so `vec![ZERO; n]` can take
/// memory the kernel already zeroed).
pub(crate) trait IsZero {
    const ZERO: Self;
}

impl IsZero for f32 {
    const ZERO: Self = 0.0;
}

impl IsZero for u16 {
    const ZERO: Self = 0;
}

impl IsZero for u32 {
    const ZERO: Self = 0;
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
        let v = reuse(v, 1 << 20);
        assert_eq!((v.len(), v.as_ptr(), v[5]), (1 << 20, p, 1.0));
        let v = reuse(v, 2 << 20);
        assert_eq!((v.len(), v.as_ptr()), (2 << 20, p));
        let v = reuse(v, 4 << 20);
        assert_eq!(v.len(), 4 << 20);
        assert!(v.iter().all(|&x| x == 0.0));
    }
}
