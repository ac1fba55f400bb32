// Softmax cross-entropy of logit rows and its gradient, in place, for the chunked output layer
// (fused_loss.py): each row of V logits becomes (softmax - one_hot(target)) * row_scale, and
// row_loss gets log-sum-exp - logit[target]. Also the fp32 += bf16 sum of the weight's
// gradient over chunks.
//
// Why a kernel of our own: in PyTorch this is logsumexp, a subtraction, exp, a scatter, a
// multiply and a dtype conversion, each a pass over a [rows, V] block that does not fit in
// cache (8M logits per chunk at V = 32000): 16 ms of memory traffic per chunk against 22 ms
// for its three matmuls. Here one row (V = 32000: 64 KB in bf16, 128 KB of fp32 scratch) stays
// in L2 for its three passes: the maximum, exp and its sum, then the scaled gradient.
//
// Logits are bf16 (uint16 bit patterns, the autocast dtype) or fp32; the arithmetic is fp32.
// Threads take rows one at a time (run_tasks).

#include "tinylm_simd.h"

namespace {

typedef uint32_t vu __attribute__((vector_size(W * sizeof(uint32_t))));
typedef uint16_t vh __attribute__((vector_size(W * sizeof(uint16_t))));

inline float to_float(float x) { return x; }
inline float to_float(uint16_t h) {
    uint32_t u = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

inline void from_float(float x, float* out) { *out = x; }
// Round to nearest even, as torch's float -> bfloat16; a NaN stays a NaN (quieted first, so
// the rounding cannot carry it into an infinity).
inline void from_float(float x, uint16_t* out) {
    uint32_t u;
    std::memcpy(&u, &x, sizeof u);
    if (x != x) u |= 0x400000u;
    *out = uint16_t((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

inline vf load_any(const float* p) {
    vf x;
    std::memcpy(&x, p, sizeof x);
    return x;
}
inline vf load_any(const uint16_t* p) {
    vh h;
    std::memcpy(&h, p, sizeof h);
    return (vf)(__builtin_convertvector(h, vu) << 16);
}

inline void store_any(float* p, vf x) { std::memcpy(p, &x, sizeof x); }
inline void store_any(uint16_t* p, vf x) {
    vu u = (vu)x;
    u = x != x ? (u | 0x400000u) : u;
    u = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    vh h = __builtin_convertvector(u, vh);
    std::memcpy(p, &h, sizeof h);
}

template <typename T>
void one_row(T* x, int64_t V, int64_t target, float scale, float* loss, float* e) {
    const int64_t body = V / W * W;
    // Pass 1: the maximum; x - x is 0 for every finite logit, so `bad` flags a NaN or an
    // infinity (which the clamped exp below would otherwise turn into a finite loss).
    vf vm = splat(-INFINITY), bad = splat(0.0f);
    for (int64_t j = 0; j < body; j += W) {
        const vf v = load_any(x + j);
        vm = vmax(vm, v);
        bad += v - v;
    }
    float m = body ? hmax(vm) : -INFINITY, flag = body ? hsum(bad) : 0.0f;
    for (int64_t j = body; j < V; ++j) {
        const float v = to_float(x[j]);
        m = v > m ? v : m;
        flag += v - v;
    }
    if (flag != 0.0f) {  // NaN: the loss and every gradient say so
        *loss = NAN;
        for (int64_t j = 0; j < V; ++j) from_float(NAN, x + j);
        return;
    }
    // Pass 2: e = exp(x - m) and its sum.
    vf vs = splat(0.0f);
    for (int64_t j = 0; j < body; j += W) {
        const vf p = vexp(load_any(x + j) - m);
        store_any(e + j, p);
        vs += p;
    }
    float sum = hsum(vs);
    for (int64_t j = body; j < V; ++j) {
        e[j] = vexp(splat(to_float(x[j]) - m))[0];
        sum += e[j];
    }
    *loss = m + std::log(sum) - to_float(x[target]);
    // Pass 3: the gradient, scaled; the target's one-hot is taken off in fp32, before rounding.
    const float c = scale / sum;
    for (int64_t j = 0; j < body; j += W) store_any(x + j, load_any(e + j) * c);
    for (int64_t j = body; j < V; ++j) from_float(e[j] * c, x + j);
    from_float(e[target] * c - scale, x + target);
}

template <typename T>
int rows(T* logits, const int64_t* targets, const float* row_scale, float* row_loss, int64_t V,
         int64_t* next_row, int64_t n_rows) {
    float* e = static_cast<float*>(std::malloc(sizeof(float) * V));
    if (!e) return -1;
    for (int64_t r; (r = take_task(next_row)) < n_rows;) {
        if (targets[r] < 0 || targets[r] >= V) {
            std::free(e);
            return -3;
        }
        one_row(logits + r * V, V, targets[r], row_scale[r], row_loss + r, e);
    }
    std::free(e);
    return 0;
}

// dst += src over [begin, end) (one task of tinylm_add_bf16_into_f32).
void add_block(float* dst, const uint16_t* src, int64_t begin, int64_t end) {
    int64_t j = begin;
    for (; j + W <= end; j += W) store_any(dst + j, load_any(dst + j) + load_any(src + j));
    for (; j < end; ++j) dst[j] += to_float(src[j]);
}

}  // namespace

extern "C" {

// Returns 0, -1 when out of memory, -3 for a target outside [0, V).
int tinylm_cross_entropy_rows_bf16(uint16_t* logits, const int64_t* targets,
                                   const float* row_scale, float* row_loss, int64_t V,
                                   int64_t n_rows, int64_t threads) {
    return run_tasks(threads, [&](int64_t* next) {
        return rows(logits, targets, row_scale, row_loss, V, next, n_rows);
    });
}

int tinylm_cross_entropy_rows_f32(float* logits, const int64_t* targets, const float* row_scale,
                                  float* row_loss, int64_t V, int64_t n_rows, int64_t threads) {
    return run_tasks(threads, [&](int64_t* next) {
        return rows(logits, targets, row_scale, row_loss, V, next, n_rows);
    });
}

// dst (fp32) += src (bf16), n numbers: each chunk's bf16 product for the weight's gradient
// goes into its fp32 sum without the fp32 copy of the product that PyTorch's mixed-dtype add_
// makes (35 MB per chunk at 32000 x 288, fresh pages each time).
int tinylm_add_bf16_into_f32(float* dst, const uint16_t* src, int64_t n, int64_t threads) {
    constexpr int64_t block = 1 << 16;
    const int64_t tasks = (n + block - 1) / block;
    return run_tasks(threads, [&](int64_t* next) {
        for (int64_t t; (t = take_task(next)) < tasks;)
            add_block(dst, src, t * block, t * block + block < n ? t * block + block : n);
        return 0;
    });
}

}  // extern "C"
