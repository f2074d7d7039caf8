// Row-fused CPU loops of the two-view RPC statistics (rpc_plugins/_fused_chunks.py, same math).
//
// Tsai et al., ICLR 2021 (arXiv 2103.11275): RPC needs the scores <x_i, x_j> only through six
// statistics of the anchors [u; v] (rpc_plugins/fused_statistics.py). The eager kernels spend most
// of their time in elementwise passes over each chunk and in per-op overhead; here every input row
// is read from memory once per pass and everything elementwise happens while it is in L1, leaving
// the chunk products to torch's BLAS. Built on demand by rpc_plugins.cpu_kernel (JIT, cached).
//
// Contract (checked in Python): float32 or float64, contiguous (N, d) inputs; each call handles rows
// [start, stop) in chunks of `rows` and runs single-threaded (the caller runs one call per thread).
#include <torch/extension.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace {

constexpr double kEps = 1e-12;  // F.normalize's default

// u_i = a_i / max(|a_i|, eps) (or a_i), v_i likewise, <u_i, v_i>; u, v rows have stride ld.
template <typename T>
void normalise_rows(const T* a, const T* b, T* u, T* v, T* norm_a, T* norm_b, T* dots, int64_t r,
                    int64_t d, int64_t ld, bool normalize) {
  for (int64_t i = 0; i < r; ++i) {
    const T* ai = a + i * d;
    const T* bi = b + i * d;
    T sa = 0, sb = 0;
#pragma omp simd reduction(+ : sa, sb)
    for (int64_t k = 0; k < d; ++k) {
      sa += ai[k] * ai[k];
      sb += bi[k] * bi[k];
    }
    norm_a[i] = std::sqrt(sa);
    norm_b[i] = std::sqrt(sb);
    const T sa_inv = normalize ? T(1) / std::max(norm_a[i], T(kEps)) : T(1);
    const T sb_inv = normalize ? T(1) / std::max(norm_b[i], T(kEps)) : T(1);
    T* ui = u + i * ld;
    T* vi = v + i * ld;
    T p = 0;
#pragma omp simd reduction(+ : p)
    for (int64_t k = 0; k < d; ++k) {
      const T x = ai[k] * sa_inv, y = bi[k] * sb_inv;
      ui[k] = x;
      vi[k] = y;
      p += x * y;
    }
    dots[i] = p;
  }
}

// out_i = [s2_i x_i | s_i] (row stride d + 1)
template <typename T>
void scale_rows(const T* x, const T* s2, const T* s, T* out, int64_t r, int64_t d) {
  for (int64_t i = 0; i < r; ++i) {
    const T* xi = x + i * d;
    T* oi = out + i * (d + 1);
    const T f = s2[i];
#pragma omp simd
    for (int64_t k = 0; k < d; ++k) oi[k] = xi[k] * f;
    oi[d] = s[i];
  }
}

// g_i = z_i + (c0_i - k_i <x_i, z_i>) x_i + e_i o_i  (the radial term only when normalising)
template <typename T>
void finish_rows(const T* z, const T* x, const T* o, const T* c0, const T* k, const T* e, T* g,
                 int64_t r, int64_t d, bool radial) {
  for (int64_t i = 0; i < r; ++i) {
    const T* zi = z + i * d;
    const T* xi = x + i * d;
    const T* oi = o + i * d;
    T* gi = g + i * d;
    T c = c0[i];
    if (radial) {
      T dot = 0;
#pragma omp simd reduction(+ : dot)
      for (int64_t q = 0; q < d; ++q) dot += xi[q] * zi[q];
      c -= k[i] * dot;
    }
    const T ei = e[i];
#pragma omp simd
    for (int64_t q = 0; q < d; ++q) gi[q] = zi[q] + c * xi[q] + ei * oi[q];
  }
}

}  // namespace

