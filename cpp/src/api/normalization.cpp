// Public normalization functions: validate, then arrange the per-ISA span/column kernels into the five norms and
// split the work across threads.
//
// Every norm is described the same way: x is a set of planes (n, c) — in channels-first a contiguous span of S
// elements, in channels-last column c of sample n's S rows of C — and each statistic (a "group") merges some planes:
//   batch norm     group c      = planes (n, c) for all n   (channels-last and S == 1: one sample of N·S rows, so
//                                 one plane per channel; S < kShortSpan: N rows of C·S columns, S columns a channel)
//   group norm     group (n, g) = planes (n, c) for c in g
//   instance norm  group (n, c) = plane (n, c)
//   layer/RMS norm group r      = plane (r, 0) of the view (rows, 1, D), weight/bias along the plane
// Plane statistics are computed over fixed chunks (channels-first: kChunkBytes of a span; channels-last: blocks of
// rows × columns) and merged in a fixed order, so the result is the same whichever thread computes what. Three
// schedules give the same bits: channels-first fused per group (statistics, then normalize the group's planes
// while they are in cache: 2 passes over memory), channels-last fused per sample (group/instance norm), and split
// (all chunks in parallel, merge, then all planes in parallel: for few large groups, and channels-last batch norm).
#include "normcore/normalization.hpp"
#include "normcore/inference.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "api/common.hpp"
#include "api/parallel.hpp"
#include "api/scratch.hpp"
#include "dispatch/dispatch.hpp"

namespace normcore {
namespace {

template <class T>
const NormKernels<T>& kernels() {
  if constexpr (std::is_same_v<T, float>) {
    return dispatch::table().norm_f32;
  } else {
    return dispatch::table().norm_f64;
  }
}

// A channels-first span is reduced in chunks of this many bytes (two passes over a chunk stay in L1/L2).
constexpr std::size_t kChunkBytes = 32768;
// Channels-last blocks: at most this many columns, at least this many rows.
constexpr std::size_t kTileCols = 256;
constexpr std::size_t kMinBlockRows = 64;
// The fused channels-first forward takes groups in batches of about this many elements (at most kGroupBatch).
constexpr std::size_t kBatchElems = 4096;
constexpr std::size_t kGroupBatch = 64;
// ... or of about this many when the groups are adjacent spans of at most a chunk (moments_planes reads each span's
// shift a span ahead; the batch is normalized from L2). LayerNorm (8192, 1024) forward, 1 thread, C++ driver: 4096
// elements a batch, ~2.4 ms; 32768, ~1.95 ms.
constexpr std::size_t kSpanBatchElems = 32768;
// Adjacent spans of at least this many elements (one plane each, or at most kPipePlanes planes) are normalized while
// the next one's moments are computed (moments_normalize).
constexpr std::size_t kPipeSpan = 512;
constexpr std::size_t kPipePlanes = 8;
// The backward pipelines planes of at least this many elements (grad_sums_input). C++ driver, group norm backward,
// medians of 5 alternations, pipelined (next plane prefetched into L2) against batches (ms): (32, 64, 3136) G=32
// 1 thread 2.68 / 2.77, 2 threads 1.07 / 1.10; G=64 (instance norm) 2.28 / 2.63, 2 threads 0.90 / 0.99;
// (32, 128, 784) G=32 1.32 / 1.08, 2 threads 0.43 / 0.42; (16, 64, 12544) 6.23 / 6.01 (prefetching into L1: 6.09).
constexpr std::size_t kPipeGradSpan = 2048;
// ... and of at most this many bytes; layer norm's spans with their weight and bias (per element) count together.
// The span read and the span normalized (and the parameters) stay in L1: group norm (32, 64, 3136) G=32, spans of
// 24.5 KiB, 1 thread: 1.27 ms in batches, 1.4 ms pipelined; (64, 64, 1024) G=32, spans of 8 KiB: 0.65 -> 0.46 ms.
// LayerNorm from Python (NumPy input, aligned output), 1 thread, batches -> pipelined: (8192, 1024) with weight and
// bias (16 KiB together) 1.8 -> 1.6 ms, (4096, 2048) without them 1.77 -> 1.64 ms; with them (32 KiB) 1.85 ->
// 2.18 ms, and (2048, 4096) 1.86 -> 3.1 ms, so these keep the batches.
constexpr std::size_t kPipeBytes = 16384;
// ... for group and instance norm spans (no per-element parameters): group norm (32, 64, 3136) G=32, spans of
// 24.5 KiB, 1 thread, with the reductions' prefetch: 1.16–1.2 ms in batches, 0.99–1.08 ms pipelined (C++ driver;
// before the prefetch it was 1.27 ms in batches against 1.4 pipelined).
constexpr std::size_t kPipeGroupBytes = 32768;
// Planes shorter than this (elements) of a channels-first group-norm group are normalized in one pass per group.
constexpr std::size_t kSmallPlane = 1024;
// Planes shorter than this (elements) of instance norm, or of a batch norm channel, go through the span kernels (one
// call for many planes, regular stores: map_block would not stream these either).
constexpr std::size_t kShortPlane = 256;
// Group norm's planes of at most kTinyPlane elements go through the span kernels in batches of at most kSpanBatch
// planes (their coefficients on the stack).
constexpr std::size_t kTinyPlane = 32;
constexpr std::size_t kSpanBatch = 256;
// Per-plane coefficients of a group live on the stack up to this many planes.
constexpr std::size_t kStackPlanes = 64;
// Batch norm's short channels-first planes go in batches of adjacent channels, about this many bytes of each input
// per batch, swept sample by sample (in memory order): see channel_batch().
constexpr std::size_t kChannelBatchBytes = 128 * 1024;
// Group norm of (N, C) input (one-element planes) goes a block of samples of about this many elements at a time.
constexpr std::size_t kRowGroupElems = 4096;
// ... and so does the backward of planes of up to this many elements whose per-plane sums outgrow the scratch cache.
constexpr std::size_t kRowGroupPlane = 8;
// A thread is woken for at least this many elements.
constexpr std::size_t kMinPerThread = 32768;
// Groups or planes per thread at least, for parallel_for's loops of a few hundred cycles per item.
constexpr std::size_t kMinItemsPerThread = 256;

template <class T>
constexpr std::size_t chunk_len() {
  return kChunkBytes / sizeof(T);
}

std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

// Fence the non-temporal stores of the calling thread's maps.
void fence() { kernels<float>().fence(); }

// f(t) for t < ntasks on the thread pool, each thread getting at least kMinPerThread elements; each thread fences
// its non-temporal stores at the end.
template <class F>
void parallel_tasks(std::size_t ntasks, std::size_t elems_per_task, F&& f) {
  const std::size_t min_tasks = std::max<std::size_t>(1, kMinPerThread / std::max<std::size_t>(1, elems_per_task));
  detail::parallel_ranges(ntasks, min_tasks, 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t t = b; t < e; ++t) f(t);
    fence();
  });
}

// f(i) for i < n, in ranges across threads (for loops writing only their own i's entries: no order to keep). Such
// loops over the groups or planes of the split schedule ran on one thread while the other waited. C++ driver, batch
// norm (32, 256, 4, 4) (4096 columns as planes), 2 threads: forward 0.108 -> 0.067 ms, backward 0.156 -> 0.145 ms
// (1 thread: 0.128 and 0.165 ms). The backward's parameter sums stay one loop: by channel across threads, with a
// division per plane for its group, group norm (256, 64, 4, 4) ran 10% slower.
template <class F>
void parallel_for(std::size_t n, F&& f) {
  detail::parallel_ranges(n, kMinItemsPerThread, 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) f(i);
  });
}

// Chan et al.'s merge of two sets' moments.
Moments merge(const Moments& a, const Moments& b) {
  if (a.n == 0) return b;
  if (b.n == 0) return a;
  const double n = a.n + b.n, d = b.mean - a.mean;
  return {n, a.mean + d * (b.n / n), a.m2 + b.m2 + d * d * (a.n * b.n / n)};
}

// The moments of k sets of one size, m[j·stride] (pooled: mean = Σ mean_j / k, M2 = Σ M2_j + n·Σ (mean_j − mean)²,
// each sum in order): one division where merging them one by one took k − 1, each on the chain of the next.
Moments pool(const Moments* m, std::size_t k, std::size_t stride) {
  double sm = 0.0, s2 = 0.0, sd = 0.0;
  for (std::size_t j = 0; j < k; ++j) sm += m[j * stride].mean;
  const double mean = sm / static_cast<double>(k);
  for (std::size_t j = 0; j < k; ++j) {
    const double d = m[j * stride].mean - mean;
    s2 += m[j * stride].m2;
    sd += d * d;
  }
  return {m[0].n * static_cast<double>(k), mean, s2 + m[0].n * sd};
}

GradSums add(const GradSums& a, const GradSums& b) { return {a.g + b.g, a.gd + b.gd}; }

// A double mean as T (hi, lo): hi + lo = mean to twice T's precision.
template <class T>
std::pair<T, T> split_mean(double m) {
  const T hi = static_cast<T>(m);
  return {hi, static_cast<T>(m - static_cast<double>(hi))};
}

double rstd_of(const Moments& m, double eps) { return 1.0 / std::sqrt(m.m2 / m.n + eps); }

// ---- the plane view and its statistic groups --------------------------------------------------------------

struct Planes {
  std::size_t N, C, S;
  bool cl;  // channels-last: plane (n, c) is column c of rows [n·S, (n + 1)·S) of an (N·S, C) array
  std::size_t count() const { return N * C; }
  std::size_t elements() const { return N * C * S; }
};

// Group k = planes k·base_step + j·stride for j < members; plane p holds channel (p / div) % mod. Two kinds: by
// channel (batch norm: div = 1, plane p = n·mod + c in group c), or runs of `members` adjacent planes (base_step =
// members, stride = 1) whose channels are adjacent (div = 1, members dividing mod: group, instance and layer norm)
// or one (div = members: batch norm's short channels-first spans, a channel's S columns).
struct Grouping {
  std::size_t groups, members, base_step, stride;
  bool by_channel;  // batch norm over planes (n, c): plane p belongs to group p % C; otherwise to p / members
  std::size_t div, mod;
  std::size_t plane(std::size_t k, std::size_t j) const { return k * base_step + j * stride; }
  std::size_t group_of(std::size_t p) const { return by_channel ? p % mod : p / members; }
  std::size_t channel_of(std::size_t p) const { return p / div % mod; }
};

// channel_of(p) for every plane p < count, by counting instead of dividing (one division per plane was a large part
// of the time on small planes)
vec<std::uint32_t> plane_channels(const Grouping& gr, std::size_t count) {
  vec<std::uint32_t> ch(count);
  std::size_t c = 0, in_div = 0;
  for (std::size_t p = 0; p < count; ++p) {
    ch[p] = static_cast<std::uint32_t>(c);
    if (++in_div == gr.div) {
      in_div = 0;
      if (++c == gr.mod) c = 0;
    }
  }
  return ch;
}

Grouping per_channel(const Planes& v) { return {v.C, v.N, 1, v.C, true, 1, v.C}; }
Grouping per_sample_groups(const Planes& v, std::size_t groups) {
  const std::size_t cg = v.C / groups;
  return {v.N * groups, cg, cg, 1, false, 1, v.C};
}

// Channels-last blocks: tiles of columns × blocks of rows.
struct ColBlocks {
  std::size_t tile, ntiles, rows, nrb;
  template <class T>
  static ColBlocks of(const Planes& v) {
    const std::size_t tile = std::max<std::size_t>(1, std::min(v.C, kTileCols));
    const std::size_t rows = std::max(kMinBlockRows, chunk_len<T>() / tile);
    return {tile, ceil_div(v.C, tile), rows, std::max<std::size_t>(1, ceil_div(v.S, rows))};
  }
  std::size_t tasks(std::size_t N) const { return N * nrb * ntiles; }
};

bool fuse(std::size_t units) {
  const auto threads = static_cast<std::size_t>(detail::max_threads());
  return threads == 1 || units >= 4 * threads;
}

// Column ranges [cuts[r], cuts[r + 1]) of a channels-last input of one sample on several threads, for the fused
// schedule run by column ranges instead of by samples: cut at tile boundaries that are also group boundaries (a
// tile's and a group's columns in one range), near multiples of C / threads; {0, C} when the sample stays whole
// (N > 1, one thread, little work, or no such boundary). On one sample the split schedule merged, grouped and set
// the coefficients of every column on one thread between its parallel loops: batch norm (32, 256, 4, 4) (its
// short channels-first spans as one sample of 4096 columns), C++ driver, 2 threads: backward 58 -> 42 us, forward
// 44 -> 28 us; (64, 512, 3, 3) (4608 columns, cut at 2304): backward 80 -> 76 us, forward 60 -> 51 us. Only for
// samples of at most kCutRows rows: a range's rows are normalized one call each, and taller samples paid for their
// calls where the split schedule's column work is small beside its rows (group norm channels-last, Python, 2
// threads, forward: (1, 32, 32, 1024) 0.145 -> 0.3 ms, (1, 16, 16, 2048) 0.09 -> 0.11 ms; with 128 rows, (1, 8, 16,
// 2048) 0.05 -> 0.043 ms).
constexpr std::size_t kCutRows = 128;
vec<std::size_t> sample_cuts(const Planes& v, const Grouping& gr, const ColBlocks& cb) {
  const auto threads = static_cast<std::size_t>(detail::max_threads());
  vec<std::size_t> cuts{0};
  if (v.N == 1 && threads > 1 && !gr.by_channel && v.S <= kCutRows && v.elements() >= 2 * kMinPerThread) {
    for (std::size_t r = 1; r < threads; ++r) {
      const std::size_t want = v.C * r / threads;
      std::size_t best = 0, dist = SIZE_MAX;
      for (std::size_t c = cb.tile; c < v.C; c += cb.tile) {
        const std::size_t d = c > want ? c - want : want - c;
        if (c % gr.members == 0 && d < dist) {
          best = c;
          dist = d;
        }
      }
      if (best > cuts.back()) cuts.push_back(best);
    }
  }
  cuts.push_back(v.C);
  return cuts;
}

