// Fused scale-shift-activation, generic in the activation op (the structs of kernels/activation/activations.hpp).
// Included inside the per-ISA namespace after kernels/elementwise.hpp.
//
//   y = f((x − u)·s + t [+ r])   (BatchNorm in eval mode: u = mean, s = w/√(var + eps), t = b; or folded to u = 0,
//   t = b − mean·s; r a residual). (x − u)·s + t may contract to one FMA where the ISA has it.

// Channels-first planes: scalar s, t per plane; non-temporal stores fenced once, not per plane.
template <class Op, class T>
void ssa_planes_kernel(T* y, const T* x, const T* r, std::size_t b, std::size_t e, std::size_t C, std::size_t S,
                       const T* s, const T* t, const T* u, const ActivationParams& q, StoreHint h) {
  const Params<T> p(q);
  using V = vec_t<T>;
  StoreHint each = h;
  each.defer_fence = true;
  while (b < e) {
    const std::size_t plane = b / S, end = std::min(e, (plane + 1) * S), c = plane % C;
    const V sv = splat<V>(s[c]), tv = splat<V>(t[c]), uv = splat<V>(u[c]);
    if (r)
      elementwise<kMemoryBound<Op>>(y + b, end - b, each,
                                    [&](V xv, V rv) { return Op::forward(V((xv - uv) * sv + tv + rv), p); }, x + b,
                                    r + b);
    else
      elementwise<kMemoryBound<Op>>(y + b, end - b, each,
                                    [&](V xv) { return Op::forward(V((xv - uv) * sv + tv), p); }, x + b);
    b = end;
  }
  if (h.stream) stream_fence();
}

// Channels-last rows: per-column s, t loaded alongside x (the tail of a row through the padded vector); one fence.
// Rows of a few whole vectors (C = 16, 32, 64... floats) run as one flat array whose vector j of each row period
// keeps its coefficients in registers: the vectors start `head` elements in, where y is aligned, so that the stores
// stream (they started at the row, and a NumPy output 16 bytes past a line was written with ordinary stores, its
// lines read first: (32, 56, 56, 64) float, 1 thread, 1.08 ms against 0.75 ms channels-first). Vector j then starts
// at column (head + j·W) mod C: its coefficients come from s, t, u repeated twice. The first `head` elements and
// the last partial vector (ending at the last row's end) go through the padded vector: every element is
// f((x − u[c])·s[c] + t[c]) in the same vector code wherever it sits. Long rows stream row by row.
template <class Op, class T>
void ssa_rows_kernel(T* y, const T* x, const T* r, std::size_t rows, std::size_t C, const T* s, const T* t,
                     const T* u, const ActivationParams& q, StoreHint h) {
  const Params<T> p(q);
  using V = vec_t<T>;
  constexpr std::size_t W = traits<V>::lanes, kMaxVectors = 8;
  auto f = [&p](V xv, V uv, V sv, V tv) { return Op::forward(V((xv - uv) * sv + tv), p); };
  auto fr = [&p](V xv, V uv, V sv, V tv, V rv) { return Op::forward(V((xv - uv) * sv + tv + rv), p); };
  if (C % W == 0 && C / W <= kMaxVectors) {
    const std::size_t m = C / W, n = rows * C;
    const std::size_t misalign = reinterpret_cast<std::uintptr_t>(y) % sizeof(V);
    const bool stream = h.stream && misalign % sizeof(T) == 0;
    const std::size_t head = stream && misalign != 0 ? std::min(n, (sizeof(V) - misalign) / sizeof(T)) : 0;
    // elements [i, i + k) of columns c... (within one row) through the padded vector
    auto partial = [&](std::size_t i, std::size_t k, std::size_t c) {
      if (r)
        apply_partial<V>(y + i, k, fr, x + i, u + c, s + c, t + c, r + i);
      else
        apply_partial<V>(y + i, k, f, x + i, u + c, s + c, t + c);
    };
    if (head > 0) partial(0, head, 0);
    T ext[3][2 * kMaxVectors * W];
    for (std::size_t c = 0; c < 2 * C; ++c) {
      ext[0][c] = s[c % C];
      ext[1][c] = t[c % C];
      ext[2][c] = u[c % C];
    }
    V sv[kMaxVectors], tv[kMaxVectors], uv[kMaxVectors];
    for (std::size_t j = 0; j < m; ++j) {
      const std::size_t c = (head + j * W) % C;
      sv[j] = load<V>(ext[0] + c);
      tv[j] = load<V>(ext[1] + c);
      uv[j] = load<V>(ext[2] + c);
    }
    // streamed with a residual: two inputs from memory (load_lines, for the cheap ops; see elementwise)
    const auto ld = [stream, r](const T* a) { return kMemoryBound<Op> && stream && r ? load_lines<V>(a) : load<V>(a); };
    std::size_t i = head;
    for (std::size_t j = 0; i + W <= n; i += W, j = j + 1 == m ? 0 : j + 1) {
      const V v = r ? fr(ld(x + i), uv[j], sv[j], tv[j], ld(r + i)) : f(ld(x + i), uv[j], sv[j], tv[j]);
      if (stream)
        store_stream<V>(y + i, v);
      else
        store<V>(y + i, v);
    }
    if (i < n) partial(i, n - i, i % C);
    if (stream && !h.defer_fence) stream_fence();
    return;
  }
  StoreHint each = h;
  each.stream = h.stream && C * sizeof(T) >= 4096;  // shorter rows: a head and a tail per row cost more
  each.defer_fence = true;
  for (std::size_t i = 0; i < rows; ++i) {
    const std::size_t o = i * C;
    if (r)
      elementwise<kMemoryBound<Op>>(y + o, C, each, fr, x + o, u, s, t, r + o);
    else
      elementwise<kMemoryBound<Op>>(y + o, C, each, f, x + o, u, s, t);
  }
  if (each.stream) stream_fence();
}

