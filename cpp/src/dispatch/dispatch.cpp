#include "dispatch/dispatch.hpp"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

namespace normcore::dispatch {
namespace {

struct Variant {
  const char* name;
  const KernelTable& (*table)();
  bool (*supported)();
};

bool always() { return true; }

#if defined(NORMCORE_HAVE_ISA_avx2) || defined(NORMCORE_HAVE_ISA_avx512)
// __builtin_cpu_supports checks CPUID and, for AVX/AVX-512, that the OS saves the wider registers (XGETBV).
bool has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
bool has_avx512() {
  __builtin_cpu_init();
  return has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}
#endif

// Compiled variants, worst first.
const Variant kVariants[] = {
    {"baseline", &baseline::kernel_table, &always},
#if defined(NORMCORE_HAVE_ISA_avx2)
    {"avx2", &avx2::kernel_table, &has_avx2},
#endif
#if defined(NORMCORE_HAVE_ISA_avx512)
    {"avx512", &avx512::kernel_table, &has_avx512},
#endif
};

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

const KernelTable* find(const std::string& name) {
  for (const auto& v : kVariants)
    if (name == v.name && v.supported()) return &v.table();
  std::string compiled;
  for (const auto& v : kVariants) compiled += (compiled.empty() ? "" : ", ") + std::string(v.name);
  throw std::invalid_argument("normcore: instruction set '" + name +
                              "' is not available (this CPU and build can run: " + joined(available()) +
                              "; compiled: " + compiled + ")");
}

const KernelTable* initial() {
  if (const char* forced = std::getenv("NORMCORE_FORCE_ISA"); forced != nullptr && *forced != '\0') {
    try {
      return find(forced);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("NORMCORE_FORCE_ISA: ") + e.what());
    }
  }
  const KernelTable* best = nullptr;
  for (const auto& v : kVariants)
    if (v.supported()) best = &v.table();
  return best;
}

std::atomic<const KernelTable*> g_table{nullptr};
std::mutex g_init_mutex;

}  // namespace

const KernelTable& table() {
  const KernelTable* t = g_table.load(std::memory_order_acquire);
  if (t != nullptr) return *t;
  std::lock_guard<std::mutex> lock(g_init_mutex);
  t = g_table.load(std::memory_order_relaxed);
  if (t == nullptr) {
    t = initial();
    g_table.store(t, std::memory_order_release);
  }
  return *t;
}

std::vector<std::string> available() {
  std::vector<std::string> names;
  for (const auto& v : kVariants)
    if (v.supported()) names.emplace_back(v.name);
  return names;
}

void select(const std::string& name) { g_table.store(find(name), std::memory_order_release); }

}  // namespace normcore::dispatch