// The channels-first fused schedule (a batch of groups at a time: statistics, then the map while in cache), except
// for batch norm's channels of planes of at least kSplitPlane elements in inputs of at least kSplitBytes on one
// thread: a channel is N runs of a plane each, a sample apart, and one thread reading them one after the other kept
// too few lines in flight; the split schedule sweeps the input in memory order (twice). C++ driver, 1 thread,
// fused -> split: (32, 64, 3136) forward 2.1 -> 1.3 ms, backward 3.4 -> 2.4 ms; (64, 128, 784) forward 2.4 -> 1.9
// ms, backward 3.1 -> 2.7 ms; (128, 64, 1024) backward 5.2 -> 3.6 ms. Smaller planes go in batches of channels
// (channel_batch), and smaller inputs ((64, 64, 576), 9 MB: forward 0.41 vs 0.46 ms) or two threads (each on its
// own channels: (64, 128, 784) forward 1.13 vs 1.27 ms) did as well or better fused.
constexpr std::size_t kSplitPlane = 512;
constexpr std::size_t kSplitBytes = std::size_t{16} << 20;
bool fuse_channels_first(const Planes& v, const Grouping& gr, std::size_t elem) {
  if (gr.by_channel && detail::max_threads() == 1 && v.S >= kSplitPlane && v.elements() * elem >= kSplitBytes)
    return false;
  return fuse(gr.groups);
}

// Group norm of (N, C) input: every element is its own plane (S = 1), a group is `members` adjacent elements of a
// sample. Per-plane temporaries (statistics, channels, gradient sums: tens of bytes per element) page-faulted
// on every call once they outgrew the scratch cache, and per-plane calls and coefficients cost more than the
// arithmetic. Such input goes in blocks of whole samples instead: the blocks' group moments (or gradient sums)
// in one call, then per-element coefficient arrays and one column-map call (normalize_cols, grad_input_cols).
// The backward takes this path for planes of up to kRowGroupPlane elements too where its per-plane sums would
// not stay in the scratch cache. C++ driver, 1 thread, G = 8, C = 64, per-plane path -> this: (25088, 64, 4)
// backward 24.6 -> 12.1 ms; (12544, 64, 8), whose per-plane sums stay cached, 8.2 -> 11.8 ms; forwards of S = 4
// 5.0 -> 8.7 ms (the tiny-plane lookups do better there).
bool row_groups(const Planes& v, const Grouping& gr, std::size_t elem, bool backward) {
  const bool rows =
      v.S == 1 || (backward && v.S <= kRowGroupPlane && !detail::scratch_cached(v.count() * sizeof(GradSums)));
  return !v.cl && !gr.by_channel && gr.stride == 1 && gr.members > 1 && rows && v.elements() > 0 &&
         gr.members * v.S * elem <= kChunkBytes;
}

// Whether the forward takes channels-first samples as rows of segments, one a group (group norm, instance norm:
// groups of adjacent planes), for groups of L = members·S elements that segments_forward takes: a multiple of 8 up
// to kSegmentMax (kSegmentMaxPlane for one plane a group), or 2 or 4 in samples of a multiple of 8 elements. The
// per-group statistics, coefficients and calls of forward() were most of the time there. C++ driver, 1 thread,
// forward() -> segments (µs): group norm (16384, 64) G=8 2590 -> 940, (1024, 64, 4) G=32 748 -> ~300, (4096, 64,
// 4) G=8 1141 -> 557, (256, 64, 16) G=32 184 -> 140, (128, 96, 16) G=32 110 -> 97, (1024, 64, 1) G=32 479 -> 92;
// instance norm (1024, 64, 4) 872 -> 284, (1024, 64, 8) 829 -> 469, (256, 64, 16) 225 -> 174, (64, 512, 16) 452 ->
// 353. Kept on forward(): instance norm (256, 64, 32) 271 (segments 282), (256, 64, 64) 376 (502), group norm
// (64, 128, 32) G=64 119 (126).
constexpr std::size_t kSegmentMax = 48, kSegmentMaxPlane = 16;
// elements per task of that schedule
constexpr std::size_t kSegmentRowElems = std::size_t{1} << 14;
bool segment_forward(const Planes& v, const Grouping& gr) {
  if (v.cl || gr.by_channel || gr.stride != 1 || gr.base_step != gr.members || gr.div != 1 || gr.mod != v.C ||
      v.elements() == 0)
    return false;
  const std::size_t L = gr.members * v.S;
  return (L % 8 == 0 && L <= (gr.members > 1 ? kSegmentMax : kSegmentMaxPlane)) ||
         ((L == 2 || L == 4) && v.C * v.S % 8 == 0);
}

// Rows per block of the layer/RMS norm backward (and of group norm's (N, C) backward): each block accumulates its
// own dweight/dbias partial sums (D doubles each), merged over blocks in order. About 2^17 elements, and at least 4
// blocks where there are 128 rows: blocks of 2^17 elements left inputs of up to that size on one thread (LayerNorm
// (1024, 64) backward, 2 threads: 43 µs, torch 26 µs). A function of the shape only, so the bits do not depend on
// the thread count.
std::size_t backward_block_rows(std::size_t rows, std::size_t D) {
  return std::max<std::size_t>(
      32, std::min(ceil_div(std::size_t{1} << 17, std::max<std::size_t>(D, 1)), ceil_div(rows, std::size_t{4})));
}

// Channels per batch of batch norm's short channels-first planes: the batch's planes of one sample are adjacent,
// so a batch is swept sample by sample, a contiguous run of its channels' planes at a time. One channel at a
// time visited its N planes a sample apart (C·S elements): a page each, and no run for the prefetchers. C++ driver,
// 1 thread, before -> after: (64, 512, 49) forward ~1.25 -> ~1.1 ms, backward ~2.05 -> ~1.5 ms; (64, 512, 64)
// backward 3.6 -> 1.8 ms (planes of 256 bytes: every plane of a channel in the same cache sets). The batch stays in
// L2 for its second sweep (a channel larger than the budget alone keeps the one call per channel).
std::size_t channel_batch(std::size_t N, std::size_t S, std::size_t elem) {
  return std::clamp<std::size_t>(kChannelBatchBytes / std::max<std::size_t>(1, N * S * elem), 1, kGroupBatch);
}
// Such a batch's first sweep asks for its run kRunsAhead samples ahead: each run (a few KB) ends before the hardware
// prefetchers get going. Batch norm, 1 thread, C++ driver: forward (64, 256, 14, 14) 2.8 -> 2.2 ms, (64, 512, 7, 7)
// 0.92 -> 0.81 ms (1 to 8 runs ahead all did about as well); backward (both inputs) 3.2 -> 3.0 ms, 1.2 -> 1.15 ms.
constexpr std::size_t kRunsAhead = 4;

// Hint: bring the n elements from p into L2. (A prefetch never faults.) Into L1 (prefetcht0) until stop 24; into L2,
// C++ driver, batch norm channels-first, medians of 5 alternations: backward (64, 256, 196) 1 thread 2.53 -> 2.21 ms,
// 2 threads 1.27 -> 1.07 ms; (64, 512, 49) 1.01 -> 0.98 ms; forward (64, 256, 196) 1.36 -> 1.31 ms; (32, 256, 16)
// the same.
template <class T>
void prefetch_run(const T* p, std::size_t n) {
  const auto end = reinterpret_cast<std::uintptr_t>(p + n);
  for (std::uintptr_t a = reinterpret_cast<std::uintptr_t>(p) & ~std::uintptr_t{63}; a < end; a += 64) {
#if defined(__x86_64__) || defined(__i386__)
    asm volatile("prefetcht1 %0" : : "m"(*reinterpret_cast<const char*>(a)));
#else
    __builtin_prefetch(reinterpret_cast<const char*>(a), 0, 2);
#endif
  }
}

// ---- channels-first planes --------------------------------------------------------------------------------

template <class T>
Moments plane_moments(const NormKernels<T>& k, const T* x, std::size_t S) {
  const std::size_t K = chunk_len<T>();
  Moments m = k.moments(x, std::min(S, K));
  for (std::size_t c0 = K; c0 < S; c0 += K) m = merge(m, k.moments(x + c0, std::min(K, S - c0)));
  return m;
}

template <class T>
GradSums plane_grad_sums(const NormKernels<T>& k, const T* dy, const T* x, std::size_t S, double mean, double rstd,
                         bool narrow) {
  const std::size_t K = chunk_len<T>();
  GradSums s = k.grad_sums(dy, x, nullptr, std::min(S, K), mean, rstd, narrow);
  for (std::size_t c0 = K; c0 < S; c0 += K)
    s = add(s, k.grad_sums(dy + c0, x + c0, nullptr, std::min(K, S - c0), mean, rstd, narrow));
  return s;
}

// Moments of every plane, all chunks in parallel, merged per plane in chunk order (= plane_moments).
template <class T>
vec<Moments> cf_all_moments(const T* x, const Planes& v) {
  const auto& k = kernels<T>();
  const std::size_t P = v.count(), S = v.S, K = chunk_len<T>(), nch = std::max<std::size_t>(1, ceil_div(S, K));
  vec<Moments> part(P * nch), pm(P);
  parallel_tasks(P * nch, std::min(S, K), [&](std::size_t t) {
    const std::size_t p = t / nch, c0 = t % nch * K;
    part[t] = k.moments(x + p * S + c0, std::min(K, S - std::min(S, c0)));
  });
  for (std::size_t p = 0; p < P; ++p) {
    Moments m = part[p * nch];
    for (std::size_t c = 1; c < nch; ++c) m = merge(m, part[p * nch + c]);
    pm[p] = m;
  }
  return pm;
}

template <class T>
vec<GradSums> cf_all_grad_sums(const T* dy, const T* x, const Planes& v, const vec<double>& mean,
                               const vec<double>& rstd, bool narrow) {
  const auto& k = kernels<T>();
  const std::size_t P = v.count(), S = v.S, K = chunk_len<T>(), nch = std::max<std::size_t>(1, ceil_div(S, K));
  vec<GradSums> part(P * nch), ps(P);
  parallel_tasks(P * nch, 2 * std::min(S, K), [&](std::size_t t) {
    const std::size_t p = t / nch, c0 = t % nch * K, off = p * S + c0;
    part[t] = k.grad_sums(dy + off, x + off, nullptr, std::min(K, S - std::min(S, c0)), mean[p], rstd[p], narrow);
  });
  for (std::size_t p = 0; p < P; ++p) {
    GradSums s = part[p * nch];
    for (std::size_t c = 1; c < nch; ++c) s = add(s, part[p * nch + c]);
    ps[p] = s;
  }
  return ps;
}

// ---- channels-last planes ----------------------------------------------------------------------------------

// One block of sample n (row block rb, column tile) → its columns' moments in the sample's partial arrays
// pmean, pm2: (nrb, C).
template <class T>
void cl_block_moments(const NormKernels<T>& k, const T* x, const Planes& v, const ColBlocks& cb, std::size_t n,
                      std::size_t rb, std::size_t tile, double* pmean, double* pm2) {
  const std::size_t C = v.C, S = v.S, r0 = rb * cb.rows, c0 = tile * cb.tile;
  const std::size_t rows = std::min(cb.rows, S - std::min(S, r0)), cols = std::min(cb.tile, C - c0);
  if (rows > 0) k.col_moments(pmean + rb * C + c0, pm2 + rb * C + c0, x + ((n * S + r0) * C + c0), rows, cols, C);
}

// The planes of one sample: its partial moments merged over the row blocks in order.  out: (C,)
// Every column has the same rows per block, so merge()'s two factors are computed once per block and each block is
// a loop over the columns: the same operations as merge(m, block) column by column (the same bits), without its
// two divisions per column and block. (Batch norm channels-last (64, 256, 14, 14): 196 blocks of 256 columns, 50000
// merges, about 0.2 ms of a 0.8 ms forward on 2 threads, on one thread.)
// Columns [c0, c1) only, where given.
template <class T>
void cl_merge_moments(Moments* out, const double* pmean, const double* pm2, const Planes& v, const ColBlocks& cb,
                      std::size_t c0 = 0, std::size_t c1 = SIZE_MAX) {
  const std::size_t C = v.C;
  c1 = std::min(c1, C);
  std::fill(out + c0, out + c1, Moments{});
  double n = 0.0;  // rows merged so far
  for (std::size_t rb = 0; rb < cb.nrb; ++rb) {
    const double bn = static_cast<double>(std::min(cb.rows, v.S - std::min(v.S, rb * cb.rows)));
    const double* bm = pmean + rb * C;
    const double* b2 = pm2 + rb * C;
    if (bn == 0.0) continue;  // merge(a, empty) = a
    if (n == 0.0) {           // merge(empty, b) = b
      for (std::size_t c = c0; c < c1; ++c) out[c] = Moments{bn, bm[c], b2[c]};
      n = bn;
      continue;
    }
    const double nn = n + bn, qa = bn / nn, qm = n * bn / nn;
    for (std::size_t c = c0; c < c1; ++c) {
      const double d = bm[c] - out[c].mean;
      out[c] = Moments{nn, out[c].mean + d * qa, out[c].m2 + b2[c] + d * d * qm};
    }
    n = nn;
  }
}

