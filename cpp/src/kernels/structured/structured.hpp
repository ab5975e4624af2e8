// The structured activations: ops with a parameter per channel (prelu, bipolar_relu, abrelu and the sums their
// parameters and gradients need) and ops along an axis (softmax, log_softmax, maxout), on arrays viewed as
// (outer, C, inner). Included inside the per-ISA namespace after simd/*.hpp and kernels/elementwise.hpp.
//
// Each op's math is written once over V and runs on "line sets" (see Contig and Lanes below): one contiguous line
// whose lanes are its consecutive elements (reduced across lanes at the end), or up to W lines side by side whose
// lanes are the lines (no reduction across lanes; adjacent columns, or short rows / maxout groups gathered).
// Sums are accumulated in double (wide_t; compensated for double input), lane-wise, then across lanes in a fixed
// order: a result depends only on the shapes, the tile and the ISA, never on the thread count.

// The kernels' entry points inline everything they call (GCC otherwise leaves exp, line_max, ... out of line and
// passes the vectors through memory).
#if defined(__GNUC__)
#define NORMCORE_FLATTEN __attribute__((flatten))
#else
#define NORMCORE_FLATTEN
#endif

// A GCC vector of Bytes bytes of T (Bytes == sizeof(T): T itself).
template <class T, std::size_t Bytes>
struct vec_bytes {
  typedef T type __attribute__((vector_size(Bytes)));
};
template <class T>
struct vec_bytes<T, sizeof(T)> {
  typedef T type;
};

// v's lanes folded pairwise, halves first (lanes j and j + W/2, then ...): f(a, b) combines two vectors (or
// scalars) of one half's width. A fixed order for a given vector width.
template <class T, std::size_t Bytes = sizeof(T), class X, class F>
inline T fold(X v, F&& f) {
  constexpr std::size_t B = Bytes == sizeof(T) ? sizeof(X) : Bytes;
  if constexpr (B == sizeof(T)) {
    T t;
    std::memcpy(&t, &v, sizeof t);
    return t;
  } else {
    using H = typename vec_bytes<T, B / 2>::type;
    H lo, hi;
    std::memcpy(&lo, &v, B / 2);
    std::memcpy(&hi, reinterpret_cast<const char*>(&v) + B / 2, B / 2);
    return fold<T, B / 2>(f(lo, hi), f);
  }
}

template <class V>
inline wide_t<V> wide_splat(double c) {
  if constexpr (std::is_same_v<V, vf>) {
    return {splat<vd>(c), splat<vd>(c)};
  } else {
    return splat<wide_t<V>>(c);
  }
}

// f applied to the corresponding double vectors (or doubles) of w...
template <class V, class F, class... Wd>
inline wide_t<V> wide_apply(F&& f, const Wd&... w) {
  if constexpr (std::is_same_v<V, vf>) {
    return {f(w.lo...), f(w.hi...)};
  } else {
    return f(w...);
  }
}

// Σ in double, lane by lane. Double lanes are compensated (Knuth's two-sum: the rounding errors are summed apart
// and added at the end), as double has no precision to spare for them; float lanes are summed plainly, double
// holding their sums with 29 bits to spare. An infinite sum keeps its value (its error term is NaN).
template <class V>
struct Sum {
  using Wd = wide_t<V>;
  static constexpr bool compensated = std::is_same_v<scalar_t<V>, double>;
  Wd hi = wide_splat<V>(0.0), lo = wide_splat<V>(0.0);

