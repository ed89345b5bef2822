// GGUF reader: files built byte by byte (valid and malformed) and the real
// vocabulary files of the test data.
#include "io/gguf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "common/testdata.h"
#include "core/error.h"

namespace dsinfer::io {
namespace {

// Little-endian GGUF writer for tests.
struct Builder {
  std::string b;
  Builder& raw(std::string_view s) { b.append(s); return *this; }
  template <typename T>
  Builder& num(T v) {
    char tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    b.append(tmp, sizeof(T));
    return *this;
  }
  Builder& u32(uint32_t v) { return num(v); }
  Builder& u64(uint64_t v) { return num(v); }
  Builder& str(std::string_view s) { return u64(s.size()).raw(s); }
  Builder& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return raw("GGUF").u32(version).u64(n_tensors).u64(n_kv);
  }
  Builder& key(std::string_view k, GgufType t) { return str(k).u32(static_cast<uint32_t>(t)); }
  Builder& pad_to(size_t align) {
    while (b.size() % align) b.push_back('\0');
    return *this;
  }
};

class GgufTest : public testing::Test {
 protected:
  std::string dir_ = test::make_temp_dir();
  int n_ = 0;
  std::string write(const Builder& bld) {
    const std::string path = dir_ + "/f" + std::to_string(n_++) + ".gguf";
    std::ofstream(path, std::ios::binary) << bld.b;
    return path;
  }
  // Error message of opening the file (the test fails when it opens).
  std::string error_of(const Builder& bld) {
    const std::string path = write(bld);
    try {
      GgufFile f(path);
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << "message does not name the file: " << msg;
      return msg;
    }
    ADD_FAILURE() << "opening succeeded";
    return "";
  }
};

#define EXPECT_HAS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

Builder all_types_file(uint32_t version) {
  Builder b;
  b.header(2, 15, version);
  b.key("u8", GgufType::UINT8).num<uint8_t>(200);
  b.key("i8", GgufType::INT8).num<int8_t>(-5);
  b.key("u16", GgufType::UINT16).num<uint16_t>(60000);
  b.key("i16", GgufType::INT16).num<int16_t>(-30000);
  b.key("u32", GgufType::UINT32).u32(4000000000u);
  b.key("i32", GgufType::INT32).num<int32_t>(-7);
  b.key("f32", GgufType::FLOAT32).num<float>(1.5f);
  b.key("bool", GgufType::BOOL).num<uint8_t>(1);
  b.key("general.name", GgufType::STRING).str("tiny");
  b.key("u64", GgufType::UINT64).u64(~uint64_t{0});
  b.key("i64", GgufType::INT64).num<int64_t>(-1);
  b.key("f64", GgufType::FLOAT64).num<double>(2.25);
  b.key("strs", GgufType::ARRAY).u32(static_cast<uint32_t>(GgufType::STRING)).u64(3).str("a").str("").str("ccc");
  b.key("nested", GgufType::ARRAY).u32(static_cast<uint32_t>(GgufType::ARRAY)).u64(2);
  b.u32(static_cast<uint32_t>(GgufType::INT32)).u64(2).num<int32_t>(1).num<int32_t>(2);
  b.u32(static_cast<uint32_t>(GgufType::INT32)).u64(0);
  b.key("general.alignment", GgufType::UINT32).u32(64);
  // tensors: a [4, 2] F32 at 0, a [32] Q8_0 (one 34-byte block) at 64
  b.str("w").u32(2).u64(4).u64(2).u32(0).u64(0);
  b.str("q").u32(1).u64(32).u32(8).u64(64);
  b.pad_to(64);
  for (int k = 0; k < 8; ++k) b.num<float>(static_cast<float>(k));
  b.pad_to(64).raw(std::string(34, '\x01'));
  return b;
}

TEST_F(GgufTest, ReadsEveryValueTypeAndTensors) {
  for (uint32_t version : {2u, 3u}) {
    const std::string path = write(all_types_file(version));
    const GgufFile f(path);
    EXPECT_EQ(f.version(), version);
    EXPECT_EQ(f.metadata().size(), 15u);
    EXPECT_EQ(f.get_int("u8"), 200);
    EXPECT_EQ(f.get_int("i8"), -5);
    EXPECT_EQ(f.get_int("u16"), 60000);
    EXPECT_EQ(f.get_int("i16"), -30000);
    EXPECT_EQ(f.get_int("u32"), 4000000000ll);
    EXPECT_EQ(f.get_int("i32"), -7);
    EXPECT_EQ(f.get_float("f32"), 1.5);
    EXPECT_EQ(f.get_bool("bool"), true);
    EXPECT_EQ(f.get_string("general.name"), "tiny");
    EXPECT_EQ(f.find("u64")->u, ~uint64_t{0});
    EXPECT_EQ(f.get_int("i64"), -1);
    EXPECT_EQ(f.get_float("f64"), 2.25);
    EXPECT_EQ(f.get_string_array("strs"), (std::vector<std::string_view>{"a", "", "ccc"}));
    const GgufValue* nested = f.find("nested");
    ASSERT_NE(nested, nullptr);
    ASSERT_EQ(nested->items.size(), 2u);
    EXPECT_EQ(nested->items[0].items[1].i, 2);
    EXPECT_TRUE(nested->items[1].items.empty());
    EXPECT_EQ(nested->to_string(), "[array x 2: [int32 x 2: 1, 2], [int32 x 0:]]");
    EXPECT_EQ(f.get_string("absent"), std::nullopt);
    EXPECT_EQ(f.alignment(), 64u);
    ASSERT_EQ(f.tensors().size(), 2u);
    const GgufTensorInfo* w = f.find_tensor("w");
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->dims, (std::vector<uint64_t>{4, 2}));
    EXPECT_EQ(w->nbytes, 32u);
    EXPECT_EQ(w->numel(), 8u);
    EXPECT_EQ(f.data_offset() % 64, 0u);
    float v7;
    std::memcpy(&v7, w->data + 28, 4);
    EXPECT_EQ(v7, 7.0f);
    const GgufTensorInfo* q = f.find_tensor("q");
    EXPECT_EQ(q->nbytes, 34u);
    EXPECT_EQ(ggml_type_name(q->type), "Q8_0");
    EXPECT_EQ(q->data[33], 1);
  }
}