template <class T>
void cl_block_grad_sums(const NormKernels<T>& k, const T* dy, const T* x, const double* mean, const Planes& v,
                        const ColBlocks& cb, std::size_t n, std::size_t rb, std::size_t tile, double* pg, double* pgd) {
  const std::size_t C = v.C, S = v.S, r0 = rb * cb.rows, c0 = tile * cb.tile;
  const std::size_t rows = std::min(cb.rows, S - std::min(S, r0)), cols = std::min(cb.tile, C - c0);
  const std::size_t off = (n * S + r0) * C + c0;
  if (rows > 0) k.col_grad_sums(pg + rb * C + c0, pgd + rb * C + c0, dy + off, x + off, rows, cols, C, mean + c0);
}

// (block by block, each a loop over the columns: the same additions per column, in block order; column by column,
// the blocks' partials were read a block row apart)
void cl_merge_grad_sums(GradSums* out, const double* pg, const double* pgd, const Planes& v, const ColBlocks& cb,
                        std::size_t c0 = 0, std::size_t c1 = SIZE_MAX) {
  c1 = std::min(c1, v.C);
  std::fill(out + c0, out + c1, GradSums{});
  for (std::size_t rb = 0; rb < cb.nrb; ++rb)
    for (std::size_t c = c0; c < c1; ++c) out[c] = add(out[c], GradSums{pg[rb * v.C + c], pgd[rb * v.C + c]});
}

// Moments of every plane (n, c): all blocks in parallel, then merged per plane.
template <class T>
vec<Moments> cl_all_moments(const T* x, const Planes& v) {
  const auto& k = kernels<T>();
  const ColBlocks cb = ColBlocks::of<T>(v);
  const std::size_t per = cb.nrb * v.C;  // partials per sample
  vec<double> pmean(v.N * per, 0.0), pm2(v.N * per, 0.0);
  parallel_tasks(cb.tasks(v.N), cb.rows * cb.tile, [&](std::size_t t) {
    const std::size_t tile = t % cb.ntiles, nb = t / cb.ntiles, n = nb / cb.nrb;
    cl_block_moments(k, x, v, cb, n, nb % cb.nrb, tile, pmean.data() + n * per, pm2.data() + n * per);
  });
  vec<Moments> pm(v.count());
  for (std::size_t n = 0; n < v.N; ++n)
    cl_merge_moments<T>(pm.data() + n * v.C, pmean.data() + n * per, pm2.data() + n * per, v, cb);
  return pm;
}

template <class T>
vec<GradSums> cl_all_grad_sums(const T* dy, const T* x, const Planes& v, const vec<double>& mean) {
  const auto& k = kernels<T>();
  const ColBlocks cb = ColBlocks::of<T>(v);
  const std::size_t per = cb.nrb * v.C;
  vec<double> pg(v.N * per, 0.0), pgd(v.N * per, 0.0);
  parallel_tasks(cb.tasks(v.N), 2 * cb.rows * cb.tile, [&](std::size_t t) {
    const std::size_t tile = t % cb.ntiles, nb = t / cb.ntiles, n = nb / cb.nrb;
    cl_block_grad_sums(k, dy, x, mean.data() + n * v.C, v, cb, n, nb % cb.nrb, tile, pg.data() + n * per,
                       pgd.data() + n * per);
  });
  vec<GradSums> ps(v.count());
  for (std::size_t n = 0; n < v.N; ++n) cl_merge_grad_sums(ps.data() + n * v.C, pg.data() + n * per, pgd.data() + n * per, v, cb);
  return ps;
}

// Rows [b, e) of the (N·S, C) array, cut at sample boundaries: f(first row, rows, sample).
template <class F>
void for_sample_rows(std::size_t b, std::size_t e, std::size_t S, F&& f) {
  while (b < e) {
    const std::size_t n = b / S, end = std::min(e, (n + 1) * S);
    f(b, end - b, n);
    b = end;
  }
}

// Structure-of-arrays coefficients of the planes of one channels-last sample for the column kernels, each array
// extended periodically by kColPad entries (kernels.hpp); C = columns.
template <class T>
struct AffineColumns {
  std::size_t C;
  vec<T> mh, ml, s, t;
  explicit AffineColumns(std::size_t cols) : C(cols), mh(C + kColPad), ml(C + kColPad), s(C + kColPad), t(C + kColPad) {}
  void set(std::size_t c, const SpanAffine<T>& a) {
    for (std::size_t i = c; i < C + kColPad; i += std::max<std::size_t>(C, 1)) {
      mh[i] = a.mh;
      ml[i] = a.ml;
      s[i] = a.s;
      t[i] = a.t;
    }
  }
  ColAffine<T> get() const { return {mh.data(), ml.data(), s.data(), t.data()}; }
};
template <class T>
struct GradColumns {
  std::size_t C;
  vec<T> mh, ml, a, b, c;
  explicit GradColumns(std::size_t cols)
      : C(cols), mh(C + kColPad), ml(C + kColPad), a(C + kColPad), b(C + kColPad), c(C + kColPad) {}
  void set(std::size_t j, const SpanGrad<T>& g) {
    for (std::size_t i = j; i < C + kColPad; i += std::max<std::size_t>(C, 1)) {
      mh[i] = g.mh;
      ml[i] = g.ml;
      a[i] = g.a;
      b[i] = g.b;
      c[i] = g.c;
    }
  }
  // set(j, g) for j in [j0, j0 + count)
  void fill(std::size_t j0, std::size_t count, const SpanGrad<T>& g) {
    for (auto* col : {&mh, &ml, &a, &b, &c}) {
      const T v = col == &mh ? g.mh : col == &ml ? g.ml : col == &a ? g.a : col == &b ? g.b : g.c;
      std::fill_n(col->data() + j0, count, v);
      if (j0 < kColPad && C > 0)  // the periodic extension past C
        for (std::size_t i = j0; i < std::min(j0 + count, kColPad); ++i)
          for (std::size_t k = i + C; k < C + kColPad; k += C) (*col)[k] = v;
    }
  }
  ColGrad<T> get() const { return {mh.data(), ml.data(), a.data(), b.data(), c.data()}; }
};

// ---- maps over all planes ----------------------------------------------------------------------------------

// y = normalized x with the coefficients of each plane (w, b along channels-first spans when given).
template <class T>
void normalize_all(T* y, const T* x, const Planes& v, const vec<SpanAffine<T>>& coef, const T* w,
                   const T* b) {
  const auto& k = kernels<T>();
  StoreHint hint = detail::store_hint(v.elements() * sizeof(T));
  hint.lines = hint.stream;  // a second pass over the whole tensor: its inputs come from memory
  if (!v.cl) {
    const std::size_t S = v.S, K = chunk_len<T>(), nch = std::max<std::size_t>(1, ceil_div(S, K));
    parallel_tasks(v.count() * nch, std::min(S, K), [&](std::size_t t) {
      const std::size_t p = t / nch, c0 = t % nch * K, off = p * S + c0;
      k.normalize(y + off, x + off, w ? w + c0 : nullptr, b ? b + c0 : nullptr, std::min(K, S - std::min(S, c0)),
                  coef[p], hint);
    });
  } else {
    // one coefficient set per sample (batch norm: one sample)
    const std::size_t C = v.C;
    vec<AffineColumns<T>> cols(v.N, AffineColumns<T>(C));
    parallel_for(v.count(), [&](std::size_t p) { cols[p / C].set(p % C, coef[p]); });
    detail::parallel_ranges(v.N * v.S, std::max<std::size_t>(1, kMinPerThread / std::max<std::size_t>(C, 1)), 1,
                            [&](std::size_t rb, std::size_t re) {
                              for_sample_rows(rb, re, v.S, [&](std::size_t r, std::size_t rows, std::size_t n) {
                                k.normalize_cols(y + r * C, x + r * C, rows, C, cols[n].get(), hint);
                              });
                              fence();
                            });
  }
}

template <class T>
void grad_input_all(T* dx, const T* dy, const T* x, const Planes& v, const vec<SpanGrad<T>>& coef) {
  const auto& k = kernels<T>();
  StoreHint hint = detail::store_hint(v.elements() * sizeof(T));
  hint.lines = hint.stream;  // a second pass over the whole tensor: its inputs come from memory
  if (!v.cl) {
    const std::size_t S = v.S, K = chunk_len<T>(), nch = std::max<std::size_t>(1, ceil_div(S, K));
    parallel_tasks(v.count() * nch, 2 * std::min(S, K), [&](std::size_t t) {
      const std::size_t p = t / nch, c0 = t % nch * K, off = p * S + c0;
      k.grad_input(dx + off, dy + off, x + off, nullptr, std::min(K, S - std::min(S, c0)), coef[p], hint);
    });
  } else {
    const std::size_t C = v.C;
    vec<GradColumns<T>> cols(v.N, GradColumns<T>(C));
    parallel_for(v.count(), [&](std::size_t p) { cols[p / C].set(p % C, coef[p]); });
    detail::parallel_ranges(v.N * v.S, std::max<std::size_t>(1, kMinPerThread / (2 * std::max<std::size_t>(C, 1))), 1,
                            [&](std::size_t rb, std::size_t re) {
                              for_sample_rows(rb, re, v.S, [&](std::size_t r, std::size_t rows, std::size_t n) {
                                k.grad_input_cols(dx + r * C, dy + r * C, x + r * C, rows, C, cols[n].get(), hint);
                              });
                              fence();
                            });
  }
}

// ---- the generic forward and backward ----------------------------------------------------------------------

// The scale of channel c: rstd·w[c] rounded to T (rstd without a weight).
template <class T>
T scale_of(double rstd, const T* w, std::size_t c) {
  return static_cast<T>(w ? rstd * static_cast<double>(w[c]) : rstd);
}

// Coefficients of plane p in group k: y = (x − mean)·rstd·w[c] + b[c] (per-element affine: s = rstd, t = 0; the
// kernel applies w, b along the span).
template <class T>
SpanAffine<T> affine_of(double mean, double rstd, const T* w, const T* b, std::size_t c, bool per_element) {
  const auto [mh, ml] = split_mean<T>(mean);
  if (per_element) return {mh, ml, static_cast<T>(rstd), T(0)};
  return {mh, ml, scale_of(rstd, w, c), b ? b[c] : T(0)};
}

