// Kernels of the fused neuron loops: CUBA, ALIF and AdLIF+ over one tile of lanes (neurons.cpp
// binds them to torch). No torch here, so they also build into a plain C++ test or benchmark.
//
// A tile is Pack<T, K>::N neurons (flattened batch x neuron rows): K hardware vectors (GCC
// vector_size of the target's SIMD width), so K independent chains per step; arrays are [t]
// of Packs, lane = neuron. Selects replace branches (spikes are data-dependent).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

// Bytes of one hardware vector (SSE2 / NEON: 16, AVX: 32) and vectors per tile (independent
// chains: the recurrences are latency-bound, so several in flight keep the units busy).
#ifndef RANVIER_VECTOR_BYTES
#if defined(__AVX2__)
#define RANVIER_VECTOR_BYTES 32
#else
#define RANVIER_VECTOR_BYTES 16
#endif
#endif
#ifndef RANVIER_PACK
#define RANVIER_PACK 4
#endif
#define RANVIER_INLINE __attribute__((always_inline)) inline

namespace ranvier_fused {

constexpr double kHalf = 8388608.0;      // STATE_HALF_RANGE = 2**23
constexpr double kSurrogateSlope = 5.0;  // train/neurons.py SURROGATE_SLOPE

// K hardware vectors of T: the lanes of one tile, with elementwise arithmetic.
template <typename T, int K>
struct Pack {
  typedef T V __attribute__((vector_size(RANVIER_VECTOR_BYTES)));
  using M = decltype(V{} < V{});
  static constexpr int W = RANVIER_VECTOR_BYTES / int(sizeof(T));
  static constexpr int N = K * W;  // lanes
  static constexpr int Count = K;
  V x[K];
};

// The comparison result of a Pack: K integer masks.
template <typename T, int K>
struct Mask {
  typename Pack<T, K>::M x[K];
};

#define RANVIER_BINARY(op)                                                          \
  template <typename T, int K>                                                      \
  RANVIER_INLINE Pack<T, K> operator op(const Pack<T, K>& a, const Pack<T, K>& b) { \
    Pack<T, K> r;                                                                   \
    for (int k = 0; k < K; ++k) r.x[k] = a.x[k] op b.x[k];                          \
    return r;                                                                       \
  }                                                                                 \
  template <typename T, int K>                                                      \
  RANVIER_INLINE Pack<T, K> operator op(const Pack<T, K>& a, T b) {                 \
    Pack<T, K> r;                                                                   \
    for (int k = 0; k < K; ++k) r.x[k] = a.x[k] op b;                               \
    return r;                                                                       \
  }                                                                                 \
  template <typename T, int K>                                                      \
  RANVIER_INLINE Pack<T, K> operator op(T a, const Pack<T, K>& b) {                 \
    Pack<T, K> r;                                                                   \
    for (int k = 0; k < K; ++k) r.x[k] = a op b.x[k];                               \
    return r;                                                                       \
  }                                                                                 \
  template <typename T, int K>                                                      \
  RANVIER_INLINE Pack<T, K>& operator op##=(Pack<T, K>& a, const Pack<T, K>& b) {   \
    for (int k = 0; k < K; ++k) a.x[k] = a.x[k] op b.x[k];                          \
    return a;                                                                       \
  }
RANVIER_BINARY(+)
RANVIER_BINARY(-)
RANVIER_BINARY(*)
RANVIER_BINARY(/)
#undef RANVIER_BINARY

#define RANVIER_COMPARE(op)                                                       \
  template <typename T, int K>                                                    \
  RANVIER_INLINE Mask<T, K> operator op(const Pack<T, K>& a, T b) {               \
    Mask<T, K> r;                                                                 \
    for (int k = 0; k < K; ++k) r.x[k] = a.x[k] op b;                             \
    return r;                                                                     \
  }                                                                               \
  template <typename T, int K>                                                    \
  RANVIER_INLINE Mask<T, K> operator op(const Pack<T, K>& a, const Pack<T, K>& b) { \
    Mask<T, K> r;                                                                 \
    for (int k = 0; k < K; ++k) r.x[k] = a.x[k] op b.x[k];                        \
    return r;                                                                     \
  }
