// The structured activations: ops with a parameter per channel (prelu, bipolar_relu, abrelu and the sums their
// parameters and gradients need) and ops along an axis (softmax, log_softmax, maxout), on arrays viewed as
// (outer, C, inner). Included inside the per-ISA namespace after simd/*.hpp and kernels/elementwise.hpp.
//
// Each op's math is written once over V and runs on "line sets" (see Contig and Lanes below): one contiguous line
// whose lanes are its consecutive elements (reduced across lanes at the end), or up to W lines side by side whose
// lanes are the lines (no reduction across lanes). Sums are accumulated in double (wide_t), lane-wise, then across
// lanes in lane order: the result depends only on the shapes, the tile and the ISA, never on the thread count.

// ---- lanes in double -----------------------------------------------------------------------------------------

// Two double vectors holding the low and high halves of a float vector's lanes.
struct vd2 {
  vd lo, hi;
};
inline vd2 operator+(vd2 a, vd2 b) { return {a.lo + b.lo, a.hi + b.hi}; }
inline vd2 operator-(vd2 a, vd2 b) { return {a.lo - b.lo, a.hi - b.hi}; }
inline vd2 operator*(vd2 a, vd2 b) { return {a.lo * b.lo, a.hi * b.hi}; }
inline vd2 operator/(vd2 a, vd2 b) { return {a.lo / b.lo, a.hi / b.hi}; }

// wide_t<V>: V's lanes in double (double for a scalar, V for a double vector, vd2 for a float vector).
template <class V> struct wide_of { using type = double; };
template <> struct wide_of<vd> { using type = vd; };
template <> struct wide_of<vf> { using type = vd2; };
template <class V> using wide_t = typename wide_of<V>::type;

typedef float vfh __attribute__((vector_size(kVectorBytes / 2)));

template <class V>
inline wide_t<V> widen(V v) {
  if constexpr (std::is_same_v<V, vf>) {
    vfh lo, hi;
    std::memcpy(&lo, &v, sizeof lo);
    std::memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof lo, sizeof hi);
    return {__builtin_convertvector(lo, vd), __builtin_convertvector(hi, vd)};
  } else {
    return static_cast<wide_t<V>>(v);
  }
}