// Training-style forward: statistics of x, normalize; returns the group moments (for running statistics).
// per_element: w, b have one entry per element of a plane (layer norm) instead of one per channel.
// Three schedules with the same bits: channels-first fused per group, channels-last fused per sample (groups
// inside samples), or split (all blocks in parallel, merge, then all planes in parallel).
template <class T>
vec<Moments> forward(T* y, T* mean_out, T* rstd_out, const T* x, const T* w, const T* b, const Planes& v,
                             const Grouping& gr, double eps, bool per_element, bool keep) {
  const auto& k = kernels<T>();
  const StoreHint hint = detail::store_hint(v.elements() * sizeof(T));
  // for kernels whose non-temporal stores parallel_tasks fences once per thread
  const StoreHint deferred{hint.stream, true, false};
  // the groups' moments, kept when the caller wants them (keep: running statistics) or the split schedule below
  // needs them (instance norm (8192, 32, 32) spent 10% of its time on a 6 MB array nobody read)
  vec<Moments> gm(keep ? gr.groups : 0);
  // records group g's moments and statistics; returns its rstd
  auto set_group = [&](std::size_t g, const Moments& m) {
    if (!gm.empty()) gm[g] = m;
    const double rs = rstd_of(m, eps);
    if (mean_out) mean_out[g] = static_cast<T>(m.mean);
    if (rstd_out) rstd_out[g] = static_cast<T>(rs);
    return rs;
  };
  if (!per_element && segment_forward(v, gr)) {
    // channels-first samples as rows of short segments, one a group (segments_forward): per-element copies of the
    // weight and bias along a sample, blocks of samples per task
    const std::size_t S = v.S, row = v.C * S, L = gr.members * S, segs = row / L;
    vec<T> wexp(w ? row : 0), bexp(b ? row : 0);
    for (std::size_t c = 0; c < v.C; ++c) {
      if (w) std::fill_n(wexp.data() + c * S, S, w[c]);
      if (b) std::fill_n(bexp.data() + c * S, S, b[c]);
    }
    const std::size_t R = std::max<std::size_t>(1, kSegmentRowElems / row);
    parallel_tasks(ceil_div(v.N, R), R * row, [&](std::size_t t) {
      const std::size_t n0 = t * R, nr = std::min(R, v.N - n0), ns = nr * segs, g0 = n0 * segs;
      vec<double> st(3 * ns);
      double *const m = st.data(), *const q = m + ns, *const r = q + ns;
      k.segments_forward({y + n0 * row, x + n0 * row, w ? wexp.data() : nullptr, b ? bexp.data() : nullptr, nr, segs,
                          L, eps, m, q, r});
      for (std::size_t i = 0; i < ns; ++i) {
        if (!gm.empty()) gm[g0 + i] = Moments{static_cast<double>(L), m[i], q[i]};
        if (mean_out) mean_out[g0 + i] = static_cast<T>(m[i]);
        if (rstd_out) rstd_out[g0 + i] = static_cast<T>(r[i]);
      }
    });
    return gm;
  }
  if (!per_element && row_groups(v, gr, sizeof(T), false)) {
    // group norm of (N, C) input, a block of samples at a time: the moments of its groups (the spans the fused
    // schedule below reduces: the same bits), then each element's coefficients (as affine_of's per plane; t = 0
    // without a bias, as the arrays start)
    const std::size_t C = v.C, m = gr.members, per = C / m, R = std::max<std::size_t>(1, kRowGroupElems / C);
    parallel_tasks(ceil_div(v.N, R), R * C, [&](std::size_t t) {
      const std::size_t n0 = t * R, len = std::min(R, v.N - n0) * C, g0 = n0 * per;
      vec<Moments> ms(len / m);
      AffineColumns<T> cols(len);
      k.moments_planes(ms.data(), x + n0 * C, len / m, m, m);
      for (std::size_t q = 0; q < len / m; ++q) {
        const double rs = set_group(g0 + q, ms[q]);
        const auto [mh, ml] = split_mean<T>(ms[q].mean);
        const std::size_t o = q * m, c0 = q % per * m;
        std::fill_n(cols.mh.data() + o, m, mh);
        std::fill_n(cols.ml.data() + o, m, ml);
        for (std::size_t j = 0; j < m; ++j) cols.s[o + j] = scale_of(rs, w, c0 + j);
        if (b) std::copy_n(b + c0, m, cols.t.data() + o);
      }
      k.normalize_cols(y + n0 * C, x + n0 * C, 1, len, cols.get(), hint);
    });
    return gm;
  }
  // group g's statistics from its planes' moments (pm: indexed by plane − base), merged in order
  // (channels-last planes, columns of S rows each: pooled; batch norm (32, 256, 4, 4) forward (its short spans as
  // 4096 columns in groups of 16), C++ driver, 1 thread, 65 -> ~50 µs)
  auto finish_group = [&](std::size_t g, const Moments* pm, std::size_t base) {
    Moments m = pm[gr.plane(g, 0) - base];
    if (v.cl && gr.members > 1) {
      m = pool(pm + (gr.plane(g, 0) - base), gr.members, gr.stride);
    } else {
      for (std::size_t j = 1; j < gr.members; ++j) m = merge(m, pm[gr.plane(g, j) - base]);
    }
    set_group(g, m);
    return m;
  };
  // coefficients of plane p of a group with moments m and rs = rstd_of(m, eps) (computed once per group)
  const vec<std::uint32_t> chan = plane_channels(gr, v.count());
  auto coef_of = [&](const Moments& m, double rs, std::size_t p) {
    return affine_of(m.mean, rs, w, b, chan[p], per_element);
  };
  // A group whose planes are adjacent (group norm, channels-first) is one span for its statistics: one reduction
  // of members·S values (in chunks, merged in order) instead of one per plane and a merge per plane; the split
  // schedule reduces the same spans, so the bits do not depend on the schedule.
  const bool span_groups = !v.cl && !gr.by_channel && gr.members > 1 && gr.stride == 1;
  if (v.elements() == 0) {
    // no values: the statistics of empty sets are NaN (0/0), nothing to normalize
    for (std::size_t g = 0; g < gr.groups; ++g) set_group(g, Moments{0.0, std::nan(""), std::nan("")});
    return gm;
  }
  if (!v.cl && fuse_channels_first(v, gr, sizeof(T))) {
    // per batch of groups: statistics of their planes, then normalize them while they are in cache. Small groups
    // go up to kGroupBatch at a time, statistics first: each rstd is a chain of a division, a square root and a
    // division (~50 cycles of latency) that would otherwise stall its own group's normalization
    const std::size_t S = v.S, K = chunk_len<T>();
    // adjacent small planes of a group (group norm) are normalized in one pass per group (regular stores: their
    // vectors are mostly misaligned and short anyway)
    const bool small_planes = span_groups && !per_element && S < kSmallPlane;
    // groups of one short plane each (instance norm) or of short planes a channel apart (batch norm): moments and
    // normalization through the span kernels, a batch or a channel per call
    const bool short_planes = !per_element && S < kShortPlane && S <= K;
    const bool small_spans = short_planes && !gr.by_channel && gr.stride == 1 && gr.members == 1;
    const bool channel_spans = short_planes && gr.by_channel;
    // groups that are adjacent spans of members·S elements each (layer, instance and channels-first group norm),
    // at most a chunk long: a batch's moments in one moments_planes call, which reads each span's shift a span
    // ahead (span_moments_from says why), in larger batches (kSpanBatchElems)
    const bool adjacent_spans = !gr.by_channel && gr.stride == 1 && gr.members * S <= K;
    // ... of at least kPipeSpan float elements: each span's moments while the previous span is normalized (one plane
    // a span, or a few planes of whole blocks of 32 elements (a multiple of every ISA's block), y aligned to 64
    // bytes at every span: moments_normalize's one loop; double takes two passes, nothing to interleave), for
    // outputs streamed to memory: in cache, the batches' overlapping coefficient chains did better (LayerNorm
    // (1024, 768), 1 thread: 103 µs in batches, 119 µs pipelined)
    const bool pipelined = std::is_same_v<T, float> && adjacent_spans &&
                           (gr.members == 1 || (S % 32 == 0 && gr.members <= kPipePlanes)) &&
                           S >= kPipeSpan && S * sizeof(T) % 64 == 0 &&
                           (per_element ? S * sizeof(T) * (2 + (w != nullptr) + (b != nullptr)) <= kPipeBytes
                                        : gr.members * S * sizeof(T) <= kPipeGroupBytes) &&
                           reinterpret_cast<std::uintptr_t>(y) % 64 == 0 && hint.stream;
    const std::size_t B =
        channel_spans ? channel_batch(gr.members, S, sizeof(T))
                      : std::clamp<std::size_t>((adjacent_spans ? kSpanBatchElems : kBatchElems) /
                                                    std::max<std::size_t>(1, gr.members * S),
                                                1, kGroupBatch);
    parallel_tasks(ceil_div(gr.groups, B), B * gr.members * S, [&](std::size_t t) {
      const std::size_t g0 = t * B, nb = std::min(B, gr.groups - g0);
      Moments m[kGroupBatch];
      double rs[kGroupBatch];
      if (pipelined) {
        const std::size_t span = gr.members * S, off = gr.plane(g0, 0) * S;
        const T* const pw = per_element ? w : nullptr;
        const T* const pb = per_element ? b : nullptr;
        SpanAffine<T> co[kPipePlanes];  // the previous span's planes' coefficients
        double first = static_cast<double>(x[off]);
        for (std::size_t i = 0; i <= nb; ++i) {
          const std::size_t o = off + i * span, prev = i > 0 ? o - span : o;  // span i, span i − 1
          if (i == nb) {  // the last span's normalization
            k.moments_normalize(x, 0, 0.0, y + prev, x + prev, span, S, co, pw, pb, hint);
            break;
          }
          const double next = i + 1 < nb ? read_early(x + o + span) : 0.0;
          m[i] = k.moments_normalize(x + o, span, first, y + prev, x + prev, i > 0 ? span : 0, S, co, pw, pb, hint);
          rs[i] = set_group(g0 + i, m[i]);
          for (std::size_t j = 0; j < gr.members; ++j) co[j] = coef_of(m[i], rs[i], gr.plane(g0 + i, j));
          first = next;
        }
        return;
      }
      if (adjacent_spans) {
        const std::size_t span = gr.members * S;
        k.moments_planes(m, x + gr.plane(g0, 0) * S, nb, span, span);  // = plane_moments per group, in one call
      } else if (channel_spans) {
        // pm[j·nb + i]: plane j of channel g0 + i; several channels sample by sample (their planes of a sample are
        // adjacent), one channel in one call
        vec<Moments> pm(gr.members * nb);
        if (nb == 1) k.moments_planes(pm.data(), x + gr.plane(g0, 0) * S, gr.members, S, gr.stride * S);
        for (std::size_t j = 0; j < gr.members && nb > 1; ++j) {
          if (j + kRunsAhead < gr.members) prefetch_run(x + gr.plane(g0, j + kRunsAhead) * S, nb * S);
          k.moments_planes(pm.data() + j * nb, x + gr.plane(g0, j) * S, nb, S, S);
        }
        // merged in sample order as below (the channels' chains interleaved)
        for (std::size_t i = 0; i < nb; ++i) m[i] = pm[i];
        for (std::size_t j = 1; j < gr.members; ++j)
          for (std::size_t i = 0; i < nb; ++i) m[i] = merge(m[i], pm[j * nb + i]);
      } else {
        for (std::size_t i = 0; i < nb; ++i) {
          const std::size_t g = g0 + i;
          m[i] = plane_moments(k, x + gr.plane(g, 0) * S, span_groups ? gr.members * S : S);
          if (!span_groups)
            for (std::size_t j = 1; j < gr.members; ++j)
              m[i] = merge(m[i], plane_moments(k, x + gr.plane(g, j) * S, S));
        }
      }
      for (std::size_t i = 0; i < nb; ++i) rs[i] = set_group(g0 + i, m[i]);
      if (small_spans) {
        // groups of one small plane each (instance norm): the batch's planes in one call
        SpanAffine<T> co[kGroupBatch];
        for (std::size_t i = 0; i < nb; ++i) co[i] = coef_of(m[i], rs[i], gr.plane(g0 + i, 0));
        const std::size_t off = gr.plane(g0, 0) * S;
        k.normalize_spans(y + off, x + off, nb, S, S, co, 1);
        return;
      }
      if (channel_spans) {
        // a channel's planes share its coefficients; sample by sample
        SpanAffine<T> co[kGroupBatch];
        for (std::size_t i = 0; i < nb; ++i) co[i] = coef_of(m[i], rs[i], gr.plane(g0 + i, 0));
        const std::size_t off0 = gr.plane(g0, 0) * S;
        if (nb == 1) k.normalize_spans(y + off0, x + off0, gr.members, S, gr.stride * S, co, gr.members);
        for (std::size_t j = 0; j < gr.members && nb > 1; ++j) {
          const std::size_t off = gr.plane(g0, j) * S;
          k.normalize_spans(y + off, x + off, nb, S, S, co, 1);
        }
        return;
      }
      if (small_planes) {
        // the group's planes in one pass, each with its channel's scale and shift
        T buf[2 * kStackPlanes];
        vec<T> heap(gr.members > kStackPlanes ? 2 * gr.members : 0);
        T* const sc = gr.members > kStackPlanes ? heap.data() : buf;
        T* const sh = sc + gr.members;
        for (std::size_t i = 0; i < nb; ++i) {
          SpanAffine<T> a{};
          for (std::size_t j = 0; j < gr.members; ++j) {
            a = coef_of(m[i], rs[i], gr.plane(g0 + i, j));
            sc[j] = a.s;
            sh[j] = a.t;
          }
          const std::size_t off = gr.plane(g0 + i, 0) * S;
          k.normalize_planes(y + off, x + off, gr.members, S, a.mh, a.ml, sc, sh, deferred);
        }
        return;
      }
      for (std::size_t i = 0; i < nb; ++i)
        for (std::size_t j = 0; j < gr.members; ++j) {
          const std::size_t p = gr.plane(g0 + i, j);
          const SpanAffine<T> a = coef_of(m[i], rs[i], p);
          for (std::size_t c0 = 0; c0 < S; c0 += K)
            k.normalize(y + p * S + c0, x + p * S + c0, per_element && w ? w + c0 : nullptr,
                        per_element && b ? b + c0 : nullptr, std::min(K, S - c0), a, hint);
        }
    });
    return gm;
  }
  const ColBlocks cb = ColBlocks::of<T>(v);
  const vec<std::size_t> cuts = v.cl ? sample_cuts(v, gr, cb) : vec<std::size_t>{};
  if (v.cl && !gr.by_channel && (fuse(v.N) || cuts.size() > 2)) {
    // per sample, or per column range of one sample: its planes' moments, its groups, then normalize its rows
    const std::size_t C = v.C, S = v.S;
    struct Scratch {
      vec<double> pmean, pm2;
      vec<Moments> pm;
      AffineColumns<T> cols;
    };
    auto part = [&](Scratch& sc, std::size_t n, std::size_t c0, std::size_t c1) {
      for (std::size_t rb = 0; rb < cb.nrb; ++rb)
        for (std::size_t tile = c0 / cb.tile; tile < ceil_div(c1, cb.tile); ++tile)
          cl_block_moments(k, x, v, cb, n, rb, tile, sc.pmean.data(), sc.pm2.data());
      cl_merge_moments<T>(sc.pm.data(), sc.pmean.data(), sc.pm2.data(), v, cb, c0, c1);
      for (std::size_t g = (n * C + c0) / gr.members; g < (n * C + c1) / gr.members; ++g) {
        const Moments m = finish_group(g, sc.pm.data(), n * C);
        const double rs = rstd_of(m, eps);  // (finish_group's, again: once per group)
        for (std::size_t j = 0; j < gr.members; ++j) {
          const std::size_t p = gr.plane(g, j);
          sc.cols.set(p - n * C, coef_of(m, rs, p));
        }
      }
      if (c1 - c0 == C) {
        k.normalize_cols(y + n * S * C, x + n * S * C, S, C, sc.cols.get(), hint);
        return;
      }
      const ColAffine<T> a = sc.cols.get(), ar{a.mh + c0, a.ml + c0, a.s + c0, a.t + c0};
      for (std::size_t r = n * S; r < (n + 1) * S; ++r) k.normalize_cols(y + r * C + c0, x + r * C + c0, 1, c1 - c0, ar, hint);
    };
    auto scratch = [&] {
      return Scratch{vec<double>(cb.nrb * C, 0.0), vec<double>(cb.nrb * C, 0.0),
                     vec<Moments>(C), AffineColumns<T>(C)};
    };
    if (cuts.size() > 2) {
      detail::parallel_ranges(cuts.size() - 1, 1, 1, [&](std::size_t rb, std::size_t re) {
        Scratch sc = scratch();
        for (std::size_t r = rb; r < re; ++r) part(sc, 0, cuts[r], cuts[r + 1]);
        fence();
      });
      return gm;
    }
    detail::parallel_ranges(v.N, std::max<std::size_t>(1, kMinPerThread / std::max<std::size_t>(1, C * S)), 1,
                            [&](std::size_t nb, std::size_t ne) {
                              Scratch sc = scratch();
                              for (std::size_t n = nb; n < ne; ++n) part(sc, n, 0, C);
                              fence();
                            });
    return gm;
  }
  gm.resize(gr.groups);
  vec<double> rs(gr.groups);
  if (span_groups) {
    const vec<Moments> sm = cf_all_moments(x, Planes{gr.groups, 1, gr.members * v.S, false});
    parallel_for(gr.groups, [&](std::size_t g) { rs[g] = set_group(g, sm[g]); });
  } else {
    const vec<Moments> pm = v.cl ? cl_all_moments(x, v) : cf_all_moments(x, v);
    parallel_for(gr.groups, [&](std::size_t g) { rs[g] = rstd_of(finish_group(g, pm.data(), 0), eps); });
  }
  vec<SpanAffine<T>> coef(v.count());
  parallel_for(v.count(), [&](std::size_t p) { coef[p] = coef_of(gm[gr.group_of(p)], rs[gr.group_of(p)], p); });
  normalize_all(y, x, v, coef, per_element ? w : nullptr, per_element ? b : nullptr);
  return gm;
}

