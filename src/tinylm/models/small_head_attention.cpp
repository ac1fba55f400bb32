// Causal self-attention, forward and backward, for heads of size 8 or 16 on the CPU.
//
// Why a kernel of our own: with 8 numbers per head, every product in attention has an inner
// dimension of 8, so a GEMM-based kernel (PyTorch's CPU flash attention) spends its time
// calling and packing tiny GEMMs and almost none multiplying. Here one query row at a time
// meets its keys in vector-width blocks, with the keys and values transposed ([D][T]) so
// that the head dimension is an unrolled loop of D fused multiply-adds over lanes of keys.
// The [T, T] scores never leave L1: one row of them is live at a time.
//
// Layout: q, o, dout, dq [B, H, T, D]; k, v, dk, dv [B, KV, T, D]; lse [B, H, T]; all fp32,
// contiguous. Query head h reads kv head h / (H / KV) (grouped-query attention, as SDPA's
// enable_gqa). Threads take tasks one at a time (run_tasks): forward tasks are (b, h)
// pairs, backward tasks (b, kv head) pairs, so the dk/dv sums stay private to a task. (With
// fixed equal shares instead, one thread often finished 2x later than the other.)
//
// Built with GCC/Clang vector extensions (no intrinsics, no PyTorch headers) so it compiles
// in about a second for whatever SIMD width the machine has.

#include "tinylm_simd.h"

