// Quantized matrix products for tinylm's int8 and int4 runs (quant_matmul.cpp, llama_decode.cpp).
//
// Weights are split along each row into groups of G values with one fp32 scale per group
// (symmetric, no zero point): int8 as GGUF's / llama2.c's Q8_0 (q in [-127, 127], w = q * s),
// int4 as GGUF's Q4_0 (an unsigned nibble u in [0, 15], w = (u - 8) * s, 32 values in 16 bytes:
// byte j holds value j in its low nibble and value j + 16 in its high one). Activations are
// quantized the same way at each product (Q8_0 over the same groups, what llama.cpp and
// llama2.c's runq.c do), so a group's dot product is exact integer arithmetic and the floats
// only enter once per group: y += dot_int(xq, wq) * xs * ws.
//
// The integer dot products run on 32 bytes at a time: VNNI's vpdpbusd where the CPU has it
// (AVX512-VNNI with VL, as on Xeon and Zen 4/5, or AVX-VNNI), else AVX2's vpmaddubsw, else plain
// C++. vpdpbusd/vpmaddubsw multiply unsigned by signed bytes: int8 takes |x| times w with x's
// sign (|x| <= 127, so two products never saturate 16 bits), int4 takes the nibble u times x
// and subtracts 8 * sum(x) afterwards.

#pragma once

#include <cstdint>
#include <vector>

#include "tinylm_simd.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace {

// An activation matrix quantized for products with one weight layout: rows of K int8 values,
// per group a scale, and (for int4) -8 times the group's sum of values: the nibbles are
// unsigned (value + 8), so each group's integer dot product starts from there.
struct QuantizedRows {
    std::vector<int8_t> q;
    std::vector<float> scale;
    std::vector<int32_t> offset;
    int64_t rows = 0, k = 0, group = 0;

    // Room for `values` activations (rows * k) in groups of at least `min_group`: quantize_rows
    // then never allocates (it may run inside an OpenMP region, where a throw would abort).
    void reserve(int64_t values, int64_t min_group) {
        q.reserve(values);
        scale.reserve(values / min_group + 1), offset.reserve(values / min_group + 1);
    }
};

// round() as C's: halves away from zero (runq.c's quantize()).
inline void quantize_rows(const float* x, int64_t rows, int64_t k, int64_t group, bool want_offset,
                          QuantizedRows* out) {
    const int64_t groups = k / group;
    out->q.resize(rows * k);
    out->scale.resize(rows * groups);
    out->offset.resize(want_offset ? rows * groups : 0);
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * k;
        int8_t* qr = out->q.data() + r * k;
        for (int64_t g = 0; g < groups; ++g) {
            float amax = 0.0f;
            for (int64_t i = 0; i < group; ++i) {
                const float a = std::fabs(xr[g * group + i]);
                amax = a > amax ? a : amax;
            }
            const float scale = amax / 127.0f;
            const float inverse = scale > 0.0f ? 1.0f / scale : 0.0f;
            int32_t sum = 0;
            for (int64_t i = 0; i < group; ++i) {
                const int8_t v = int8_t(std::round(xr[g * group + i] * inverse));
                qr[g * group + i] = v;
                sum += v;
            }
            out->scale[r * groups + g] = scale;
            if (want_offset) out->offset[r * groups + g] = -8 * sum;
        }
    }
    out->rows = rows;
    out->k = k;
    out->group = group;
}

#if defined(__AVX2__)
inline __m256i udot(__m256i acc, __m256i u, __m256i s) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpbusd_epi32(acc, u, s);
#elif defined(__AVXVNNI__)
    return _mm256_dpbusd_avx_epi32(acc, u, s);
#else
    const __m256i pairs = _mm256_maddubs_epi16(u, s);
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
#endif
}

inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif

