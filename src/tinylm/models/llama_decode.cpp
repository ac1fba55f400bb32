// One decoding step of a quantized Llama in one call: B tokens at position `pos` (every sample
// of a batch is at the same position) -> logits [B, V], keys and values written into the KV
// cache. It is models/llama.py's forward for one token, in the same order of operations
// (RMSNorm in fp32 then times its weight, rotate-half RoPE from the model's own tables,
// grouped-query attention over the cache, SwiGLU), with quant_matmul.h's products.
//
// Why in C++: a 15M model's step is 43 small matrix products and about 200 other operations;
// PyTorch spends ~2 ms per token dispatching them (eager) and ~1 ms compiled, against about
// 0.4 ms of arithmetic. llama2.c's run.c is one C function per token; so is this.
//
// Weights come as a table of pointers (see quant/native_decode.py for its order); the KV cache
// is the KVCache of llama.py: per layer k and v, fp32 [B, n_kv_heads, max_len, head_dim].

#include "quant_matmul.h"

#include <omp.h>

#include <vector>

namespace {

struct Dims {
    int64_t dim, hidden, layers, heads, kv_heads, head_dim, vocab, bits;
    int64_t group;    // 0: per channel
    int64_t max_len;  // the KV cache's length
    int64_t embed_bits;  // 32: fp32 embedding table, else quantized like the weights
    int64_t head_bits;   // the output layer's
};

inline void rmsnorm(const float* x, const float* weight, float* out, int64_t n, float eps) {
    float ss = 0.0f;
    for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
    const float r = 1.0f / std::sqrt(ss / float(n) + eps);
    for (int64_t i = 0; i < n; ++i) out[i] = weight[i] * (x[i] * r);
}

inline void rope(float* v, const float* cos, const float* sin, int64_t head_dim) {
    const int64_t half = head_dim / 2;
    for (int64_t i = 0; i < half; ++i) {
        const float x1 = v[i], x2 = v[i + half];
        v[i] = x1 * cos[i] - x2 * sin[i];
        v[i + half] = x2 * cos[i + half] + x1 * sin[i + half];
    }
}

inline void embed_row(const Dims& d, const void* data, const float* scale, int64_t token,
                      float* out) {
    if (d.embed_bits == 32) {
        std::memcpy(out, static_cast<const float*>(data) + token * d.dim, d.dim * sizeof(float));
        return;
    }
    const int64_t group = d.group > 0 ? d.group : d.dim;
    const float* s = scale + token * (d.dim / group);
    if (d.embed_bits == 8) {
        const int8_t* q = static_cast<const int8_t*>(data) + token * d.dim;
        for (int64_t i = 0; i < d.dim; ++i) out[i] = float(q[i]) * s[i / group];
        return;
    }
    const uint8_t* q = static_cast<const uint8_t*>(data) + token * (d.dim / 2);
    for (int64_t i = 0; i < d.dim; i += 32) {
        for (int j = 0; j < 16; ++j) {
            const uint8_t b = q[i / 2 + j];
            out[i + j] = float(int(b & 0x0F) - 8) * s[(i + j) / group];
            out[i + 16 + j] = float(int(b >> 4) - 8) * s[(i + 16 + j) / group];
        }
    }
}

}  // namespace