namespace {

inline vi lane_index() {
    vi lanes;
    for (int i = 0; i < W; ++i) lanes[i] = i;
    return lanes;
}

inline int64_t round_up(int64_t n) { return (n + W - 1) / W * W; }

// 64-byte aligned; aligned_alloc wants a size that is a multiple of the alignment.
float* alloc_floats(int64_t n) {
    return static_cast<float*>(std::aligned_alloc(64, sizeof(float) * ((n + 15) / 16 * 16)));
}

// x [T, D] -> xt [D][Tp], zero-padded to Tp = round_up(T) keys.
template <int D>
void transpose_in(const float* x, float* xt, int64_t T, int64_t Tp) {
    for (int64_t j = 0; j < T; ++j)
        for (int d = 0; d < D; ++d) xt[d * Tp + j] = x[j * D + d];
    for (int d = 0; d < D; ++d)
        for (int64_t j = T; j < Tp; ++j) xt[d * Tp + j] = 0.0f;
}

template <int D>
void transpose_out(const float* xt, float* x, int64_t T, int64_t Tp) {
    for (int64_t j = 0; j < T; ++j)
        for (int d = 0; d < D; ++d) x[j * D + d] = xt[d * Tp + j];
}

// Outputs for R query rows i0..i0+R-1, all in one W-block of keys (see backward_rows). Two
// passes over the keys: scores and their maximum into s_rows, then exp, sum and p @ V.
template <int D, int R>
void forward_rows(const float* q, float* o, float* lse, const float* kt, const float* vt,
                  float* s_rows, int64_t i0, int64_t Tp, float scale, vi lanes) {
    float qs[R][D];
    for (int r = 0; r < R; ++r)
        for (int d = 0; d < D; ++d) qs[r][d] = q[r * D + d] * scale;
    const int64_t blocks = i0 / W + 1;
    vf mv[R];
    for (int r = 0; r < R; ++r) mv[r] = splat(-INFINITY);
    for (int64_t blk = 0; blk < blocks; ++blk) {
        const int64_t j = blk * W;
        vf sv[R];
        for (int r = 0; r < R; ++r) sv[r] = splat(0.0f);
        for (int d = 0; d < D; ++d) {
            const vf kd = load(kt + d * Tp + j);
            for (int r = 0; r < R; ++r) sv[r] += kd * qs[r][d];
        }
        for (int r = 0; r < R; ++r) {
            if (blk == blocks - 1)
                sv[r] = (lanes + int32_t(j)) <= int32_t(i0 + r) ? sv[r] : splat(-INFINITY);
            store(s_rows + r * Tp + j, sv[r]);
            mv[r] = vmax(mv[r], sv[r]);
        }
    }
    float m[R];
    vf lv[R], acc[R][D];
    for (int r = 0; r < R; ++r) {
        m[r] = hmax(mv[r]);
        lv[r] = splat(0.0f);
        for (int d = 0; d < D; ++d) acc[r][d] = splat(0.0f);
    }
    for (int64_t blk = 0; blk < blocks; ++blk) {
        const int64_t j = blk * W;
        vf p[R];
        for (int r = 0; r < R; ++r) {
            p[r] = vexp(load(s_rows + r * Tp + j) - m[r]);
            if (blk == blocks - 1) p[r] = (lanes + int32_t(j)) <= int32_t(i0 + r) ? p[r] : 0.0f;
            lv[r] += p[r];
        }
        for (int d = 0; d < D; ++d) {
            const vf vd = load(vt + d * Tp + j);
            for (int r = 0; r < R; ++r) acc[r][d] += p[r] * vd;
        }
    }
    for (int r = 0; r < R; ++r) {
        const float l = hsum(lv[r]);
        for (int d = 0; d < D; ++d) o[r * D + d] = hsum(acc[r][d]) / l;
        lse[r] = m[r] + std::log(l);
    }
}

template <int D>
int forward(const float* q, const float* k, const float* v, float* o, float* lse, int64_t H,
            int64_t KV, int64_t T, float scale, int64_t* next_task, int64_t task_end) {
    // R x D accumulators for p @ V must fit the vector registers: 4 rows of 8 spilled and ran
    // 1.7x slower; 2 rows of 8 measured level with 1 (this loop is bound by arithmetic).
    constexpr int R = D <= 8 ? 2 : 1;
    const int64_t Tp = round_up(T), G = H / KV;
    float* kt = alloc_floats(D * Tp);
    float* vt = alloc_floats(D * Tp);
    float* s_rows = alloc_floats(R * Tp);
    if (!kt || !vt || !s_rows) {
        std::free(kt), std::free(vt), std::free(s_rows);
        return -1;
    }
    const vi lanes = lane_index();
    int64_t loaded = -1;  // the (b, kv head) whose keys and values kt/vt hold
    for (int64_t task; (task = take_task(next_task)) < task_end;) {
        const int64_t b = task / H, h = task % H, kvh = b * KV + h / G;
        if (kvh != loaded) {
            transpose_in<D>(k + kvh * T * D, kt, T, Tp);
            transpose_in<D>(v + kvh * T * D, vt, T, Tp);
            loaded = kvh;
        }
        int64_t i = 0;
        for (; i + R <= T; i += R) {
            const int64_t row = task * T + i;
            forward_rows<D, R>(q + row * D, o + row * D, lse + row, kt, vt, s_rows, i, Tp, scale,
                               lanes);
        }
        for (; i < T; ++i) {
            const int64_t row = task * T + i;
            forward_rows<D, 1>(q + row * D, o + row * D, lse + row, kt, vt, s_rows, i, Tp, scale,
                               lanes);
        }
    }
    std::free(kt), std::free(vt), std::free(s_rows);
    return 0;
}

// Gradients from R query rows i0..i0+R-1 (all in one W-block of keys, so they share the
// number of key blocks and only the last block is masked). Taking R rows at once loads each
// key/value block and each block of the dK/dV sums once per R rows instead of once per row:
// with D = 8 the one-row loop was bound by those loads and stores, not by arithmetic.
template <int D, int R>
void backward_rows(const float* q, const float* o, const float* dout, const float* lse,
                   float* dq, const float* kt, const float* vt, float* dkt, float* dvt,
                   float* ds_rows, int64_t i0, int64_t Tp, float scale, vi lanes) {
    float qs[R][D], dos[R][D], delta[R], L[R];
    for (int r = 0; r < R; ++r) {
        delta[r] = 0.0f;
        for (int d = 0; d < D; ++d) {
            qs[r][d] = q[r * D + d] * scale;
            dos[r][d] = dout[r * D + d];
            delta[r] += dout[r * D + d] * o[r * D + d];
        }
        L[r] = lse[r];
    }
    const int64_t blocks = i0 / W + 1;
    for (int64_t blk = 0; blk < blocks; ++blk) {
        const int64_t j = blk * W;
        vf sv[R], dp[R];
        for (int r = 0; r < R; ++r) sv[r] = dp[r] = splat(0.0f);
        for (int d = 0; d < D; ++d) {
            const vf kd = load(kt + d * Tp + j), vd = load(vt + d * Tp + j);
            for (int r = 0; r < R; ++r) {
                sv[r] += kd * qs[r][d];
                dp[r] += vd * dos[r][d];
            }
        }
        vf p[R], ds[R];
        for (int r = 0; r < R; ++r) {
            p[r] = vexp(sv[r] - L[r]);
            if (blk == blocks - 1) p[r] = (lanes + int32_t(j)) <= int32_t(i0 + r) ? p[r] : 0.0f;
            ds[r] = p[r] * (dp[r] - delta[r]);
            store(ds_rows + r * Tp + j, ds[r]);
        }
        for (int d = 0; d < D; ++d) {
            vf dk = load(dkt + d * Tp + j), dv = load(dvt + d * Tp + j);
            for (int r = 0; r < R; ++r) {
                dk += ds[r] * qs[r][d];
                dv += p[r] * dos[r][d];
            }
            store(dkt + d * Tp + j, dk);
            store(dvt + d * Tp + j, dv);
        }
    }
    // dq = scale * ds @ K, row by row from the stored ds: D accumulators per row fit in
    // registers, R x D would not.
    for (int r = 0; r < R; ++r) {
        vf acc[D];
        for (int d = 0; d < D; ++d) acc[d] = splat(0.0f);
        for (int64_t blk = 0; blk < blocks; ++blk) {
            const vf ds = load(ds_rows + r * Tp + blk * W);
            for (int d = 0; d < D; ++d) acc[d] += ds * load(kt + d * Tp + blk * W);
        }
        for (int d = 0; d < D; ++d) dq[r * D + d] = hsum(acc[d]) * scale;
    }
}

template <int D>
int backward(const float* q, const float* k, const float* v, const float* o, const float* dout,
             const float* lse, float* dq, float* dk, float* dv, int64_t H, int64_t KV, int64_t T,
             float scale, int64_t* next_task, int64_t task_end) {
    constexpr int R = 4;  // divides W, so R rows starting at a multiple of R share a key block
    const int64_t Tp = round_up(T), G = H / KV;
    float* kt = alloc_floats(D * Tp);
    float* vt = alloc_floats(D * Tp);
    float* dkt = alloc_floats(D * Tp);
    float* dvt = alloc_floats(D * Tp);
    float* ds_rows = alloc_floats(R * Tp);
    if (!kt || !vt || !dkt || !dvt || !ds_rows) {
        std::free(kt), std::free(vt), std::free(dkt), std::free(dvt), std::free(ds_rows);
        return -1;
    }
    const vi lanes = lane_index();
    for (int64_t task; (task = take_task(next_task)) < task_end;) {
        const int64_t b = task / KV, g = task % KV;
        transpose_in<D>(k + task * T * D, kt, T, Tp);
        transpose_in<D>(v + task * T * D, vt, T, Tp);
        std::memset(dkt, 0, sizeof(float) * D * Tp);
        std::memset(dvt, 0, sizeof(float) * D * Tp);
        for (int64_t h = b * H + g * G; h < b * H + (g + 1) * G; ++h) {
            int64_t i = 0;
            for (; i + R <= T; i += R) {
                const int64_t row = h * T + i;
                backward_rows<D, R>(q + row * D, o + row * D, dout + row * D, lse + row,
                                    dq + row * D, kt, vt, dkt, dvt, ds_rows, i, Tp, scale, lanes);
            }
            for (; i < T; ++i) {  // T not a multiple of R: the last rows one at a time
                const int64_t row = h * T + i;
                backward_rows<D, 1>(q + row * D, o + row * D, dout + row * D, lse + row,
                                    dq + row * D, kt, vt, dkt, dvt, ds_rows, i, Tp, scale, lanes);
            }
        }
        transpose_out<D>(dkt, dk + task * T * D, T, Tp);
        transpose_out<D>(dvt, dv + task * T * D, T, Tp);
    }
    std::free(kt), std::free(vt), std::free(dkt), std::free(dvt), std::free(ds_rows);
    return 0;
}

}  // namespace