RANVIER_COMPARE(<)
RANVIER_COMPARE(<=)
RANVIER_COMPARE(>)
RANVIER_COMPARE(>=)
#undef RANVIER_COMPARE

template <typename T, int K>
RANVIER_INLINE Pack<T, K> operator-(const Pack<T, K>& a) {
  Pack<T, K> r;
  for (int k = 0; k < K; ++k) r.x[k] = -a.x[k];
  return r;
}

// m ? a : b, lane by lane.
template <typename T, int K>
RANVIER_INLINE Pack<T, K> select(const Mask<T, K>& m, const Pack<T, K>& a, const Pack<T, K>& b) {
  Pack<T, K> r;
  for (int k = 0; k < K; ++k) r.x[k] = m.x[k] ? a.x[k] : b.x[k];
  return r;
}

template <typename T, int K>
RANVIER_INLINE Pack<T, K> bc(T x) {
  Pack<T, K> r;
  for (int k = 0; k < K; ++k) r.x[k] = typename Pack<T, K>::V{} + x;
  return r;
}

template <typename T, int K>
RANVIER_INLINE Pack<T, K> abs_v(const Pack<T, K>& x) {
  return select(x < T(0), -x, x);
}

// The lanes of a tile in double: the parameter gradients' sums.
template <typename T, int K>
using Wide = Pack<double, K * int(sizeof(double) / sizeof(T))>;

template <std::size_t Offset, typename V, std::size_t... I>
RANVIER_INLINE auto lanes_from(V v, std::index_sequence<I...>) {
  return __builtin_shufflevector(v, v, int(Offset + I)...);
}

template <typename T, int K>
RANVIER_INLINE Wide<T, K> wide(const Pack<T, K>& a) {
  if constexpr (std::is_same_v<T, double>) {
    return a;
  } else {
    static_assert(sizeof(T) * 2 == sizeof(double), "float lanes only");
    constexpr int H = Pack<T, K>::W / 2;
    using DV = typename Wide<T, K>::V;
    Wide<T, K> r;
    for (int k = 0; k < K; ++k) {
      const auto lo = lanes_from<0>(a.x[k], std::make_index_sequence<H>{});
      const auto hi = lanes_from<H>(a.x[k], std::make_index_sequence<H>{});
      r.x[2 * k] = __builtin_convertvector(lo, DV);
      r.x[2 * k + 1] = __builtin_convertvector(hi, DV);
    }
    return r;
  }
}

// --- hardware arithmetic (identity in float mode) -------------------------------------------

// Round toward zero, exactly: round |x| to nearest with the 2**52 (float: 2**23) trick, step
// back where that rounded up, restore the sign. Zero results are +0, as trunc_ste's
// x + (trunc(x) - x) gives.
template <bool Q, typename T, int K>
RANVIER_INLINE Pack<T, K> trunc_q(const Pack<T, K>& x) {
  if constexpr (!Q) {
    return x;
  } else {
    constexpr T big = std::is_same_v<T, double> ? T(4503599627370496.0) : T(8388608.0);
    const Pack<T, K> ax = abs_v(x);
    Pack<T, K> r = (ax + big) - big;
    r = select(r > ax, r - T(1), r);
    r = select(ax < big, r, ax);
    return select(x < T(0), T(0) - r, r);
  }
}

// fixed_point.wrap_current: one fold of 2**24 (> 2**23 down, <= -2**23 up).
template <bool Q, typename T, int K>
RANVIER_INLINE Pack<T, K> wrap_q(const Pack<T, K>& x) {
  if constexpr (!Q) {
    return x;
  } else {
    const T h = T(kHalf);
    return select(x > h, x - T(2) * h, select(x <= -h, x + T(2) * h, x));
  }
}