template <class V>
inline V narrow(wide_t<V> w) {
  if constexpr (std::is_same_v<V, vf>) {
    const vfh lo = __builtin_convertvector(w.lo, vfh), hi = __builtin_convertvector(w.hi, vfh);
    V v;
    std::memcpy(&v, &lo, sizeof lo);
    std::memcpy(reinterpret_cast<char*>(&v) + sizeof lo, &hi, sizeof hi);
    return v;
  } else {
    return static_cast<V>(w);
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
  // over the lanes, in lane order
  double total() const {
    constexpr std::size_t n = sizeof(Wd) / sizeof(double);
    double h[n], l[n];
    std::memcpy(h, &hi, sizeof hi);
    std::memcpy(l, &lo, sizeof lo);
    double s = 0.0, c = 0.0;
    for (std::size_t j = 0; j < n; ++j) {
      if constexpr (compensated) {
        const double t = s + h[j], bb = t - s;
        c += ((s - (t - bb)) + (h[j] - bb)) + l[j];
        s = t;
      } else {
        s += h[j];
      }
    }
    return c == c ? s + c : s;
  }
};

// ---- line sets ---------------------------------------------------------------------------------------------

// v with lanes [m, W) replaced by `fill` (a partial step's missing lanes, before they enter a reduction).
template <class L, class X>
inline X fill_from(X v, std::size_t m, double fill) {
  constexpr std::size_t n = sizeof(X) / sizeof(L);
  L lanes[n];
  std::memcpy(lanes, &v, sizeof v);
  for (std::size_t j = m; j < n; ++j) lanes[j] = static_cast<L>(fill);
  std::memcpy(&v, lanes, sizeof v);
  return v;
}

// The first m elements at p in a vector (the rest 0).
template <class V>
inline V load_first(const scalar_t<V>* p, std::size_t m) {
  V v = splat<V>(0);
  std::memcpy(&v, p, m * sizeof(scalar_t<V>));
  return v;
}

template <class V>
inline void store_first(scalar_t<V>* p, V v, std::size_t m) {
  std::memcpy(p, &v, m * sizeof(scalar_t<V>));
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
  V load(const T* p, std::size_t k) const { return full(k) ? ::normcore::NORMCORE_ISA_NS::load<V>(p + k * W) : load_first<V>(p + k * W, n - k * W); }
  void store(T* p, std::size_t k, V v) const {
    if (full(k)) {
      ::normcore::NORMCORE_ISA_NS::store<V>(p + k * W, v);
    } else {
      store_first<V>(p + k * W, v, n - k * W);
    }
  }
  V keep(std::size_t k, V v, T neutral) const { return full(k) ? v : fill_from<T>(v, n - k * W, neutral); }
  wide_t<V> keep(std::size_t k, wide_t<V> w) const { return full(k) ? w : fill_from<double>(w, n - k * W, 0.0); }
  // the line's maximum in every lane (NaN if any lane is NaN)
  V total_max(V m) const {
    T lanes[W];
    std::memcpy(lanes, &m, sizeof m);
    T r = lanes[0];
    for (std::size_t j = 1; j < W; ++j) r = (lanes[j] > r || lanes[j] != lanes[j]) ? lanes[j] : r;
    return splat<V>(r);
  }
  wide_t<V> total_sum(const Sum<V>& s) const { return wide_splat<V>(s.total()); }
};

// m ≤ W lines side by side (lane j = the line starting at column j), n steps each, step k at k·stride elements.
// full: m == W (whole vectors); otherwise m lanes are loaded and stored. Totals stay per lane.
template <class V_, bool full>
struct Lanes {
  using V = V_;
  using T = scalar_t<V>;
  std::size_t n, stride, m;

  std::size_t steps() const { return n; }
  V load(const T* p, std::size_t k) const {
    if constexpr (full) return ::normcore::NORMCORE_ISA_NS::load<V>(p + k * stride);
    else return load_first<V>(p + k * stride, m);
  }
  void store(T* p, std::size_t k, V v) const {
    if constexpr (full) ::normcore::NORMCORE_ISA_NS::store<V>(p + k * stride, v);
    else store_first<V>(p + k * stride, v, m);
  }
  V keep(std::size_t, V v, T) const { return v; }
  wide_t<V> keep(std::size_t, wide_t<V> w) const { return w; }
  V total_max(V m) const { return m; }
  wide_t<V> total_sum(const Sum<V>& s) const { return s.value(); }
};

// f(lines, o, i) for the line sets along C in the rows and columns of t (i = the set's first column): lines of C
// elements at stride inner side by side across the columns (the last set partial), or, when inner == 1 and
// contiguous lines are allowed, one contiguous line per row. V scalar: one line at a time.
template <class V, bool allow_contig, class F>
inline void for_each_line_set(const Tile& t, F&& f) {
  constexpr std::size_t W = traits<V>::lanes;
  if (allow_contig && t.inner == 1) {
    for (std::size_t o = t.o0; o < t.o1; ++o) f(Contig<V>{t.C}, o, std::size_t{0});
    return;
  }
  for (std::size_t o = t.o0; o < t.o1; ++o) {
    std::size_t i = t.i0;
    for (; i + W <= t.i1; i += W) f(Lanes<V, true>{t.C, t.inner, W}, o, i);
    if (i < t.i1) f(Lanes<V, false>{t.C, t.inner, t.i1 - i}, o, i);
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
void channel_kernel(T* out, double* acc, const T* a, const T* b, const T* p, const T* q, const Tile& t) {
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

// max over each line (a NaN anywhere makes it NaN: a NaN replaces the running max, and a NaN max stays).
template <class L, class V = typename L::V>
inline V line_max(const L& l, const scalar_t<V>* x) {
  using T = scalar_t<V>;
  V m = splat<V>(-std::numeric_limits<T>::infinity());
  for (std::size_t k = 0; k < l.steps(); ++k) {
    const V v = l.keep(k, l.load(x, k), -std::numeric_limits<T>::infinity());
    m = (v > m) | (v != v) ? v : m;
  }
  return l.total_max(m);
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

// log Σ_C e^{x − m} per line. The elements equal to the max (each e^0 = 1) are counted apart from the rest, so
// that log Σ = log k + log1p(rest/k) keeps its relative precision when the sum is close to 1. NaN when the line
// holds a NaN (m is NaN, k = 0, rest NaN) or +inf (m = +inf), as PyTorch's result.
template <class L, class V = typename L::V>
inline wide_t<V> log_sum_exp_shifted(const L& l, const scalar_t<V>* x, V m) {
  Sum<V> count, rest;
  for (std::size_t k = 0; k < l.steps(); ++k) {
    const V xv = l.load(x, k);
    const auto top = xv == m;
    count.add(widen(l.keep(k, top ? splat<V>(1) : splat<V>(0), 0)));
    rest.add(widen(l.keep(k, top ? splat<V>(0) : exp_shifted(xv, m), 0)));
  }
  return wide_apply<V>(
      [](auto kd, auto rd, auto md) {
        using D = decltype(kd);
        const D lse = log_normal(kd) + log1p_nonneg(rd / kd);
        return (rd == rd) & (md < std::numeric_limits<double>::infinity())
                   ? lse
                   : splat<D>(std::numeric_limits<double>::quiet_NaN());
      },
      l.total_sum(count), l.total_sum(rest), widen(m));
}

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
    const V total = narrow<V>(l.total_sum(s));
    for (std::size_t k = 0; k < l.steps(); ++k) l.store(y, k, l.load(y, k) / total);
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
    const V total = narrow<V>(S), dot = narrow<V>(l.total_sum(t) / S);
    for (std::size_t k = 0; k < l.steps(); ++k)
      l.store(dx, k, (exp_shifted(l.load(x, k), m) / total) * (l.load(dy, k) - dot));
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
    const V total = narrow<V>(l.total_sum(s)), gsum = narrow<V>(l.total_sum(g));
    for (std::size_t k = 0; k < l.steps(); ++k)
      l.store(dx, k, l.load(dy, k) - (exp_shifted(l.load(x, k), m) / total) * gsum);
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
void softmax_kernel(T* out, const T* a, const T* b, const Tile& t) {
  for_each_line_set<vec_t<T>, true>(t, [&](const auto& l, std::size_t o, std::size_t i) {
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

// The groups of tile t: g(lines over the pieces, x offset, y offset). Lanes across the columns; one column at a
// time (V scalar) when inner == 1, where the pieces are adjacent.
template <class T, class G>
inline void for_each_group(const Tile& t, std::size_t pieces, G&& g) {
  const std::size_t groups = t.C / pieces;
  const auto run = [&](auto v) {
    using V = decltype(v);
    for (std::size_t j = 0; j < groups; ++j) {
      Tile lines = t;
      lines.C = pieces;
      for_each_line_set<V, false>(lines, [&](const auto& l, std::size_t o, std::size_t i) {
        g(l, (o * t.C + j * pieces) * t.inner + i, (o * groups + j) * t.inner + i);
      });
    }
  };
  if (t.inner == 1) run(T{});
  else run(vec_t<T>{});
}

template <class T>
void maxout_kernel(T* y, const T* x, std::size_t pieces, const Tile& t) {
  for_each_group<T>(t, pieces, [&](const auto& l, std::size_t xo, std::size_t yo) {
    l.store(y + yo, 0, Argmax(l, x + xo).value);
  });
}

template <class T>
void maxout_backward_kernel(T* dx, const T* dy, const T* x, std::size_t pieces, const Tile& t) {
  for_each_group<T>(t, pieces, [&](const auto& l, std::size_t xo, std::size_t yo) {
    using V = typename std::decay_t<decltype(l)>::V;
    const V index = Argmax(l, x + xo).index, g = l.load(dy + yo, 0);
    for (std::size_t k = 0; k < l.steps(); ++k) l.store(dx + xo, k, index == T(k) ? g : splat<V>(0));
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
