// A Hugging Face byte-level BPE tokenizer as the tokenizer.ggml.* keys of a
// GGUF file, the way llama.cpp's convert_hf_to_gguf.py writes them: one
// token per id (gaps "[PADn]", unused), token types (normal, control for
// special added tokens, user-defined for the others), merges "a b", the
// pre-tokenizer by llama.cpp's name, special ids and the chat template.
#pragma once

#include <cstdint>
#include <string>

#include "io/gguf_writer.h"

namespace dsinfer::tokenizer {

// path: a directory with tokenizer.json (tokenizer_config.json and
// chat_template.jinja beside it are read), or tokenizer.json itself.
// vocab_size: the model's embedding rows; the token list is padded to it.
// Throws naming what has no GGUF form (a normalizer, a pre-tokenizer llama.cpp
// has no name for).
void add_gguf_tokenizer(const std::string& path, int64_t vocab_size, io::GgufWriter& w);

}  // namespace dsinfer::tokenizer