// Backward of forward() for per-channel weights (batch, group, instance norm); the same three schedules.
template <class T>
void backward(T* dx, T* dw, T* db, const T* dy, const T* x, const T* mean, const T* rstd, const T* w, const Planes& v,
              const Grouping& gr) {
  const auto& k = kernels<T>();
  const StoreHint hint = detail::store_hint(v.elements() * sizeof(T));
  // for kernels whose non-temporal stores parallel_tasks fences once per thread
  const StoreHint deferred{hint.stream, true, false};
  const std::size_t P = v.count();
  const double M = static_cast<double>(gr.members * v.S);
  if (v.elements() == 0) {
    if (dw) std::fill(dw, dw + gr.mod, T(0));
    if (db) std::fill(db, db + gr.mod, T(0));
    return;
  }
  auto weight_of = [&](std::size_t c) { return w ? static_cast<double>(w[c]) : 1.0; };
  // input-gradient coefficients of a plane in group g whose channel has weight wp: a (grad_scale), b and c
  auto grad_scale = [&](std::size_t g, double wp) { return static_cast<T>(static_cast<double>(rstd[g]) * wp); };
  auto grad_of = [&](std::size_t g, double wp, const GradSums& s) {
    const double r = static_cast<double>(rstd[g]);
    return SpanGrad<T>{mean[g], T(0), grad_scale(g, wp), static_cast<T>(-r * r * r * s.gd / M),
                       static_cast<T>(-r * s.g / M)};
  };
  if (row_groups(v, gr, sizeof(T), true)) {
    // group norm of (N, C) input or of many tiny planes (see row_groups), in blocks of whole samples. Each
    // element's Σ dy and Σ dy·(x − mean) (col_grad_sums of one row: its values), each plane's sums over them and the
    // group's over its planes, in order (as group_sums below), the elements' coefficients, one grad_input_cols call. dweight and dbias: partial sums per block of
    // backward_block_rows samples (its samples in order, the blocks merged in order: a function of the shape, so
    // the bits do not depend on the thread count)
    const std::size_t C = v.C, CS = C * v.S, m = gr.members, per = C / m;
    const std::size_t R = std::max<std::size_t>(1, kRowGroupElems / CS);
    const std::size_t RB = std::max(R, backward_block_rows(v.N, CS) / R * R), nblk = ceil_div(v.N, RB);
    vec<double> acc_w(dw ? nblk * C : 0, 0.0), acc_b(db ? nblk * C : 0, 0.0);
    // one_element: S = 1 as a constant, so that the per-plane loops below vectorize (a runtime S of 1 cost 20%)
    auto block = [&](std::size_t blk, auto one_element) {
      const std::size_t S = one_element ? 1 : v.S, span = m * S;
      vec<double> pmean(R * CS), g(R * CS), gd(R * CS);
      GradColumns<T> cols(R * CS);
      double* const aw = dw ? acc_w.data() + blk * C : nullptr;
      double* const ab = db ? acc_b.data() + blk * C : nullptr;
      for (std::size_t n0 = blk * RB; n0 < std::min(v.N, (blk + 1) * RB); n0 += R) {
        const std::size_t len = std::min(R, v.N - n0) * CS, g0 = n0 * per, off = n0 * CS;
        for (std::size_t q = 0; q < len / span; ++q)
          std::fill_n(pmean.data() + q * span, span, static_cast<double>(mean[g0 + q]));
        k.col_grad_sums(g.data(), gd.data(), dy + off, x + off, 1, len, len, pmean.data());
        for (std::size_t q = 0; q < len / span; ++q) {
          const std::size_t o = q * span, c0 = q % per * m;
          const double r = static_cast<double>(rstd[g0 + q]);
          double sg = 0.0, sgd = 0.0;
          for (std::size_t j = 0; j < m; ++j) {
            // plane j's sums (its elements in order), into the group's and its channel's partials
            double pg = 0.0, pgd = 0.0;
            for (std::size_t i = o + j * S; i < o + (j + 1) * S; ++i) {
              pg += g[i];
              pgd += gd[i];
            }
            sg += weight_of(c0 + j) * pg;
            sgd += weight_of(c0 + j) * pgd;
            if (ab) ab[c0 + j] += pg;
            if (aw) aw[c0 + j] += r * pgd;
            std::fill_n(cols.a.data() + o + j * S, S, grad_scale(g0 + q, weight_of(c0 + j)));
          }
          const SpanGrad<T> a0 = grad_of(g0 + q, 1.0, GradSums{sg, sgd});
          std::fill_n(cols.mh.data() + o, span, a0.mh);
          std::fill_n(cols.b.data() + o, span, a0.b);
          std::fill_n(cols.c.data() + o, span, a0.c);
        }
        k.grad_input_cols(dx + off, dy + off, x + off, 1, len, cols.get(), hint);
      }
    };
    parallel_tasks(nblk, 2 * RB * CS, [&](std::size_t blk) {
      if (v.S == 1)
        block(blk, std::true_type{});
      else
        block(blk, std::false_type{});
    });
    for (std::size_t c = 0; c < C; ++c) {
      double sw = 0.0, sb = 0.0;
      for (std::size_t blk = 0; blk < nblk; ++blk) {
        if (dw) sw += acc_w[blk * C + c];
        if (db) sb += acc_b[blk * C + c];
      }
      if (dw) dw[c] = static_cast<T>(sw);
      if (db) db[c] = static_cast<T>(sb);
    }
    return;
  }
  const vec<std::uint32_t> chan = plane_channels(gr, P);
  auto weight = [&](std::size_t p) { return weight_of(chan[p]); };
  const ColBlocks cb = ColBlocks::of<T>(v);
  const vec<std::size_t> cuts = v.cl ? sample_cuts(v, gr, cb) : vec<std::size_t>{};
  vec<GradSums> ps(P);
  // group g's Σg = Σ w·Σdy and Σg·d over its planes, in order
  auto group_sums = [&](std::size_t g) {
    double sg = 0.0, sgd = 0.0;
    for (std::size_t j = 0; j < gr.members; ++j) {
      const std::size_t p = gr.plane(g, j);
      sg += weight(p) * ps[p].g;
      sgd += weight(p) * ps[p].gd;
    }
    return GradSums{sg, sgd};
  };
  // channels-first groups of adjacent planes of at least kPipeGradSpan elements streamed to memory (instance norm,
  // group norm of at most kPipePlanes planes a group; a chunk a plane at most): each plane's gradient sums while
  // plane j of the previous group has its dx written (grad_sums_input: the same bits as the batches below), in runs
  // of about kSpanBatchElems; reading the next plane from memory then overlaps writing the previous one.
  const bool pipelined = std::is_same_v<T, float> && !v.cl && !gr.by_channel && gr.stride == 1 &&
                         gr.members <= kPipePlanes && v.S >= kPipeGradSpan && v.S <= chunk_len<T>() &&
                         v.S * sizeof(T) % 64 == 0 && hint.stream && reinterpret_cast<std::uintptr_t>(dx) % 64 == 0 &&
                         fuse(gr.groups);
  if (pipelined) {
    const std::size_t S = v.S, span = gr.members * S, B = std::max<std::size_t>(1, kSpanBatchElems / span);
    parallel_tasks(ceil_div(gr.groups, B), 2 * B * span, [&](std::size_t t) {
      const std::size_t g0 = t * B, nb = std::min(B, gr.groups - g0);
      SpanGrad<T> prev[kPipePlanes];  // the previous group's planes' coefficients
      for (std::size_t i = 0; i < nb; ++i) {
        const std::size_t g = g0 + i;
        for (std::size_t j = 0; j < gr.members; ++j) {
          const std::size_t p = gr.plane(g, j), off = p * S, prev_off = i > 0 ? off - span : off;
          ps[p] = k.grad_sums_input(dy + off, x + off, S, static_cast<double>(mean[g]), static_cast<double>(rstd[g]),
                                    dx + prev_off,
                                    dy + prev_off, x + prev_off, i > 0 ? S : 0, prev[j], hint);
        }
        const GradSums s = group_sums(g);
        for (std::size_t j = 0; j < gr.members; ++j) prev[j] = grad_of(g, weight(gr.plane(g, j)), s);
      }
      for (std::size_t j = 0; j < gr.members; ++j) {
        const std::size_t off = gr.plane(g0 + nb - 1, j) * S;
        k.grad_input(dx + off, dy + off, x + off, nullptr, S, prev[j], hint);
      }
    });
  } else if (!v.cl && fuse_channels_first(v, gr, sizeof(T))) {
    const std::size_t S = v.S, K = chunk_len<T>();
    // adjacent small planes of a group (group norm): their sums and their dx in one call each per group
    const bool adjacent = !gr.by_channel && gr.stride == 1;  // group g's planes: g·members + j (group, instance)
    const bool small_planes = adjacent && gr.members > 1 && S < kSmallPlane;
    // groups in batches as in forward(): the sums of all of them, then their coefficients, then their dx, so that
    // the latency chain of each group (reduction, divisions, map) overlaps the other groups' (small planes were
    // a chain of calls waiting for each other: instance norm (256, 64, 4, 4) 0.55 ms)
    // (a quarter of the forward's batch: two inputs and an output, and the batch still in L1 when its dx is made;
    // group norm (64, 512, 7, 7) with 5 groups of 784 elements in a batch ran 1.35× slower than one at a time)
    // batch norm's short planes: in batches of channels swept sample by sample, as in forward()
    const bool channel_spans = gr.by_channel && S < kShortPlane && S <= K;
    const std::size_t B =
        channel_spans
            ? channel_batch(gr.members, S, sizeof(T))
            : std::clamp<std::size_t>(kBatchElems / std::max<std::size_t>(1, 4 * gr.members * S), 1, kGroupBatch);
    parallel_tasks(ceil_div(gr.groups, B), 2 * B * gr.members * S, [&](std::size_t t) {
      const std::size_t g0 = t * B, nb = std::min(B, gr.groups - g0);
      if (channel_spans && nb > 1) {
        // the batch's planes of sample j are adjacent (channels g0 ...), each with its channel's mean and rstd
        double bm[kGroupBatch], br[kGroupBatch];
        for (std::size_t i = 0; i < nb; ++i) {
          bm[i] = static_cast<double>(mean[g0 + i]);
          br[i] = static_cast<double>(rstd[g0 + i]);
        }
        for (std::size_t j = 0; j < gr.members; ++j) {
          const std::size_t p0 = gr.plane(g0, j);
          if (j + kRunsAhead < gr.members) {
            const std::size_t ahead = gr.plane(g0, j + kRunsAhead) * S;
            prefetch_run(dy + ahead, nb * S);
            prefetch_run(x + ahead, nb * S);
          }
          k.grad_sums_planes(ps.data() + p0, dy + p0 * S, x + p0 * S, nb, S, bm, br, 1, false);
        }
      } else if (adjacent && S <= K) {
        // the batch's planes are adjacent: their sums in one call
        double bm[kGroupBatch], br[kGroupBatch];
        for (std::size_t i = 0; i < nb; ++i) {
          bm[i] = static_cast<double>(mean[g0 + i]);
          br[i] = static_cast<double>(rstd[g0 + i]);
        }
        const std::size_t p0 = gr.plane(g0, 0);
        k.grad_sums_planes(ps.data() + p0, dy + p0 * S, x + p0 * S, nb * gr.members, S, bm, br, gr.members, true);
      } else {
        for (std::size_t i = 0; i < nb; ++i)
          for (std::size_t j = 0; j < gr.members; ++j) {
            const std::size_t p = gr.plane(g0 + i, j);
            ps[p] = plane_grad_sums(k, dy + p * S, x + p * S, S, static_cast<double>(mean[g0 + i]),
                                    static_cast<double>(rstd[g0 + i]), !gr.by_channel);
          }
      }
      // each group's mean, b and c (and a of its first plane); a of the others is rstd·weight of their channel
      SpanGrad<T> base[kGroupBatch];
      for (std::size_t i = 0; i < nb; ++i) base[i] = grad_of(g0 + i, weight(gr.plane(g0 + i, 0)), group_sums(g0 + i));
      if (adjacent && gr.members == 1 && S < kShortPlane) {
        // groups of one short plane each (instance norm): the batch's dx in one call
        const std::size_t off = gr.plane(g0, 0) * S;
        k.grad_input_spans(dx + off, dy + off, x + off, nb, S, S, base, 1);
        return;
      }
      if (channel_spans) {
        // a batch norm channel's planes share its coefficients (a = rstd·weight of the channel); several channels
        // sample by sample, one channel in one call
        const std::size_t off0 = gr.plane(g0, 0) * S;
        if (nb == 1) k.grad_input_spans(dx + off0, dy + off0, x + off0, gr.members, S, gr.stride * S, base, gr.members);
        for (std::size_t j = 0; j < gr.members && nb > 1; ++j) {
          const std::size_t off = gr.plane(g0, j) * S;
          k.grad_input_spans(dx + off, dy + off, x + off, nb, S, S, base, 1);
        }
        return;
      }
      if (small_planes && S <= kTinyPlane && nb * gr.members <= kSpanBatch) {
        // group norm's tiny planes: each plane's coefficients (the group's, a of its channel), the batch in one call
        // (GroupNorm (256, 64, 4, 4) backward 11% faster; with 49-element planes the per-group kernel is faster)
        SpanGrad<T> co[kSpanBatch];
        for (std::size_t i = 0, q = 0; i < nb; ++i) {
          const double r = static_cast<double>(rstd[g0 + i]);
          for (std::size_t j = 0; j < gr.members; ++j, ++q) {
            co[q] = base[i];
            co[q].a = static_cast<T>(r * weight(gr.plane(g0 + i, j)));
          }
        }
        const std::size_t off = gr.plane(g0, 0) * S;
        k.grad_input_spans(dx + off, dy + off, x + off, nb * gr.members, S, S, co, 1);
        return;
      }
      for (std::size_t i = 0; i < nb; ++i) {
        const std::size_t g = g0 + i;
        const double r = static_cast<double>(rstd[g]);
        if (small_planes) {
          const std::size_t p0 = gr.plane(g, 0), off = p0 * S;
          T buf[kStackPlanes];
          vec<T> heap(gr.members > kStackPlanes ? gr.members : 0);
          T* const a = gr.members > kStackPlanes ? heap.data() : buf;
          for (std::size_t j = 0; j < gr.members; ++j) a[j] = static_cast<T>(r * weight(p0 + j));
          const SpanGrad<T>& a0 = base[i];
          k.grad_input_planes(dx + off, dy + off, x + off, gr.members, S, a0.mh, a0.ml, a, a0.b, a0.c, deferred);
          continue;
        }
        for (std::size_t j = 0; j < gr.members; ++j) {
          const std::size_t p = gr.plane(g, j);
          SpanGrad<T> a = base[i];
          a.a = static_cast<T>(r * weight(p));
          for (std::size_t c0 = 0; c0 < S; c0 += K)
            k.grad_input(dx + p * S + c0, dy + p * S + c0, x + p * S + c0, nullptr, std::min(K, S - c0), a, hint);
        }
      }
    });
  } else if (v.cl && !gr.by_channel && (fuse(v.N) || cuts.size() > 2)) {
    // per sample, or per column range of one sample (as in forward())
    const std::size_t C = v.C, S = v.S;
    struct Scratch {
      vec<double> pg, pgd, pmean;
      GradColumns<T> cols;
    };
    auto part = [&](Scratch& sc, std::size_t n, std::size_t c0, std::size_t c1) {
      // each column's mean; a group's columns are adjacent (c0, c1: group boundaries), and a division per column
      // was a tenth of batch norm (32, 256, 4, 4)'s backward
      for (std::size_t g = (n * C + c0) / gr.members; g < (n * C + c1) / gr.members; ++g)
        std::fill_n(sc.pmean.data() + (g * gr.members - n * C), gr.members, static_cast<double>(mean[g]));
      for (std::size_t rb = 0; rb < cb.nrb; ++rb)
        for (std::size_t tile = c0 / cb.tile; tile < ceil_div(c1, cb.tile); ++tile)
          cl_block_grad_sums(k, dy, x, sc.pmean.data(), v, cb, n, rb, tile, sc.pg.data(), sc.pgd.data());
      cl_merge_grad_sums(ps.data() + n * C, sc.pg.data(), sc.pgd.data(), v, cb, c0, c1);
      for (std::size_t g = (n * C + c0) / gr.members; g < (n * C + c1) / gr.members; ++g) {
        const GradSums s = group_sums(g);
        SpanGrad<T> co = grad_of(g, weight(gr.plane(g, 0)), s);
        if (gr.div == gr.members) {  // the group's planes: one channel (batch norm's short spans)
          sc.cols.fill(gr.plane(g, 0) - n * C, gr.members, co);
          continue;
        }
        for (std::size_t j = 0; j < gr.members; ++j) {
          const std::size_t p = gr.plane(g, j);
          if (j > 0) co.a = grad_scale(g, weight(p));  // (adjacent channels)
          sc.cols.set(p - n * C, co);
        }
      }
      if (c1 - c0 == C) {
        const std::size_t off = n * S * C;
        k.grad_input_cols(dx + off, dy + off, x + off, S, C, sc.cols.get(), hint);
        return;
      }
      const ColGrad<T> a = sc.cols.get(), ar{a.mh + c0, a.ml + c0, a.a + c0, a.b + c0, a.c + c0};
      for (std::size_t r = n * S; r < (n + 1) * S; ++r) {
        const std::size_t off = r * C + c0;
        k.grad_input_cols(dx + off, dy + off, x + off, 1, c1 - c0, ar, hint);
      }
    };
    auto scratch = [&] {
      return Scratch{vec<double>(cb.nrb * C, 0.0), vec<double>(cb.nrb * C, 0.0),
                     vec<double>(C), GradColumns<T>(C)};
    };
    if (cuts.size() > 2) {
      detail::parallel_ranges(cuts.size() - 1, 1, 1, [&](std::size_t rb, std::size_t re) {
        Scratch sc = scratch();
        for (std::size_t r = rb; r < re; ++r) part(sc, 0, cuts[r], cuts[r + 1]);
        fence();
      });
    } else {
      detail::parallel_ranges(v.N, std::max<std::size_t>(1, kMinPerThread / std::max<std::size_t>(1, 2 * C * S)), 1,
                              [&](std::size_t nb, std::size_t ne) {
                                Scratch sc = scratch();
                                for (std::size_t n = nb; n < ne; ++n) part(sc, n, 0, C);
                                fence();
                              });
    }
  } else {
    vec<double> pmean(P), prstd(v.cl ? 0 : P);
    parallel_for(P, [&](std::size_t p) {
      pmean[p] = static_cast<double>(mean[gr.group_of(p)]);
      if (!v.cl) prstd[p] = static_cast<double>(rstd[gr.group_of(p)]);
    });
    ps = v.cl ? cl_all_grad_sums(dy, x, v, pmean) : cf_all_grad_sums(dy, x, v, pmean, prstd, !gr.by_channel);
    vec<SpanGrad<T>> coef(P);
    parallel_for(gr.groups, [&](std::size_t g) {
      const GradSums s = group_sums(g);
      for (std::size_t j = 0; j < gr.members; ++j) coef[gr.plane(g, j)] = grad_of(g, weight(gr.plane(g, j)), s);
    });
    grad_input_all(dx, dy, x, v, coef);
  }
  // parameter gradients: dbias[c] = Σ dy, dweight[c] = Σ rstd·Σ dy·d over the planes of channel c, in plane order,
  // as loops over runs of adjacent planes (one lookup per plane and two counters was ~15% of group norm (32, 256,
  // 4, 4)'s backward on one thread)
  const std::size_t C = gr.mod;
  vec<double> sb(C, 0.0), sw(C, 0.0);
  const auto add_plane = [&](std::size_t c, std::size_t p, double r) {
    sb[c] += ps[p].g;
    sw[c] += r * ps[p].gd;
  };
  if (gr.by_channel) {
    // plane p = n·C + c with channel c's statistic
    for (std::size_t p0 = 0; p0 < P; p0 += C)
      for (std::size_t c = 0; c < C; ++c) add_plane(c, p0 + c, static_cast<double>(rstd[c]));
  } else {
    // group g = planes g·members + j: channels c0 + j (div = 1, members dividing C) or all channel c0 (div = members)
    const std::size_t step = gr.div == 1 ? gr.members : 1;  // from one group's first channel to the next's
    for (std::size_t g = 0, p0 = 0, c0 = 0; g < gr.groups; ++g, p0 += gr.members, c0 = c0 + step == C ? 0 : c0 + step) {
      const double r = static_cast<double>(rstd[g]);
      if (gr.div == 1) {
        for (std::size_t j = 0; j < gr.members; ++j) add_plane(c0 + j, p0 + j, r);
      } else {  // (the channel's sums in registers along the run: the same additions)
        double tb = sb[c0], tw = sw[c0];
        for (std::size_t j = 0; j < gr.members; ++j) {
          tb += ps[p0 + j].g;
          tw += r * ps[p0 + j].gd;
        }
        sb[c0] = tb;
        sw[c0] = tw;
      }
    }
  }
  for (std::size_t c = 0; c < C; ++c) {
    if (db) db[c] = static_cast<T>(sb[c]);
    if (dw) dw[c] = static_cast<T>(sw[c]);
  }
}