extern "C" int tinylm_llama_decode(const int64_t* dims_in, const int64_t* tokens,
                                   const void* const* table, const float* rope_cos,
                                   const float* rope_sin, float* const* k_cache,
                                   float* const* v_cache, float* logits, float eps, int64_t pos,
                                   int64_t batch, int64_t threads) {
    Dims d;
    std::memcpy(&d, dims_in, sizeof d);
    const int64_t B = batch, D = d.dim, H = d.hidden, hd = d.head_dim;
    const int64_t kv_dim = d.kv_heads * hd, group_of_heads = d.heads / d.kv_heads;
    if (pos < 0 || pos >= d.max_len) return -5;
    std::vector<float> x, xb, q, k, v, att, hb, hb2, scores;
    QuantizedRows xq;
    try {
        x.resize(B * D), xb.resize(B * D), q.resize(B * D), k.resize(B * kv_dim);
        v.resize(B * kv_dim), att.resize(B * D), hb.resize(B * H), hb2.resize(B * H);
        scores.resize(B * d.heads * (pos + 1));
        const int64_t widest = D > H ? D : H;
        xq.reserve(B * widest, 1);
    } catch (const std::bad_alloc&) {
        return -1;
    }
    // group 0: per channel, one group per row of the product's width
    auto group_for = [&](int64_t kk) { return d.group > 0 ? d.group : kk; };
    auto weight = [&](int64_t index, int64_t n, int64_t kk, int64_t bits) {
        return Weight{table[index], static_cast<const float*>(table[index + 1]), bits, n, kk,
                      bits == 32 ? 0 : group_for(kk)};
    };
    // Quantize `in` once for the products that read it, then run them.
    auto quantize = [&](const float* in, int64_t kk, int64_t bits) {
        if (bits != 32) quantize_rows(in, B, kk, group_for(kk), bits == 4, &xq);
    };

    for (int64_t b = 0; b < B; ++b) {
        if (tokens[b] < 0 || tokens[b] >= d.vocab) return -6;
        embed_row(d, table[0], static_cast<const float*>(table[1]), tokens[b], &x[b * D]);
    }
    const float* cos = rope_cos + pos * hd;
    const float* sin = rope_sin + pos * hd;
    const float attn_scale = 1.0f / std::sqrt(float(hd));
    const int64_t tail = 2 + d.layers * 16;

    // One OpenMP region for the whole step: a region per product (48 of them for 15M) cost
    // more than the products' arithmetic. Each product splits its outputs evenly over the
    // threads and ends at a barrier; the small serial parts run on one thread (`single`, which
    // ends at a barrier too).
#pragma omp parallel num_threads(int(threads))
    {
        const int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
        auto product = [&](const Weight& w, const float* xf, float* y) {
            const int64_t per = ((w.n + T - 1) / T + 15) / 16 * 16;
            const int64_t n0 = t * per < w.n ? t * per : w.n;
            const int64_t n1 = n0 + per < w.n ? n0 + per : w.n;
            matmul_range(w, xq, xf, y, B, n0, n1);
        };
        for (int64_t l = 0; l < d.layers; ++l) {
            const int64_t base = 2 + l * 16;
            const float* attn_norm = static_cast<const float*>(table[base]);
            const float* ffn_norm = static_cast<const float*>(table[base + 9]);
            float* kc = k_cache[l];
            float* vc = v_cache[l];
#pragma omp single
            {
                for (int64_t b = 0; b < B; ++b) rmsnorm(&x[b * D], attn_norm, &xb[b * D], D, eps);
                quantize(xb.data(), D, d.bits);
            }
            product(weight(base + 1, D, D, d.bits), xb.data(), q.data());
            product(weight(base + 3, kv_dim, D, d.bits), xb.data(), k.data());
            product(weight(base + 5, kv_dim, D, d.bits), xb.data(), v.data());
#pragma omp barrier
#pragma omp single
            for (int64_t b = 0; b < B; ++b) {
                for (int64_t h = 0; h < d.heads; ++h) rope(&q[b * D + h * hd], cos, sin, hd);
                for (int64_t h = 0; h < d.kv_heads; ++h) {
                    rope(&k[b * kv_dim + h * hd], cos, sin, hd);
                    const int64_t at = ((b * d.kv_heads + h) * d.max_len + pos) * hd;
                    std::memcpy(kc + at, &k[b * kv_dim + h * hd], hd * sizeof(float));
                    std::memcpy(vc + at, &v[b * kv_dim + h * hd], hd * sizeof(float));
                }
            }
            // Attention: (sample, head) pairs split over the threads.
#pragma omp for schedule(static)
            for (int64_t task = 0; task < B * d.heads; ++task) {
                const int64_t b = task / d.heads, h = task % d.heads;
                const int64_t kvh = h / group_of_heads;
                const float* qh = &q[b * D + h * hd];
                const float* keys = kc + (b * d.kv_heads + kvh) * d.max_len * hd;
                const float* values = vc + (b * d.kv_heads + kvh) * d.max_len * hd;
                float* s = &scores[task * (pos + 1)];
                float top = -INFINITY;
                for (int64_t i = 0; i <= pos; ++i) {
                    s[i] = dot_f32(keys + i * hd, qh, hd) * attn_scale;
                    top = s[i] > top ? s[i] : top;
                }
                float total = 0.0f;
                for (int64_t i = 0; i <= pos; ++i) total += (s[i] = std::exp(s[i] - top));
                float* out = &att[b * D + h * hd];
                std::memset(out, 0, hd * sizeof(float));
                for (int64_t i = 0; i <= pos; ++i) {
                    const float p = s[i] / total;
                    const float* vt = values + i * hd;
                    for (int64_t j = 0; j < hd; ++j) out[j] += p * vt[j];
                }
            }
#pragma omp single
            quantize(att.data(), D, d.bits);
            product(weight(base + 7, D, D, d.bits), att.data(), xb.data());
#pragma omp barrier
#pragma omp single
            {
                for (int64_t i = 0; i < B * D; ++i) x[i] += xb[i];
                for (int64_t b = 0; b < B; ++b) rmsnorm(&x[b * D], ffn_norm, &xb[b * D], D, eps);
                quantize(xb.data(), D, d.bits);
            }
            product(weight(base + 10, H, D, d.bits), xb.data(), hb.data());
            product(weight(base + 12, H, D, d.bits), xb.data(), hb2.data());
#pragma omp barrier
#pragma omp single
            {
                for (int64_t i = 0; i < B * H; ++i) {
                    const float g = hb[i];
                    hb[i] = g / (1.0f + std::exp(-g)) * hb2[i];
                }
                quantize(hb.data(), H, d.bits);
            }
            product(weight(base + 14, D, H, d.bits), hb.data(), xb.data());
#pragma omp barrier
#pragma omp single
            for (int64_t i = 0; i < B * D; ++i) x[i] += xb[i];
        }
#pragma omp single
        {
            const float* final_norm = static_cast<const float*>(table[tail]);
            for (int64_t b = 0; b < B; ++b) rmsnorm(&x[b * D], final_norm, &xb[b * D], D, eps);
            quantize(xb.data(), D, d.head_bits);
        }
        product(weight(tail + 1, d.vocab, D, d.head_bits), xb.data(), logits);
    }
    return 0;
}
