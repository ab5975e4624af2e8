// The activation catalog: each op's math written once over V (vector or scalar).
// Included inside the per-ISA namespace after simd/vec.hpp and simd/math.hpp.
//
// An op is a struct in namespace ops named as in NORMCORE_ACTIVATION_LIST (activations.hpp) with
//   forward(x, p)                   y = f(x)
//   backward(dy, x, p)              dx = dy · f'(x)
//   backward_from_output(dy, y, p)  (where PyTorch has it) dx = dy · f'(x) expressed through y = f(x)
// where p holds the op's parameters (a, b, c) converted to the element type.
// At kinks the subgradient is PyTorch's; NaN in x gives NaN in y (and in dx where dy·f' is NaN).

template <class T>
struct Params {
  T a, b, c;
  explicit Params(const ActivationParams& q) : a(T(q.a)), b(T(q.b)), c(T(q.c)) {}
};

template <class V> using P = Params<scalar_t<V>>;

// a lanes-wide constant
template <class V> inline V k(double c) { return splat<V>(scalar_t<V>(c)); }

namespace ops {

// identity(x) = x
struct identity {
  template <class V> static V forward(V x, const P<V>&) { return x; }
  template <class V> static V backward(V dy, V, const P<V>&) { return dy; }
};

// binary_step(x) = x ≥ a ? 1 : 0 (a = threshold); gradient 0. NaN → NaN.
struct binary_step {
  template <class V> static V forward(V x, const P<V>& p) {
    return x >= p.a ? k<V>(1) : (x < p.a ? k<V>(0) : x);
  }
  template <class V> static V backward(V, V, const P<V>&) { return k<V>(0); }
};

// relu(x) = max(0, x). PyTorch's subgradient at 0 is 0 (threshold_backward: x ≤ 0 → 0), NaN x passes dy.
struct relu {
  template <class V> static V forward(V x, const P<V>&) { return max0(x); }
  template <class V> static V backward(V dy, V x, const P<V>&) { return x <= scalar_t<V>(0) ? k<V>(0) : dy; }
  template <class V> static V backward_from_output(V dy, V y, const P<V>& p) { return backward(dy, y, p); }
};

// hardtanh(x) = clamp(x, a, b) (a = min_val, b = max_val; relu6 = hardtanh(0, 6)).
// PyTorch: gradient dy strictly inside (a, b), 0 at and beyond the ends and for NaN x.
struct hardtanh {
  template <class V> static V forward(V x, const P<V>& p) {
    return min_nan_passes(splat<V>(p.b), max_nan_passes(splat<V>(p.a), x));
  }
  template <class V> static V backward(V dy, V x, const P<V>& p) {
    return (x > p.a) & (x < p.b) ? dy : k<V>(0);
  }
  template <class V> static V backward_from_output(V dy, V y, const P<V>& p) { return backward(dy, y, p); }
};

// leaky_relu(x) = x > 0 ? x : a·x (a = negative_slope). PyTorch's subgradient at 0 is a.
struct leaky_relu {
  template <class V> static V forward(V x, const P<V>& p) { return x > scalar_t<V>(0) ? x : x * p.a; }
  template <class V> static V backward(V dy, V x, const P<V>& p) { return x > scalar_t<V>(0) ? dy : dy * p.a; }
  // y > 0 exactly where x > 0 when a ≥ 0 (the API refuses a < 0 for this form).
  template <class V> static V backward_from_output(V dy, V y, const P<V>& p) { return backward(dy, y, p); }
};

// thresholded_relu(x) = x > a ? x : 0 (ONNX ThresholdedRelu, a = alpha). NaN → NaN.
struct thresholded_relu {
  template <class V> static V forward(V x, const P<V>& p) { return x <= p.a ? k<V>(0) : x; }
  template <class V> static V backward(V dy, V x, const P<V>& p) { return x <= p.a ? k<V>(0) : dy; }
};

// The ELU family (PyTorch's elu kernel): f(x) = x > 0 ? b·x : b·a·(e^{c·x} − 1) via expm1,
// a = alpha, b = scale, c = input_scale. elu: (α, 1, 1); selu: (α, scale, 1); celu: (α, 1, 1/α).
// f'(x) = b for x > 0, else b·a·c·e^{c·x}; from y: y > 0 ? b : c·(y + b·a) (PyTorch's is_result form).
struct elu {
  template <class V> static V forward(V x, const P<V>& p) {
    return x > scalar_t<V>(0) ? x * p.b : (p.b * p.a) * expm1<V, ExpArg::no_overflow>(min_nan_passes(k<V>(0), x * p.c));
  }
  template <class V> static V backward(V dy, V x, const P<V>& p) {
    return x > scalar_t<V>(0) ? dy * p.b : dy * ((p.b * p.a * p.c) * exp<V, ExpArg::no_overflow>(min_nan_passes(k<V>(0), x * p.c)));
  }
  template <class V> static V backward_from_output(V dy, V y, const P<V>& p) {
    return y > scalar_t<V>(0) ? dy * p.b : dy * (p.c * (y + p.b * p.a));
  }
};

// gelu(x) = x·Φ(x) (erf form): with a = |x| and Φ(−a) = e^{−a²/2}·R(a) from the Gaussian tail,
// x − a·Φ(−a) for x ≥ 0 and −a·Φ(−a) = x·Φ(x) below, a·R(a) rounded once with the
// exponential (no subnormal Φ(−a) on the way). a is capped where a·Φ(−a) rounds to 0 (14.48 float, 38.7
// double; normal_tail_cap): the limits at ±inf are x and −0. f' = Φ(x) + x·φ(x) = 1 − D (x ≥ 0) or D (x < 0)
// with D = e^{−a²/2}·(R(a) − a/√(2π)); gradients 1 and 0 at ±inf.
struct gelu {
  static constexpr double kInvSqrt2Pi = 0.3989422804014327;
  template <class V> static V forward(V x, const P<V>&) {
    using T = scalar_t<V>;
    const V ac = abs_min(x, normal_tail_consts<T>::cap);  // NaN x: NaN or the cap (the result is NaN below)
    // x − a·Φ(−a) for x ≥ 0 (so x = −0 gives −0 − 0 = −0), −0 − a·Φ(−a) below (−0 at −inf): max(x, −0) keeps
    // ±0 and NaN (one op, not a compare and a select): a NaN x gives NaN whatever the product is. a·R(a) < 0.4
    return gauss_exp_fnma(ac, ac * normal_tail_ratio(ac), max_nan_passes(k<V>(T(-0.0)), x));
  }
  template <class V> static V backward(V dy, V x, const P<V>&) {
    using T = scalar_t<V>;
    const V a = abs(x);
    const V ac = normal_tail_cap(a);
    // the exponential takes a itself: D keeps its (tiny) value past the cap, and is 0 at −inf
    const V d = gauss_exp_mul(a, normal_tail_ratio(ac) - ac * T(kInvSqrt2Pi));
    return dy * (x >= T(0) ? T(1) - d : d);
  }
};

// gelu (tanh form) = ½x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³), computed as x·σ(2u) (1 + tanh(u) = 2σ(2u)),
// which does not cancel in the negative tail. f' = σ(2u) + 2x·σ(2u)σ(−2u)·√(2/π)(1 + 3·0.044715x²).
struct gelu_tanh {
  static constexpr double kBeta2 = 2 * 0.7978845608028654;  // 2·√(2/π)
  static constexpr double kKappa = 0.044715;
  // z = 2u = x·w with w = c1 + c3·x² (c1 = 2√(2/π), c3 = c1·0.044715). σ(z) amplifies z's rounding error
  // |z|-fold, so for float w is evaluated in float-float, in units of ln2 (w·log2e: the constants take the factor,
  // and x_sigmoid_product's reduction needs no multiplication by log2e) as wh + wl (relative error ~2^-44), and
  // the exponential takes the product x·(wh + wl) as it is; double keeps its own rounding (|z|·1e-16). w is split
  // on a fixed grid, which needs no TwoSum: with |x| ≤ 14 (forward's cap) t = c3·x² + A lies in [32, 64) for
  // A = 32 + c1g (c1g: c1 on the grid of 2^-18, c1l the rest), so t is rounded to that grid, wh = t − 32 and A − t
  // are exact, and t's rounding error c3·x² + A − t is one more FMA (without FMA: a two-product and an exact
  // subtraction).
  template <class V> static TwoSum<V> w_log2(V x) {
    using T = scalar_t<V>;
    static_assert(sizeof(T) == 4);
    constexpr double log2e = 1.4426950408889634, c1 = kBeta2 * log2e, c3 = kBeta2 * kKappa * log2e;
    constexpr double c1g = double(static_cast<long long>(c1 * 0x1p18 + 0.5)) * 0x1p-18;
    constexpr T A = T(32 + c1g), c1l = T(c1 - c1g), c3h = T(c3), c3l = T(c3 - double(c3h));
    static_assert(double(A) == 32 + c1g && double(c3h) * 14 * 14 + 32 + c1g < 63.9);
    const TwoProd<V> x2 = two_prod(x, x);
#if defined(__FMA__)
    const V t = fma(splat<V>(c3h), x2.hi, splat<V>(A));
    const V e = fma(splat<V>(c3h), x2.hi, A - t);
#else
    const TwoProd<V> u = two_prod(splat<V>(c3h), x2.hi);
    const V t = u.hi + A;
    const V e = (u.hi - (t - A)) + u.lo;  // a sum's rounding error is representable: the subtraction is exact
#endif
    return {t - T(32), e + (c3h * x2.lo + (c3l * x2.hi + c1l))};
  }
  // float: x·σ(c·w(c)) for x capped to c ∈ [−14, 14] (x_sigmoid_product: x/(1 + 2^−z), either sign; C++
  // bench_kernels avx512, 1 thread, against x·σ(−|z|) with a select of the side: 64K 13.8 -> 12.8 us, 16M 3.82 ->
  // 3.40 ms; max error 2.52 -> 1.92 ulp). double: z is odd, so the exponential's −|z| is z(−|x|) = xn·w(xn). The
  // caps lie where x·σ(−|z|) rounds to 0 for every finite x (z(−14) ≈ −218 float, z(−30) ≈ −1974 double), and
  // keep w's low part finite
  template <class V> static V forward(V x, const P<V>&) {
    using T = scalar_t<V>;
    constexpr T cap = sizeof(T) == 4 ? T(14) : T(30);
    if constexpr (sizeof(T) == 4) {
      // c·w(c) for c = x capped to [−14, 14]; below −9 it is under −95 (units of ln2)
      const V c = clamp_abs(x, cap);  // NaN x: NaN or the cap (x/(1 + 2^−z) is NaN)
      const TwoSum<V> w = w_log2(c);
      return x_sigmoid_product(x, c, w.hi, w.lo, T(-9));
    } else {
      const V xn = max_nan_passes(k<V>(-cap), neg_abs(x));
      return x_sigmoid_parts<V, false>(x, x >= T(0), xn * (T(kBeta2) + T(kBeta2 * kKappa) * (xn * xn)), V{});
    }
  }
  template <class V> static V backward(V dy, V x, const P<V>&) {
    using T = scalar_t<V>;
    // z = 2u = x·(c1 + c3·x²) and the derivative of u, (c1 + 3·c3·x²)/2, each one FMA from x²
    const V x2 = x * x;
    const Logistic<V> l = logistic(x * (T(kBeta2) + T(kBeta2 * kKappa) * x2));
    const V du = T(kBeta2 / 2) + T(kBeta2 / 2 * 3 * kKappa) * x2;
    const V tail = l.ss == T(0) ? k<V>(0) : (x + x) * l.ss * du;  // ±inf: 0, not inf·0
    return dy * (l.s + tail);
  }
};

// swish(x) = x·σ(a·x) (a = beta; silu: a = 1). f' = σ(ax)·(1 + ax·σ(−ax)) = σ(ax) + ax·σ(ax)σ(−ax).
struct swish {
  template <class V> static V forward(V x, const P<V>& p) {
    if (p.a == scalar_t<V>(1)) return x_sigmoid(x, x);  // silu: a·x is exact
    const TwoProd<V> ax = two_prod(x, splat<V>(p.a));  // a·x exactly: e^{−|ax|} amplifies its rounding
    return x_sigmoid(x, ax.hi, ax.lo);
  }
  template <class V> static V backward(V dy, V x, const P<V>& p) {
    using T = scalar_t<V>;
    // f' = σ(ax) + ax·σ(ax)σ(−ax); at ±inf the limits 1 and 0 (the product 0, not inf·0)
    const V ax = x * p.a;
    const Logistic<V> l = logistic(ax);
    return dy * (l.s + (l.ss == T(0) ? k<V>(0) : ax * l.ss));
  }
};

// mish(x) = x·tanh(softplus(x)) = x·n/(n + 2) with n = e^x(e^x + 2) (tanh(log w) = (w² − 1)/(w² + 1),
// w = 1 + e^x): one exponential, no cancellation. f' = n/(n + 2) + x·4e^x·w/(n + 2)². For x > 20 both are
// x and 1 to the last bit (and n would overflow).
struct mish {
  static constexpr double kLinear = 20.0;
  static constexpr int K = 64;  // e^x is carried as e^x·2^K: x·n/(n + 2) must not pass through subnormals
  template <class V> static V forward(V x, const P<V>&) {
    using T = scalar_t<V>;
    const V xc = min_nan_passes(k<V>(kLinear), x);
    // no lane below −80 (float) / −700 (double): e^x, n and x·n are normal, no scaling. The same roundings as the
    // scaled path below (n rounded, then n + 2), so a lane's bits do not depend on its vector. NaN too.
    if (none_below(xc, sizeof(T) == 4 ? T(-80) : T(-700))) {
      const V e = exp<V, ExpArg::no_overflow>(xc);
      const V n = opaque(e * (e + T(2)));
      return x > T(kLinear) ? x : (x * n) / (n + T(2));
    }
    const V es = exp<V, ExpArg::no_overflow, K>(xc);  // e^x·2^K
    const V ns = es * (es * T(0x1p-64) + T(2));        // n·2^K
    const V n = ns * T(0x1p-64);                       // exact where normal (subnormal only next to 2)
    const V tail = ns == T(0) ? copysign(k<V>(0), x) : ((x * ns) / (n + T(2))) * T(0x1p-64);
    return x > T(kLinear) ? x : tail;  // ns = 0: the limit at −inf
  }
  template <class V> static V backward(V dy, V x, const P<V>&) {
    using T = scalar_t<V>;
    const V e = exp<V, ExpArg::no_overflow>(min_nan_passes(k<V>(kLinear), x));
    const V n = e * (e + T(2));
    const V d = T(1) / (n + T(2));
    const V g = n * d + (e == T(0) ? k<V>(0) : x * (T(4) * e * (e + T(1))) * (d * d));  // −inf: 0, not inf·0
    return x > T(kLinear) ? dy : dy * g;
  }
};

// sigmoid(x) = 1/(1 + e^{−x}); f' = σ(x)·σ(−x) (exact in both tails), from the output: y·(1 − y) (PyTorch).
struct sigmoid {
  template <class V> static V forward(V x, const P<V>&) { return normcore::NORMCORE_ISA_NS::sigmoid(x); }
  template <class V> static V backward(V dy, V x, const P<V>&) { return dy * sigmoid_derivative(x); }
  template <class V> static V backward_from_output(V dy, V y, const P<V>&) {
    return dy * (y * (scalar_t<V>(1) - y));
  }
};

// log_sigmoid(x) = log σ(x) = min(x, 0) − log1p(e^{−|x|}) = −softplus0(−x); f' = σ(−x).
struct log_sigmoid {
  template <class V> static V forward(V x, const P<V>&) { return -log1p_exp(-x); }
  template <class V> static V backward(V dy, V x, const P<V>&) { return dy * normcore::NORMCORE_ISA_NS::sigmoid(-x); }
};

// hardsigmoid(x) = clamp(a·x + b, 0, 1) (a = alpha, b = beta; PyTorch 1/6, 1/2, ONNX 0.2, 0.5).
// f' = a strictly inside (0, 1), else 0 (PyTorch: grad/6 for −3 < x < 3).
struct hardsigmoid {
  template <class V> static V forward(V x, const P<V>& p) {
    return min_nan_passes(k<V>(1), max_nan_passes(k<V>(0), x * p.a + p.b));
  }
  template <class V> static V backward(V dy, V x, const P<V>& p) {
    const V z = x * p.a + p.b;
    return (z <= scalar_t<V>(0)) | (z >= scalar_t<V>(1)) ? k<V>(0) : dy * p.a;
  }
};

// tanh(x); f' = sech²(x) (exact in the tails), from the output: 1 − y² (PyTorch's form) as (1 − y)(1 + y).
struct tanh {
  template <class V> static V forward(V x, const P<V>&) { return normcore::NORMCORE_ISA_NS::tanh(x); }
  template <class V> static V backward(V dy, V x, const P<V>&) { return dy * sech2(x); }
  template <class V> static V backward_from_output(V dy, V y, const P<V>&) {
    using T = scalar_t<V>;
    return dy * ((T(1) - y) * (T(1) + y));  // 1 − y² without cancellation near |y| = 1 (FMA or not)
  }
};

// hardswish(x) = x·min(max(x + 3, 0), 6)/6 (PyTorch). f' = 0 for x < −3, x/3 + ½ for −3 ≤ x ≤ 3, 1 above.
struct hardswish {
  template <class V> static V forward(V x, const P<V>&) {
    using T = scalar_t<V>;
    return (x / T(6)) * min_nan_passes(k<V>(6), max_nan_passes(k<V>(0), x + T(3)));  // x/6 first: no overflow
  }
  template <class V> static V backward(V dy, V x, const P<V>&) {
    using T = scalar_t<V>;
    return x < T(-3) ? k<V>(0) : (x <= T(3) ? dy * (x / T(3) + T(0.5)) : dy);
  }
};

// softplus(x) = (1/a)·log(1 + e^{a·x}), x where a·x > b (a = beta, b = threshold); f' = σ(a·x) (1 above b).
struct softplus {
  // β = 1 (the default): the same bits without the multiplication by β and the division
  template <class V> static V forward(V x, const P<V>& p) {
    if (p.a == scalar_t<V>(1)) return x > p.b ? x : log1p_exp(x);
    const V ax = x * p.a;
    return ax > p.b ? x : log1p_exp(ax) / p.a;
  }
  template <class V> static V backward(V dy, V x, const P<V>& p) {
    const V ax = p.a == scalar_t<V>(1) ? x : x * p.a;
    return ax > p.b ? dy : dy * normcore::NORMCORE_ISA_NS::sigmoid(ax);
  }
};

// softsign(x) = x/(1 + |x|) (±1 at ±inf); f' = 1/(1 + |x|)².
struct softsign {
  template <class V> static V forward(V x, const P<V>&) {
    using T = scalar_t<V>;
    const V a = abs(x);
    return a == std::numeric_limits<T>::infinity() ? copysign(k<V>(1), x) : x / (a + T(1));
  }
  template <class V> static V backward(V dy, V x, const P<V>&) {
    using T = scalar_t<V>;
    const V d = abs(x) + T(1);
    return dy / (d * d);
  }
};

// arctan(x) = atan(x); f' = 1/(1 + x²) (0 at ±inf).
struct arctan {
  template <class V> static V forward(V x, const P<V>&) { return normcore::NORMCORE_ISA_NS::atan(x); }
  template <class V> static V backward(V dy, V x, const P<V>&) {
    using T = scalar_t<V>;
    return dy / (x * x + T(1));
  }
};

// sinc(x) = sin(x)/x, 1 at 0 (unnormalized), 0 at ±inf (the limit); f' = (cos x − sinc x)/x, by its series
// below |x| = 1/2 where the difference cancels, 0 at 0 and ±inf. In double lanes (float input too: the rounding
// of sin x/x is then the only one that shows), sin and cos by the vector reduction up to kTrigMax; a vector with
// a larger or infinite lane goes through libm lane by lane.
struct sinc {
  // f and f' from x (double lanes or a double) and its sine and cosine
  template <class W> static W value(W x, W s) { return x == 0.0 ? k<W>(1) : s / x; }
  template <class W> static W derivative(W x, W s, W c) {
    const W z = x * x;  // Σ_{k≥1} (−1)^k·2k·x^{2k−1}/(2k+1)!, truncated after x^11 (< 1e-15 relative)
    const W series = x * (-1.0 / 3 + z * (1.0 / 30 + z * (-1.0 / 840 + z * (1.0 / 45360 + z * (-1.0 / 3991680 + z / 518918400)))));
    return abs(x) < 0.5 ? series : (x * c - s) / z;
  }
  static double lane_value(double x) { return std::isinf(x) ? 0.0 : value(x, std::sin(x)); }
  static double lane_derivative(double x) { return std::isinf(x) ? 0.0 : derivative(x, std::sin(x), std::cos(x)); }
  template <class V> static bool in_range(V x) { return none_below(neg_abs(x), scalar_t<V>(-kTrigMax)); }
  template <class V> static V forward(V x, const P<V>&) {
    if (!in_range(x)) return map_lanes(x, lane_value);
    return via_double(x, [](auto w) { return value(w, normcore::NORMCORE_ISA_NS::sincos(w).s); });
  }
  template <class V> static V backward(V dy, V x, const P<V>&) {
    if (!in_range(x)) return dy * map_lanes(x, lane_derivative);
    return dy * via_double(x, [](auto w) {
      const auto sc = normcore::NORMCORE_ISA_NS::sincos(w);
      return derivative(w, sc.s, sc.c);
    });
  }
};

// The inverse square root unit g(x) = 1/√(1 + a·x²), overflow-free: with m = max(|x|, 1), u = x/m (exactly
// ±1 or x) and v = 1/m, g = v/√(v² + a·u²) and x·g = u/√(v² + a·u²).
template <class V>
struct IsruParts {
  V u, r;  // r = 1/√(v² + a·u²)
  V v;
};
template <class V>
inline IsruParts<V> isru_parts(V x, scalar_t<V> alpha) {
  using T = scalar_t<V>;
  const V a = abs(x);
  const auto big = a > T(1);
  const V u = big ? copysign(k<V>(1), x) : x;
  const V v = big ? T(1) / a : k<V>(1);
  return {u, T(1) / sqrt(v * v + alpha * (u * u)), v};
}

// isru(x) = x/√(1 + a·x²) (a = alpha); f' = (1/√(1 + a·x²))³.
struct isru {
  template <class V> static V forward(V x, const P<V>& p) {
    const IsruParts<V> q = isru_parts(x, p.a);
    return q.u * q.r;
  }
  template <class V> static V backward(V dy, V x, const P<V>& p) {
    const IsruParts<V> q = isru_parts(x, p.a);
    const V g = q.v * q.r;
    return dy * (g * g * g);
  }
};

// isrlu(x) = x ≥ 0 ? x : isru(x); f' = 1 for x ≥ 0, else (1/√(1 + a·x²))³.
struct isrlu {
  template <class V> static V forward(V x, const P<V>& p) {
    return x >= scalar_t<V>(0) ? x : isru::forward(x, p);
  }
  template <class V> static V backward(V dy, V x, const P<V>& p) {
    return x >= scalar_t<V>(0) ? dy : isru::backward(dy, x, p);
  }
};

// sqnl(x) = c·(1 − |c|/4) with c = clamp(x, −2, 2): 1 above 2, x − x²/4 on [0, 2], x + x²/4 on [−2, 0),
// −1 below −2. f' = 1 − |x|/2 on [−2, 2], else 0.
struct sqnl {
  template <class V> static V forward(V x, const P<V>&) {
    using T = scalar_t<V>;
    const V c = min_nan_passes(k<V>(2), max_nan_passes(k<V>(-2), x));
    return c * (T(1) - abs(c) * T(0.25));
  }
  template <class V> static V backward(V dy, V x, const P<V>&) {
    using T = scalar_t<V>;
    const V a = abs(x);
    return a > T(2) ? k<V>(0) : dy * (T(1) - a * T(0.5));
  }
};

}  // namespace ops

// Ops of a few cheap operations per element, whose streamed loops wait on memory: they read their inputs by whole
// cache lines (load_lines; relu backward, 16M floats, 1 thread: 4.6-5.0 -> 3.7-4.0 ms). The others keep plain
// loads: load_lines's permute competes with their table permutes (gelu 16M: 4.5 -> 5.9 ms, silu backward 3.8 -> 4.8).
template <class Op>
inline constexpr bool kMemoryBound =
    std::is_same_v<Op, ops::identity> || std::is_same_v<Op, ops::binary_step> || std::is_same_v<Op, ops::relu> ||
    std::is_same_v<Op, ops::hardtanh> || std::is_same_v<Op, ops::leaky_relu> ||
    std::is_same_v<Op, ops::thresholded_relu> || std::is_same_v<Op, ops::hardsigmoid> ||
    std::is_same_v<Op, ops::hardswish> || std::is_same_v<Op, ops::sqnl>;