// ---- checks -----------------------------------------------------------------------------------------------

void check_eps(const char* f, double eps) {
  if (!(eps >= 0.0) || !std::isfinite(eps))
    throw std::invalid_argument(std::string(f) + ": eps must be a finite number >= 0, got " + std::to_string(eps));
}

void check_pointers(const char* f, std::size_t n, std::initializer_list<const void*> ptrs) {
  if (n == 0) return;
  for (const void* p : ptrs)
    if (p == nullptr) throw std::invalid_argument(std::string(f) + ": null pointer for a non-empty array");
}

void check_layout(const char* f, Layout layout) {
  if (layout != Layout::channels_first && layout != Layout::channels_last)
    throw std::invalid_argument(std::string(f) + ": unknown layout");
}

template <class T>
void check_running(const char* f, const RunningStats<T>& r) {
  if ((r.mean != nullptr || r.var != nullptr) && !std::isfinite(r.momentum))
    throw std::invalid_argument(std::string(f) + ": momentum must be finite, got " + std::to_string(r.momentum));
}

// The plane view of an instance norm input. With S == 1 both layouts are the same (N, C) array: it is read as
// channels-last (vectors across C) rather than as N·C one-element spans.
Planes planes_of(std::size_t N, std::size_t C, std::size_t S, Layout layout) {
  return {N, C, S, layout == Layout::channels_last || S == 1};
}

// The plane view of a group norm input: as given. With S == 1 a channels-first group is one span of its C/G values
// (planes_normalize takes one-element planes as a span with per-element coefficients), which beat the
// channels-last reading, whose per-column moments were merged one by one: (16384, 64, 1) G=8, 1 thread, C++ driver,
// forward 73 -> 34 copy times, backward 95 -> 75.
Planes group_planes_of(std::size_t N, std::size_t C, std::size_t S, Layout layout) {
  return {N, C, S, layout == Layout::channels_last};
}

// Spans shorter than this are too short for per-span kernel calls: batch norm reads such a channels-first input
// (N, C, S) as N rows of C·S columns, each channel a group of S consecutive columns.
constexpr std::size_t kShortSpan = 32;

// Batch norm's view: channels-last (and S == 1) as one sample of N·S rows of C columns; short channels-first spans
// as one sample of N rows of C·S columns; otherwise the (N, C) planes of S elements.
struct BatchView {
  Planes v;
  Grouping gr;
};
BatchView batch_view(std::size_t N, std::size_t C, std::size_t S, Layout layout) {
  if (layout == Layout::channels_last || S == 1) {
    const Planes v{1, C, N * S, true};
    return {v, per_channel(v)};
  }
  if (S < kShortSpan) return {Planes{1, C * S, N, true}, Grouping{C, S, S, 1, false, S, C}};
  const Planes v{N, C, S, false};
  return {v, per_channel(v)};
}

