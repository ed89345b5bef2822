// SafetensorsFile: a valid file reads back exactly; every malformed file is a
// dsinfer::Error naming the file, the tensor (when there is one) and the fault.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>

#include "common/testdata.h"
#include "io/safetensors.h"
#include "io/st_builder.h"

namespace dsinfer::test {
namespace {

using io::SafetensorsFile;
using nlohmann::json;

class SafetensorsTest : public ::testing::Test {
 protected:
  std::string dir_ = make_temp_dir();
  std::string path_ = dir_ + "/t.safetensors";
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& bytes) { write_bytes(path_, bytes); }
  // A header with one entry "w" over a data buffer of data_size bytes.
  void write_one(const json& entry, size_t data_size) {
    write(st_raw(json{{"w", entry}}.dump(), ramp(data_size)));
  }
  ::testing::AssertionResult load_fails(const std::vector<std::string>& parts) {
    std::vector<std::string> all = parts;
    all.push_back(path_);
    return error_contains([&] { SafetensorsFile f(path_); }, all);
  }
};

TEST_F(SafetensorsTest, ValidFileRoundTrips) {
  write(st_file({{"a.f32", "F32", {2, 3}, ramp(24, 10)},
                 {"b.bf16", "BF16", {4}, ramp(8, 100)},
                 {"c.i8", "I8", {3}, ramp(3, 200)}},
                {{"format", "pt"}}));
  SafetensorsFile f(path_);
  EXPECT_EQ(f.path(), path_);
  ASSERT_EQ(f.tensors().size(), 3u);
  EXPECT_EQ(f.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));

  const auto& a = f.tensors().at("a.f32");
  EXPECT_EQ(a.name, "a.f32");
  EXPECT_EQ(a.dtype, DType::F32);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.numel(), 6);
  EXPECT_EQ(a.nbytes, 24u);
  EXPECT_EQ(a.file, path_);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data) % 4, 0u);
  EXPECT_EQ(std::memcmp(a.data, ramp(24, 10).data(), 24), 0);

  const auto& b = f.tensors().at("b.bf16");
  EXPECT_EQ(b.dtype, DType::BF16);
  EXPECT_EQ(b.shape, (std::vector<int64_t>{4}));
  EXPECT_EQ(b.nbytes, 8u);
  EXPECT_EQ(std::memcmp(b.data, ramp(8, 100).data(), 8), 0);
  // Not copied: tensors laid out back to back in the file are back to back in memory.
  EXPECT_EQ(static_cast<const uint8_t*>(b.data), static_cast<const uint8_t*>(a.data) + 24);

  const auto& c = f.tensors().at("c.i8");
  EXPECT_EQ(c.dtype, DType::I8);
  EXPECT_EQ(std::memcmp(c.data, ramp(3, 200).data(), 3), 0);
}