  void add(Wd v) {
    if constexpr (compensated) {
      const Wd t = hi + v, bb = t - hi;
      lo = lo + ((hi - (t - bb)) + (v - bb));
      hi = t;
    } else {
      hi = hi + v;
    }
  }
  // per lane
  Wd value() const {
    if constexpr (compensated) {
      return lo == lo ? hi + lo : hi;
    } else {
      return hi;
    }
  }
  // over the lanes (folded pairwise, halves first)
  double total() const {
    if constexpr (compensated) {
      // the lanes in order, two-sum again; all error terms summed apart
      constexpr std::size_t n = sizeof(Wd) / sizeof(double);
      double h[n], l[n];
      std::memcpy(h, &hi, sizeof hi);
      std::memcpy(l, &lo, sizeof lo);
      double sh = 0.0, sl = 0.0;
      for (std::size_t j = 0; j < n; ++j) {
        const double t = sh + h[j], bb = t - sh;
        sl += ((sh - (t - bb)) + (h[j] - bb)) + l[j];
        sh = t;
      }
      return sl == sl ? sh + sl : sh;
    } else {
      return fold<double>(hi, [](auto a, auto b) { return a + b; });
    }
  }
};

// ---- line sets ---------------------------------------------------------------------------------------------

// v with lanes [m, W) set to `fill` (a partial step's missing lanes, before they enter a reduction); for wide
// lanes (doubles of a float V) the low half holds lanes [0, W/2).
template <class V>
inline V keep_first(V v, std::size_t m, scalar_t<V> fill) {
  return first_lanes<V>(m) ? v : splat<V>(fill);
}
template <class V>
inline wide_t<V> keep_first_wide(wide_t<V> w, std::size_t m) {
  if constexpr (std::is_same_v<V, vf>) {
    constexpr std::size_t half = traits<vd>::lanes;
    return {keep_first<vd>(w.lo, m, 0.0), keep_first<vd>(w.hi, m > half ? m - half : 0, 0.0)};
  } else {
    return keep_first<V>(w, m, 0.0);
  }
}

// The maximum of v's lanes (NaN if any lane is NaN).
template <class V>
inline scalar_t<V> max_lanes(V v) {
  return fold<scalar_t<V>>(v, [](auto a, auto b) { return (b > a) | (b != b) ? b : a; });
}

// Lane j ← p[j·ls] for j < m (the other lanes 0), and back. Element by element: on the CPUs measured, the
// hardware gathers and scatters were 2-5x slower than these loops.
template <class V>
inline V gather(const scalar_t<V>* p, std::size_t ls, std::size_t m) {
  if constexpr (is_scalar_v<V>) {
    return m > 0 ? *p : scalar_t<V>(0);
  } else {
    V v = splat<V>(0);
    for (std::size_t j = 0; j < m; ++j) v[j] = p[j * ls];
    return v;
  }
}

template <class V>
inline void scatter(scalar_t<V>* p, std::size_t ls, V v, std::size_t m) {
  if constexpr (is_scalar_v<V>) {
    if (m > 0) *p = v;
  } else {
    for (std::size_t j = 0; j < m; ++j) p[j * ls] = v[j];
  }
}

// One line of n contiguous elements, W per step; the last step may be partial (missing lanes load as 0, are
// replaced by a neutral value before any reduction, and are not stored). Totals reduce across the lanes.
template <class V_>
struct Contig {
  using V = V_;
  using T = scalar_t<V>;
  static constexpr std::size_t W = traits<V>::lanes;
  std::size_t n;

  std::size_t steps() const { return (n + W - 1) / W; }
  bool full(std::size_t k) const { return (k + 1) * W <= n; }
  V load(const T* p, std::size_t k) const {
    return full(k) ? ::normcore::NORMCORE_ISA_NS::load<V>(p + k * W) : load_first<V>(p + k * W, n - k * W);
  }
  void store(T* p, std::size_t k, V v) const {
    if (full(k)) {
      ::normcore::NORMCORE_ISA_NS::store<V>(p + k * W, v);
    } else {
      store_first<V>(p + k * W, v, n - k * W);
    }
  }
  V keep(std::size_t k, V v, T neutral) const { return full(k) ? v : keep_first<V>(v, n - k * W, neutral); }
  wide_t<V> keep(std::size_t k, wide_t<V> w) const { return full(k) ? w : keep_first_wide<V>(w, n - k * W); }
  // the line's maximum in every lane (NaN if any lane is NaN)
  V total_max(V m) const { return splat<V>(max_lanes(m)); }
  wide_t<V> total_sum(const Sum<V>& s) const { return wide_splat<V>(s.total()); }
};

