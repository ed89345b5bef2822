// The weight arena hands out zeroed, 64-byte aligned slices that never
// overlap, puts large requests in mappings of their own, and its memory stays
// usable while any slice is alive, also after the arena is gone (a munmap too
// early would crash here).
#include "kernels/host_arena.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "kernels/kernel_test_util.h"

namespace dsinfer::kernels {
namespace {

using test::all_zero;
using test::kMB;

TEST(HostArena, SlicesAreAlignedZeroedAndDisjoint) {
  HostArena arena;
  std::vector<Buffer> bufs;
  // 7 MB slices: the 10th does not fit the first 64 MB chunk and starts a second.
  for (size_t bytes : {size_t{1}, size_t{63}, size_t{65}, 7 * kMB + 3, 7 * kMB, 7 * kMB, 7 * kMB, 7 * kMB, 7 * kMB,
                       7 * kMB, 7 * kMB, 7 * kMB, 7 * kMB, 40 * kMB})
    bufs.push_back(arena.alloc(bytes));
  for (size_t i = 0; i < bufs.size(); ++i) {
    const Buffer& b = bufs[i];
    ASSERT_NE(b.data(), nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % 64, 0u) << i;
    EXPECT_TRUE(all_zero(b)) << i;
    std::memset(b.data(), static_cast<int>(i + 1), b.bytes());
  }
  for (size_t i = 0; i < bufs.size(); ++i) {  // no slice wrote over another
    const auto* p = static_cast<const unsigned char*>(bufs[i].data());
    EXPECT_EQ(p[0], i + 1) << i;
    EXPECT_EQ(p[bufs[i].bytes() - 1], i + 1) << i;
  }
}

// Striped requests: kStripes runs per request, stride a multiple of
// kStripeAlign, zeroed and disjoint from every other run (small ones share a
// chunk of regions; one over half a region gets a mapping of its own, with a
// stride that holds it).
TEST(HostArena, StripesAreAlignedZeroedAndDisjoint) {
  HostArena arena;
  std::vector<HostArena::Stripes> got;
  for (size_t bytes : {size_t{100}, 3 * kMB + 5, 10 * kMB, 10 * kMB, 33 * kMB, size_t{64}})
    got.push_back(arena.alloc_striped(bytes));
  const std::vector<size_t> sizes = {100, 3 * kMB + 5, 10 * kMB, 10 * kMB, 33 * kMB, 64};
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NE(got[i].mem.data(), nullptr);
    EXPECT_EQ(got[i].stride % HostArena::kStripeAlign, 0u) << i;
    EXPECT_GE(got[i].stride, sizes[i]) << i;
    EXPECT_EQ(got[i].mem.bytes(), got[i].stride * (HostArena::kStripes - 1) + sizes[i]) << i;
    for (int k = 0; k < HostArena::kStripes; ++k) {
      auto* p = static_cast<unsigned char*>(got[i].mem.data()) + got[i].stride * static_cast<size_t>(k);
      for (size_t b = 0; b < sizes[i]; b += 4093) ASSERT_EQ(p[b], 0) << i << " stripe " << k;
      std::memset(p, static_cast<int>(i * 8 + static_cast<size_t>(k) + 1), sizes[i]);
    }
  }
  for (size_t i = 0; i < got.size(); ++i)
    for (int k = 0; k < HostArena::kStripes; ++k) {
      const auto* p = static_cast<const unsigned char*>(got[i].mem.data()) + got[i].stride * static_cast<size_t>(k);
      EXPECT_EQ(p[0], i * 8 + static_cast<size_t>(k) + 1) << i << " stripe " << k;
      EXPECT_EQ(p[sizes[i] - 1], i * 8 + static_cast<size_t>(k) + 1) << i << " stripe " << k;
    }
}

TEST(HostArena, MemoryOutlivesTheArena) {
  std::optional<HostArena> arena(std::in_place);
  Buffer small = arena->alloc(5 * kMB), large = arena->alloc(HostArena::kChunkBytes);
  arena.reset();
  std::memset(small.data(), 0x5a, small.bytes());
  std::memset(large.data(), 0xa5, large.bytes());
  EXPECT_EQ(static_cast<const unsigned char*>(small.data())[small.bytes() - 1], 0x5a);
  EXPECT_EQ(static_cast<const unsigned char*>(large.data())[large.bytes() - 1], 0xa5);
}

}  // namespace
}  // namespace dsinfer::kernels