// Rows [start, stop): writes norm_a, norm_b, dots there and returns the float64 sum of
// [u; v | 1]^T [u; v | 1] over its chunks (Gram matrix, column sums, 2 x rows).
torch::Tensor forward_range(torch::Tensor a, torch::Tensor b, torch::Tensor norm_a, torch::Tensor norm_b,
                            torch::Tensor dots, int64_t start, int64_t stop, int64_t rows, bool normalize,
                            int64_t products_per_flush) {
  pybind11::gil_scoped_release no_gil;
  at::NoGradGuard no_grad;
  at::internal::lazy_init_num_threads();  // this thread adopts torch.set_num_threads, as Python calls do
  const int64_t d = a.size(1);
  auto buf = torch::empty({2 * rows, d + 1}, a.options());
  buf.select(1, d).fill_(1);
  auto part = torch::zeros({d + 1, d + 1}, a.options());
  auto acc = torch::zeros({d + 1, d + 1}, a.options().dtype(torch::kFloat64));
  int64_t pending = 0;
  for (int64_t s = start; s < stop; s += rows) {
    const int64_t r = std::min(rows, stop - s);
    AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "rpc_forward_rows", [&] {
      scalar_t* u = buf.data_ptr<scalar_t>();
      normalise_rows<scalar_t>(a.data_ptr<scalar_t>() + s * d, b.data_ptr<scalar_t>() + s * d, u,
                               u + r * (d + 1), norm_a.data_ptr<scalar_t>() + s,
                               norm_b.data_ptr<scalar_t>() + s, dots.data_ptr<scalar_t>() + s, r, d, d + 1,
                               normalize);
    });
    auto block = buf.narrow(0, 0, 2 * r);
    at::addmm_out(part, part, block.t(), block);
    if (++pending == products_per_flush) {  // float64 sum of a few input-dtype products
      acc.add_(part);
      part.zero_();
      pending = 0;
    }
  }
  return acc.add_(part);
}

// Rows [start, stop) of the input gradients (an empty grad tensor: that view is not wanted).
// weights = [M; g_total] (d + 1, d); per-row vectors as in _fused_chunks.backward.
void backward_range(torch::Tensor a, torch::Tensor b, torch::Tensor grad_a, torch::Tensor grad_b,
                    torch::Tensor weights, torch::Tensor s_a, torch::Tensor s2_a, torch::Tensor c0_a,
                    torch::Tensor k_a, torch::Tensor s_b, torch::Tensor s2_b, torch::Tensor c0_b,
                    torch::Tensor k_b, torch::Tensor partner, int64_t start, int64_t stop, int64_t rows,
                    bool normalize) {
  pybind11::gil_scoped_release no_gil;
  at::NoGradGuard no_grad;
  at::internal::lazy_init_num_threads();
  const int64_t d = a.size(1);
  auto buf = torch::empty({rows, d + 1}, a.options());  // [s^2 x | s]
  auto prod = torch::empty({rows, d}, a.options());     // Z = s^2 x M + s g_total
  struct View {
    torch::Tensor x, other, grad, s, s2, c0, k;
  };
  std::vector<View> views;
  if (grad_a.numel()) views.push_back({a, b, grad_a, s_a, s2_a, c0_a, k_a});
  if (grad_b.numel()) views.push_back({b, a, grad_b, s_b, s2_b, c0_b, k_b});
  for (int64_t st = start; st < stop; st += rows) {  // both views per chunk: each row read once
    const int64_t r = std::min(rows, stop - st);
    auto z = prod.narrow(0, 0, r);
    for (auto& view : views) {
      AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "rpc_backward_rows", [&] {
        const scalar_t* x = view.x.data_ptr<scalar_t>() + st * d;
        if (normalize) {
          scale_rows<scalar_t>(x, view.s2.data_ptr<scalar_t>() + st, view.s.data_ptr<scalar_t>() + st,
                               buf.data_ptr<scalar_t>(), r, d);
          at::mm_out(z, buf.narrow(0, 0, r), weights);
        } else {
          at::addmm_out(z, weights.select(0, d), view.x.narrow(0, st, r), weights.narrow(0, 0, d));
        }
        finish_rows<scalar_t>(prod.data_ptr<scalar_t>(), x, view.other.data_ptr<scalar_t>() + st * d,
                              view.c0.data_ptr<scalar_t>() + st, view.k.data_ptr<scalar_t>() + st,
                              partner.data_ptr<scalar_t>() + st, view.grad.data_ptr<scalar_t>() + st * d, r,
                              d, normalize);
      });
    }
  }
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward_range", &forward_range, "RPC statistics of rows [start, stop)");
  m.def("backward_range", &backward_range, "RPC input gradients of rows [start, stop)");
}