// m ≤ W lines side by side, n steps each, step k at k·stride elements; lane j = the line starting at j·ls
// (adjacent: ls = 1, plain or masked loads; otherwise gathered). full: m == W. Totals stay per lane.
template <class V_, bool full, bool adjacent = true>
struct Lanes {
  using V = V_;
  using T = scalar_t<V>;
  static constexpr std::size_t W = traits<V>::lanes;
  std::size_t n, stride, m, ls = 1;

  std::size_t steps() const { return n; }
  V load(const T* p, std::size_t k) const {
    if constexpr (!adjacent) return gather<V>(p + k * stride, ls, full ? W : m);
    else if constexpr (full) return ::normcore::NORMCORE_ISA_NS::load<V>(p + k * stride);
    else return load_first<V>(p + k * stride, m);
  }
  void store(T* p, std::size_t k, V v) const {
    if constexpr (!adjacent) scatter<V>(p + k * stride, ls, v, full ? W : m);
    else if constexpr (full) ::normcore::NORMCORE_ISA_NS::store<V>(p + k * stride, v);
    else store_first<V>(p + k * stride, v, m);
  }
  V keep(std::size_t, V v, T) const { return v; }
  wide_t<V> keep(std::size_t, wide_t<V> w) const { return w; }
  V total_max(V m) const { return m; }
  wide_t<V> total_sum(const Sum<V>& s) const { return s.value(); }
};

// Contiguous lines shorter than this are processed W at a time, gathered across rows (lanes = rows), rather than
// one by one with a reduction across lanes.
inline constexpr std::size_t kGatherBelow = 32;

// f(lines, o, i) for the line sets along C in the rows and columns of t (i = the set's first column): lines of C
// elements at stride inner side by side across the columns (the last set partial); when inner == 1, one
// contiguous line per row, or W rows at a time gathered when the rows are short.
template <class V, class F>
inline void for_each_line_set(const Tile& t, F&& f) {
  constexpr std::size_t W = traits<V>::lanes;
  std::size_t o = t.o0;
  if (t.inner == 1 && t.C >= kGatherBelow) {
    for (; o < t.o1; ++o) f(Contig<V>{t.C}, o, std::size_t{0});
  } else if (t.inner == 1) {
    for (; o + W <= t.o1; o += W) f(Lanes<V, true, false>{t.C, 1, W, t.C}, o, std::size_t{0});
    if (o < t.o1) f(Lanes<V, false, false>{t.C, 1, t.o1 - o, t.C}, o, std::size_t{0});
  } else {
    for (; o < t.o1; ++o) {
      std::size_t i = t.i0;
      for (; i + W <= t.i1; i += W) f(Lanes<V, true>{t.C, t.inner, W}, o, i);
      if (i < t.i1) f(Lanes<V, false>{t.C, t.inner, t.i1 - i}, o, i);
    }
  }
}

// ---- ops with a parameter per channel ------------------------------------------------------------------------
// Each has map(a, b, p, q) (the elementwise output) and/or reduce(a, b, p) (the term summed per channel, in double).