TEST_F(GgufTest, TypedGettersNameKeyAndTypes) {
  const GgufFile f(write(all_types_file(3)));
  try {
    f.get_int("general.name");
    FAIL();
  } catch (const Error& e) {
    EXPECT_HAS(std::string(e.what()), "key 'general.name': has type string");
  }
  EXPECT_THROW(f.get_string_array("nested"), Error);
  EXPECT_THROW(f.get_int_array("strs"), Error);
  EXPECT_THROW(f.get_bool("u8"), Error);
  EXPECT_THROW(f.get_int("u64"), Error);  // does not fit in int64
}

TEST_F(GgufTest, HeaderErrors) {
  EXPECT_HAS(error_of(Builder().raw("GGU")), "not a GGUF file (bad magic");
  EXPECT_HAS(error_of(Builder().raw("GGML").u32(3).u64(0).u64(0)), "not a GGUF file (bad magic");
  EXPECT_HAS(error_of(Builder().header(0, 0, 1)), "unsupported GGUF version 1");
  EXPECT_HAS(error_of(Builder().header(0, 0, 0x03000000)), "big-endian GGUF files are not supported");
  EXPECT_HAS(error_of(Builder().raw("GGUF").u32(3).u32(0)), "file truncated reading tensor count");
  EXPECT_HAS(error_of(Builder().header(0, 1000)), "header claims 1000 metadata entries but only 0 bytes");
  EXPECT_HAS(error_of(Builder().header(uint64_t{1} << 60, 0)), "header claims 1152921504606846976 tensors");
}

TEST_F(GgufTest, MetadataErrors) {
  EXPECT_HAS(error_of(Builder().header(0, 1).u64(1000).raw(std::string(20, 'k'))), "metadata key length 1000 at offset 24 runs past the end");
  EXPECT_HAS(error_of(Builder().header(0, 1).key("general.name", GgufType::STRING).u64(99).raw("short")),
             "key 'general.name': string length 99 at offset");
  EXPECT_HAS(error_of(Builder().header(0, 1).key("x", static_cast<GgufType>(13)).u32(0)), "key 'x': unknown value type 13");
  EXPECT_HAS(error_of(Builder().header(0, 1).key("x", GgufType::UINT32).raw("\x01\x02")),
             "key 'x': file truncated reading uint32 value");
  EXPECT_HAS(error_of(Builder().header(0, 1).key("arr", GgufType::ARRAY).u32(4).u64(uint64_t{1} << 60).u32(0)),
             "key 'arr': array of 1152921504606846976 uint32 values needs at least 4 bytes each");
  EXPECT_HAS(error_of(Builder().header(0, 1).key("arr", GgufType::ARRAY).u32(8).u64(~uint64_t{0})),
             "key 'arr': array of 18446744073709551615 string values");
  EXPECT_HAS(error_of(Builder().header(0, 1).key("arr", GgufType::ARRAY).u32(77).u64(1)),
             "key 'arr': unknown array element type 77");
  EXPECT_HAS(error_of(Builder().header(0, 1).key("b", GgufType::BOOL).num<uint8_t>(2)), "key 'b': bool value 2");
  EXPECT_HAS(error_of(Builder().header(0, 2).key("k", GgufType::UINT8).num<uint8_t>(1).key("k", GgufType::UINT8).num<uint8_t>(2)),
             "key 'k': duplicate metadata key");
  EXPECT_HAS(error_of(Builder().header(0, 1).key("general.alignment", GgufType::UINT32).u32(48)),
             "key 'general.alignment': alignment 48 is not a power of two");
  Builder deep;
  deep.header(0, 1).key("deep", GgufType::ARRAY);
  for (int k = 0; k < 20; ++k) deep.u32(static_cast<uint32_t>(GgufType::ARRAY)).u64(1);
  deep.u32(0).u64(0);
  EXPECT_HAS(error_of(deep), "key 'deep': arrays nested deeper than");
}

