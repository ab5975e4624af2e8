// The normalization kernels of one ISA: the per-span and per-column building blocks that cpp/src/api/normalization.cpp
// arranges into batch, layer, group, instance and RMS norm. Bodies: kernels/normalization/normalization.hpp.
//
// Two shapes of data:
//   span    — n contiguous elements (a channels-first plane, a LayerNorm row, or a fixed-size chunk of one);
//             per-span scalars (mean, rstd, ...), optionally a per-element weight/bias along the span.
//   columns — a (rows, cols) block (channels-last: rows = positions, cols = channels), with a row stride ld in the
//             reductions (column tiles) and contiguous in the maps; per-column coefficient arrays.
// Statistics and gradient sums are accumulated in double (float inputs widened; the backward's span sums of float
// input add float terms into double every 8, see NarrowGradSums), in an order that depends only on the sizes, so a
// span or block gives the same bits wherever and on whichever thread it is computed.
#pragma once
#include <cstddef>

namespace normcore {

struct StoreHint;  // kernels/table.hpp

// count, mean and M2 = Σ(x − mean)² of a set of values.
struct Moments {
  double n = 0.0, mean = 0.0, m2 = 0.0;
};

// Σ g and Σ g·(x − mean) over a span or column, g = dy (· weight).
struct GradSums {
  double g = 0.0, gd = 0.0;
};

// nseg consecutive segments of L elements of dx, dy, x, each with its own statistics (mean, rstd: nseg; mean unused
// when not centered); segment s uses the columns [s·col_step, s·col_step + L) of w, acc_w and acc_b (null: none).
// Group norm's channels-first sample: a segment a group, col_step = L; LayerNorm rows: col_step = 0.
template <class T>
struct SegmentRows {
  T* dx;
  const T *dy, *x, *w;
  std::size_t L, nseg, col_step;
  const T *mean, *rstd;
  double inv_L;
  double *acc_w, *acc_b;
};

// rows of segs segments of L elements each (group norm's channels-first samples: a segment a group), each with
// its own statistics: mean, m2 = Σ(x − mean)², rstd = 1/√(m2/L + eps) (written per segment, rows·segs), and
// y = (x − mean)·rstd·w + b with w, b per element of a row (segs·L; null: none). L: a multiple of 8 (the double
// lanes of every ISA) or 2 or 4 with rows of a multiple of 8 elements.
template <class T>
struct SegmentsForward {
  T* y;
  const T *x, *w, *b;
  std::size_t rows, segs, L;
  double eps;
  double *mean, *m2, *rstd;
};

// y = ((x − mh) − ml)·s + t over a span: mh + ml is the mean split into two T (hi, lo), so x − mean keeps T's
// precision even when |mean| ≫ std; channels-first planes fold s = rstd·weight[c], t = bias[c]. With a weight w /
// bias b per element along the span (LayerNorm, RMSNorm): y = d·(s·w) + b.
template <class T>
struct SpanAffine {
  T mh, ml, s, t;
};

// dx = (a·w)·dy + ((x − mh) − ml)·b + c over a span (w = 1 when null).
template <class T>
struct SpanGrad {
  T mh, ml, a, b, c;
};

// Per-column arrays of the same coefficients for channels-last blocks: cols + kColPad entries, extended periodically
// (a[c] = a[c mod cols]), so that a vector of a contiguous block may run over a row's end.
constexpr std::size_t kColPad = 64;
template <class T>
struct ColAffine {
  const T *mh, *ml, *s, *t;
};
template <class T>
struct ColGrad {
  const T *mh, *ml, *a, *b, *c;
};

// p[0] as a double, read at this point of the program: the empty asm keeps the compiler from moving the read down to
// its use (a span's shift read a span ahead, see moments_normalize).
template <class T>
inline double read_early(const T* p) {
  double v = static_cast<double>(*p);
#if defined(__x86_64__) || (defined(__i386__) && defined(__SSE2__))
  asm volatile("" : "+x"(v));
#endif
  return v;
}

template <class T>
struct NormKernels {
  // Moments of x by shifted sums in double: Σ(x − K), Σ(x − K)² with K the mean of a first pass (double input:
  // the corrected two-pass algorithm) or the first value (float input: one pass; normalization.hpp bounds the
  // error below float precision for n ≤ 8192).  x: (n,)
  Moments (*moments)(const T* x, std::size_t n);
  // out[q] = moments of plane q for `planes` planes of S elements (at most one chunk) ld apart.  x: (planes, ld)
  // using S columns; out: (planes,)
  void (*moments_planes)(Moments* out, const T* x, std::size_t planes, std::size_t S, std::size_t ld);
  // moments(xn, n) with xn[0] given as `first` (read early by the caller), while y = ((x − mh) − ml)·(s·w) + (b or
  // t) is made for the m elements of a previous span: planes of S elements, plane j with co[j]; w, b per element
  // of a plane or null.  xn: (n,); y, x: (m,); co: (ceil(m / S),); w, b: (S,)
  Moments (*moments_normalize)(const T* xn, std::size_t n, double first, T* y, const T* x, std::size_t m,
                               std::size_t S, const SpanAffine<T>* co, const T* w, const T* b, StoreHint h);
  // sum_squares of xn (n elements) while y = x·(co.s·w) over the previous span (m elements, w per element or
  // null) is written (m = 0: none); RMSNorm's forward, a row a call.
  double (*sum_squares_normalize)(const T* xn, std::size_t n, T* y, const T* x, std::size_t m, const SpanAffine<T>& co,
                                  const T* w, StoreHint h);
  // Σ x² in double.  x: (n,)
  double (*sum_squares)(const T* x, std::size_t n);
  // Per-column moments of a block, as `moments` per column: mean[c], m2[c] for c < cols (count = rows).
  // x: (rows, ld) using cols ≤ ld columns; mean, m2: (cols,)
  void (*col_moments)(double* mean, double* m2, const T* x, std::size_t rows, std::size_t cols, std::size_t ld);
  // y = ((x − mh) − ml)·(s·w) + (b or t) over a span; w, b per element or null.  y, x, w, b: (n,)
  void (*normalize)(T* y, const T* x, const T* w, const T* b, std::size_t n, const SpanAffine<T>& k, StoreHint h);
  // y = ((x − mh) − ml)·s[q] + t[q] over `planes` adjacent planes of S elements each, plane q with its own
  // s[q], t[q]; whole vectors streamed with h.stream where y is aligned to a vector.  y, x: (planes·S,);
  // s, t: (planes,)
  void (*normalize_planes)(T* y, const T* x, std::size_t planes, std::size_t S, T mh, T ml, const T* s, const T* t,
                           StoreHint h);
  // dx = a[q]·dy + d·b + c over `planes` adjacent planes of S elements each, d = (x − mh) − ml, plane q with its own
  // a[q]; stores as normalize_planes.  dx, dy, x: (planes·S,); a: (planes,)
  void (*grad_input_planes)(T* dx, const T* dy, const T* x, std::size_t planes, std::size_t S, T mh, T ml, const T* a,
                            T b, T c, StoreHint h);
  // y = ((x − mh) − ml)·s + t over `planes` spans of S elements ld apart, span q with the coefficients k[q / per];
  // regular stores.  y, x: (planes, ld) using S columns; k: (planes / per,)
  void (*normalize_spans)(T* y, const T* x, std::size_t planes, std::size_t S, std::size_t ld, const SpanAffine<T>* k,
                          std::size_t per);
  // dx = a·dy + d·b + c over `planes` spans of S elements ld apart, span q with the coefficients k[q / per]; regular
  // stores.  dx, dy, x: (planes, ld) using S columns; k: (planes / per,)
  void (*grad_input_spans)(T* dx, const T* dy, const T* x, std::size_t planes, std::size_t S, std::size_t ld,
                           const SpanGrad<T>* k, std::size_t per);
  // out[q] = grad_sums of plane q (no weight) for `planes` adjacent planes of S elements (at most one chunk), plane q
  // with mean[q / per] and rstd[q / per]; narrow as grad_sums.  dy, x: (planes·S,); out: (planes,); mean, rstd:
  // (planes / per,)
  void (*grad_sums_planes)(GradSums* out, const T* dy, const T* x, std::size_t planes, std::size_t S,
                           const double* mean, const double* rstd, std::size_t per, bool narrow);
  // y[r, c] = ((x − mh[c]) − ml[c])·s[c] + t[c].  y, x: (rows, cols) contiguous
  void (*normalize_cols)(T* y, const T* x, std::size_t rows, std::size_t cols, const ColAffine<T>& k, StoreHint h);
  // Σ g, Σ g·d over a span with g = dy·w (w = 1 when null) and d = x − mean, added in double (float input, narrow:
  // in float terms of x̂ = d·rstd, 8 a partial, see NarrowGradSums; false: batch norm's channels, whose strided
  // planes from memory ran 6-9% slower that way).  dy, x, w: (n,)
  GradSums (*grad_sums)(const T* dy, const T* x, const T* w, std::size_t n, double mean, double rstd, bool narrow);
  // grad_sums of span (dyn, xn) (n elements, mean mean_n, rstd rstd_n, no weight) while dx = the input gradient of the previous
  // span (dy, x: m elements, coefficients co, no weight) is written (m = 0: none); the same bits as grad_sums and
  // grad_input.  dyn, xn: (n,); dx, dy, x: (m,)
  GradSums (*grad_sums_input)(const T* dyn, const T* xn, std::size_t n, double mean_n, double rstd_n, T* dx,
                              const T* dy, const T* x, std::size_t m, const SpanGrad<T>& co, StoreHint h);
  // grad_sums of one row of LayerNorm/RMSNorm with its parameter-gradient terms added on the way:
  // acc_w[i] += dy·(x − mean)·rstd and acc_b[i] += dy (either may be null). centered = false (RMSNorm): mean is
  // 0, acc_b null, and Σg is not computed (returned as 0).  dy, x, w, acc_w, acc_b: (n,)
  GradSums (*grad_sums_params)(const T* dy, const T* x, const T* w, std::size_t n, double mean, double rstd,
                               double* acc_w, double* acc_b, bool centered);
  // The backward of LayerNorm/RMSNorm segments (SegmentRows): each segment's grad_sums_params (parameter terms into
  // acc_w, acc_b when given), then its grad_input with a = rstd, b = −rstd³·Σg·d·inv_L, c = −rstd·Σg·inv_L
  void (*segments_backward)(const SegmentRows<T>& a, bool centered, StoreHint h);
  // The forward of short segments (SegmentsForward), in double.
  void (*segments_forward)(const SegmentsForward<T>& a);
  // The per-element parameter-gradient partials of LayerNorm/RMSNorm over `rows` rows of a (rows, ld) block, rows
  // in order: acc_w[i] += dy·(x − mean[r])·rstd[r] and acc_b[i] += dy (either may be null; float input: the terms of
  // each 16 rows added in float, that partial then in double).  dy, x: (rows, ld)
  // using n ≤ ld columns; acc_w, acc_b: (n,); mean, rstd: (rows,)
  void (*rows_param_grads)(double* acc_w, double* acc_b, const T* dy, const T* x, std::size_t rows, std::size_t n,
                           std::size_t ld, const double* mean, const double* rstd);
  // Per-column Σ dy and Σ dy·(x − mean[c]) of a block, in double.  dy, x: (rows, ld) using cols columns;
  // mean, g, gd: (cols,)
  void (*col_grad_sums)(double* g, double* gd, const T* dy, const T* x, std::size_t rows, std::size_t cols,
                        std::size_t ld, const double* mean);
  // dx = (a·w)·dy + d·b + c over a span, d = (x − mh) − ml, w per element or null.  dx, dy, x, w: (n,)
  void (*grad_input)(T* dx, const T* dy, const T* x, const T* w, std::size_t n, const SpanGrad<T>& k, StoreHint h);
  // dx[r, c] = a[c]·dy + d·b[c] + c[c].  dx, dy, x: (rows, cols) contiguous
  void (*grad_input_cols)(T* dx, const T* dy, const T* x, std::size_t rows, std::size_t cols, const ColGrad<T>& k,
                          StoreHint h);
  // Orders the non-temporal stores of the maps above (which do not fence themselves): once per thread, after its
  // last map.
  void (*fence)();
};

}  // namespace normcore