namespace channel_ops {

// prelu: y = x > 0 ? x : w·x (a = x, p = w). PyTorch's rule: ±0 take the slope, NaN propagates.
struct prelu {
  template <class V> static V map(V x, V, V w, V) { return x > scalar_t<V>(0) ? x : w * x; }
};

// prelu backward (a = x, b = dy, p = w): dx = x > 0 ? dy : w·dy;  dw += x > 0 ? 0 : x·dy (the product in double).
struct prelu_backward {
  template <class V> static V map(V x, V dy, V w, V) { return x > scalar_t<V>(0) ? dy : w * dy; }
  template <class V> static wide_t<V> reduce(V x, V dy, V) {
    return widen(x > scalar_t<V>(0) ? splat<V>(0) : x) * widen(dy);
  }
};

// bipolar_relu (a = x, p = s = +1 on even channels, −1 on odd ones): y = s·relu(s·x).
struct bipolar_relu {
  template <class V> static V map(V x, V, V s, V) { return s * max0(s * x); }
};

// bipolar_relu backward (a = x, b = dy, p = s): relu's subgradient at s·x (0 at 0, NaN passes dy).
struct bipolar_relu_backward {
  template <class V> static V map(V x, V dy, V s, V) { return s * x <= scalar_t<V>(0) ? splat<V>(0) : dy; }
};

// abrelu (a = x, p = β): y = max(x − β, 0).
struct abrelu {
  template <class V> static V map(V x, V, V beta, V) { return max0(x - beta); }
};

// the gradient reaching x − β (a = x, b = dy, p = β): g = x − β > 0 ? dy : 0 (relu's subgradient)
template <class V>
inline V abrelu_active(V x, V dy, V beta) {
  return x - beta <= scalar_t<V>(0) ? splat<V>(0) : dy;
}

// Σ g per sample (a = x, b = dy, p = β).
struct abrelu_active_sum {
  template <class V> static wide_t<V> reduce(V x, V dy, V beta) { return widen(abrelu_active(x, dy, beta)); }
};

// abrelu backward (a = x, b = dy, p = β, q = (α/M)·Σ g): dx = g − q.
struct abrelu_backward {
  template <class V> static V map(V x, V dy, V beta, V q) { return abrelu_active(x, dy, beta) - q; }
};

// Σ a per channel.
struct sum {
  template <class V> static wide_t<V> reduce(V x, V, V) { return widen(x); }
};

}  // namespace channel_ops

template <class Op, class V, class = void> struct maps : std::false_type {};
template <class Op, class V>
struct maps<Op, V, std::void_t<decltype(Op::map(V{}, V{}, V{}, V{}))>> : std::true_type {};
template <class Op, class V, class = void> struct reduces : std::false_type {};
template <class Op, class V>
struct reduces<Op, V, std::void_t<decltype(Op::reduce(V{}, V{}, V{}))>> : std::true_type {};

// One step of a channel op: inputs loaded (null b, q: zeros), the output stored, the term returned (0 if none).
template <class Op, class L, class V = typename L::V>
inline wide_t<V> channel_step(const L& l, std::size_t k, scalar_t<V>* out, const scalar_t<V>* a,
                              const scalar_t<V>* b, V p, V q) {
  const V av = l.load(a, k);
  const V bv = b != nullptr ? l.load(b, k) : splat<V>(0);
  if constexpr (maps<Op, V>::value) l.store(out, k, Op::map(av, bv, p, q));
  if constexpr (reduces<Op, V>::value) {
    return l.keep(k, Op::reduce(av, bv, p));
  } else {
    return wide_splat<V>(0.0);
  }
}

