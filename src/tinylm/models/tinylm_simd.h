// SIMD helpers shared by tinylm's CPU kernels (small_head_attention.cpp, cross_entropy.cpp):
// one vector of W floats, W the machine's width (16 with AVX-512, else 8), through GCC/Clang
// vector extensions, so the kernels need no intrinsics and build for whatever -march=native is.

#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace {

// The next task to take: all threads of one kernel call share the counter, so a thread that
// is slowed down (by the host, say) takes fewer tasks instead of finishing last.
inline int64_t take_task(int64_t* next_task) {
    return __atomic_fetch_add(next_task, 1, __ATOMIC_RELAXED);
}

// Runs work(&next_task) on `threads` threads of an OpenMP team and returns the first nonzero
// code any of them returned. The library is built with -fopenmp and so shares PyTorch's
// OpenMP runtime (libgomp.so.1 is loaded once per process): its already running, spinning
// threads take the work, instead of threads of our own competing with them for the cores.
// (With a pool of our own, the cross-entropy kernel ran 2x slower after any PyTorch op.)
template <typename Work>
int run_tasks(int64_t threads, Work work) {
    int64_t next_task = 0;
    int code = 0;
#pragma omp parallel num_threads(int(threads))
    {
        const int mine = work(&next_task);
        if (mine != 0) __atomic_store_n(&code, mine, __ATOMIC_RELAXED);
    }
    return code;
}

#if defined(__AVX512F__)
constexpr int W = 16;
#else
constexpr int W = 8;
#endif

typedef float vf __attribute__((vector_size(W * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(W * sizeof(int32_t))));

inline vf splat(float x) { return vf{} + x; }

inline vf load(const float* p) { return *reinterpret_cast<const vf*>(p); }  // 64-B aligned
inline void store(float* p, vf x) { *reinterpret_cast<vf*>(p) = x; }

inline float hsum(vf x) {
    float s = 0.0f;
    for (int i = 0; i < W; ++i) s += x[i];
    return s;
}

inline float hmax(vf x) {
    float m = x[0];
    for (int i = 1; i < W; ++i) m = x[i] > m ? x[i] : m;
    return m;
}

inline vf vmax(vf a, vf b) { return a > b ? a : b; }

// exp(x) for every lane (Cephes expf: range reduction by ln 2, degree-7 polynomial, 2^n in
// the exponent bits); about 2 ulp. Inputs are clamped to [-87, 88], where 2^n stays normal.
inline vf vexp(vf x) {
    x = vmax(x, splat(-87.0f));
    x = x < 88.0f ? x : splat(88.0f);
    const vf magic = splat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
    vf t = x * 1.44269504088896341f + magic;
    vf n = t - magic;
    vi ni = (vi)t - (vi)magic;
    vf r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    vf p = splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    vi bits = (ni + 127) << 23;
    return p * (vf)bits;
}

}  // namespace
