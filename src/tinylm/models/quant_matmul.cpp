// y [M, N] = x [M, K] @ w^T for one quantized (or fp32) weight: what a quantized run's linear
// layers call outside the one-call decoding step (prompts, evaluation, batches of positions).
// The arithmetic is quant_matmul.h's, shared with llama_decode.cpp, so both give the same
// numbers for the same inputs.

#include "quant_matmul.h"

#include <vector>

extern "C" int tinylm_quant_matmul(const float* x, const void* w_data, const float* w_scale,
                                   float* y, int64_t bits, int64_t n, int64_t k, int64_t group,
                                   int64_t m, int64_t threads) {
    if ((bits == 8 || bits == 4) && (group <= 0 || k % group != 0)) return -4;
    if (bits == 4 && group % 32 != 0) return -4;
    const Weight w{w_data, w_scale, bits, n, k, group};
    QuantizedRows xq;
    if (bits != 32) {
        try {
            xq.reserve(m * k, group);
        } catch (const std::bad_alloc&) {
            return -1;
        }
        quantize_rows(x, m, k, group, bits == 4, &xq);
    }
    return matmul(w, xq, x, y, m, threads);
}
