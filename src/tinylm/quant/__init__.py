"""Quantized runs: int8 and int4 weights for faster CPU decoding.

`tinylm quantize RUN --out RUN-int8 --scheme int8|int4` writes an ordinary run folder whose
model.safetensors holds, per linear layer, int8 values (or packed 4-bit ones) and one fp32 scale
per group of weights, with the scheme recorded in config.json. `load_run` builds the quantized
model from it, so generate, serve, eval, the GUI and export take it like any other run.

- `scheme`: what a quantization is (`QuantSpec`), its config.json record and its checks.
- `tensors`: quantizing and dequantizing one weight matrix (Q8_0 / Q4_0 arithmetic).
- `modules`: the quantized linear and embedding layers and the quantized Llama.
- `native_decode`: the one-call decoding step (models/llama_decode.cpp) behind it.
- `command`: `tinylm quantize`.
"""
