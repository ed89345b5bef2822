// hub_download against a local fake hub (127.0.0.1 only): an API server
// answering /api/models/... and /resolve/..., which redirects LFS files to a
// second "CDN" server on another port.
#include "io/hub.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/testdata.h"
#include "core/error.h"

namespace dsinfer::io {
namespace {

namespace fs = std::filesystem;

std::string sha256_hex(const std::string& s) {
  hub_detail::Sha256 h;
  h.update(s.data(), s.size());
  return h.hex_digest();
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// An httplib::Server on 127.0.0.1 and an ephemeral port, served from a thread.
class Served {
 public:
  explicit Served(const std::function<void(httplib::Server&)>& routes) {
    routes(svr_);
    port_ = svr_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("cannot bind a test server on 127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    for (int i = 0; i < 5000 && !svr_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Served() { stop(); }
  void stop() {
    if (!thread_.joinable()) return;
    svr_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server svr_;
  std::thread thread_;
  int port_ = 0;
};

struct FakeFile {
  std::string content;
  bool lfs = false;
};

struct Seen {
  std::string path, range, authorization;
};

class FakeHub {
 public:
  FakeHub() {
    files["config.json"] = {R"({"model_type": "deepseek_v3"})", false};
    files["tokenizer.json"] = {R"({"model": {"type": "BPE"}})", false};
    files["README.md"] = {"# tiny", false};
    std::mt19937 g(7);
    std::string weights(300000, '\0');
    for (char& c : weights) c = static_cast<char>(g());
    files["model.safetensors"] = {weights, true};
    files["pytorch_model.bin"] = {weights.substr(0, 5000), true};
    files["sub/model.safetensors"] = {"nested", true};
    cdn_ = std::make_unique<Served>([this](httplib::Server& s) { cdn_routes(s); });
    hub_ = std::make_unique<Served>([this](httplib::Server& s) { hub_routes(s); });
  }

  std::string endpoint() const { return hub_->url(); }
  void stop() {
    hub_->stop();
    cdn_->stop();
  }
  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  bool requested(const std::string& needle) {
    for (const Seen& s : seen()) {
      if (s.path.find(needle) != std::string::npos) return true;
    }
    return false;
  }

  // Configuration; set before any request.
  const std::string repo = "acme/tiny";
  const std::string commit = "0123456789abcdef0123456789abcdef01234567";
  std::map<std::string, FakeFile> files;
  std::string required_token;
  size_t cut_once = 0;        // the next CDN answer stops after this many bytes
  bool ignore_range = false;  // the CDN answers 200 with the whole file to Range requests
  bool corrupt = false;       // the CDN serves bytes that do not match the sha256
  int status_once = 0;        // the next CDN answer is this error status

 private:
  void record(const httplib::Request& req) {
    std::lock_guard<std::mutex> lock(mu_);
    seen_.push_back({req.path, req.get_header_value("Range"), req.get_header_value("Authorization")});
  }
  bool authorized(const httplib::Request& req, httplib::Response& res) {
    if (required_token.empty() || req.get_header_value("Authorization") == "Bearer " + required_token) return true;
    res.status = 401;
    res.set_header("X-Error-Code", "GatedRepo");
    res.set_content(R"({"error": "Access to model acme/tiny is restricted."})", "application/json");
    return false;
  }
  nlohmann::json info() const {
    nlohmann::json siblings = nlohmann::json::array();
    for (const auto& [name, f] : files) {
      nlohmann::json s = {{"rfilename", name}, {"size", f.content.size()}};
      if (f.lfs) s["lfs"] = {{"sha256", sha256_hex(f.content)}, {"size", f.content.size()}, {"pointerSize", 134}};
      siblings.push_back(s);
    }
    return {{"id", repo}, {"sha", commit}, {"siblings", siblings}};
  }
  void hub_routes(httplib::Server& s);
  void cdn_routes(httplib::Server& s);

  std::mutex mu_;
  std::vector<Seen> seen_;
  std::unique_ptr<Served> cdn_, hub_;
};

void FakeHub::hub_routes(httplib::Server& s) {
  s.Get(R"(/api/models/([^/]+/[^/]+)/revision/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
    record(req);
    if (!authorized(req, res)) return;
    if (req.matches[1] != repo || (req.matches[2] != "main" && req.matches[2] != commit)) {
      res.status = 404;
      res.set_header("X-Error-Code", "RepoNotFound");
      res.set_content(R"({"error": "Repository not found"})", "application/json");
      return;
    }
    res.set_content(info().dump(), "application/json");
  });
  s.Get(R"(/([^/]+/[^/]+)/resolve/([0-9a-f]+)/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
    record(req);
    if (!authorized(req, res)) return;
    const auto it = files.find(req.matches[3]);
    if (req.matches[1] != repo || req.matches[2] != commit || it == files.end()) {
      res.status = 404;
      res.set_header("X-Error-Code", "EntryNotFound");
      return;
    }
    const std::string sha = sha256_hex(it->second.content);
    if (it->second.lfs) {  // to the CDN, another origin: the token must not follow
      res.set_header("X-Linked-Etag", "\"" + sha + "\"");
      res.set_redirect(cdn_->url() + "/cdn/" + sha, 302);
      return;
    }
    res.set_header("ETag", "\"" + sha.substr(0, 40) + "\"");
    res.set_content(it->second.content, "application/octet-stream");
  });
}

void FakeHub::cdn_routes(httplib::Server& s) {
  s.Get(R"(/cdn/([0-9a-f]{64}))", [this](const httplib::Request& req, httplib::Response& res) {
    record(req);
    if (status_once != 0) {
      res.status = std::exchange(status_once, 0);
      return;
    }
    std::string body;
    for (const auto& [name, f] : files) {
      if (sha256_hex(f.content) == req.matches[1]) body = f.content;
    }
    if (corrupt) body[body.size() / 2] ^= 1;
    if (cut_once > 0) {  // send a prefix, then drop the connection
      const size_t cut = std::exchange(cut_once, 0);
      res.set_content_provider(body.size(), "application/octet-stream",
                               [body, cut](size_t off, size_t len, httplib::DataSink& sink) {
                                 if (off >= cut) return false;
                                 sink.write(body.data() + off, std::min(len, cut - off));
                                 return true;
                               });
    } else if (ignore_range) {  // chunked: httplib does not slice it to the Range
      res.status = 200;
      res.set_chunked_content_provider("application/octet-stream", [body](size_t off, httplib::DataSink& sink) {
        if (off < body.size()) {
          sink.write(body.data() + off, body.size() - off);
        } else {
          sink.done();
        }
        return true;
      });
    } else {
      res.set_content(body, "application/octet-stream");  // httplib answers Range with 206
    }
  });
}

class Hub : public ::testing::Test {
 protected:
  ~Hub() override {
    std::error_code ec;
    fs::remove_all(cache, ec);
  }
  HubOptions options() {
    HubOptions o;
    o.endpoint = hub.endpoint();
    o.cache_dir = cache;
    o.connect_timeout_s = 2;
    o.read_timeout_s = 5;
    o.retries = 0;
    return o;
  }
  fs::path repo_dir() const { return fs::path(cache) / "models--acme--tiny"; }
  fs::path snapshot() const { return repo_dir() / "snapshots" / hub.commit; }
  std::string error_of(const std::string& repo, const HubOptions& o) {
    try {
      hub_download(repo, o);
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "hub_download(" << repo << ") did not fail";
    return "";
  }
  void expect_snapshot_ok() {
    for (const char* name : {"config.json", "tokenizer.json", "model.safetensors"}) {
      const fs::path link = snapshot() / name;
      ASSERT_TRUE(fs::is_symlink(link)) << link;
      const fs::path target = fs::read_symlink(link);
      EXPECT_EQ(target.parent_path(), fs::path("../../blobs")) << target;
      EXPECT_EQ(read_file(link), hub.files[name].content) << name;
    }
    const std::string sha = sha256_hex(hub.files["model.safetensors"].content);
    EXPECT_EQ(fs::read_symlink(snapshot() / "model.safetensors").filename(), sha);
    EXPECT_EQ(read_file(repo_dir() / "refs" / "main"), hub.commit);
    for (const auto& e : fs::directory_iterator(repo_dir() / "blobs")) {
      EXPECT_NE(e.path().extension(), ".incomplete") << e.path();
    }
  }

  FakeHub hub;
  std::string cache = test::make_temp_dir();
};

TEST_F(Hub, DownloadsOnlyTheNeededFilesIntoTheCacheLayout) {
  hub.required_token = "hf_secret";
  HubOptions o = options();
  o.token = "hf_secret";
  std::map<std::string, std::pair<uint64_t, uint64_t>> last;
  o.progress = [&](const std::string& f, uint64_t done, uint64_t total) { last[f] = {done, total}; };
  const std::string dir = hub_download("acme/tiny", o);
  EXPECT_EQ(fs::path(dir), snapshot());
  expect_snapshot_ok();
  const uint64_t size = hub.files["model.safetensors"].content.size();
  EXPECT_EQ(last["model.safetensors"], std::make_pair(size, size));
  for (const char* skipped : {"pytorch_model.bin", "README.md", "sub"}) {
    EXPECT_FALSE(fs::exists(snapshot() / skipped)) << skipped;
    EXPECT_FALSE(hub.requested(std::string("/") + skipped)) << skipped;
  }
  bool cdn_hit = false;
  for (const Seen& s : hub.seen()) {
    if (s.path.starts_with("/cdn/")) {
      cdn_hit = true;
      EXPECT_EQ(s.authorization, "") << "token leaked to another origin";
    } else {
      EXPECT_EQ(s.authorization, "Bearer hf_secret") << s.path;
    }
  }
  EXPECT_TRUE(cdn_hit);
}

TEST_F(Hub, CachedSnapshotNeedsNoNetwork) {
  const std::string dir = hub_download("acme/tiny", options());
  const size_t requests = hub.seen().size();
  EXPECT_EQ(hub_download("acme/tiny", options()), dir);
  EXPECT_EQ(hub.seen().size(), requests);
  hub.stop();
  EXPECT_EQ(hub_download("acme/tiny", options()), dir);
  HubOptions offline = options();
  offline.offline = true;
  EXPECT_EQ(hub_download("acme/tiny", offline), dir);
  offline.revision = hub.commit;  // a commit sha finds its snapshot too
  EXPECT_EQ(hub_download("acme/tiny", offline), dir);
  offline.cache_dir = cache + "/empty";
  EXPECT_NE(error_of("acme/tiny", offline).find("offline"), std::string::npos);
}

TEST_F(Hub, ResumesAnInterruptedDownloadOnTheNextRun) {
  hub.cut_once = 100000;
  const std::string msg = error_of("acme/tiny", options());
  EXPECT_NE(msg.find("interrupted"), std::string::npos) << msg;
  EXPECT_NE(msg.find("resume"), std::string::npos) << msg;
  const std::string sha = sha256_hex(hub.files["model.safetensors"].content);
  const fs::path partial = repo_dir() / "blobs" / (sha + ".incomplete");
  ASSERT_TRUE(fs::exists(partial));
  const uint64_t kept = fs::file_size(partial);
  EXPECT_GT(kept, 0u);
  EXPECT_LE(kept, 100000u);
  EXPECT_FALSE(fs::exists(repo_dir() / "refs" / "main"));

  hub_download("acme/tiny", options());
  expect_snapshot_ok();
  const auto seen = hub.seen();
  const bool resumed = std::any_of(seen.begin(), seen.end(), [&](const Seen& s) {
    return s.path.starts_with("/cdn/") && s.range == "bytes=" + std::to_string(kept) + "-";
  });
  EXPECT_TRUE(resumed) << "no Range request continuing at byte " << kept;
}

TEST_F(Hub, RetriesWithinOneRunFromWhereItStopped) {
  hub.cut_once = 70000;
  HubOptions o = options();
  o.retries = 2;
  hub_download("acme/tiny", o);
  expect_snapshot_ok();
  const auto seen = hub.seen();
  EXPECT_TRUE(std::any_of(seen.begin(), seen.end(), [](const Seen& s) { return s.range.starts_with("bytes="); }));
}

TEST_F(Hub, ServerErrorsAreRetried) {
  hub.status_once = 503;
  const std::string msg = error_of("acme/tiny", options());
  EXPECT_NE(msg.find("HTTP 503"), std::string::npos) << msg;
  hub.status_once = 503;
  HubOptions o = options();
  o.retries = 1;
  hub_download("acme/tiny", o);
  expect_snapshot_ok();
}

TEST_F(Hub, StartsOverWhenTheServerIgnoresTheRange) {
  const std::string sha = sha256_hex(hub.files["model.safetensors"].content);
  fs::create_directories(repo_dir() / "blobs");
  std::ofstream(repo_dir() / "blobs" / (sha + ".incomplete")) << std::string(5000, 'z');
  hub.ignore_range = true;
  hub_download("acme/tiny", options());
  expect_snapshot_ok();
  const auto seen = hub.seen();
  EXPECT_TRUE(std::any_of(seen.begin(), seen.end(), [](const Seen& s) { return s.range == "bytes=5000-"; }));
}

TEST_F(Hub, ChecksumMismatchIsCaughtAndNothingIsKept) {
  hub.corrupt = true;
  const std::string msg = error_of("acme/tiny", options());
  EXPECT_NE(msg.find("checksum mismatch for model.safetensors"), std::string::npos) << msg;
  const std::string sha = sha256_hex(hub.files["model.safetensors"].content);
  EXPECT_FALSE(fs::exists(repo_dir() / "blobs" / sha));
  EXPECT_FALSE(fs::exists(repo_dir() / "blobs" / (sha + ".incomplete")));
  EXPECT_FALSE(fs::exists(snapshot() / "model.safetensors"));
  EXPECT_FALSE(fs::exists(repo_dir() / "refs" / "main"));
}

TEST_F(Hub, MissingRepositoryIsNamed) {
  const std::string msg = error_of("acme/missing", options());
  EXPECT_NE(msg.find("repository acme/missing (revision main) not found at " + hub.endpoint()), std::string::npos)
      << msg;
  HubOptions o = options();
  o.revision = "v9";
  const std::string rev = error_of("acme/tiny", o);
  EXPECT_NE(rev.find("(revision v9) not found"), std::string::npos) << rev;
}

TEST_F(Hub, GatedRepositoryMentionsTheToken) {
  hub.required_token = "hf_right";
  std::string msg = error_of("acme/tiny", options());
  EXPECT_NE(msg.find("HF_TOKEN"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("401"), std::string::npos) << msg;
  HubOptions o = options();
  o.token = "hf_wrong";
  msg = error_of("acme/tiny", o);
  EXPECT_NE(msg.find("refused"), std::string::npos) << msg;
  o.token = "hf_right";
  EXPECT_NO_THROW(hub_download("acme/tiny", o));
}

TEST_F(Hub, UnreachableEndpointIsNamed) {
  HubOptions o = options();
  hub.stop();  // nothing listens on its port any more
  const std::string msg = error_of("acme/tiny", o);
  EXPECT_NE(msg.find("cannot reach"), std::string::npos) << msg;
  EXPECT_NE(msg.find(o.endpoint), std::string::npos) << msg;
}

// A GGUF repository as llama.cpp's users find them: quantizations side by
// side, a large one split in parts in a folder, a vision projector, no config.json.
void make_gguf_repo(FakeHub& hub) {
  hub.files.clear();
  hub.files["README.md"] = {"# gguf", false};
  hub.files["tiny-Q4_K_M.gguf"] = {std::string(4000, 'm'), true};
  hub.files["tiny-Q4_K_S.gguf"] = {std::string(3000, 's'), true};
  hub.files["tiny-Q8_0.gguf"] = {std::string(6000, '8'), true};
  hub.files["tiny-IQ4_XS.gguf"] = {std::string(2000, 'x'), true};
  hub.files["tiny-Q2_K.gguf"] = {std::string(1000, '2'), true};
  hub.files["tiny-v2-Q2_K.gguf"] = {std::string(1000, 'v'), true};
  hub.files["mmproj-tiny-Q8_0.gguf"] = {std::string(500, 'p'), true};
  hub.files["BF16/tiny-BF16-00001-of-00002.gguf"] = {std::string(7000, 'a'), true};
  hub.files["BF16/tiny-BF16-00002-of-00002.gguf"] = {std::string(5000, 'b'), true};
  hub.files["../escape-Q3_K.gguf"] = {"outside the snapshot", true};  // never a candidate
}

TEST_F(Hub, GgufTagFetchesThatFileOnly) {
  make_gguf_repo(hub);
  HubOptions o = options();
  o.gguf_tag = "q8_0";  // any case
  const std::string path = hub_download("acme/tiny", o);
  EXPECT_EQ(fs::path(path), snapshot() / "tiny-Q8_0.gguf");
  EXPECT_EQ(read_file(path), hub.files["tiny-Q8_0.gguf"].content);
  for (const char* other : {"tiny-Q4_K_M.gguf", "mmproj-tiny-Q8_0.gguf", "README.md"}) {
    EXPECT_FALSE(fs::exists(snapshot() / other)) << other;
    EXPECT_FALSE(hub.requested(std::string("/") + other)) << other;
  }
  // From the cache, with no network, and offline.
  hub.stop();
  EXPECT_EQ(hub_download("acme/tiny", o), path);
  o.offline = true;
  EXPECT_EQ(hub_download("acme/tiny", o), path);
  o.gguf_tag = "Q4_K_M";  // not fetched yet
  EXPECT_NE(error_of("acme/tiny", o).find("offline"), std::string::npos);
}

TEST_F(Hub, GgufSplitSetComesWholeAndItsFirstPartIsReturned) {
  make_gguf_repo(hub);
  HubOptions o = options();
  o.gguf_tag = "BF16";
  const std::string path = hub_download("acme/tiny", o);
  EXPECT_EQ(fs::path(path), snapshot() / "BF16" / "tiny-BF16-00001-of-00002.gguf");
  EXPECT_EQ(read_file(snapshot() / "BF16" / "tiny-BF16-00002-of-00002.gguf"),
            hub.files["BF16/tiny-BF16-00002-of-00002.gguf"].content);
  // A part missing from the cache is fetched again rather than returned.
  fs::remove(snapshot() / "BF16" / "tiny-BF16-00002-of-00002.gguf");
  const size_t before = hub.seen().size();
  EXPECT_EQ(hub_download("acme/tiny", o), path);
  EXPECT_GT(hub.seen().size(), before);
  EXPECT_TRUE(fs::exists(snapshot() / "BF16" / "tiny-BF16-00002-of-00002.gguf"));
}

TEST_F(Hub, GgufRepositoryWithoutTagGivesQ4KMAndUnclearTagsAreNamed) {
  make_gguf_repo(hub);
  EXPECT_EQ(fs::path(hub_download("acme/tiny", options())), snapshot() / "tiny-Q4_K_M.gguf");
  HubOptions o = options();
  o.gguf_tag = "Q2_K";
  std::string msg = error_of("acme/tiny", o);
  EXPECT_NE(msg.find("\"Q2_K\" names several GGUF models (tiny-Q2_K.gguf, tiny-v2-Q2_K.gguf)"), std::string::npos)
      << msg;
  // A tag is a whole name: Q4_K is neither Q4_K_M (cached now) nor Q4_K_S, Q4_XS not IQ4_XS.
  for (const char* tag : {"Q4_K", "Q4_XS"}) {
    o.gguf_tag = tag;
    msg = error_of("acme/tiny", o);
    EXPECT_NE(msg.find("has no GGUF file for \"" + std::string(tag) + "\""), std::string::npos) << msg;
  }
  o.gguf_tag = "Q3_K";
  msg = error_of("acme/tiny", o);
  EXPECT_NE(msg.find("has no GGUF file for \"Q3_K\""), std::string::npos) << "a name leaving the snapshot: " << msg;
  o.gguf_tag = "Q6_K";
  msg = error_of("acme/tiny", o);
  EXPECT_NE(msg.find("has no GGUF file for \"Q6_K\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("tiny-Q8_0.gguf"), std::string::npos) << "the choices are listed: " << msg;
  hub.files.erase("BF16/tiny-BF16-00002-of-00002.gguf");
  o.gguf_tag = "BF16";
  msg = error_of("acme/tiny", o);
  EXPECT_NE(msg.find("is one of 2 parts but 1 are listed"), std::string::npos) << msg;
}

TEST(HubNames, RepoWithQuantTag) {
  EXPECT_EQ(split_repo_ref("unsloth/DeepSeek-R1-Distill-Qwen-1.5B-GGUF:Q4_K_M").repo,
            "unsloth/DeepSeek-R1-Distill-Qwen-1.5B-GGUF");
  EXPECT_EQ(split_repo_ref("unsloth/DeepSeek-R1-Distill-Qwen-1.5B-GGUF:Q4_K_M").tag, "Q4_K_M");
  EXPECT_EQ(split_repo_ref("deepseek-ai/DeepSeek-V3").tag, "");
}

TEST(HubNames, DefaultCacheDirHonoursHfHome) {
  EXPECT_EQ(default_cache_dir("/data/hf", "/home/me"), "/data/hf/hub");
  EXPECT_EQ(default_cache_dir(nullptr, "/home/me"), "/home/me/.cache/huggingface/hub");
  EXPECT_EQ(default_cache_dir("", "/home/me"), "/home/me/.cache/huggingface/hub");
  EXPECT_THROW(default_cache_dir(nullptr, nullptr), Error);
}

TEST(HubNames, RepoIdVersusLocalPath) {
  EXPECT_TRUE(looks_like_repo_id("deepseek-ai/DeepSeek-V3"));
  EXPECT_TRUE(looks_like_repo_id("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"));
  for (const char* s : {"", "model", "a/b/c", "/abs/path", "./rel/x", "org/na..me", "-org/name", "org/", "~/m"}) {
    EXPECT_FALSE(looks_like_repo_id(s)) << s;
  }
  // An existing relative path ORG/NAME is local.
  const fs::path old = fs::current_path();
  const fs::path tmp = test::make_temp_dir();
  fs::current_path(tmp);
  fs::create_directories("acme/local-model");
  EXPECT_FALSE(looks_like_repo_id("acme/local-model"));
  EXPECT_TRUE(looks_like_repo_id("acme/remote-model"));
  fs::current_path(old);
  fs::remove_all(tmp);
}

TEST(HubNames, WantedFiles) {
  for (const char* s : {"config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json",
                        "model.safetensors.index.json", "model-00001-of-00163.safetensors"}) {
    EXPECT_TRUE(hub_file_wanted(s)) << s;
  }
  for (const char* s : {"pytorch_model.bin", "model.gguf", "consolidated.pt", "figures/a.png", "README.md",
                        "original/model.safetensors", ".safetensors"}) {
    EXPECT_FALSE(hub_file_wanted(s)) << s;
  }
}

TEST(HubSha256, KnownVectorsAndStreaming) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  EXPECT_EQ(sha256_hex(million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  hub_detail::Sha256 h;
  for (size_t off = 0, step = 1; off < million.size(); off += step, step = step * 3 % 1000 + 1) {
    h.update(million.data() + off, std::min(step, million.size() - off));
  }
  EXPECT_EQ(h.hex_digest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

}  // namespace
}  // namespace dsinfer::io