// One output: row n of an int8 weight [N, K] against quantized activation row xq, `groups`
// groups of `group` values. CHUNKS > 0: the group is CHUNKS * 32 values, known when compiling
// (32 and 64, the usual sizes, unroll fully); 0: any multiple of 32.
template <int CHUNKS>
inline float dot_q8(const int8_t* w, const float* ws, const int8_t* x, const float* xs,
                    int64_t groups, int64_t group) {
#if defined(__AVX2__)
    if (CHUNKS > 0 || group % 32 == 0) {
        const int64_t chunks = CHUNKS > 0 ? CHUNKS : group / 32;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        int64_t g = 0;
        auto one = [&](int64_t gg) {
            __m256i part = _mm256_setzero_si256();
            for (int64_t c = 0; c < chunks; ++c) {
                const int64_t i = (gg * chunks + c) * 32;
                const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
                const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i));
                part = udot(part, _mm256_sign_epi8(xv, xv), _mm256_sign_epi8(wv, xv));
            }
            return _mm256_cvtepi32_ps(part);
        };
        for (; g + 2 <= groups; g += 2) {
            acc0 = _mm256_fmadd_ps(one(g), _mm256_set1_ps(ws[g] * xs[g]), acc0);
            acc1 = _mm256_fmadd_ps(one(g + 1), _mm256_set1_ps(ws[g + 1] * xs[g + 1]), acc1);
        }
        if (g < groups) acc0 = _mm256_fmadd_ps(one(g), _mm256_set1_ps(ws[g] * xs[g]), acc0);
        return hsum8(_mm256_add_ps(acc0, acc1));
    }
#endif
    float y = 0.0f;
    for (int64_t g = 0; g < groups; ++g) {
        int32_t part = 0;
        for (int64_t i = g * group; i < (g + 1) * group; ++i) part += int32_t(x[i]) * int32_t(w[i]);
        y += float(part) * (ws[g] * xs[g]);
    }
    return y;
}

// One output: row n of an int4 weight (K / 2 bytes, Q4_0 blocks of 32) against xq.
template <int CHUNKS>
inline float dot_q4(const uint8_t* w, const float* ws, const int8_t* x, const float* xs,
                    const int32_t* xoffset, int64_t groups, int64_t group) {
#if defined(__AVX2__)
    const int64_t chunks = CHUNKS > 0 ? CHUNKS : group / 32;
    const __m256i low = _mm256_set1_epi8(0x0F);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    auto one = [&](int64_t gg) {
        __m256i part = _mm256_zextsi128_si256(_mm_cvtsi32_si128(xoffset[gg]));
        for (int64_t c = 0; c < chunks; ++c) {
            const int64_t i = (gg * chunks + c) * 32;
            const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i / 2));
            const __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
            const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
            part = udot(part, _mm256_and_si256(both, low), xv);
        }
        return _mm256_cvtepi32_ps(part);
    };
    int64_t g = 0;
    for (; g + 2 <= groups; g += 2) {
        acc0 = _mm256_fmadd_ps(one(g), _mm256_set1_ps(ws[g] * xs[g]), acc0);
        acc1 = _mm256_fmadd_ps(one(g + 1), _mm256_set1_ps(ws[g + 1] * xs[g + 1]), acc1);
    }
    if (g < groups) acc0 = _mm256_fmadd_ps(one(g), _mm256_set1_ps(ws[g] * xs[g]), acc0);
    return hsum8(_mm256_add_ps(acc0, acc1));
#else
    float y = 0.0f;
    for (int64_t g = 0; g < groups; ++g) {
        int32_t part = xoffset[g];
        for (int64_t i = g * group; i < (g + 1) * group; i += 32) {
            const uint8_t* block = w + i / 2;
            for (int j = 0; j < 16; ++j) {
                part += int32_t(block[j] & 0x0F) * int32_t(x[i + j]);
                part += int32_t(block[j] >> 4) * int32_t(x[i + 16 + j]);
            }
        }
        y += float(part) * (ws[g] * xs[g]);
    }
    return y;
#endif
}

// The lanes' sum in a tree of shuffles (tinylm_simd.h's hsum adds them one by one, which a
// dot product per cached key of attention paid for at every step).
inline float hsum_tree(vf x) {
#if defined(__AVX512F__)
    return _mm512_reduce_add_ps(reinterpret_cast<__m512&>(x));
#elif defined(__AVX2__)
    return hsum8(reinterpret_cast<__m256&>(x));
#else
    return hsum(x);
#endif
}

