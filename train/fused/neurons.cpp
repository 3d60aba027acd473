// Fused time loops of the training neurons (train/neurons.py): CUBA, ALIF and AdLIF+, float
// and quantized, forward and backward, each one call over the whole (B, n, T) input.
//
// Why this form: the torch reference runs T steps of ~10 elementwise ops each (one kernel
// launch and one saved tensor per op per step). Here one loop runs every neuron's whole
// sequence (kernels.h): neurons are taken a tile of SIMD lanes at a time (several hardware
// vectors, independent chains, so the latency-bound recurrence keeps the units busy), tiles
// are split over torch's intra-op threads (at::parallel_for), and the backward recomputes the
// forward states of its tile into a small local buffer instead of saving them: the only
// tensors kept for the backward are the input and the parameters.
//
// Exactness: every op is the reference's op, in the same order and the same dtype, and the
// file is compiled with -ffp-contract=off (no fused multiply-add), so the float forward is the
// reference's bit for bit. Quantized, states are integers held in float64 and every op is
// exact, as in the reference: trunc of the 12-bit decay products (zero results are +0, as
// trunc_ste's x + (trunc(x) - x)), one asymmetric fold of 2**24 for the current, saturation at
// +-(2**23 - 1). The backward is the reference's autograd graph written out: straight-through
// rounding, the fast-sigmoid surrogate 1 / (1 + 5 |x / scale|)**2 / scale of _Spike, the
// parameter gradients summed per (batch, neuron) in double (the caller sums over the batch).
//
// Ops (namespace ranvier_fused, loaded by train/fused/__init__.py):
//   <kind>_forward(a, params, scalars, quantized, spiking) -> (spikes, voltage)
//   <kind>_backward(a, params, grad_s, grad_v, scalars, quantized, spiking)
//       -> (grad_a, grad_params (P, B * n) float64)
// kind: cuba (params ik, vk; scalars act_scale, vth), alif (ck, vk, tk, rk; act_scale,
// theta0, step), adlif (uk, ut, wk, coupling, b; act_scale, vth); params (P, n) in a's dtype.

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <vector>

#include "kernels.h"

