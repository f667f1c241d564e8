#pragma once
// An allocator for large lookup tables that are read at random (the smoothed template maps):
// blocks of 2 MiB or more are 2 MiB aligned and marked MADV_HUGEPAGE, so that Linux backs them
// with transparent huge pages where it can ("madvise" mode, the usual default). Random reads then
// hit a handful of TLB entries instead of missing the TLB on almost every access (under a
// hypervisor a TLB miss is a two-level page walk). Elsewhere it behaves as std::allocator.
#include <cstddef>
#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace nusky {

template <class T>
struct HugePageAllocator {
    using value_type = T;
    static constexpr std::size_t kHugePage = std::size_t{2} << 20;

    HugePageAllocator() = default;
    template <class U>
    HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

    T* allocate(std::size_t n)
    {
        const std::size_t bytes = n * sizeof(T);
        void* p = nullptr;
        if (bytes >= kHugePage) {
            const std::size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
            p = std::aligned_alloc(kHugePage, rounded);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
            if (p) ::madvise(p, rounded, MADV_HUGEPAGE);  // advice only: failure is harmless
#endif
        } else {
            p = std::malloc(bytes ? bytes : 1);
        }
        if (!p) throw std::bad_alloc();
        return static_cast<T*>(p);
    }
    void deallocate(T* p, std::size_t) noexcept { std::free(p); }

    template <class U>
    bool operator==(const HugePageAllocator<U>&) const noexcept { return true; }
    template <class U>
    bool operator!=(const HugePageAllocator<U>&) const noexcept { return false; }
};

}  // namespace nusky