// r ← (1 − m)·r + m·value for each channel, value from (mean, unbiased or biased variance).
template <class T, class Value>
void update_running(const RunningStats<T>& r, std::size_t C, Value&& value) {
  if (r.mean == nullptr && r.var == nullptr) return;
  const double m = r.momentum;
  for (std::size_t c = 0; c < C; ++c) {
    const auto [mean, var] = value(c);
    if (r.mean) r.mean[c] = static_cast<T>((1.0 - m) * static_cast<double>(r.mean[c]) + m * mean);
    if (r.var) r.var[c] = static_cast<T>((1.0 - m) * static_cast<double>(r.var[c]) + m * var);
  }
}

double batch_variance(const Moments& m, bool unbiased) { return m.m2 / (unbiased ? m.n - 1.0 : m.n); }

}  // namespace

// ---- batch norm -----------------------------------------------------------------------------------------------

template <class T>
void batch_norm_forward(T* y, T* mean, T* rstd, const T* x, const T* weight, const T* bias, std::size_t N,
                        std::size_t C, std::size_t S, Layout layout, double eps, const RunningStats<T>& running) {
  const char* f = "batch_norm";
  check_eps(f, eps);
  check_layout(f, layout);
  check_running(f, running);
  check_pointers(f, N * C * S, {y, x});
  if (N * S == 1)
    throw std::invalid_argument("batch_norm: expected more than 1 value per channel when training, got N = 1, S = 1");
  const BatchView bv = batch_view(N, C, S, layout);
  const vec<Moments> gm =
      forward(y, mean, rstd, x, weight, bias, bv.v, bv.gr, eps, false, running.mean || running.var);
  if (N * S > 0)
    update_running(running, C, [&](std::size_t c) {
      return std::pair<double, double>{gm[c].mean, batch_variance(gm[c], running.unbiased_var)};
    });
}

template <class T>
void batch_norm_inference(T* y, const T* x, const T* running_mean, const T* running_var, const T* weight,
                          const T* bias, std::size_t N, std::size_t C, std::size_t S, Layout layout, double eps) {
  const char* f = "batch_norm";
  check_eps(f, eps);
  check_layout(f, layout);
  check_pointers(f, N * C * S, {y, x, running_mean, running_var});
  // the fused scale-shift pass (identity activation) with the running mean as its center: y = (x − mean)·s + b,
  // s = weight/√(var + eps) rounded once from double — no cancellation for |mean| ≫ std
  vec<T> s(C), t(C);
  for (std::size_t c = 0; c < C; ++c) {
    const double r = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps);
    s[c] = static_cast<T>(weight ? r * static_cast<double>(weight[c]) : r);
    t[c] = bias ? bias[c] : T(0);
  }
  scale_shift_act<T>(Activation::identity, ActivationParams{}, y, x, nullptr, s.data(), t.data(), N, C, S, layout,
                     running_mean);
}

template <class T>
void batch_norm_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* mean, const T* rstd,
                         const T* weight, std::size_t N, std::size_t C, std::size_t S, Layout layout) {
  const char* f = "batch_norm_backward";
  check_layout(f, layout);
  check_pointers(f, N * C * S, {dx, dy, x, mean, rstd});
  const BatchView bv = batch_view(N, C, S, layout);
  backward(dx, dweight, dbias, dy, x, mean, rstd, weight, bv.v, bv.gr);
}

// ---- group norm -----------------------------------------------------------------------------------------------

namespace {
void check_groups(const char* f, std::size_t C, std::size_t groups) {
  if (groups == 0 || C % groups != 0)
    throw std::invalid_argument(std::string(f) + ": num_groups (" + std::to_string(groups) +
                                ") must be >= 1 and divide the number of channels (" + std::to_string(C) + ")");
}
}  // namespace

template <class T>
void group_norm_forward(T* y, T* mean, T* rstd, const T* x, const T* weight, const T* bias, std::size_t N,
                        std::size_t C, std::size_t S, std::size_t groups, Layout layout, double eps) {
  const char* f = "group_norm";
  check_eps(f, eps);
  check_layout(f, layout);
  check_groups(f, C, groups);
  check_pointers(f, N * C * S, {y, x});
  const Planes v = group_planes_of(N, C, S, layout);
  forward(y, mean, rstd, x, weight, bias, v, per_sample_groups(v, groups), eps, false, false);
}

// ---- instance norm --------------------------------------------------------------------------------------------

template <class T>
void instance_norm_forward(T* y, T* mean, T* rstd, const T* x, const T* weight, const T* bias, std::size_t N,
                           std::size_t C, std::size_t S, Layout layout, double eps, const RunningStats<T>& running) {
  const char* f = "instance_norm";
  check_eps(f, eps);
  check_layout(f, layout);
  check_running(f, running);
  check_pointers(f, N * C * S, {y, x});
  if (S == 1)
    throw std::invalid_argument("instance_norm: expected more than 1 spatial element when training, got S = 1");
  const Planes v = planes_of(N, C, S, layout);
  const vec<Moments> gm =
      forward(y, mean, rstd, x, weight, bias, v, per_sample_groups(v, C), eps, false, running.mean || running.var);
  if (N * S > 0)
    update_running(running, C, [&](std::size_t c) {
      double sm = 0.0, sv = 0.0;
      for (std::size_t n = 0; n < N; ++n) {
        sm += gm[n * C + c].mean;
        sv += batch_variance(gm[n * C + c], running.unbiased_var);
      }
      return std::pair<double, double>{sm / static_cast<double>(N), sv / static_cast<double>(N)};
    });
}

// ---- layer norm and RMS norm ----------------------------------------------------------------------------------

namespace {

// A copy of a per-element parameter (weight, bias: D values) placed 2 KiB past the output's first row modulo
// 4 KiB, in buf; null stays null. A load whose address matches a pending store's in the low 12 bits waits for that
// store (4K aliasing), and the non-temporal stores of an output row drain slowly, so a parameter lying just below
// the output's offset stalled every vector: LayerNorm (8192, 1024) forward, 1 thread, 1.9 ms with weight and bias
// 2 KiB away, 3.4 ms with both 64 bytes below (C++ driver, same process). Rows of a multiple of 4 KiB all share
// the first row's offset; other lengths drift, and a fraction of their rows still meets the slow case.
template <class T>
const T* away_from(vec<unsigned char>& buf, const T* p, std::size_t D, const T* out) {
  if (p == nullptr || D == 0) return p;
  constexpr std::size_t page = 4096;
  buf.resize(D * sizeof(T) + 2 * page);
  const auto base = reinterpret_cast<std::uintptr_t>(buf.data());
  const std::uintptr_t start = (base + page - 1) / page * page + (reinterpret_cast<std::uintptr_t>(out) + page / 2) % page;
  std::memcpy(reinterpret_cast<void*>(start), p, D * sizeof(T));
  return reinterpret_cast<const T*>(start);
}

}  // namespace

template <class T>
void layer_norm_forward(T* y, T* mean, T* rstd, const T* x, const T* weight, const T* bias, std::size_t rows,
                        std::size_t D, double eps) {
  const char* f = "layer_norm";
  check_eps(f, eps);
  check_pointers(f, rows * D, {y, x});
  const Planes v{rows, 1, D, false};
  vec<unsigned char> wbuf, bbuf;
  forward(y, mean, rstd, x, away_from(wbuf, weight, D, y), away_from(bbuf, bias, D, y), v,
          Grouping{rows, 1, 1, 1, false, 1, 1}, eps, true, false);
}