namespace {

using namespace ranvier_fused;

// --- drivers: tiles of Pack lanes (flattened batch x neuron rows), over torch's threads ------

void check_inputs(const at::Tensor& a, const at::Tensor& params, int64_t P) {
  TORCH_CHECK(a.device().is_cpu() && params.device().is_cpu(), "fused neurons: CPU tensors only");
  TORCH_CHECK(a.dim() == 3 && a.is_contiguous(), "fused neurons: a must be contiguous (B, n, T)");
  TORCH_CHECK(params.dim() == 2 && params.size(0) == P && params.size(1) == a.size(1) &&
                  params.is_contiguous() && params.scalar_type() == a.scalar_type(),
              "fused neurons: params must be contiguous (", P, ", n) of a's dtype");
}

// Rows [row0, row0 + nl) of a (rows, nt) array into tile[t] (lane l = row row0 + l); absent
// lanes are 0.
template <typename V, typename T>
void load_tile(const T* src, int64_t row0, int nl, int64_t nt, V* tile) {
  T* out = reinterpret_cast<T*>(tile);
  for (int l = 0; l < V::N; ++l) {
    const T* row = src + (row0 + l) * nt;
    for (int64_t t = 0; t < nt; ++t) out[t * V::N + l] = l < nl ? row[t] : T(0);
  }
}

template <typename V, typename T>
void store_tile(const V* tile, int64_t row0, int nl, int64_t nt, T* dst) {
  const T* in = reinterpret_cast<const T*>(tile);
  for (int l = 0; l < nl; ++l) {
    T* row = dst + (row0 + l) * nt;
    for (int64_t t = 0; t < nt; ++t) row[t] = in[t * V::N + l];
  }
}

// Parameter k of each lane's neuron (row r is neuron r % n).
template <typename V, typename T>
void load_params(const T* params, int64_t P, int64_t n, int64_t row0, int nl, V* p) {
  for (int64_t k = 0; k < P; ++k) {
    T* out = reinterpret_cast<T*>(p + k);
    for (int l = 0; l < V::N; ++l) out[l] = l < nl ? params[k * n + (row0 + l) % n] : T(0);
  }
}

// Tiles per task: about 16k neuron steps, so small layers stay on one thread.
template <typename V>
int64_t grain(int64_t nt) {
  return std::max<int64_t>(1, 16384 / (V::N * std::max<int64_t>(nt, 1)));
}

template <template <typename, bool, bool> class K, typename T, bool Q, bool S>
std::tuple<at::Tensor, at::Tensor> forward_impl(const at::Tensor& a, const at::Tensor& params,
                                                c10::ArrayRef<double> sc) {
  using N = K<T, Q, S>;
  using V = typename N::V;
  const int64_t rows = a.size(0) * a.size(1), n = a.size(1), nt = a.size(2);
  at::Tensor s = at::empty(a.sizes(), a.options());
  at::Tensor v = at::empty(a.sizes(), a.options());
  const T* ap = a.data_ptr<T>();
  const T* pp = params.data_ptr<T>();
  T* sp = s.data_ptr<T>();
  T* vp = v.data_ptr<T>();
  const double* scp = sc.data();
  const int64_t tiles = (rows + V::N - 1) / V::N;
  at::parallel_for(0, tiles, grain<V>(nt), [&](int64_t begin, int64_t end) {
    std::vector<V> buf(3 * nt);
    V* ta = buf.data();
    V* ts = ta + nt;
    V* tv = ts + nt;
    V p[N::P];
    for (int64_t tile = begin; tile < end; ++tile) {
      const int64_t row0 = tile * V::N;
      const int nl = int(std::min<int64_t>(V::N, rows - row0));
      load_params(pp, N::P, n, row0, nl, p);
      load_tile(ap, row0, nl, nt, ta);
      N::template forward<false>(nt, ta, p, scp, ts, tv, nullptr);
      store_tile(ts, row0, nl, nt, sp);
      store_tile(tv, row0, nl, nt, vp);
    }
  });
  return {s, v};
}

template <template <typename, bool, bool> class K, typename T, bool Q, bool S>
std::tuple<at::Tensor, at::Tensor> backward_impl(const at::Tensor& a, const at::Tensor& params,
                                                 const at::Tensor& gs, const at::Tensor& gv,
                                                 c10::ArrayRef<double> sc) {
  using N = K<T, Q, S>;
  using V = typename N::V;
  using D = typename N::D;
  const int64_t rows = a.size(0) * a.size(1), n = a.size(1), nt = a.size(2);
  at::Tensor da = at::empty(a.sizes(), a.options());
  at::Tensor dparams = at::empty({N::P, rows}, a.options().dtype(at::kDouble));
  const T* ap = a.data_ptr<T>();
  const T* pp = params.data_ptr<T>();
  const T* gsp = gs.data_ptr<T>();
  const T* gvp = gv.data_ptr<T>();
  T* dap = da.data_ptr<T>();
  double* dpp = dparams.data_ptr<double>();
  const double* scp = sc.data();
  const int64_t tiles = (rows + V::N - 1) / V::N;
  at::parallel_for(0, tiles, grain<V>(nt), [&](int64_t begin, int64_t end) {
    std::vector<V> buf(6 * nt + N::R * (nt + 1));
    V* ta = buf.data();
    V* tgs = ta + nt;
    V* tgv = tgs + nt;
    V* tda = tgv + nt;
    V* ts = tda + nt;
    V* tv = ts + nt;
    V* rec = tv + nt;
    V p[N::P];
    D dp[N::P];
    for (int64_t tile = begin; tile < end; ++tile) {
      const int64_t row0 = tile * V::N;
      const int nl = int(std::min<int64_t>(V::N, rows - row0));
      load_params(pp, N::P, n, row0, nl, p);
      load_tile(ap, row0, nl, nt, ta);
      load_tile(gsp, row0, nl, nt, tgs);
      load_tile(gvp, row0, nl, nt, tgv);
      for (int k = 0; k < N::P; ++k) dp[k] = bc<double, D::Count>(0.0);
      N::backward(nt, ta, p, scp, tgs, tgv, tda, dp, rec, ts, tv);
      store_tile(tda, row0, nl, nt, dap);
      for (int k = 0; k < N::P; ++k) {
        const double* d = reinterpret_cast<const double*>(dp + k);
        for (int l = 0; l < nl; ++l) dpp[k * rows + row0 + l] = d[l];
      }
    }
  });
  return {da, dparams};
}

// Dispatch on dtype, quantized and spiking.
template <template <typename, bool, bool> class K>
std::tuple<at::Tensor, at::Tensor> forward_op(const at::Tensor& a, const at::Tensor& params,
                                              c10::ArrayRef<double> sc, bool quantized,
                                              bool spiking) {
  check_inputs(a, params, K<float, false, false>::P);
  const bool dbl = a.scalar_type() == at::kDouble;
  TORCH_CHECK(dbl || a.scalar_type() == at::kFloat, "fused neurons: float32 or float64 only");
#define RANVIER_FWD(T, Q, S) \
  if (std::is_same_v<T, double> == dbl && quantized == Q && spiking == S) \
    return forward_impl<K, T, Q, S>(a, params, sc);
  RANVIER_FWD(float, false, false)
  RANVIER_FWD(float, false, true)
  RANVIER_FWD(float, true, false)
  RANVIER_FWD(float, true, true)
  RANVIER_FWD(double, false, false)
  RANVIER_FWD(double, false, true)
  RANVIER_FWD(double, true, false)
  RANVIER_FWD(double, true, true)
#undef RANVIER_FWD
  TORCH_CHECK(false, "unreachable");
}

template <template <typename, bool, bool> class K>
std::tuple<at::Tensor, at::Tensor> backward_op(const at::Tensor& a, const at::Tensor& params,
                                               const at::Tensor& gs, const at::Tensor& gv,
                                               c10::ArrayRef<double> sc, bool quantized,
                                               bool spiking) {
  check_inputs(a, params, K<float, false, false>::P);
  TORCH_CHECK(gs.sizes() == a.sizes() && gv.sizes() == a.sizes() && gs.is_contiguous() &&
                  gv.is_contiguous() && gs.scalar_type() == a.scalar_type() &&
                  gv.scalar_type() == a.scalar_type(),
              "fused neurons: output gradients must be contiguous, a's shape and dtype");
  const bool dbl = a.scalar_type() == at::kDouble;
  TORCH_CHECK(dbl || a.scalar_type() == at::kFloat, "fused neurons: float32 or float64 only");
#define RANVIER_BWD(T, Q, S) \
  if (std::is_same_v<T, double> == dbl && quantized == Q && spiking == S) \
    return backward_impl<K, T, Q, S>(a, params, gs, gv, sc);
  RANVIER_BWD(float, false, false)
  RANVIER_BWD(float, false, true)
  RANVIER_BWD(float, true, false)
  RANVIER_BWD(float, true, true)
  RANVIER_BWD(double, false, false)
  RANVIER_BWD(double, false, true)
  RANVIER_BWD(double, true, false)
  RANVIER_BWD(double, true, true)
#undef RANVIER_BWD
  TORCH_CHECK(false, "unreachable");
}

}  // namespace

