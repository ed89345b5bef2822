#include "model/row_group_storage.h"

#include "core/error.h"
#include "core/quant.h"
#include "kernels/packed.h"

namespace dsinfer::model {

void store_row_groups(io::TensorData& t, DType dtype, int64_t cols, std::map<std::string, std::string>& meta) {
  const size_t rb = row_bytes(dtype, cols);
  if (rb == 0 || t.bytes.size() % rb != 0) fail("store_row_groups: ", t.name, " is not whole rows of ", dtype_name(dtype));
  kernels::Weight w;
  w.dtype = dtype;
  w.rows = static_cast<int64_t>(t.bytes.size() / rb);
  w.cols = cols;
  w.data = t.bytes.data();
  std::vector<uint8_t> out(kernels::packed::packed_bytes(dtype, w.rows, cols));
  kernels::packed::pack_groups(w, 0, kernels::packed::groups(w.rows), out.data());
  t.bytes = std::move(out);
  t.dtype = DType::U8;
  t.shape = {kernels::packed::groups(w.rows), kernels::packed::group_bytes(dtype, cols)};
  meta["dsinfer.dtype." + t.name] = std::string(dtype_name(dtype));
  meta["dsinfer.layout." + t.name] = row_group_layout(dtype);
}

}  // namespace dsinfer::model