// The channel op over tile t. inner == 1: the lanes are channels (parameters loaded per lane), one step per row,
// terms added lane-wise into acc; inner > 1: one contiguous line per (row, channel) over the tile's columns,
// its terms summed lane-wise then across lanes, added to acc[c].
template <class Op, class T>
NORMCORE_FLATTEN void channel_kernel(T* out, double* acc, const T* a, const T* b, const T* p, const T* q,
                                     const Tile& t) {
  using V = vec_t<T>;
  constexpr std::size_t W = traits<V>::lanes;
  constexpr bool reduce = reduces<Op, V>::value;
  const auto param = [](const T* arr, std::size_t c, std::size_t m) {
    return arr != nullptr ? load_first<V>(arr + c, m) : splat<V>(0);
  };
  if (t.inner == 1) {
    const auto columns = [&](const auto& l, std::size_t c) {
      const std::size_t off = t.o0 * t.C + c;
      const V pv = param(p, c, l.m), qv = param(q, c, l.m);
      Sum<V> s;
      for (std::size_t k = 0; k < l.steps(); ++k)
        s.add(channel_step<Op>(l, k, out + off, a + off, b != nullptr ? b + off : nullptr, pv, qv));
      if constexpr (reduce) {
        double lanes[W];
        const wide_t<V> v = s.value();
        std::memcpy(lanes, &v, sizeof v);
        for (std::size_t j = 0; j < l.m; ++j) acc[c + j] += lanes[j];
      }
    };
    std::size_t c = t.c0;
    for (; c + W <= t.c1; c += W) columns(Lanes<V, true>{t.o1 - t.o0, t.C, W}, c);
    if (c < t.c1) columns(Lanes<V, false>{t.o1 - t.o0, t.C, t.c1 - c}, c);
    return;
  }
  const Contig<V> l{t.i1 - t.i0};
  for (std::size_t o = t.o0; o < t.o1; ++o) {
    for (std::size_t c = t.c0; c < t.c1; ++c) {
      const std::size_t off = (o * t.C + c) * t.inner + t.i0;
      const V pv = splat<V>(p != nullptr ? p[c] : T(0)), qv = splat<V>(q != nullptr ? q[c] : T(0));
      Sum<V> s;
      for (std::size_t k = 0; k < l.steps(); ++k)
        s.add(channel_step<Op>(l, k, out + off, a + off, b != nullptr ? b + off : nullptr, pv, qv));
      if constexpr (reduce) acc[c] += s.total();
    }
  }
}

// ---- softmax and log_softmax along C ---------------------------------------------------------------------------

// max over each line (a NaN anywhere makes it NaN: a NaN replaces the running max, and a NaN max stays), with
// four running maxima (the compare-and-select chain is the pass's latency) merged at the end.
template <class L, class V = typename L::V>
inline V line_max(const L& l, const scalar_t<V>* x) {
  using T = scalar_t<V>;
  constexpr T lowest = -std::numeric_limits<T>::infinity();
  const auto larger = [](V a, V b) { return (b > a) | (b != b) ? b : a; };
  V m[4] = {splat<V>(lowest), splat<V>(lowest), splat<V>(lowest), splat<V>(lowest)};
  std::size_t k = 0;
  for (; k + 4 <= l.steps(); k += 4)
    for (std::size_t u = 0; u < 4; ++u) m[u] = larger(m[u], l.keep(k + u, l.load(x, k + u), lowest));
  for (; k < l.steps(); ++k) m[0] = larger(m[0], l.keep(k, l.load(x, k), lowest));
  return l.total_max(larger(larger(m[0], m[1]), larger(m[2], m[3])));
}

// e^{x − m}, with the rounding error of d = x − m (Knuth's two-sum) carried to first order, e^{d + err} ≈
// e^d·(1 + err): small probabilities keep their precision when |d| is large. Where x or m is infinite err is NaN
// and e^d is already exact (0) or NaN.
template <class V>
inline V exp_shifted(V x, V m) {
  const V d = x - m;
  const V bb = d - x;
  const V err = (x - (d - bb)) + (-m - bb);
  const V e = exp(d);
  return err == err ? e + e * err : e;
}

