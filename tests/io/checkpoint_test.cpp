// Checkpoint: single-file, sharded (index) and plain multi-file directories,
// lookups with and without shape checks, and the real tiny test models.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/testdata.h"
#include "io/safetensors.h"
#include "io/st_builder.h"

namespace dsinfer::test {
namespace {

using io::Checkpoint;
using nlohmann::json;

class CheckpointTest : public ::testing::Test {
 protected:
  std::string dir_ = make_temp_dir();
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void put(const std::string& name, const std::string& bytes) { write_bytes(dir_ + "/" + name, bytes); }
  void put_index(const json& weight_map) {
    put("model.safetensors.index.json",
        json{{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}}.dump(2));
  }
  // Two shards: a.weight/a.bias in shard 1, b.weight in shard 2.
  void put_two_shards() {
    put("model-00001-of-00002.safetensors",
        st_file({{"a.weight", "BF16", {2, 3}, ramp(12, 1)}, {"a.bias", "F32", {2}, ramp(8, 50)}}));
    put("model-00002-of-00002.safetensors", st_file({{"b.weight", "F8_E4M3", {4, 2}, ramp(8, 90)}}));
  }
  std::string index_path() const { return dir_ + "/model.safetensors.index.json"; }
};

TEST_F(CheckpointTest, SingleModelFile) {
  put("model.safetensors", st_file({{"x", "F32", {3, 2}, ramp(24)}, {"y", "U8", {5}, ramp(5, 7)}}));
  put("other.safetensors", "garbage that must not be read");
  const Checkpoint ck = Checkpoint::open(dir_);
  EXPECT_EQ(ck.dir(), dir_);
  EXPECT_EQ(ck.names(), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(ck.total_bytes(), 29u);
  EXPECT_EQ(ck.find("z"), nullptr);
  ASSERT_NE(ck.find("y"), nullptr);
  const auto& y = ck.get("y", {5});
  EXPECT_EQ(y.file, dir_ + "/model.safetensors");
  EXPECT_EQ(std::memcmp(y.data, ramp(5, 7).data(), 5), 0);
  EXPECT_EQ(&ck.get("x"), ck.find("x"));
}

TEST_F(CheckpointTest, ShardedWithIndex) {
  put_two_shards();
  put_index({{"a.weight", "model-00001-of-00002.safetensors"},
             {"a.bias", "model-00001-of-00002.safetensors"},
             {"b.weight", "model-00002-of-00002.safetensors"}});
  Checkpoint moved = Checkpoint::open(dir_);
  const Checkpoint ck = std::move(moved);  // pointers into the shards survive a move
  EXPECT_EQ(ck.names(), (std::vector<std::string>{"a.bias", "a.weight", "b.weight"}));
  const auto& a = ck.get("a.weight", {2, 3});
  EXPECT_EQ(a.dtype, DType::BF16);
  EXPECT_EQ(a.file, dir_ + "/model-00001-of-00002.safetensors");
  EXPECT_EQ(std::memcmp(a.data, ramp(12, 1).data(), 12), 0);
  const auto& b = ck.get("b.weight", {4, 2});
  EXPECT_EQ(b.dtype, DType::F8_E4M3);
  EXPECT_EQ(b.file, dir_ + "/model-00002-of-00002.safetensors");
  EXPECT_EQ(std::memcmp(b.data, ramp(8, 90).data(), 8), 0);
  EXPECT_EQ(ck.total_bytes(), 12u + 8u + 8u);
}

TEST_F(CheckpointTest, IndexWinsOverModelFile) {
  put_two_shards();
  put_index({{"b.weight", "model-00002-of-00002.safetensors"}});
  put("model.safetensors", st_file({{"stale", "U8", {1}, "s"}}));
  const Checkpoint ck = Checkpoint::open(dir_);
  EXPECT_NE(ck.find("b.weight"), nullptr);
  EXPECT_EQ(ck.find("stale"), nullptr);
  EXPECT_EQ(ck.find("a.weight"), nullptr);  // shard 1 is not named by the index
}

TEST_F(CheckpointTest, IndexNamesMissingShard) {
  put_two_shards();
  put_index({{"a.weight", "model-00001-of-00002.safetensors"},
             {"c.weight", "model-00003-of-00003.safetensors"}});
  EXPECT_TRUE(error_contains([&] { Checkpoint::open(dir_); },
                             {index_path(), "model-00003-of-00003.safetensors", "does not exist"}));
}

TEST_F(CheckpointTest, IndexTensorNotInItsShard) {
  put_two_shards();
  put_index({{"a.weight", "model-00001-of-00002.safetensors"},
             {"b.weight", "model-00001-of-00002.safetensors"},  // actually in shard 2
             {"z", "model-00002-of-00002.safetensors"}});
  EXPECT_TRUE(error_contains([&] { Checkpoint::open(dir_); },
                             {"'b.weight'", "missing from shard",
                              dir_ + "/model-00001-of-00002.safetensors"}));
}

TEST_F(CheckpointTest, IndexTensorAbsentEverywhere) {
  put_two_shards();
  put_index({{"a.weight", "model-00001-of-00002.safetensors"},
             {"ghost", "model-00002-of-00002.safetensors"}});
  EXPECT_TRUE(error_contains([&] { Checkpoint::open(dir_); },
                             {"'ghost'", index_path(), "missing from shard",
                              "model-00002-of-00002.safetensors"}));
}

TEST_F(CheckpointTest, TensorInTwoShards) {
  put("s1.safetensors", st_file({{"dup", "U8", {2}, "ab"}}));
  put("s2.safetensors", st_file({{"dup", "U8", {2}, "cd"}, {"other", "U8", {1}, "e"}}));
  put_index({{"dup", "s1.safetensors"}, {"other", "s2.safetensors"}});
  EXPECT_TRUE(error_contains([&] { Checkpoint::open(dir_); },
                             {"'dup'", "two files", dir_ + "/s1.safetensors", dir_ + "/s2.safetensors"}));
}

TEST_F(CheckpointTest, BadIndexFiles) {
  put_two_shards();
  put("model.safetensors.index.json", "{ not json");
  EXPECT_TRUE(error_contains([&] { Checkpoint::open(dir_); }, {index_path(), "not valid JSON"}));
  put("model.safetensors.index.json", R"({"metadata": {}})");
  EXPECT_TRUE(error_contains([&] { Checkpoint::open(dir_); }, {index_path(), "weight_map"}));
  put_index({{"a.weight", 3}});
  EXPECT_TRUE(error_contains([&] { Checkpoint::open(dir_); }, {index_path(), "'a.weight'", "not a string"}));
  for (const char* shard : {"../x.safetensors", "/etc/passwd", ""}) {
    put_index({{"a.weight", shard}});
    EXPECT_TRUE(error_contains([&] { Checkpoint::open(dir_); },
                               {index_path(), "'a.weight'", "not a file name inside"}))
        << shard;
  }
}

TEST_F(CheckpointTest, CorruptShardErrorNamesIt) {
  put_two_shards();
  put("model-00002-of-00002.safetensors", st_raw_len(5000, "{}"));
  put_index({{"a.weight", "model-00001-of-00002.safetensors"},
             {"b.weight", "model-00002-of-00002.safetensors"}});
  EXPECT_TRUE(error_contains([&] { Checkpoint::open(dir_); },
                             {dir_ + "/model-00002-of-00002.safetensors", "header length 5000"}));
}

TEST_F(CheckpointTest, AllSafetensorsFilesWithoutIndex) {
  put("b.safetensors", st_file({{"from_b", "I32", {2}, ramp(8)}}));
  put("a.safetensors", st_file({{"from_a", "I64", {1}, ramp(8, 3)}}));
  put("notes.txt", "not a tensor file");
  std::filesystem::create_directory(dir_ + "/sub.safetensors");  // a directory, skipped
  const Checkpoint ck = Checkpoint::open(dir_);
  EXPECT_EQ(ck.names(), (std::vector<std::string>{"from_a", "from_b"}));
  EXPECT_EQ(ck.get("from_a").file, dir_ + "/a.safetensors");
  EXPECT_EQ(ck.get("from_b").file, dir_ + "/b.safetensors");
  EXPECT_EQ(ck.total_bytes(), 16u);
}

TEST_F(CheckpointTest, DuplicateAcrossPlainFiles) {
  put("a.safetensors", st_file({{"t", "U8", {1}, "a"}}));
  put("b.safetensors", st_file({{"t", "U8", {1}, "b"}}));
  EXPECT_TRUE(error_contains([&] { Checkpoint::open(dir_); },
                             {"'t'", dir_ + "/a.safetensors", dir_ + "/b.safetensors"}));
}

TEST_F(CheckpointTest, EmptyDirectory) {
  put("config.json", "{}");
  EXPECT_TRUE(error_contains([&] { Checkpoint::open(dir_); }, {"no safetensors files in " + dir_}));
}

TEST_F(CheckpointTest, MissingDirectoryOrFile) {
  EXPECT_TRUE(error_contains([&] { Checkpoint::open(dir_ + "/absent"); },
                             {dir_ + "/absent", "does not exist"}));
  put("file", "x");
  EXPECT_TRUE(error_contains([&] { Checkpoint::open(dir_ + "/file"); },
                             {dir_ + "/file", "not a directory"}));
}

TEST_F(CheckpointTest, GetMissingTensor) {
  put("model.safetensors", st_file({{"x", "F32", {1}, ramp(4)}}));
  const Checkpoint ck = Checkpoint::open(dir_);
  EXPECT_TRUE(error_contains([&] { ck.get("model.norm.weight"); },
                             {"tensor model.norm.weight missing from checkpoint " + dir_}));
  EXPECT_TRUE(error_contains([&] { ck.get("model.norm.weight", {1}); },
                             {"tensor model.norm.weight missing from checkpoint " + dir_}));
}

TEST_F(CheckpointTest, GetShapeMismatch) {
  put("model.safetensors", st_file({{"w", "BF16", {1024, 256}, std::string(1024 * 256 * 2, '\0')},
                                    {"s", "F32", {}, ramp(4)}}));
  const Checkpoint ck = Checkpoint::open(dir_);
  EXPECT_TRUE(error_contains([&] { ck.get("w", {256, 1024}); },
                             {"tensor w in " + dir_ + "/model.safetensors has shape [1024, 256], "
                              "expected [256, 1024]"}));
  EXPECT_TRUE(error_contains([&] { ck.get("w", {1024}); }, {"has shape [1024, 256], expected [1024]"}));
  EXPECT_TRUE(error_contains([&] { ck.get("s", {1}); }, {"has shape [], expected [1]"}));
  EXPECT_EQ(ck.get("s", {}).numel(), 1);
  EXPECT_EQ(ck.get("w", {1024, 256}).numel(), 1024 * 256);
}

uint64_t data_buffer_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  uint8_t len[8];
  in.read(reinterpret_cast<char*>(len), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len[i];
  return size - 8 - n;
}

TEST(CheckpointRealData, AllTinyModelsOpen) {
  REQUIRE_TESTDATA(td);
  for (const char* m : {"qwen2-tiny", "llama-tiny", "ds2-lite-tiny", "ds3-tiny", "ds3-tiny-fp8"}) {
    const std::string dir = td + "/reference/models/" + m;
    const Checkpoint ck = Checkpoint::open(dir);
    EXPECT_GT(ck.names().size(), 10u) << m;
    EXPECT_EQ(ck.total_bytes(), data_buffer_bytes(dir + "/model.safetensors")) << m;
  }
}

TEST(CheckpointRealData, Qwen2TinyEmbedding) {
  REQUIRE_TESTDATA(td);
  const Checkpoint ck = Checkpoint::open(td + "/reference/models/qwen2-tiny");
  const auto& e = ck.get("model.embed_tokens.weight", {1024, 256});
  EXPECT_EQ(e.dtype, DType::BF16);
  EXPECT_EQ(e.nbytes, 1024u * 256 * 2);
  // Trained-looking weights: finite, not all zero.
  const auto* p = static_cast<const uint16_t*>(e.data);
  int nonzero = 0;
  for (int64_t i = 0; i < e.numel(); ++i) {
    const float v = bf16_to_f32(p[i]);
    ASSERT_TRUE(std::isfinite(v)) << "element " << i;
    nonzero += v != 0.0f;
  }
  EXPECT_GT(nonzero, e.numel() / 2);
  EXPECT_TRUE(error_contains([&] { ck.get("model.embed_tokens.weight", {256, 1024}); },
                             {"expected [256, 1024]"}));
}

TEST(CheckpointRealData, Ds3TinyFp8BlockScales) {
  REQUIRE_TESTDATA(td);
  const Checkpoint ck = Checkpoint::open(td + "/reference/models/ds3-tiny-fp8");
  const auto& w = ck.get("model.layers.0.mlp.down_proj.weight", {256, 512});
  EXPECT_EQ(w.dtype, DType::F8_E4M3);
  const auto& s = ck.get("model.layers.0.mlp.down_proj.weight_scale_inv", {2, 4});
  EXPECT_EQ(s.dtype, DType::F32);
  // Every FP8 weight has a scale of shape [ceil(out/128), ceil(in/128)].
  int fp8 = 0;
  for (const auto& name : ck.names()) {
    const auto& t = ck.get(name);
    if (t.dtype != DType::F8_E4M3) continue;
    ++fp8;
    ASSERT_EQ(t.shape.size(), 2u) << name;
    const auto& sc = ck.get(name + "_scale_inv",
                            {(t.shape[0] + 127) / 128, (t.shape[1] + 127) / 128});
    EXPECT_EQ(sc.dtype, DType::F32) << name;
    const auto* v = static_cast<const float*>(sc.data);
    for (int64_t i = 0; i < sc.numel(); ++i) EXPECT_GT(v[i], 0.0f) << name;
  }
  EXPECT_GT(fp8, 50);
}

}  // namespace
}  // namespace dsinfer::test