// fixed_point.saturate_voltage: clip to +-(2**23 - 1).
template <bool Q, typename T, int K>
RANVIER_INLINE Pack<T, K> sat_q(const Pack<T, K>& x) {
  if constexpr (!Q) {
    return x;
  } else {
    const T b = T(kHalf - 1.0);
    const Pack<T, K> lo = select(x < -b, bc<T, K>(-b), x);
    return select(lo > b, bc<T, K>(b), lo);
  }
}

// Heaviside: 1 where x > 0 (Inclusive: x >= 0).
template <bool Inclusive, typename T, int K>
RANVIER_INLINE Pack<T, K> heaviside(const Pack<T, K>& x) {
  const Pack<T, K> one = bc<T, K>(T(1)), zero = bc<T, K>(T(0));
  if constexpr (Inclusive) {
    return select(x >= T(0), one, zero);
  } else {
    return select(x > T(0), one, zero);
  }
}

// _Spike.backward: grad * (1 / (1 + 5 |x / scale|)**2) / scale.
template <typename T, int K>
RANVIER_INLINE Pack<T, K> surrogate(const Pack<T, K>& grad, const Pack<T, K>& x, T scale) {
  const Pack<T, K> den = T(1) + T(kSurrogateSlope) * abs_v(x / scale);
  return grad * (T(1) / (den * den)) / scale;
}

// --- the three neurons on one tile ------------------------------------------------------------
//
// forward<Rec>: spikes s[t] and voltage v[t] of nt steps from the input a[t]; with Rec it also
// writes the states the backward needs into rec: R arrays of nt + 1 rows (row 0 the initial
// state, row t + 1 the state after step t). p[k] is parameter k of each lane's neuron.
// backward: recomputes the forward into rec, then runs the adjoints from step nt - 1 down to
// 0 (the reference's autograd graph: straight-through rounding, surrogate spike derivative):
// da[t] (the input's gradient) and dp[k] += (parameter k's gradient, summed over the steps).

#define RANVIER_REC(k, t) rec[(k) * (nt + 1) + (t)]

// CUBA: u = wrap(trunc(u ik) + a), v = sat(trunc(v vk) + u), s = v - vth > 0, v *= 1 - s.
// params: ik, vk. scalars: act_scale, vth.
template <typename T, bool Q, bool Spiking>
struct Cuba {
  using V = Pack<T, RANVIER_PACK>;
  using D = Wide<T, RANVIER_PACK>;
  static constexpr int P = 2;
  static constexpr int R = 3;  // u, v before the reset, v after it

  template <bool Rec>
  static void forward(int64_t nt, const V* a, const V* p, const double* sc, V* s, V* v, V* rec) {
    const T act = T(sc[0]), vth = T(sc[1]);
    V u = bc<T, RANVIER_PACK>(T(0)), vv = u;
    if constexpr (Rec) {
      for (int k = 0; k < R; ++k) RANVIER_REC(k, 0) = bc<T, RANVIER_PACK>(T(0));
    }
    for (int64_t t = 0; t < nt; ++t) {
      const V un = wrap_q<Q>(trunc_q<Q>(u * p[0]) + a[t] * act);
      const V vp = sat_q<Q>(trunc_q<Q>(vv * p[1]) + un);
      V sp = bc<T, RANVIER_PACK>(T(0)), vn = vp;
      if constexpr (Spiking) {
        sp = heaviside<false>(vp - vth);
        vn = vp * (T(1) - sp);
      }
      u = un;
      vv = vn;
      s[t] = sp;
      v[t] = vn;
      if constexpr (Rec) {
        RANVIER_REC(0, t + 1) = un;
        RANVIER_REC(1, t + 1) = vp;
        RANVIER_REC(2, t + 1) = vn;
      }
    }
  }