TEST_F(SafetensorsTest, EverySupportedDtypeLoadsWithItsSize) {
  const std::vector<std::pair<std::string, size_t>> types = {
      {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F8_E4M3", 1}, {"I8", 1},
      {"U8", 1},  {"I32", 4}, {"I64", 8},  {"F64", 8},     {"BOOL", 1}};
  std::vector<StTensor> ts;
  for (const auto& [name, size] : types) ts.push_back({"t." + name, name, {3}, ramp(3 * size)});
  // Largest elements first so that every tensor stays aligned.
  std::stable_sort(ts.begin(), ts.end(),
                   [](const StTensor& x, const StTensor& y) { return x.bytes.size() > y.bytes.size(); });
  write(st_file(ts));
  SafetensorsFile f(path_);
  ASSERT_EQ(f.tensors().size(), types.size());
  for (const auto& [name, size] : types) {
    const auto& t = f.tensors().at("t." + name);
    EXPECT_EQ(dtype_name(t.dtype), name);
    EXPECT_EQ(t.nbytes, 3 * size) << name;
  }
}

TEST_F(SafetensorsTest, ScalarAndEmptyTensorsAndNoMetadata) {
  write(st_file({{"scalar", "F32", {}, ramp(4)}, {"empty", "F32", {0, 5}, ""}, {"v", "U8", {2}, "xy"}}));
  SafetensorsFile f(path_);
  EXPECT_TRUE(f.metadata().empty());
  EXPECT_EQ(f.tensors().at("scalar").numel(), 1);
  EXPECT_TRUE(f.tensors().at("scalar").shape.empty());
  EXPECT_EQ(f.tensors().at("empty").numel(), 0);
  EXPECT_EQ(f.tensors().at("empty").nbytes, 0u);
  EXPECT_EQ(std::memcmp(f.tensors().at("v").data, "xy", 2), 0);
}

TEST_F(SafetensorsTest, UnpaddedHeaderIsFineForByteTensors) {
  std::string h = json{{"b", {{"dtype", "U8"}, {"shape", {3}}, {"data_offsets", {0, 3}}}}}.dump();
  if (h.size() % 2 == 0) h += ' ';
  write(st_raw(h, "abc", /*pad=*/false));
  SafetensorsFile f(path_);
  EXPECT_EQ(std::memcmp(f.tensors().at("b").data, "abc", 3), 0);
}

TEST_F(SafetensorsTest, EmptyHeaderObjectAndNoDataIsValid) {
  write(st_raw("{}", ""));
  SafetensorsFile f(path_);
  EXPECT_TRUE(f.tensors().empty());
}

TEST_F(SafetensorsTest, MissingFileNamesPath) {
  EXPECT_TRUE(error_contains([&] { SafetensorsFile f(dir_ + "/nope.safetensors"); },
                             {dir_ + "/nope.safetensors"}));
}

TEST_F(SafetensorsTest, TruncatedBelowEightBytes) {
  write("");
  EXPECT_TRUE(load_fails({"truncated"}));
  write(std::string("\x10\0\0\0\0", 5));
  EXPECT_TRUE(load_fails({"truncated", "5 bytes"}));
}

TEST_F(SafetensorsTest, HeaderLengthBeyondFile) {
  write(st_raw_len(1000, "{}      "));
  EXPECT_TRUE(load_fails({"header length 1000", "beyond the end of the file"}));
  write(st_raw_len(~0ull, "{}"));  // would wrap 8 + N
  EXPECT_TRUE(load_fails({"header length"}));
}

TEST_F(SafetensorsTest, HeaderLengthOverLimit) {
  write(st_raw_len(100ull * 1000 * 1000 + 1, "{}"));
  EXPECT_TRUE(load_fails({"header length 100000001", "exceeds the limit"}));
}

TEST_F(SafetensorsTest, HeaderNotJson) {
  write(st_raw("{\"w\": {\"dtype\": ", ""));
  EXPECT_TRUE(load_fails({"not valid JSON"}));
  write(st_raw_len(0, ""));
  EXPECT_TRUE(load_fails({"not valid JSON"}));
  write(st_raw("{\"a\": \"\xff\xfe\"}", ""));  // invalid UTF-8
  EXPECT_TRUE(load_fails({"not valid JSON"}));
}

TEST_F(SafetensorsTest, HeaderNotObject) {
  write(st_raw("[1, 2]", ""));
  EXPECT_TRUE(load_fails({"not a JSON object"}));
  write(st_raw("\"w\"", ""));
  EXPECT_TRUE(load_fails({"not a JSON object"}));
}

TEST_F(SafetensorsTest, EntryMissingFields) {
  write_one({{"shape", {1}}, {"data_offsets", {0, 4}}}, 4);
  EXPECT_TRUE(load_fails({"'w'", "no \"dtype\""}));
  write_one({{"dtype", "F32"}, {"data_offsets", {0, 4}}}, 4);
  EXPECT_TRUE(load_fails({"'w'", "no \"shape\""}));
  write_one({{"dtype", "F32"}, {"shape", {1}}}, 4);
  EXPECT_TRUE(load_fails({"'w'", "no \"data_offsets\""}));
  write_one(json(5), 0);
  EXPECT_TRUE(load_fails({"'w'", "not an object"}));
}

TEST_F(SafetensorsTest, EntryWrongTypes) {
  const json offs = {0, 4};
  write_one({{"dtype", 7}, {"shape", {1}}, {"data_offsets", offs}}, 4);
  EXPECT_TRUE(load_fails({"'w'", "\"dtype\" is not a string"}));
  write_one({{"dtype", "F32"}, {"shape", "1"}, {"data_offsets", offs}}, 4);
  EXPECT_TRUE(load_fails({"'w'", "\"shape\" is not an array"}));
  for (const json& dim : {json(-1), json(1.5), json(true), json("1"), json(nullptr)}) {
    write_one({{"dtype", "F32"}, {"shape", {dim}}, {"data_offsets", offs}}, 4);
    EXPECT_TRUE(load_fails({"'w'", "bad dimension " + dim.dump()}));
  }
  for (const json& o : {json{0}, json{0, 4, 8}, json{-4, 0}, json{0, 4.0}, json("0,4"), json{"0", 4}}) {
    write_one({{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", o}}, 4);
    EXPECT_TRUE(load_fails({"'w'", "\"data_offsets\" must be [begin, end]"})) << o.dump();
  }
}

TEST_F(SafetensorsTest, UnknownDtype) {
  // Block-quantized names are dsinfer dtypes, not safetensors ones (size 0 must never reach the offset checks).
  for (const char* dt : {"F8_E5M2", "Q4", "f32", "", "Q4_K", "Q8_0", "Q4_0"}) {
    write_one({{"dtype", dt}, {"shape", {1}}, {"data_offsets", {0, 1}}}, 1);
    EXPECT_TRUE(load_fails({"'w'", std::string("unknown dtype \"") + dt + "\"", "BF16", "F8_E4M3"}));
  }
}

TEST_F(SafetensorsTest, OffsetsOutOfRange) {
  write_one({{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}}, 4);
  EXPECT_TRUE(load_fails({"'w'", "out of range", "4-byte data buffer"}));
  write_one({{"dtype", "F32"}, {"shape", {0}}, {"data_offsets", {12, 12}}}, 8);
  EXPECT_TRUE(load_fails({"'w'", "out of range"}));
}

TEST_F(SafetensorsTest, OffsetsBeginAfterEnd) {
  write_one({{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {8, 4}}}, 8);
  EXPECT_TRUE(load_fails({"'w'", "begin > end"}));
}

TEST_F(SafetensorsTest, ByteSizeMismatch) {
  write_one({{"dtype", "F32"}, {"shape", {3}}, {"data_offsets", {0, 8}}}, 8);
  EXPECT_TRUE(load_fails({"'w'", "byte size mismatch", "F32 [3] needs 12"}));
  write_one({{"dtype", "BF16"}, {"shape", {2, 2}}, {"data_offsets", {0, 16}}}, 16);
  EXPECT_TRUE(load_fails({"'w'", "byte size mismatch", "BF16 [2, 2]"}));
}

TEST_F(SafetensorsTest, SizeOverflowIsCaught) {
  const int64_t big = int64_t{1} << 62;
  write_one({{"dtype", "U8"}, {"shape", {big, big}}, {"data_offsets", {0, 0}}}, 0);
  EXPECT_TRUE(load_fails({"'w'", "overflows"}));
  // Element count fits, bytes do not.
  write_one({{"dtype", "F32"}, {"shape", {big}}, {"data_offsets", {0, 0}}}, 0);
  EXPECT_TRUE(load_fails({"'w'", "overflows"}));
  // Fits in uint64 but not in int64 (numel() would overflow).
  write_one({{"dtype", "U8"}, {"shape", {int64_t{1} << 32, int64_t{1} << 31}}, {"data_offsets", {0, 0}}},
            0);
  EXPECT_TRUE(load_fails({"'w'", "overflows"}));
  write_one({{"dtype", "U8"}, {"shape", {json(18446744073709551615ull)}}, {"data_offsets", {0, 0}}}, 0);
  EXPECT_TRUE(load_fails({"'w'", "bad dimension"}));
}

TEST_F(SafetensorsTest, OverlappingTensors) {
  const json h = {{"a", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}}},
                  {"b", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {4, 12}}}}};
  write(st_raw(h.dump(), ramp(12)));
  EXPECT_TRUE(load_fails({"'b'", "overlaps", "'a'"}));
  // Same range twice.
  const json h2 = {{"a", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {0, 4}}}},
                   {"b", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {0, 4}}}}};
  write(st_raw(h2.dump(), ramp(4)));
  EXPECT_TRUE(load_fails({"overlaps"}));
}