// uint8 RGB pixels to planes through the (3, 256) table of results (exact: it holds them correctly rounded), or,
// with affine and AVX2 / AVX-512, in double arithmetic on whole vectors of pixels, v·A + B per channel (without
// their byte shuffles the table is faster).
template <class T>
void rgb_planes_kernel(T* r, T* g, T* b, const std::uint8_t* x, std::size_t n, const T* tab, const double* affine,
                       StoreHint h) {
  auto pixel = [&](std::size_t q) {
    r[q] = tab[x[3 * q]];
    g[q] = tab[256 + x[3 * q + 1]];
    b[q] = tab[512 + x[3 * q + 2]];
  };
  std::size_t q = 0;
#if defined(__AVX2__)
  if constexpr (std::is_same_v<T, float>) {
    if (affine) {
      using V = vf;
      using I = vi32;
      constexpr std::size_t W = traits<V>::lanes;
      auto misalign = [](const T* p) { return reinterpret_cast<std::uintptr_t>(p) % sizeof(V); };
      // streaming stores need aligned destinations: the three planes must be equally misaligned
      const bool stream = h.stream && misalign(r) == misalign(g) && misalign(r) == misalign(b) &&
                          misalign(r) % sizeof(T) == 0;
      if (stream)
        for (; q < n && misalign(r + q) != 0; ++q) pixel(q);
      auto wide = [](double a) { return vd2{splat<vd>(a), splat<vd>(a)}; };
      const vd2 A[3] = {wide(affine[0]), wide(affine[1]), wide(affine[2])};
      const vd2 B[3] = {wide(affine[3]), wide(affine[4]), wide(affine[5])};
      T* planes[3] = {r, g, b};
      for (; q + W <= n; q += W) {
        I v[3];
        load_rgb_bytes(x + 3 * q, v);
        for (int c = 0; c < 3; ++c) {
          const V f = __builtin_convertvector(v[c], V);  // exact
          const V y = narrow<V>(widen(f) * A[c] + B[c]);
          if (stream)
            store_stream<V>(planes[c] + q, y);
          else
            store<V>(planes[c] + q, y);
        }
      }
      if (stream && !h.defer_fence) stream_fence();
    }
  }
#endif
  (void)affine;
  (void)h;
  for (; q < n; ++q) pixel(q);
}

template <class T>
InferenceKernels<T> make_inference_kernels() {
  InferenceKernels<T> k{};
#define NORMCORE_REGISTER_SSA(name)                                              \
  k.planes[static_cast<int>(Activation::name)] = &ssa_planes_kernel<ops::name, T>; \
  k.rows[static_cast<int>(Activation::name)] = &ssa_rows_kernel<ops::name, T>;
  NORMCORE_ACTIVATION_LIST(NORMCORE_REGISTER_SSA)
#undef NORMCORE_REGISTER_SSA
  k.rgb_planes = &rgb_planes_kernel<T>;
  return k;
}
