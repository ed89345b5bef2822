// write_synthetic_checkpoint: a synthetic model as files, block types stored
// as `dsinfer quantize` stores them (row_group_storage.h).
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/quant.h"
#include "model/row_group_storage.h"
#include "model/synthetic.h"

namespace dsinfer::model {

void write_synthetic_checkpoint(const SyntheticOptions& opts, const std::string& dir) {
  const io::ModelConfig cfg = synthetic_model_config(opts);
  std::vector<io::TensorData> tensors = synthetic_tensors(cfg, opts);
  std::map<std::string, std::string> meta;
  for (io::TensorData& t : tensors)
    if (is_block_quant(t.dtype)) store_row_groups(t, t.dtype, t.shape.back(), meta);
  nlohmann::ordered_json c = nlohmann::ordered_json::parse(synthetic_config_json(opts.preset, opts.vocab_size));
  std::string type(dtype_name(opts.weight_dtype));
  for (char& ch : type) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (opts.weight_dtype == DType::F8_E4M3)
    c["quantization_config"] = {{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"weight_block_size", {128, 128}}};
  else if (is_block_quant(opts.weight_dtype))
    c["quantization_config"] = {{"quant_method", "dsinfer"}, {"weight_type", type}};
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/config.json") << c.dump(2) << "\n";
  io::write_safetensors(dir + "/model.safetensors", tensors, meta);
}

}  // namespace dsinfer::model