TEST_F(SafetensorsTest, MisalignedBeginOffset) {
  const json h = {{"a", {{"dtype", "U8"}, {"shape", {1}}, {"data_offsets", {0, 1}}}},
                  {"b", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {1, 5}}}},
                  {"c", {{"dtype", "U8"}, {"shape", {3}}, {"data_offsets", {5, 8}}}}};
  write(st_raw(h.dump(), ramp(8)));
  EXPECT_TRUE(load_fails({"'b'", "misaligned", "begin offset 1", "F32 element size 4"}));
}

TEST_F(SafetensorsTest, MisalignedDataBufferStart) {
  std::string h = json{{"w", {{"dtype", "BF16"}, {"shape", {2}}, {"data_offsets", {0, 4}}}}}.dump();
  if (h.size() % 2 == 0) h += ' ';  // 8 + N odd: a BF16 at offset 0 is misaligned in memory
  write(st_raw(h, ramp(4), /*pad=*/false));
  EXPECT_TRUE(load_fails({"'w'", "misaligned", "data buffer starts at byte " + std::to_string(8 + h.size())}));
}

TEST_F(SafetensorsTest, HolesInDataBuffer) {
  const json h = {{"a", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {0, 4}}}},
                  {"b", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {8, 12}}}}};
  write(st_raw(h.dump(), ramp(12)));
  EXPECT_TRUE(load_fails({"'b'", "hole", "[4, 8)"}));
  write(st_file({{"a", "F32", {1}, ramp(4)}}) + "junk");
  EXPECT_TRUE(load_fails({"hole", "[4, 8)", "end"}));
  write(st_raw("{}", ramp(8)));
  EXPECT_TRUE(load_fails({"hole", "[0, 8)"}));
}