TORCH_LIBRARY(ranvier_fused, m) {
  m.def("cuba_forward(Tensor a, Tensor params, float[] scalars, bool quantized, bool spiking)"
        " -> (Tensor, Tensor)");
  m.def("cuba_backward(Tensor a, Tensor params, Tensor grad_s, Tensor grad_v, float[] scalars,"
        " bool quantized, bool spiking) -> (Tensor, Tensor)");
  m.def("alif_forward(Tensor a, Tensor params, float[] scalars, bool quantized, bool spiking)"
        " -> (Tensor, Tensor)");
  m.def("alif_backward(Tensor a, Tensor params, Tensor grad_s, Tensor grad_v, float[] scalars,"
        " bool quantized, bool spiking) -> (Tensor, Tensor)");
  m.def("adlif_forward(Tensor a, Tensor params, float[] scalars, bool quantized, bool spiking)"
        " -> (Tensor, Tensor)");
  m.def("adlif_backward(Tensor a, Tensor params, Tensor grad_s, Tensor grad_v, float[] scalars,"
        " bool quantized, bool spiking) -> (Tensor, Tensor)");
  m.def("lanes() -> int");
}

TORCH_LIBRARY_IMPL(ranvier_fused, CPU, m) {
  m.impl("cuba_forward", &forward_op<Cuba>);
  m.impl("cuba_backward", &backward_op<Cuba>);
  m.impl("alif_forward", &forward_op<Alif>);
  m.impl("alif_backward", &backward_op<Alif>);
  m.impl("adlif_forward", &forward_op<Adlif>);
  m.impl("adlif_backward", &backward_op<Adlif>);
}

TORCH_LIBRARY_IMPL(ranvier_fused, CompositeExplicitAutograd, m) {
  m.impl("lanes", []() -> int64_t { return Pack<float, RANVIER_PACK>::N; });
}