namespace {

// Rows whose parameter-gradient partials are added at once (each accumulator vector loaded and stored once for
// them): 16 rows of dy and x stay in L2 for D up to several thousand.
constexpr std::size_t kParamRows = 16;
// The backward's first pass adds the parameter-gradient terms when their accumulators (one per wanted gradient, D
// each) hold at most this many doubles (LayerNorm up to D = 1024, RMSNorm up to 2048).
constexpr std::size_t kFusedParamCols = 2048;

// Whether group (or instance) norm's backward takes each sample as a row of segments, one a group (rows_backward):
// channels-first planes of 1 to 36 elements in groups of at least 4, or of up to 64 elements in samples of at most
// 8192 (their parameter partials, C·S doubles each, stay in L2). (N, C) input (S = 1) too: (1024, 64) G=8 243 ->
// 79 µs, (16384, 64) G=8 3970 -> 2700 µs against the blocks of samples of row_groups. C++ driver, 1 thread,
// backward() -> rows (µs):
// (256, 64, 16) G=32 156 -> 94, (1024, 64, 4) G=32 552 -> 242, (4096, 64, 4) G=8 1729 -> 651, (64, 512, 9) G=32
// 255 -> 76, (32, 256, 16) G=32 63 -> 34, (8, 2048, 9) G=32 126 -> 48, (64, 128, 36) G=32 115 -> 76, (64, 128, 49)
// G=32 122 -> 107, (256, 64, 64) G=32 312 -> 275; groups of one plane: (64, 512, 9) G=512 334 -> 253, (1024, 64, 4)
// G=64 566 -> 384, (256, 64, 32) G=64 195 -> 179. Kept: (64, 512, 49) G=32 414 (rows 487), (32, 64, 196) G=32 94
// (rows 100).
bool segment_rows(const Planes& v, std::size_t groups) {
  if (v.cl || groups == 0 || v.S < 1 || v.C / groups * v.S < 4) return false;
  return v.S <= 36 || (v.S <= 64 && v.C * v.S <= 8192);
}

// The backward of layer norm (centered) and RMS norm (centered = false: mean = 0, no dbias). Rows of D elements
// in `segs` segments of L = D / segs with statistics of their own (mean, rstd: rows·segs, row-major; group norm's
// channels-first samples: a segment per group); dw and db of D / fold elements, each the sum of `fold` adjacent
// columns' (group norm: a channel's S elements).
template <class T>
void rows_backward(T* dx, T* dw, T* db, const T* dy, const T* x, const T* mean, const T* rstd, const T* weight,
                   std::size_t rows, std::size_t D, bool centered, std::size_t segs = 1, std::size_t fold = 1) {
  vec<unsigned char> wbuf;
  const T* const w = away_from(wbuf, weight, D, static_cast<const T*>(dx));
  const auto& k = kernels<T>();
  const StoreHint hint = detail::store_hint(rows * D * sizeof(T));
  const std::size_t K = chunk_len<T>(), RB = backward_block_rows(rows, D), nb = ceil_div(rows, RB), L = D / segs;
  const bool want_w = dw != nullptr, want_b = centered && db != nullptr;
  if (rows == 0 || D == 0) {
    if (want_w) std::fill(dw, dw + D / fold, T(0));
    if (want_b) std::fill(db, db + D / fold, T(0));
    return;
  }
  // the blocks' partials of dweight and dbias in one buffer, each 64-byte aligned, dbias's 2 KiB past dweight's
  // modulo 4 KiB: the fused first pass stores into one and loads from the other at the same column (4K aliasing
  // otherwise: LayerNorm (32768, 256) 5.5 -> 4.5 ms, 1 thread)
  constexpr std::size_t page = 4096 / sizeof(double), align = 64 / sizeof(double);
  const std::size_t span = (nb * D + page - 1) / page * page;
  vec<double> acc((want_w || want_b) ? 2 * span + page / 2 + align : 0, 0.0);
  const std::size_t lead = (align - reinterpret_cast<std::uintptr_t>(acc.data()) / sizeof(double) % align) % align;
  double* const acc_w = want_w ? acc.data() + lead : nullptr;
  double* const acc_b = want_b ? acc.data() + lead + (want_w ? span : 0) + page / 2 : nullptr;
  const double inv_L = 1.0 / static_cast<double>(L);  // (a multiplication: a division per segment was a fifth of
                                                      // group norm (256, 64, 16) G=32's time through here)
  // tasks: a block of rows × a range of SR segments (disjoint columns of the block's partials, each added over the
  // block's rows in order: the bits depend on neither SR nor the thread count). All of a block's segments where
  // there are blocks enough for the threads: a range of short segments of each row left the rest of its lines to
  // the next task, which read the block again (C++ driver, 1 thread: group norm (16384, 64) G=8 3.3 -> 1.26 ms,
  // (4096, 64, 4) G=8 1.17 -> 0.55 ms, (256, 64, 16) G=32 146 -> 135 µs); else ranges
  // of about 2^14 elements, so that a few samples still use every thread.
  const std::size_t SR =
      nb >= 2 * static_cast<std::size_t>(detail::max_threads())
          ? segs
          : std::clamp<std::size_t>(ceil_div(std::size_t{1} << 14, std::min(RB, rows) * L), 1, segs);
  const std::size_t ns = ceil_div(segs, SR);
  parallel_tasks(nb * ns, 2 * RB * SR * L, [&](std::size_t task) {
    const std::size_t blk = task / ns, s0 = task % ns * SR, s1 = std::min(segs, s0 + SR);
    double* aw = want_w ? acc_w + blk * D : nullptr;
    double* ab = want_b ? acc_b + blk * D : nullptr;
    const std::size_t end = std::min(rows, (blk + 1) * RB);
    // each row: its sums (first read, from memory), then its dx (from cache); then the block's parameter-gradient
    // partials for kParamRows rows at a time, while those rows are still in cache (rows in order: the same bits
    // as adding row after row). Short rows add their parameter-gradient terms during the first read instead
    // (fused): that pass waits on memory and has room for them, but the accumulators of long rows crowd L1 (one
    // or two arrays of D doubles next to the rows). 1 thread, C++ driver, LayerNorm (fused up to D = 768):
    // (32768, 256) 6.9 -> 4.2 ms, (16384, 512) 5.7 -> 4.2 ms, (8192, 1024) fused 6.0 ms, not 5.4; RMSNorm
    // (fused up to D = 1536): (8192, 1024) 5.0 -> 4.1 ms, (16384, 512) 5.5 -> 3.6 ms. With the first pass
    // prefetching ahead and the unfused partials in float, LayerNorm (8192, 1024) fused: 2.22-2.59 ms against
    // 2.68-3.2 ms.
    // Segment rows always fuse (their rows_param_grads per segment took 25-50% longer: group norm (32, 256, 16)
    // G=32 45 -> 34 µs, (4, 4096, 16) G=32 190 -> 115 µs; LayerNorm (4096, 2048) fused: 3.9 ms, not 3.0).
    const bool fused = segs > 1 || (static_cast<std::size_t>(want_w) + want_b) * D <= kFusedParamCols;
    // the statistics of kParamRows rows' segments in double (row-major), for rows_param_grads and long segments
    vec<double> m(kParamRows * segs), rs(kParamRows * segs);
    for (std::size_t r0 = blk * RB; r0 < end; r0 += kParamRows) {
      const std::size_t nr = std::min(kParamRows, end - r0);
      if (!fused || L > K)  // the statistics in double for rows_param_grads and the long segments
        for (std::size_t q = 0; q < nr; ++q)
          for (std::size_t sg = s0; sg < s1; ++sg) {
            m[q * segs + sg] = centered ? static_cast<double>(mean[(r0 + q) * segs + sg]) : 0.0;
            rs[q * segs + sg] = static_cast<double>(rstd[(r0 + q) * segs + sg]);
          }
      double* const fw = fused ? aw : nullptr;
      double* const fb = fused ? ab : nullptr;
      if (L <= K && segs == 1) {
        // short rows: the group's rows in one call (each row a segment on the same columns)
        const std::size_t off = r0 * D;
        k.segments_backward(SegmentRows<T>{dx + off, dy + off, x + off, w, D, nr, 0, centered ? mean + r0 : nullptr,
                                           rstd + r0, inv_L, fw, fb},
                            centered, hint);
      } else if (L <= K) {
        // a row's segments in one call
        for (std::size_t q = 0; q < nr; ++q) {
          const std::size_t st = (r0 + q) * segs + s0, o = s0 * L, off = (r0 + q) * D + o;
          k.segments_backward(SegmentRows<T>{dx + off, dy + off, x + off, w ? w + o : nullptr, L, s1 - s0, L,
                                             centered ? mean + st : nullptr, rstd + st, inv_L, fw ? fw + o : nullptr,
                                             fb ? fb + o : nullptr},
                              centered, hint);
        }
      } else {
        // segments longer than a chunk
        for (std::size_t q = 0; q < nr; ++q)
          for (std::size_t sg = s0; sg < s1; ++sg) {
            const std::size_t i = q * segs + sg, st = (r0 + q) * segs + sg, o = sg * L, off = (r0 + q) * D + o;
            GradSums s;
            for (std::size_t c0 = 0; c0 < L; c0 += K)
              s = add(s, k.grad_sums_params(dy + off + c0, x + off + c0, w ? w + o + c0 : nullptr,
                                            std::min(K, L - c0), m[i], rs[i], fw ? fw + o + c0 : nullptr,
                                            fb ? fb + o + c0 : nullptr, centered));
            const SpanGrad<T> a{centered ? mean[st] : T(0), T(0), static_cast<T>(rs[i]),
                                static_cast<T>(-rs[i] * rs[i] * rs[i] * s.gd * inv_L),
                                static_cast<T>(centered ? -rs[i] * s.g * inv_L : 0.0)};
            for (std::size_t c0 = 0; c0 < L; c0 += K)
              k.grad_input(dx + off + c0, dy + off + c0, x + off + c0, w ? w + o + c0 : nullptr,
                           std::min(K, L - c0), a, hint);
          }
      }
      if (!fused && (aw != nullptr || ab != nullptr))  // (one segment a row: the statistics are m and rs)
        for (std::size_t c0 = 0; c0 < D; c0 += K)
          k.rows_param_grads(aw ? aw + c0 : nullptr, ab ? ab + c0 : nullptr, dy + r0 * D + c0, x + r0 * D + c0, nr,
                             std::min(K, D - c0), D, m.data(), rs.data());
    }
  });
  // parameter gradients: the blocks' partial sums, in block order (0 + a0 + a1 + ... = a0 + a1 + ...), added into
  // block 0's row a block row at a time (contiguous, vectorizable), columns split across threads; then each
  // output the sum of its `fold` columns, in order
  auto sum_blocks = [&](double* part, std::size_t b, std::size_t e) {
    for (std::size_t blk = 1; blk < nb; ++blk) {
      const double* src = part + blk * D;
      for (std::size_t j = b; j < e; ++j) part[j] += src[j];
    }
  };
  auto fold_out = [&](const double* part, T* out) {
    for (std::size_t c = 0; c < D / fold; ++c) {
      double t = part[c * fold];
      for (std::size_t f = 1; f < fold; ++f) t += part[c * fold + f];
      out[c] = static_cast<T>(t);
    }
  };
  if (want_w || want_b)
    detail::parallel_ranges(D, std::max<std::size_t>(64, kMinPerThread / std::max<std::size_t>(nb, 1)), 8,
                            [&](std::size_t b, std::size_t e) {
                              if (want_w) sum_blocks(acc_w, b, e);
                              if (want_b) sum_blocks(acc_b, b, e);
                            });
  if (want_w) fold_out(acc_w, dw);
  if (want_b) fold_out(acc_b, db);
  if (!want_b && centered && db != nullptr) std::fill(db, db + D / fold, T(0));
}

// The backward of group (or instance) norm through rows_backward where segment_rows says so: a channels-first sample
// = a row of C·S elements in `groups` segments, the weight spread over each channel's S elements. Whether it did.
template <class T>
bool segments_backward_of(T* dx, T* dw, T* db, const T* dy, const T* x, const T* mean, const T* rstd,
                          const T* weight, const Planes& v, std::size_t groups) {
  if (!segment_rows(v, groups)) return false;
  const std::size_t C = v.C, S = v.S;
  vec<T> wexp(weight != nullptr ? C * S : 0);
  for (std::size_t c = 0; c < wexp.size() / S; ++c) std::fill_n(wexp.data() + c * S, S, weight[c]);
  rows_backward(dx, dw, db, dy, x, mean, rstd, weight != nullptr ? wexp.data() : nullptr, v.N, C * S, true, groups, S);
  return true;
}

}  // namespace

template <class T>
void group_norm_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* mean, const T* rstd,
                         const T* weight, std::size_t N, std::size_t C, std::size_t S, std::size_t groups,
                         Layout layout) {
  const char* f = "group_norm_backward";
  check_layout(f, layout);
  check_groups(f, C, groups);
  check_pointers(f, N * C * S, {dx, dy, x, mean, rstd});
  const Planes v = group_planes_of(N, C, S, layout);
  if (!segments_backward_of(dx, dweight, dbias, dy, x, mean, rstd, weight, v, groups))
    backward(dx, dweight, dbias, dy, x, mean, rstd, weight, v, per_sample_groups(v, groups));
}

template <class T>
void instance_norm_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* mean, const T* rstd,
                            const T* weight, std::size_t N, std::size_t C, std::size_t S, Layout layout) {
  const char* f = "instance_norm_backward";
  check_layout(f, layout);
  check_pointers(f, N * C * S, {dx, dy, x, mean, rstd});
  const Planes v = planes_of(N, C, S, layout);
  if (!segments_backward_of(dx, dweight, dbias, dy, x, mean, rstd, weight, v, C))
    backward(dx, dweight, dbias, dy, x, mean, rstd, weight, v, per_sample_groups(v, C));
}

template <class T>
void layer_norm_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* mean, const T* rstd,
                         const T* weight, std::size_t rows, std::size_t D) {
  check_pointers("layer_norm_backward", rows * D, {dx, dy, x, mean, rstd});
  rows_backward(dx, dweight, dbias, dy, x, mean, rstd, weight, rows, D, true);
}

template <class T>
void rms_norm_forward(T* y, T* rstd, const T* x, const T* weight, std::size_t rows, std::size_t D, double eps) {
  const char* f = "rms_norm";
  check_eps(f, eps);
  check_pointers(f, rows * D, {y, x});
  const auto& k = kernels<T>();
  const StoreHint hint = detail::store_hint(rows * D * sizeof(T));
  const std::size_t K = chunk_len<T>();
  vec<unsigned char> wbuf;
  const T* const w = away_from(wbuf, weight, D, y);
  // rstd of row r from its Σx²; its coefficients
  auto finish = [&](std::size_t r, double q) {
    const double rs = 1.0 / std::sqrt(q / static_cast<double>(D) + eps);
    if (rstd) rstd[r] = static_cast<T>(rs);
    return SpanAffine<T>{T(0), T(0), static_cast<T>(rs), T(0)};
  };
  if (std::is_same_v<T, float> && D >= kPipeSpan && D <= K && D * sizeof(T) % 64 == 0 &&
      D * sizeof(T) * (2 + (w != nullptr)) <= kPipeBytes && reinterpret_cast<std::uintptr_t>(y) % 64 == 0 &&
      hint.stream) {
    // as LayerNorm's forward (forward(), pipelined): each row's Σx² while the previous row is normalized, a block
    // of rows a task (the same bits as the loop below)
    const std::size_t B = std::clamp<std::size_t>(kSpanBatchElems / D, 1, kGroupBatch);
    parallel_tasks(ceil_div(rows, B), B * D, [&](std::size_t t) {
      const std::size_t r0 = t * B, nb = std::min(B, rows - r0);
      SpanAffine<T> co{};  // the previous row's
      for (std::size_t i = 0; i <= nb; ++i) {
        const std::size_t o = (r0 + i) * D, prev = i > 0 ? o - D : o;
        if (i == nb) {
          k.normalize(y + prev, x + prev, w, nullptr, D, co, hint);
          break;
        }
        co = finish(r0 + i, k.sum_squares_normalize(x + o, D, y + prev, x + prev, i > 0 ? D : 0, co, w, hint));
      }
    });
    return;
  }
  parallel_tasks(rows, D, [&](std::size_t r) {
    const T* xr = x + r * D;
    double q = k.sum_squares(xr, std::min(D, K));
    for (std::size_t c0 = K; c0 < D; c0 += K) q += k.sum_squares(xr + c0, std::min(K, D - c0));
    const SpanAffine<T> a = finish(r, q);
    for (std::size_t c0 = 0; c0 < D; c0 += K)
      k.normalize(y + r * D + c0, xr + c0, w ? w + c0 : nullptr, nullptr, std::min(K, D - c0), a, hint);
  });
}

template <class T>
void rms_norm_backward(T* dx, T* dweight, const T* dy, const T* x, const T* rstd, const T* weight, std::size_t rows,
                       std::size_t D) {
  check_pointers("rms_norm_backward", rows * D, {dx, dy, x, rstd});
  rows_backward(dx, dweight, static_cast<T*>(nullptr), dy, x, static_cast<const T*>(nullptr), rstd, weight, rows, D,
                false);
}

#define NORMCORE_INSTANTIATE(T)                                                                                    \
  template void batch_norm_forward<T>(T*, T*, T*, const T*, const T*, const T*, std::size_t, std::size_t,          \
                                      std::size_t, Layout, double, const RunningStats<T>&);                         \
  template void batch_norm_inference<T>(T*, const T*, const T*, const T*, const T*, const T*, std::size_t,         \
                                        std::size_t, std::size_t, Layout, double);                                 \
  template void batch_norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, std::size_t,  \
                                       std::size_t, std::size_t, Layout);                                          \
  template void group_norm_forward<T>(T*, T*, T*, const T*, const T*, const T*, std::size_t, std::size_t,          \
                                      std::size_t, std::size_t, Layout, double);                                   \
  template void group_norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, std::size_t,  \
                                       std::size_t, std::size_t, std::size_t, Layout);                             \
  template void instance_norm_forward<T>(T*, T*, T*, const T*, const T*, const T*, std::size_t, std::size_t,       \
                                         std::size_t, Layout, double, const RunningStats<T>&);                      \
  template void instance_norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*,            \
                                          std::size_t, std::size_t, std::size_t, Layout);                          \
  template void layer_norm_forward<T>(T*, T*, T*, const T*, const T*, const T*, std::size_t, std::size_t, double); \
  template void layer_norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, std::size_t,  \
                                       std::size_t);                                                               \
  template void rms_norm_forward<T>(T*, T*, const T*, const T*, std::size_t, std::size_t, double);                 \
  template void rms_norm_backward<T>(T*, T*, const T*, const T*, const T*, const T*, std::size_t, std::size_t);
NORMCORE_INSTANTIATE(float)
NORMCORE_INSTANTIATE(double)
#undef NORMCORE_INSTANTIATE

}  // namespace normcore