inline float dot_f32(const float* w, const float* x, int64_t k) {
    vf acc = splat(0.0f);
    int64_t i = 0;
    for (; i + W <= k; i += W) {
        vf wv, xv;
        std::memcpy(&wv, w + i, sizeof wv);
        std::memcpy(&xv, x + i, sizeof xv);
        acc += wv * xv;
    }
    float y = hsum_tree(acc);
    for (; i < k; ++i) y += w[i] * x[i];
    return y;
}

// A weight as the kernels see it: bits 8 or 4 (data int8 / packed nibbles, scales [N, K/G]),
// or 32 (fp32 [N, K], scales unused: a layer kept in float).
struct Weight {
    const void* data;
    const float* scale;
    int64_t bits, n, k, group;
};

// Threads take blocks of rows from a shared counter, a few blocks per thread: more, smaller
// blocks measured slower (the counter's cache line travels between cores at every block), and
// one block per thread leaves a slowed-down thread (the host's doing) finishing last.
constexpr int64_t BLOCKS_PER_THREAD = 4;
constexpr int64_t MIN_ROWS_PER_BLOCK = 16;

template <int CHUNKS>
inline float dot_row(const Weight& w, const QuantizedRows& xq, const float* xf, int64_t n,
                     int64_t r, int64_t groups) {
    if (w.bits == 8) {
        return dot_q8<CHUNKS>(static_cast<const int8_t*>(w.data) + n * w.k, w.scale + n * groups,
                              xq.q.data() + r * w.k, xq.scale.data() + r * groups, groups,
                              w.group);
    }
    if (w.bits == 4) {
        const uint8_t* row = static_cast<const uint8_t*>(w.data) + n * (w.k / 2);
        const float* ws = w.scale + n * groups;
        return dot_q4<CHUNKS>(row, ws, xq.q.data() + r * w.k, xq.scale.data() + r * groups,
                              xq.offset.data() + r * groups, groups, w.group);
    }
    return dot_f32(static_cast<const float*>(w.data) + n * w.k, xf + r * w.k, w.k);
}

// Outputs [n0, n1) of every row of y = x @ w^T.
template <int CHUNKS>
inline void matmul_range_for(const Weight& w, const QuantizedRows& xq, const float* xf, float* y,
                             int64_t m, int64_t n0, int64_t n1) {
    const int64_t groups = w.bits == 32 ? 0 : w.k / w.group;
    for (int64_t n = n0; n < n1; ++n) {
        for (int64_t r = 0; r < m; ++r) y[r * w.n + n] = dot_row<CHUNKS>(w, xq, xf, n, r, groups);
    }
}

inline void matmul_range(const Weight& w, const QuantizedRows& xq, const float* xf, float* y,
                         int64_t m, int64_t n0, int64_t n1) {
    if (w.bits != 32 && w.group == 32) return matmul_range_for<1>(w, xq, xf, y, m, n0, n1);
    if (w.bits != 32 && w.group == 64) return matmul_range_for<2>(w, xq, xf, y, m, n0, n1);
    matmul_range_for<0>(w, xq, xf, y, m, n0, n1);
}

// y [M, N] = x [M, K] @ w^T, x already quantized for w's groups (or, for an fp32 weight, raw
// in `xf`). Each row of weights stays in L1 while every activation row meets it (one pass over
// the weights for a whole batch).
inline int matmul(const Weight& w, const QuantizedRows& xq, const float* xf, float* y,
                  int64_t m, int64_t threads) {
    int64_t rows = (w.n + threads * BLOCKS_PER_THREAD - 1) / (threads * BLOCKS_PER_THREAD);
    rows = (rows + MIN_ROWS_PER_BLOCK - 1) / MIN_ROWS_PER_BLOCK * MIN_ROWS_PER_BLOCK;
    const int64_t tasks = (w.n + rows - 1) / rows;
    return run_tasks(tasks < threads ? tasks : threads, [&](int64_t* next_task) {
        for (int64_t task = take_task(next_task); task < tasks; task = take_task(next_task)) {
            const int64_t end = (task + 1) * rows < w.n ? (task + 1) * rows : w.n;
            matmul_range(w, xq, xf, y, m, task * rows, end);
        }
        return 0;
    });
}

}  // namespace
