// A GGUF model file's hyper-parameters (llama.cpp's `ARCH.*` metadata keys) as
// the ModelConfig a config.json would give, and the reverse for writing GGUF.
// Architectures: qwen2, llama (R1-Distill) and deepseek2 (V2, V3, R1).
#pragma once

#include "io/gguf.h"
#include "io/gguf_shards.h"
#include "io/gguf_writer.h"
#include "io/hf_config.h"

namespace dsinfer::io {

// Throws dsinfer::Error naming the file and the GGUF key that is missing or
// wrong; the result is validated as config.json values are (parse_config).
ModelConfig gguf_model_config(const GgufShards& f);

// The keys gguf_model_config reads, with llama.cpp's names and units (the
// tokenizer's keys, bos and eos ids among them, come from tokenizer/gguf_export.h).
// split_kv_b: DeepSeek sizes as llama.cpp's MLA files give them (the latent as
// one KV head, the per-head sizes in the *_mla keys), for attn_k_b + attn_v_b.
void put_gguf_config(const ModelConfig& c, bool split_kv_b, GgufWriter& w);

// "qwen2" -> "qwen2", "llama" -> "llama", "deepseek_v2"/"deepseek_v3" -> "deepseek2".
std::string gguf_architecture(const ModelConfig& c);

}  // namespace dsinfer::io
