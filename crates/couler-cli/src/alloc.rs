//! The allocator of the whole binary: mimalloc, with blocks of [`LARGE`] bytes and more mapped
//! by the kernel on Linux, so that growing one (a large workflow's list of steps, a printed
//! document) moves its pages to a larger mapping (`mremap`) instead of filling fresh,
//! kernel-zeroed pages with a copy while the old block is still held (docs/performance.md,
//! "Large blocks grown in place").
//!
//! Which side holds a block follows from its layout alone (size and alignment), which Rust hands
//! to every call, so no block needs a header or a lookup.

use std::alloc::{GlobalAlloc, Layout};

/// The smallest block mapped by the kernel: 2 MiB, a huge page on x86-64.
const LARGE: usize = 2 << 20;

/// mimalloc, with large blocks mapped by the kernel (see the module's text).
pub struct Allocator;

static SMALL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Whether a block of this size and alignment is mapped by the kernel: large, and aligned no
/// more than a page (every mapping starts on a page; a page is at least 4 KiB).
#[cfg(target_os = "linux")]
fn mapped(size: usize, align: usize) -> bool {
    size >= LARGE && align <= 4096
}

#[cfg(not(target_os = "linux"))]
fn mapped(_size: usize, _align: usize) -> bool {
    false
}

#[cfg(target_os = "linux")]
mod map {
    /// A fresh mapping of `size` zeroed bytes, or null.
    pub(super) unsafe fn new(size: usize) -> *mut u8 {
        // SAFETY: an anonymous private mapping has no preconditions.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            std::ptr::null_mut()
        } else {
            p.cast()
        }
    }

    /// The mapping at `ptr` of `old` bytes resized to `new` bytes, moved where it must be; null
    /// (and the old mapping kept) where the kernel refuses.
    pub(super) unsafe fn resize(ptr: *mut u8, old: usize, new: usize) -> *mut u8 {
        // SAFETY: `ptr` and `old` describe a mapping made by `new` (the caller's contract).
        let p = unsafe { libc::mremap(ptr.cast(), old, new, libc::MREMAP_MAYMOVE) };
        if p == libc::MAP_FAILED {
            std::ptr::null_mut()
        } else {
            p.cast()
        }
    }

    /// Unmaps the mapping at `ptr` of `size` bytes.
    pub(super) unsafe fn free(ptr: *mut u8, size: usize) {
        // SAFETY: as for `resize`; the block is not used after.
        unsafe { libc::munmap(ptr.cast(), size) };
    }
}

#[cfg(not(target_os = "linux"))]
mod map {
    pub(super) unsafe fn new(_: usize) -> *mut u8 {
        unreachable!("only Linux maps blocks")
    }
    pub(super) unsafe fn resize(_: *mut u8, _: usize, _: usize) -> *mut u8 {
        unreachable!("only Linux maps blocks")
    }
    pub(super) unsafe fn free(_: *mut u8, _: usize) {
        unreachable!("only Linux maps blocks")
    }
}

// SAFETY: every block is made and released by the same side (mimalloc or the kernel), chosen by
// `mapped` from the layout the caller passes back unchanged; a move between the sides copies the
// bytes both blocks hold and releases the old block only after.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if mapped(layout.size(), layout.align()) {
            unsafe { map::new(layout.size()) }
        } else {
            unsafe { SMALL.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if mapped(layout.size(), layout.align()) {
            unsafe { map::new(layout.size()) }
        } else {
            unsafe { SMALL.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if mapped(layout.size(), layout.align()) {
            unsafe { map::free(ptr, layout.size()) }
        } else {
            unsafe { SMALL.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let (old, align) = (layout.size(), layout.align());
        match (mapped(old, align), mapped(new_size, align)) {
            (false, false) => unsafe { SMALL.realloc(ptr, layout, new_size) },
            (true, true) => unsafe { map::resize(ptr, old, new_size) },
            _ => {
                // SAFETY: `new_size` with the old alignment is a valid layout (the caller's
                // contract for `realloc`).
                let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, align) };
                let new = unsafe { self.alloc(new_layout) };
                if !new.is_null() {
                    unsafe {
                        std::ptr::copy_nonoverlapping(ptr, new, old.min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                new
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fills `n` bytes at `p` with a pattern that tells every position apart.
    unsafe fn fill(p: *mut u8, n: usize) {
        for i in 0..n {
            unsafe { *p.add(i) = (i % 251) as u8 };
        }
    }

    unsafe fn holds_pattern(p: *const u8, n: usize) -> bool {
        (0..n).all(|i| unsafe { *p.add(i) } == (i % 251) as u8)
    }

    #[test]
    fn a_block_keeps_its_bytes_as_it_grows_past_the_mapped_size_and_shrinks_back() {
        let a = Allocator;
        let sizes = [
            1000,
            LARGE - 1,
            LARGE,
            3 * LARGE + 17,
            40 * LARGE,
            LARGE + 5,
            64,
        ];
        unsafe {
            let mut layout = Layout::from_size_align(sizes[0], 8).unwrap();
            let mut p = a.alloc(layout);
            assert!(!p.is_null());
            fill(p, sizes[0]);
            for &size in &sizes[1..] {
                p = a.realloc(p, layout, size);
                assert!(!p.is_null(), "realloc to {size}");
                let kept = layout.size().min(size);
                assert!(
                    holds_pattern(p, kept),
                    "bytes kept from {} to {size}",
                    layout.size()
                );
                layout = Layout::from_size_align(size, 8).unwrap();
                fill(p, size);
            }
            a.dealloc(p, layout);
        }
    }

    #[test]
    fn a_zeroed_large_block_is_zero_and_an_over_aligned_one_is_aligned() {
        let a = Allocator;
        unsafe {
            let layout = Layout::from_size_align(3 * LARGE, 16).unwrap();
            let p = a.alloc_zeroed(layout);
            assert!(!p.is_null());
            assert!((0..layout.size()).step_by(4093).all(|i| *p.add(i) == 0));
            a.dealloc(p, layout);

            let layout = Layout::from_size_align(LARGE, 1 << 16).unwrap();
            let p = a.alloc(layout);
            assert!(!p.is_null());
            assert_eq!(p as usize % (1 << 16), 0, "aligned as asked");
            let p = a.realloc(p, layout, 4 * LARGE);
            assert_eq!(p as usize % (1 << 16), 0, "still aligned after growing");
            a.dealloc(p, Layout::from_size_align(4 * LARGE, 1 << 16).unwrap());
        }
    }

    #[test]
    fn large_blocks_are_mapped_only_where_the_kernel_can_remap_them() {
        assert_eq!(mapped(LARGE, 8), cfg!(target_os = "linux"));
        assert!(!mapped(LARGE - 1, 8));
        assert!(!mapped(LARGE, 8192), "a page's alignment at most");
    }
}