  static void backward(int64_t nt, const V* a, const V* p, const double* sc, const V* gs,
                       const V* gv, V* da, D* dp, V* rec, V* s_tmp, V* v_tmp) {
    forward<true>(nt, a, p, sc, s_tmp, v_tmp, rec);
    const T act = T(sc[0]), vth = T(sc[1]);
    V gu = bc<T, RANVIER_PACK>(T(0)), gvc = gu;
    for (int64_t t = nt - 1; t >= 0; --t) {
      V dvp = gv[t] + gvc;  // v after the reset, then before it
      if constexpr (Spiking) {
        const V x = RANVIER_REC(1, t + 1) - vth;
        dvp = dvp * (T(1) - heaviside<false>(x)) + surrogate(gs[t], x, vth);
      }
      dp[1] += wide(dvp) * wide(RANVIER_REC(2, t));
      gvc = dvp * p[1];
      const V du = gu + dvp;
      dp[0] += wide(du) * wide(RANVIER_REC(0, t));
      gu = du * p[0];
      da[t] = du * act;
    }
  }
};

// ALIF (lava-nc ATRLIF): i, v as CUBA without reset; threshold theta decays to theta0 and
// steps by `step` per spike; refractory r decays and takes 2 theta per spike; s = v - r - theta
// >= 0. params: ck, vk, tk, rk. scalars: act_scale, theta0, step.
template <typename T, bool Q, bool Unused>
struct Alif {
  using V = Pack<T, RANVIER_PACK>;
  using D = Wide<T, RANVIER_PACK>;
  static constexpr int P = 4;
  static constexpr int R = 6;  // i, v, theta, r (after the step), theta and r before the spike

  template <bool Rec>
  static void forward(int64_t nt, const V* a, const V* p, const double* sc, V* s, V* v, V* rec) {
    const T act = T(sc[0]), th0 = T(sc[1]), step = T(sc[2]);
    V i = bc<T, RANVIER_PACK>(T(0)), vv = i, r = i, th = bc<T, RANVIER_PACK>(th0);
    if constexpr (Rec) {
      for (int k = 0; k < R; ++k) RANVIER_REC(k, 0) = (k == 2 || k == 4) ? th : i;
    }
    for (int64_t t = 0; t < nt; ++t) {
      i = wrap_q<Q>(trunc_q<Q>(i * p[0]) + a[t] * act);
      vv = sat_q<Q>(trunc_q<Q>(vv * p[1]) + i);
      const V thp = trunc_q<Q>((th - th0) * p[2]) + th0;
      const V rp = trunc_q<Q>(r * p[3]);
      const V sp = heaviside<true>((vv - rp) - thp);
      r = rp + sp * (T(2) * thp);
      th = thp + sp * step;
      s[t] = sp;
      v[t] = vv;
      if constexpr (Rec) {
        RANVIER_REC(0, t + 1) = i;
        RANVIER_REC(1, t + 1) = vv;
        RANVIER_REC(2, t + 1) = th;
        RANVIER_REC(3, t + 1) = r;
        RANVIER_REC(4, t + 1) = thp;
        RANVIER_REC(5, t + 1) = rp;
      }
    }
  }

  static void backward(int64_t nt, const V* a, const V* p, const double* sc, const V* gs,
                       const V* gv, V* da, D* dp, V* rec, V* s_tmp, V* v_tmp) {
    forward<true>(nt, a, p, sc, s_tmp, v_tmp, rec);
    const T act = T(sc[0]), th0 = T(sc[1]), step = T(sc[2]);
    V gi = bc<T, RANVIER_PACK>(T(0)), gvc = gi, gth = gi, gr = gi;
    for (int64_t t = nt - 1; t >= 0; --t) {
      const V thp = RANVIER_REC(4, t + 1);
      const V x = (RANVIER_REC(1, t + 1) - RANVIER_REC(5, t + 1)) - thp;
      const V sp = heaviside<true>(x);
      // theta = thp + s step; r = rp + s (2 thp); x = v - rp - thp
      const V ds = gs[t] + gth * step + gr * (T(2) * thp);
      const V dx = surrogate(ds, x, th0);
      const V dthp = gth + gr * sp * T(2) - dx;
      const V drp = gr - dx;
      const V dv = gv[t] + gvc + dx;
      dp[3] += wide(drp) * wide(RANVIER_REC(3, t));
      gr = drp * p[3];
      dp[2] += wide(dthp) * wide(RANVIER_REC(2, t) - th0);
      gth = dthp * p[2];
      dp[1] += wide(dv) * wide(RANVIER_REC(1, t));
      gvc = dv * p[1];
      const V di = gi + dv;
      dp[0] += wide(di) * wide(RANVIER_REC(0, t));
      gi = di * p[0];
      da[t] = di * act;
    }
  }
};