// log Σ_C e^{x − m} per line. The elements equal to the max (each e^0 = 1) are counted apart from the rest, and
// log Σ = log1p((k − 1) + rest) keeps its relative precision when the sum is close to 1 (k = 1: log1p(rest)).
// NaN when the line holds a NaN (m is NaN, k = 0, rest NaN) or +inf (m = +inf), as PyTorch's result.
// k is counted in T's lanes (exact below 2^24 per lane for float).
template <class L, class V = typename L::V>
inline wide_t<V> log_sum_exp_shifted(const L& l, const scalar_t<V>* x, V m) {
  V count = splat<V>(0);
  Sum<V> rest;
  for (std::size_t k = 0; k < l.steps(); ++k) {
    const V xv = l.load(x, k);
    const auto top = xv == m;
    count += l.keep(k, top ? splat<V>(1) : splat<V>(0), 0);
    rest.add(widen(l.keep(k, top ? splat<V>(0) : exp_shifted(xv, m), 0)));
  }
  Sum<V> counted;
  counted.add(widen(count));
  return wide_apply<V>(
      [](auto kd, auto rd, auto md) {
        using D = decltype(kd);
        const D lse = log1p_nonneg((kd - 1.0) + rd);
        return (rd == rd) & (md < std::numeric_limits<double>::infinity())
                   ? lse
                   : splat<D>(std::numeric_limits<double>::quiet_NaN());
      },
      l.total_sum(counted), l.total_sum(rest), widen(m));
}

// e/s for many e and one s ≥ 1 per lane, without a division per element: float lanes multiply by 1/s in double
// (one rounding, as the division); double lanes refine q = e·(1/s) by one Newton step with FMA,
// q + (e − q·s)·(1/s), which is the rounded quotient but in rare double-rounding cases (plain division where the
// ISA has no FMA). NaN s gives NaN.
template <class V>
struct Divide {
  wide_t<V> r;
  V s;
  explicit Divide(wide_t<V> sw) : r(wide_splat<V>(1.0) / sw), s(narrow<V>(sw)) {}
  V operator()(V e) const {
    if constexpr (std::is_same_v<scalar_t<V>, float>) {
      return narrow<V>(widen(e) * r);
    } else {
#if defined(__FMA__)
      const V q = e * r;
      return fma(fma(-q, s, e), r, q);
#else
      return e / s;
#endif
    }
  }
};