TEST_F(SafetensorsTest, MetadataMustBeMapOfStrings) {
  write(st_raw(json{{"__metadata__", "pt"}}.dump(), ""));
  EXPECT_TRUE(load_fails({"__metadata__", "not a map of strings"}));
  write(st_raw(json{{"__metadata__", {{"format", "pt"}, {"n", 3}}}}.dump(), ""));
  EXPECT_TRUE(load_fails({"__metadata__", "not a map of strings", "\"n\""}));
  write(st_raw(json{{"__metadata__", {1, 2}}}.dump(), ""));
  EXPECT_TRUE(load_fails({"__metadata__", "not a map of strings"}));
}

TEST_F(SafetensorsTest, DuplicateTensorName) {
  const std::string e = R"({"dtype": "U8", "shape": [4], "data_offsets": [0, 4]})";
  write(st_raw("{\"w\": " + e + ", \"w\": " + e + "}", ramp(4)));
  EXPECT_TRUE(load_fails({"'w'", "appears twice"}));
}

// Every proper prefix of a valid file is damaged in some way and must be
// rejected cleanly (no crash, no read past the mapping).
TEST_F(SafetensorsTest, EveryTruncationIsAnError) {
  const std::string full = st_file({{"a", "F32", {2}, ramp(8)}, {"b", "U8", {5}, ramp(5)}});
  for (size_t n = 0; n < full.size(); ++n) {
    write(full.substr(0, n));
    EXPECT_TRUE(error_contains([&] { SafetensorsFile f(path_); }, {path_})) << "prefix " << n;
  }
  write(full);
  EXPECT_EQ(SafetensorsFile(path_).tensors().size(), 2u);
}

// Random byte corruption: either a clean Error or a file whose tensors still
// tile the data buffer exactly (checked through the data pointers).
TEST_F(SafetensorsTest, RandomCorruptionNeverCrashes) {
  const std::string full = st_file({{"a", "F32", {2, 2}, ramp(16)},
                                    {"b", "BF16", {3}, ramp(6)},
                                    {"c", "U8", {2}, ramp(2)}},
                                   {{"k", "v"}});
  std::mt19937 rng(1234);
  int loaded = 0, failed = 0;
  for (int iter = 0; iter < 1500; ++iter) {
    std::string bad = full;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) bad[rng() % bad.size()] = static_cast<char>(rng() % 128);
    write(bad);
    try {
      SafetensorsFile f(path_);
      size_t total = 0;
      for (const auto& [name, t] : f.tensors()) {
        total += t.nbytes;
        EXPECT_EQ(static_cast<int64_t>(t.nbytes), t.numel() * static_cast<int64_t>(dtype_size(t.dtype)));
      }
      uint64_t n = 0;
      for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bad[static_cast<size_t>(i)]);
      EXPECT_EQ(total, bad.size() - 8 - n) << "iteration " << iter;
      ++loaded;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path_), std::string::npos) << e.what();
      ++failed;
    }
  }
  EXPECT_GT(failed, 0);
  EXPECT_GT(loaded, 0);  // edits inside the data buffer leave the file valid
}

TEST_F(SafetensorsTest, RealModelFileMatchesDirectRead) {
  REQUIRE_TESTDATA(td);
  const std::string path = td + "/reference/models/qwen2-tiny/model.safetensors";
  SafetensorsFile f(path);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const auto& t = f.tensors().at("model.embed_tokens.weight");
  EXPECT_EQ(t.dtype, DType::BF16);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{1024, 256}));
  ASSERT_EQ(t.nbytes, 1024u * 256 * 2);

  std::ifstream in(path, std::ios::binary);
  uint8_t len[8];
  in.read(reinterpret_cast<char*>(len), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len[i];
  std::string header(n, '\0');
  in.read(header.data(), static_cast<std::streamsize>(n));
  const json h = json::parse(header);
  const uint64_t begin = h.at("model.embed_tokens.weight").at("data_offsets").at(0).get<uint64_t>();
  std::string expect(t.nbytes, '\0');
  in.seekg(static_cast<std::streamoff>(8 + n + begin));
  in.read(expect.data(), static_cast<std::streamsize>(expect.size()));
  ASSERT_TRUE(in.good());
  EXPECT_EQ(std::memcmp(t.data, expect.data(), expect.size()), 0);
}

}  // namespace
}  // namespace dsinfer::test
