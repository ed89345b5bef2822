// Where a model comes from: a local directory or GGUF file, or a Hugging Face
// repo id (ORG/NAME, or ORG/NAME:QUANT for one file of a GGUF repository)
// downloaded into (or found in) the hub cache. The environment is read here
// and only here: HF_HOME, HF_TOKEN, HF_ENDPOINT, HOME.
#pragma once

#include <string>

namespace dsinfer::cli {

struct ModelSourceOptions {
  std::string revision = "main";
  bool offline = false;
  bool progress = true;  // draw a progress bar on stderr
};

// Returns a local directory holding the model, or the model file (GGUF) itself.
std::string resolve_model(const std::string& model, const ModelSourceOptions& o);

}  // namespace dsinfer::cli