namespace softmax_ops {

// softmax: y = e^{x − m} / Σ e^{x − m}. The exponentials are stored on the way and divided in place.
struct softmax {
  template <class L, class V = typename L::V>
  static void run(const L& l, scalar_t<V>* y, const scalar_t<V>* x, const scalar_t<V>*) {
    const V m = line_max(l, x);
    Sum<V> s;
    for (std::size_t k = 0; k < l.steps(); ++k) {
      const V e = exp_shifted(l.load(x, k), m);
      s.add(widen(l.keep(k, e, 0)));
      l.store(y, k, e);
    }
    const Divide<V> by_sum(l.total_sum(s));
    for (std::size_t k = 0; k < l.steps(); ++k) l.store(y, k, by_sum(l.load(y, k)));
  }
};

// log_softmax: y = (x − m) − log Σ e^{x − m}, the last two steps in double (one rounding for float).
struct log_softmax {
  template <class L, class V = typename L::V>
  static void run(const L& l, scalar_t<V>* y, const scalar_t<V>* x, const scalar_t<V>*) {
    const V m = line_max(l, x);
    const wide_t<V> ls = log_sum_exp_shifted(l, x, m), mw = widen(m);
    for (std::size_t k = 0; k < l.steps(); ++k) l.store(y, k, narrow<V>((widen(l.load(x, k)) - mw) - ls));
  }
};

// softmax backward from x: y = e/s recomputed, dx = y·(dy − Σ dy·y) with Σ dy·y = (Σ dy·e)/s.
struct softmax_backward {
  template <class L, class V = typename L::V>
  static void run(const L& l, scalar_t<V>* dx, const scalar_t<V>* dy, const scalar_t<V>* x) {
    const V m = line_max(l, x);
    Sum<V> s, t;
    for (std::size_t k = 0; k < l.steps(); ++k) {
      const V e = l.keep(k, exp_shifted(l.load(x, k), m), 0);
      s.add(widen(e));
      t.add(widen(e) * widen(l.load(dy, k)));
    }
    const wide_t<V> S = l.total_sum(s);
    const Divide<V> by_sum(S);
    const V dot = narrow<V>(l.total_sum(t) / S);
    for (std::size_t k = 0; k < l.steps(); ++k)
      l.store(dx, k, by_sum(exp_shifted(l.load(x, k), m)) * (l.load(dy, k) - dot));
  }
};

// log_softmax backward from x: dx = dy − softmax(x)·Σ dy.
struct log_softmax_backward {
  template <class L, class V = typename L::V>
  static void run(const L& l, scalar_t<V>* dx, const scalar_t<V>* dy, const scalar_t<V>* x) {
    const V m = line_max(l, x);
    Sum<V> s, g;
    for (std::size_t k = 0; k < l.steps(); ++k) {
      s.add(widen(l.keep(k, exp_shifted(l.load(x, k), m), 0)));
      g.add(widen(l.load(dy, k)));
    }
    const Divide<V> by_sum(l.total_sum(s));
    const V gsum = narrow<V>(l.total_sum(g));
    for (std::size_t k = 0; k < l.steps(); ++k)
      l.store(dx, k, l.load(dy, k) - by_sum(exp_shifted(l.load(x, k), m)) * gsum);
  }
};

// softmax backward from y (PyTorch's form): dx = y·(dy − Σ dy·y), the products summed in double.
struct softmax_backward_from_output {
  template <class L, class V = typename L::V>
  static void run(const L& l, scalar_t<V>* dx, const scalar_t<V>* dy, const scalar_t<V>* y) {
    Sum<V> t;
    for (std::size_t k = 0; k < l.steps(); ++k) t.add(widen(l.load(dy, k)) * widen(l.load(y, k)));
    const V dot = narrow<V>(l.total_sum(t));
    for (std::size_t k = 0; k < l.steps(); ++k) {
      const V yv = l.load(y, k);
      l.store(dx, k, yv * (l.load(dy, k) - dot));
    }
  }
};

// log_softmax backward from y (PyTorch's form): dx = dy − e^y·Σ dy.
struct log_softmax_backward_from_output {
  template <class L, class V = typename L::V>
  static void run(const L& l, scalar_t<V>* dx, const scalar_t<V>* dy, const scalar_t<V>* y) {
    Sum<V> g;
    for (std::size_t k = 0; k < l.steps(); ++k) g.add(widen(l.load(dy, k)));
    const V gsum = narrow<V>(l.total_sum(g));
    for (std::size_t k = 0; k < l.steps(); ++k) {
      const V e = exp(l.load(y, k));
      l.store(dx, k, l.load(dy, k) - e * gsum);
    }
  }
};

}  // namespace softmax_ops

template <class Op, class T>
NORMCORE_FLATTEN void softmax_kernel(T* out, const T* a, const T* b, const Tile& t) {
  for_each_line_set<vec_t<T>>(t, [&](const auto& l, std::size_t o, std::size_t i) {
    const std::size_t off = o * t.C * t.inner + i;
    Op::run(l, out + off, a + off, b != nullptr ? b + off : nullptr);
  });
}

// ---- maxout ------------------------------------------------------------------------------------------------

// Along the pieces of each group (a line set of `pieces` steps): the running maximum and the first piece holding
// it; a NaN replaces a number (and stays), so the result is the first NaN if there is one.
template <class L, class V = typename L::V>
struct Argmax {
  V value, index;
  Argmax(const L& l, const scalar_t<V>* x) : value(l.load(x, 0)), index(splat<V>(0)) {
    for (std::size_t k = 1; k < l.steps(); ++k) {
      const V v = l.load(x, k);
      const auto better = (v > value) | ((v != v) & (value == value));
      value = better ? v : value;
      index = better ? splat<V>(scalar_t<V>(k)) : index;
    }
  }
};