extern "C" {

// Returns 0, -1 when out of memory, -2 for a head size this kernel was not built for.
int tinylm_attention_forward(const float* q, const float* k, const float* v, float* o,
                             float* lse, int64_t head_dim, int64_t H, int64_t KV, int64_t T,
                             float scale, int64_t tasks, int64_t threads) {
    if (head_dim != 8 && head_dim != 16) return -2;
    return run_tasks(threads, [&](int64_t* next) {
        return head_dim == 8 ? forward<8>(q, k, v, o, lse, H, KV, T, scale, next, tasks)
                             : forward<16>(q, k, v, o, lse, H, KV, T, scale, next, tasks);
    });
}

int tinylm_attention_backward(const float* q, const float* k, const float* v, const float* o,
                              const float* dout, const float* lse, float* dq, float* dk,
                              float* dv, int64_t head_dim, int64_t H, int64_t KV, int64_t T,
                              float scale, int64_t tasks, int64_t threads) {
    if (head_dim != 8 && head_dim != 16) return -2;
    return run_tasks(threads, [&](int64_t* next) {
        return head_dim == 8
                   ? backward<8>(q, k, v, o, dout, lse, dq, dk, dv, H, KV, T, scale, next, tasks)
                   : backward<16>(q, k, v, o, dout, lse, dq, dk, dv, H, KV, T, scale, next, tasks);
    });
}

int tinylm_attention_vector_width() { return W; }

}  // extern "C"