// One F32 tensor "t" with the given dims/type/offset, followed by `data_bytes` bytes of data.
Builder one_tensor(std::vector<uint64_t> dims, uint32_t type, uint64_t offset, size_t data_bytes) {
  Builder b;
  b.header(1, 0).str("t").u32(static_cast<uint32_t>(dims.size()));
  for (auto d : dims) b.u64(d);
  b.u32(type).u64(offset).pad_to(32).raw(std::string(data_bytes, '\0'));
  return b;
}

TEST_F(GgufTest, TensorErrors) {
  EXPECT_HAS(error_of(one_tensor({1, 1, 1, 1, 1}, 0, 0, 4)), "tensor 't': has 5 dimensions");
  EXPECT_HAS(error_of(one_tensor({4}, 99, 0, 16)), "tensor 't': unknown ggml tensor type 99");
  EXPECT_HAS(error_of(one_tensor({4}, 0, 8, 64)), "tensor 't': data offset 8 is not a multiple of the alignment 32");
  EXPECT_HAS(error_of(one_tensor({4}, 0, 0, 15)), "tensor 't': data [0, 16) relative to the data section");
  EXPECT_HAS(error_of(one_tensor({1u << 20, 1u << 20}, 0, 0, 16)), "runs past the end of the file");
  EXPECT_HAS(error_of(one_tensor({uint64_t{1} << 40, uint64_t{1} << 40}, 0, 0, 16)), "element count overflows");
  EXPECT_HAS(error_of(one_tensor({33}, 8, 0, 64)), "first dimension 33 is not a multiple of the Q8_0 block size 32");
}

TEST_F(GgufTest, OverlappingAndDuplicateTensors) {
  Builder overlap;
  overlap.header(2, 0);
  overlap.str("a").u32(1).u64(16).u32(0).u64(0);
  overlap.str("b").u32(1).u64(8).u32(0).u64(32);
  overlap.pad_to(32).raw(std::string(96, '\0'));
  EXPECT_HAS(error_of(overlap), "tensor 'b' (offset 32) overlaps tensor 'a'");
  Builder dup;
  dup.header(2, 0);
  dup.str("a").u32(1).u64(8).u32(0).u64(0);
  dup.str("a").u32(1).u64(8).u32(0).u64(32);
  dup.pad_to(32).raw(std::string(64, '\0'));
  EXPECT_HAS(error_of(dup), "tensor 'a' appears twice in the tensor table");
}

TEST(GgufRealFiles, DeepseekVocabularies) {
  REQUIRE_TESTDATA(td);
  const GgufFile f(td + "/tokenizers/ggml-vocab-deepseek-llm.gguf");
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.metadata().size(), 23u);
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f.get_string("tokenizer.ggml.pre"), "deepseek-llm");
  EXPECT_EQ(f.get_int("llama.vocab_size"), 102400);
  EXPECT_EQ(f.get_int("tokenizer.ggml.bos_token_id"), 100000);
  EXPECT_EQ(f.get_bool("tokenizer.ggml.add_bos_token"), true);
  const auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens);
  EXPECT_EQ(tokens->size(), 102400u);
  EXPECT_EQ((*tokens)[0], "!");
  EXPECT_EQ(f.get_int_array("tokenizer.ggml.token_type")->size(), 102400u);
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.merges")->size(), 99757u);
  EXPECT_NEAR(*f.get_float("llama.rope.freq_base"), 10000.0, 1e-9);
  const GgufFile coder(td + "/tokenizers/ggml-vocab-deepseek-coder.gguf");
  EXPECT_EQ(coder.get_string("tokenizer.ggml.pre"), "deepseek-coder");
  EXPECT_EQ(coder.get_int_array("tokenizer.ggml.token_type")->at(32013), 3);
}

}  // namespace
}  // namespace dsinfer::io
