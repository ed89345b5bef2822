// Options every model-running command shares (--model, --backend, --threads)
// and the loading they imply.
#pragma once

#include <memory>
#include <string>

#include "kernels/backend.h"
#include "model/model.h"

namespace CLI {
class App;
}

namespace dsinfer::cli {

struct ModelOptions {
  std::string model_dir;
  kernels::BackendOptions backend;
};

void add_model_options(CLI::App& sub, ModelOptions& o);

struct LoadedModel {
  std::unique_ptr<kernels::Backend> backend;
  std::unique_ptr<model::Model> model;
};

LoadedModel load_model(const ModelOptions& o);

}  // namespace dsinfer::cli