// AdLIF+: w = sat(trunc(w wk) + trunc(u c) + s b), u = sat(trunc((u - s vth) uk) +
// trunc((i - w) ut)), s = u - vth > 0 (s, u of the previous step on the right).
// params: uk, ut, wk, c, b. scalars: act_scale, vth.
template <typename T, bool Q, bool Unused>
struct Adlif {
  using V = Pack<T, RANVIER_PACK>;
  using D = Wide<T, RANVIER_PACK>;
  static constexpr int P = 5;
  static constexpr int R = 3;  // u, w, s

  template <bool Rec>
  static void forward(int64_t nt, const V* a, const V* p, const double* sc, V* s, V* v, V* rec) {
    const T act = T(sc[0]), vth = T(sc[1]);
    V u = bc<T, RANVIER_PACK>(T(0)), w = u, sp = u;
    if constexpr (Rec) {
      for (int k = 0; k < R; ++k) RANVIER_REC(k, 0) = bc<T, RANVIER_PACK>(T(0));
    }
    for (int64_t t = 0; t < nt; ++t) {
      const V i = a[t] * act;
      w = sat_q<Q>((trunc_q<Q>(w * p[2]) + trunc_q<Q>(u * p[3])) + sp * p[4]);
      u = sat_q<Q>(trunc_q<Q>((u - sp * vth) * p[0]) + trunc_q<Q>((i - w) * p[1]));
      sp = heaviside<false>(u - vth);
      s[t] = sp;
      v[t] = u;
      if constexpr (Rec) {
        RANVIER_REC(0, t + 1) = u;
        RANVIER_REC(1, t + 1) = w;
        RANVIER_REC(2, t + 1) = sp;
      }
    }
  }

  static void backward(int64_t nt, const V* a, const V* p, const double* sc, const V* gs,
                       const V* gv, V* da, D* dp, V* rec, V* s_tmp, V* v_tmp) {
    forward<true>(nt, a, p, sc, s_tmp, v_tmp, rec);
    const T act = T(sc[0]), vth = T(sc[1]);
    V gu = bc<T, RANVIER_PACK>(T(0)), gw = gu, gsc = gu;
    for (int64_t t = nt - 1; t >= 0; --t) {
      const V u_prev = RANVIER_REC(0, t), w_prev = RANVIER_REC(1, t);
      const V s_prev = RANVIER_REC(2, t);
      const V du = gv[t] + gu + surrogate(gs[t] + gsc, RANVIER_REC(0, t + 1) - vth, vth);
      const V i = a[t] * act;
      // u = (u_prev - s_prev vth) uk + (i - w) ut
      dp[0] += wide(du) * wide(u_prev - s_prev * vth);
      dp[1] += wide(du) * wide(i - RANVIER_REC(1, t + 1));
      const V du_keep = du * p[0];
      const V di = du * p[1];
      const V dw = gw - di;
      // w = w_prev wk + u_prev c + s_prev b
      dp[2] += wide(dw) * wide(w_prev);
      dp[3] += wide(dw) * wide(u_prev);
      dp[4] += wide(dw) * wide(s_prev);
      gw = dw * p[2];
      gu = du_keep + dw * p[3];
      gsc = dw * p[4] - du_keep * vth;
      da[t] = di * act;
    }
  }
};

#undef RANVIER_REC

}  // namespace ranvier_fused
