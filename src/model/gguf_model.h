// GGUF model files (llama.cpp's names, metadata and row orders) as the config
// and checkpoint Model::create takes, and back: tensors stay in the file's
// mapping (each expert a slice of its merged tensor); only llama's q/k rows,
// which llama.cpp reorders for its RoPE, are copied back into Hugging Face
// order.
#pragma once

#include <string>
#include <vector>

#include "io/gguf_writer.h"
#include "io/hf_config.h"
#include "io/safetensors.h"

namespace dsinfer::model {

// True when `path` is a regular file that starts with the GGUF magic.
bool is_gguf_file(const std::string& path);
// A directory without config.json: its .gguf file names, comma-separated ("" if none).
std::string gguf_files_in(const std::string& dir);

struct GgufModel {
  io::ModelConfig config;
  io::Checkpoint checkpoint;  // Hugging Face names
};

// Throws dsinfer::Error naming the file and the tensor or key at fault:
// missing tensors, wrong dims, tensor types dsinfer does not compute with.
GgufModel open_gguf_model(const std::string& path);

struct GgufExportOptions {
  // MLA's kv_b_proj as attn_k_b + attn_v_b (llama.cpp's files since its MLA
  // rework); false: one attn_kv_b, as older files hold it.
  bool split_kv_b = true;
};

// Adds cfg's keys and `tensors` (Hugging Face names, any dtype GGUF has: a
// matrix [rows, cols], a vector [n]) under llama.cpp's names to `w`: routed
// experts merged per layer and projection, llama's q/k rows reordered, 1-D
// tensors as F32. Then w.write(path) makes a file open_gguf_model reads.
void add_gguf_tensors(const io::ModelConfig& cfg, std::vector<io::TensorData> tensors, io::GgufWriter& w,
                      const GgufExportOptions& o = {});

}  // namespace dsinfer::model