// The groups of tile t: g(x lines over the pieces, y lines, x offset, y offset), W groups at a time. inner > 1:
// lanes across the columns. inner == 1: the groups are runs of `pieces` adjacent elements, gathered W at a time
// (lanes = groups).
template <class T, class G>
inline void for_each_group(const Tile& t, std::size_t pieces, G&& g) {
  using V = vec_t<T>;
  constexpr std::size_t W = traits<V>::lanes;
  const std::size_t groups = t.C / pieces;
  if (t.inner == 1) {
    const std::size_t end = t.o1 * groups;
    std::size_t q = t.o0 * groups;
    for (; q + W <= end; q += W)
      g(Lanes<V, true, false>{pieces, 1, W, pieces}, Lanes<V, true>{1, 0, W}, q * pieces, q);
    if (q < end)
      g(Lanes<V, false, false>{pieces, 1, end - q, pieces}, Lanes<V, false>{1, 0, end - q}, q * pieces, q);
    return;
  }
  for (std::size_t o = t.o0; o < t.o1; ++o) {
    for (std::size_t j = 0; j < groups; ++j) {
      const std::size_t xo = (o * t.C + j * pieces) * t.inner, yo = (o * groups + j) * t.inner;
      std::size_t i = t.i0;
      for (; i + W <= t.i1; i += W) g(Lanes<V, true>{pieces, t.inner, W}, Lanes<V, true>{1, 0, W}, xo + i, yo + i);
      if (i < t.i1) g(Lanes<V, false>{pieces, t.inner, t.i1 - i}, Lanes<V, false>{1, 0, t.i1 - i}, xo + i, yo + i);
    }
  }
}

template <class T>
NORMCORE_FLATTEN void maxout_kernel(T* y, const T* x, std::size_t pieces, const Tile& t) {
  for_each_group<T>(t, pieces, [&](const auto& xl, const auto& yl, std::size_t xo, std::size_t yo) {
    yl.store(y + yo, 0, Argmax(xl, x + xo).value);
  });
}

template <class T>
NORMCORE_FLATTEN void maxout_backward_kernel(T* dx, const T* dy, const T* x, std::size_t pieces, const Tile& t) {
  for_each_group<T>(t, pieces, [&](const auto& xl, const auto& yl, std::size_t xo, std::size_t yo) {
    using V = typename std::decay_t<decltype(xl)>::V;
    const V index = Argmax(xl, x + xo).index, g = yl.load(dy + yo, 0);
    for (std::size_t k = 0; k < xl.steps(); ++k) xl.store(dx + xo, k, index == T(k) ? g : splat<V>(0));
  });
}

// ---- the table -----------------------------------------------------------------------------------------------

template <class T>
StructuredKernels<T> make_structured_kernels() {
  StructuredKernels<T> k{};
#define NORMCORE_CHANNEL(name) \
  k.channel[static_cast<int>(ChannelOp::name)] = &channel_kernel<channel_ops::name, T>;
  NORMCORE_CHANNEL(prelu)
  NORMCORE_CHANNEL(prelu_backward)
  NORMCORE_CHANNEL(bipolar_relu)
  NORMCORE_CHANNEL(bipolar_relu_backward)
  NORMCORE_CHANNEL(abrelu)
  NORMCORE_CHANNEL(abrelu_backward)
  NORMCORE_CHANNEL(abrelu_active_sum)
  NORMCORE_CHANNEL(sum)
#undef NORMCORE_CHANNEL
#define NORMCORE_SOFTMAX(name) k.softmax[static_cast<int>(SoftmaxOp::name)] = &softmax_kernel<softmax_ops::name, T>;
  NORMCORE_SOFTMAX(softmax)
  NORMCORE_SOFTMAX(log_softmax)
  NORMCORE_SOFTMAX(softmax_backward)
  NORMCORE_SOFTMAX(log_softmax_backward)
  NORMCORE_SOFTMAX(softmax_backward_from_output)
  NORMCORE_SOFTMAX(log_softmax_backward_from_output)
#undef NORMCORE_SOFTMAX
  k.maxout = &maxout_kernel<T>;
  k.maxout_backward = &maxout_backward_kernel<T>;
  return k;
}
