// The CPU backend's buffer cache hands freed blocks out again: zeroed (unless
// asked not to), only to
// requests that fit them without wasting more than half, never holding more
// than its limit, and buffers that outlive it are still freed (ASan checks).
#include "kernels/buffer_cache.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "kernels/kernel_test_util.h"

namespace dsinfer::kernels {
namespace {

using test::all_zero;
using test::kMB;

TEST(HostBufferCache, ReusesAFreedBlockZeroed) {
  HostBufferCache cache;
  void* first = nullptr;
  {
    Buffer a = cache.alloc(3 * kMB + 5);
    first = a.data();
    std::memset(a.data(), 0xab, a.bytes());
  }
  EXPECT_EQ(cache.cached_bytes(), 3 * kMB + 5);
  Buffer b = cache.alloc(2 * kMB);  // smaller, within half of the block
  EXPECT_EQ(b.data(), first);
  EXPECT_EQ(b.bytes(), 2 * kMB);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % 64, 0u);
  EXPECT_TRUE(all_zero(b));
  EXPECT_EQ(cache.cached_bytes(), 0u);
}

// An op's output buffer skips the zeroing pass (the op writes it in full);
// it still gets the recycled block, and a fresh block is still zero.
TEST(HostBufferCache, UninitialisedReuseSkipsTheZeroing) {
  HostBufferCache cache;
  void* first = nullptr;
  {
    Buffer a = cache.alloc_uninit(3 * kMB);
    EXPECT_TRUE(all_zero(a));  // fresh pages
    first = a.data();
    std::memset(a.data(), 0xab, a.bytes());
  }
  Buffer b = cache.alloc_uninit(3 * kMB);
  EXPECT_EQ(b.data(), first);
  EXPECT_EQ(static_cast<const unsigned char*>(b.data())[0], 0xab);  // not zeroed again
  b = Buffer();
  EXPECT_TRUE(all_zero(cache.alloc(3 * kMB)));  // the zeroed request still is
}

TEST(HostBufferCache, KeepsTheBlocksWholeCapacity) {
  HostBufferCache cache;
  { Buffer a = cache.alloc(4 * kMB); }
  { Buffer b = cache.alloc(3 * kMB); }  // reuses the 4 MB block and returns all of it
  EXPECT_EQ(cache.cached_bytes(), 4 * kMB);
  Buffer c = cache.alloc(4 * kMB);
  EXPECT_TRUE(all_zero(c));
  EXPECT_EQ(cache.cached_bytes(), 0u);
}

TEST(HostBufferCache, DoesNotWasteABigBlockOnASmallRequest) {
  HostBufferCache cache;
  { Buffer big = cache.alloc(8 * kMB); }
  Buffer small = cache.alloc(3 * kMB);  // 8 MB would waste more than half
  EXPECT_EQ(cache.cached_bytes(), 8 * kMB);
  Buffer bigger = cache.alloc(9 * kMB);  // larger than every kept block
  EXPECT_EQ(cache.cached_bytes(), 8 * kMB);
}

TEST(HostBufferCache, HoldsNoMoreThanItsLimit) {
  HostBufferCache::Limits lim;
  lim.max_cached = 10 * kMB;
  HostBufferCache cache(lim);
  {
    std::vector<Buffer> held;
    for (int i = 0; i < 6; ++i) held.push_back(cache.alloc(3 * kMB));
  }
  EXPECT_EQ(cache.cached_bytes(), 9 * kMB);  // three fit under 10 MB, the others were freed
}

TEST(HostBufferCache, SmallAndHugeBuffersBypassIt) {
  HostBufferCache::Limits lim;
  lim.max_bytes = 16 * kMB;
  HostBufferCache cache(lim);
  { Buffer tiny = cache.alloc(1000); }
  { Buffer huge = cache.alloc(32 * kMB); }
  EXPECT_EQ(cache.cached_bytes(), 0u);
  Buffer tiny = cache.alloc(1000);
  EXPECT_TRUE(all_zero(tiny));
}

TEST(HostBufferCache, BufferMayOutliveTheCache) {
  Buffer kept;
  {
    HostBufferCache cache;
    kept = cache.alloc(2 * kMB);
    std::memset(kept.data(), 1, kept.bytes());
  }
  EXPECT_EQ(static_cast<unsigned char*>(kept.data())[kept.bytes() - 1], 1);
  kept = Buffer();  // freed here, not leaked (the ASan build checks)
}

}  // namespace
}  // namespace dsinfer::kernels
