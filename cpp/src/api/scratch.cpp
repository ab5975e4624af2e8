#include "api/scratch.hpp"

#include <algorithm>
#include <cstdlib>
#include <new>

namespace normcore::detail {
namespace {

constexpr std::size_t kScratchBlocks = 16;
constexpr std::size_t kScratchBytes = std::size_t{32} << 20;
constexpr std::size_t kAlign = 64;
// Requests below this many bytes go to the allocator as they are (small blocks never reach mmap).
constexpr std::size_t kSmall = 4096;

// The size of the block serving a request: the next power of two, or the request itself when small (so a block's
// size follows from the request, and a cached block serves every request of its class).
std::size_t block_size(std::size_t bytes) {
  if (bytes < kSmall) return std::max(bytes, kAlign);
  std::size_t s = kSmall;
  while (s < bytes) s *= 2;
  return s;
}

// Set once the thread's cache is destroyed (thread exit): later calls (a destructor running after it) bypass it.
// Trivially destructible, so it outlives the cache.
thread_local bool t_cache_gone = false;

struct Cache {
  struct Block {
    void* p;
    std::size_t size;
  };
  Block blocks[kScratchBlocks];
  std::size_t count = 0, bytes = 0;
  ~Cache() {
    for (std::size_t i = 0; i < count; ++i) ::operator delete(blocks[i].p, std::align_val_t{kAlign});
    t_cache_gone = true;
  }
};

Cache& cache() {
  thread_local Cache c;
  return c;
}

}  // namespace

void* scratch_allocate(std::size_t bytes) {
  const std::size_t size = block_size(bytes);
  if (size >= kSmall && !t_cache_gone) {
    Cache& c = cache();
    for (std::size_t i = c.count; i-- > 0;)  // the newest first: the likeliest still in the caches
      if (c.blocks[i].size == size) {
        void* p = c.blocks[i].p;
        std::copy(c.blocks + i + 1, c.blocks + c.count, c.blocks + i);  // the others keep their age order
        --c.count;
        c.bytes -= size;
        return p;
      }
  }
  return ::operator new(size, std::align_val_t{kAlign});
}

bool scratch_cached(std::size_t bytes) noexcept { return block_size(bytes) <= kScratchBytes / 2; }

void scratch_release(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  const std::size_t size = block_size(bytes);
  if (size >= kSmall && !t_cache_gone) {
    Cache& c = cache();
    if (size <= kScratchBytes / 2) {
      // the oldest blocks make room
      while (c.count == kScratchBlocks || c.bytes + size > kScratchBytes) {
        ::operator delete(c.blocks[0].p, std::align_val_t{kAlign});
        c.bytes -= c.blocks[0].size;
        std::copy(c.blocks + 1, c.blocks + c.count, c.blocks);
        --c.count;
      }
      c.blocks[c.count++] = {p, size};
      c.bytes += size;
      return;
    }
  }
  ::operator delete(p, std::align_val_t{kAlign});
}

}  // namespace normcore::detail
