// Hugging Face hub download: repository info from the API, then each wanted
// file from /resolve/<commit>/ into a resumable <blob>.incomplete, checked,
// renamed to its blob and linked from the snapshot. See hub.h.
#include "io/hub.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "core/error.h"

namespace dsinfer::io {
namespace fs = std::filesystem;
using hub_detail::Sha256;

namespace {

constexpr int kMaxRedirects = 10;
constexpr size_t kMaxBody = size_t{64} << 20;  // non-streamed answers (repository info, errors)
constexpr uint64_t kProgressStep = 1 << 20;

// ---------------------------------------------------------------- URLs

std::string url_encode(const std::string& s, bool keep_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

struct Url {
  std::string origin;  // scheme://host[:port]
  std::string path;    // "/..." with query, "/" at least
};

Url split_url(const std::string& url) {
  const size_t p = url.find("://");
  const std::string scheme = p == std::string::npos ? "" : url.substr(0, p);
  if (scheme != "http" && scheme != "https") fail("not an http:// or https:// URL: ", url);
  const size_t slash = url.find('/', p + 3);
  if (slash == std::string::npos) return {url, "/"};
  return {url.substr(0, slash), url.substr(slash)};
}

// A redirect's Location against the URL that answered it.
std::string resolve_location(const std::string& base, const std::string& loc) {
  if (loc.find("://") != std::string::npos) return loc;
  const Url b = split_url(base);
  if (loc.starts_with("//")) return b.origin.substr(0, b.origin.find("://") + 1) + loc;
  if (loc.starts_with("/")) return b.origin + loc;
  const std::string path = b.path.substr(0, b.path.find('?'));
  return b.origin + path.substr(0, path.rfind('/') + 1) + loc;
}

// ---------------------------------------------------------------- HTTP

struct Reply {
  int status = 0;
  httplib::Headers headers;
  std::string body;             // of answers not streamed to a sink (capped)
  std::string url;              // the URL that gave this answer, after redirects
  std::string transport_error;  // set when no complete answer arrived
};

std::string header(const Reply& r, const char* key) {
  const auto it = r.headers.find(key);
  return it == r.headers.end() ? "" : it->second;
}

// Receives the body of a 200 / 206 answer; may throw.
struct BodySink {
  std::function<void(const Reply&)> start;  // status and headers are known
  std::function<void(const char*, size_t)> data;
};

std::string describe(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection:
      return "connection failed";
    case httplib::Error::ConnectionTimeout:
      return "connection timed out";
    case httplib::Error::Read:
      return "connection lost while reading";
    case httplib::Error::Write:
      return "connection lost while sending";
    case httplib::Error::SSLConnection:
      return "TLS handshake failed";
    case httplib::Error::SSLLoadingCerts:
      return "cannot load the system CA certificates";
    case httplib::Error::SSLServerVerification:
      return "TLS certificate verification failed";
    default:
      return "HTTP client error: " + httplib::to_string(e);
  }
}

class Http {
 public:
  explicit Http(const HubOptions& opts) : opts_(opts) {}

  // GET following redirects; Authorization is dropped when a redirect leaves the origin.
  Reply get(std::string url, httplib::Headers headers, const BodySink* sink) const {
    for (int hop = 0; hop <= kMaxRedirects; ++hop) {
      Reply r = get_once(url, headers, sink);
      const bool redirect = r.status == 301 || r.status == 302 || r.status == 303 || r.status == 307 || r.status == 308;
      const std::string location = header(r, "Location");
      if (!r.transport_error.empty() || !redirect || location.empty()) return r;
      const std::string next = resolve_location(url, location);
      if (split_url(next).origin != split_url(url).origin) headers.erase("Authorization");
      url = next;
    }
    fail("too many redirects fetching ", url);
  }

 private:
  Reply get_once(const std::string& url, const httplib::Headers& headers, const BodySink* sink) const;
  const HubOptions& opts_;
};

Reply Http::get_once(const std::string& url, const httplib::Headers& headers, const BodySink* sink) const {
  const Url u = split_url(url);
  httplib::Client cli(u.origin);
  Reply r;
  r.url = url;
  if (!cli.is_valid()) {
    r.transport_error = "cannot create a client for " + u.origin;
    return r;
  }
  cli.set_connection_timeout(opts_.connect_timeout_s, 0);
  cli.set_read_timeout(opts_.read_timeout_s, 0);
  cli.set_follow_location(false);
  bool streaming = false;
  std::exception_ptr error;  // exceptions must not unwind through httplib
  auto on_response = [&](const httplib::Response& res) {
    r.status = res.status;
    r.headers = res.headers;
    streaming = sink != nullptr && (res.status == 200 || res.status == 206);
    try {
      if (streaming) sink->start(r);
    } catch (...) {
      error = std::current_exception();
      return false;
    }
    return true;
  };
  auto on_data = [&](const char* data, size_t n) {
    try {
      if (streaming) {
        sink->data(data, n);
      } else if (r.body.size() < kMaxBody) {
        r.body.append(data, n);
      }
    } catch (...) {
      error = std::current_exception();
      return false;
    }
    return true;
  };
  const auto res = cli.Get(u.path, headers, on_response, on_data);
  if (error) std::rethrow_exception(error);
  if (!res) r.transport_error = describe(res.error());
  return r;
}

// ---------------------------------------------------------------- repository

struct RepoFile {
  std::string name;
  std::optional<uint64_t> size;
  std::string sha256;   // LFS files
  std::string blob_id;  // git blob id when the API gives it
};

struct RepoInfo {
  std::string commit;
  std::vector<RepoFile> files;  // only the wanted ones
  std::vector<std::pair<std::string, nlohmann::json>> siblings;  // every file: name, API entry
};

struct Ctx {
  const HubOptions& opts;
  std::string repo;      // ORG/NAME
  std::string endpoint;  // no trailing '/'
  std::string dir;       // <cache>/models--ORG--NAME
  Http http;
};

httplib::Headers base_headers(const HubOptions& opts) {
  httplib::Headers h{{"User-Agent", "dsinfer"}};
  if (!opts.token.empty()) h.emplace("Authorization", "Bearer " + opts.token);
  return h;
}

std::string server_says(const Reply& r) {
  const std::string msg = header(r, "X-Error-Message");
  return msg.empty() ? "" : " (server says: " + msg + ")";
}

[[noreturn]] void fail_status(const Ctx& c, const Reply& r, const std::string& what) {
  const std::string code = header(r, "X-Error-Code");
  const std::string rev = c.opts.revision;
  if (r.status == 404 || code == "RepoNotFound") {
    if (code == "EntryNotFound") fail("file ", what, " not found in ", c.repo, " at ", c.endpoint, server_says(r));
    fail("repository ", c.repo, " (revision ", rev, ") not found at ", c.endpoint,
         r.status == 404 ? "" : "; if it is private, set HF_TOKEN to a token that can read it", server_says(r));
  }
  if (r.status == 401 || r.status == 403) {
    fail("access to ", c.repo, " denied by ", c.endpoint, " (HTTP ", r.status, ") while fetching ", what,
         ": the repository is gated or private. Accept its terms at ", c.endpoint, "/", c.repo,
         " and set HF_TOKEN to a token of that account",
         c.opts.token.empty() ? " (HF_TOKEN is not set)" : " (the HF_TOKEN given was refused)", server_says(r));
  }
  fail(c.endpoint, " answered HTTP ", r.status, " for ", r.url, " (", what, ")", server_says(r));
}

std::optional<uint64_t> size_field(const nlohmann::json& j) {
  if (j.is_object() && j.contains("size") && j["size"].is_number_unsigned()) return j["size"].get<uint64_t>();
  return std::nullopt;
}

RepoFile parse_sibling(const Ctx& c, const nlohmann::json& s, const std::string& name) {
  RepoFile f;
  f.name = name;
  f.size = size_field(s);
  if (s.contains("blobId") && s["blobId"].is_string() && hub_detail::is_hex(s["blobId"].get<std::string>())) {
    f.blob_id = s["blobId"].get<std::string>();
  }
  if (s.contains("lfs") && s["lfs"].is_object()) {
    const auto& lfs = s["lfs"];
    const std::string sha = lfs.contains("sha256") && lfs["sha256"].is_string() ? lfs["sha256"].get<std::string>() : "";
    if (sha.size() != 64 || !hub_detail::is_hex(sha)) {
      fail("repository info of ", c.repo, " from ", c.endpoint, " gives ", name, " a bad lfs.sha256 \"", sha, "\"");
    }
    f.sha256 = sha;
    if (auto size = size_field(lfs)) f.size = size;
  }
  return f;
}

RepoInfo parse_info(const Ctx& c, const std::string& body) {
  const auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  const std::string where = cat("repository info of ", c.repo, " from ", c.endpoint);
  if (!j.is_object()) fail(where, " is not a JSON object");
  RepoInfo info;
  if (j.contains("sha") && j["sha"].is_string()) info.commit = j["sha"].get<std::string>();
  if (info.commit.size() < 7 || !hub_detail::is_hex(info.commit)) fail(where, " has no valid commit \"sha\"");
  if (!j.contains("siblings") || !j["siblings"].is_array()) fail(where, " has no \"siblings\" file list");
  for (const auto& s : j["siblings"]) {
    if (!s.is_object() || !s.contains("rfilename") || !s["rfilename"].is_string()) {
      fail(where, ": a sibling has no \"rfilename\"");
    }
    const std::string name = s["rfilename"].get<std::string>();
    info.siblings.emplace_back(name, s);
    if (hub_file_wanted(name)) info.files.push_back(parse_sibling(c, s, name));
  }
  // Small files first, then the shards in name order.
  std::sort(info.files.begin(), info.files.end(), [](const RepoFile& a, const RepoFile& b) {
    const bool wa = a.name.ends_with(".safetensors"), wb = b.name.ends_with(".safetensors");
    return wa != wb ? wb : a.name < b.name;
  });
  return info;
}

RepoInfo fetch_info(const Ctx& c) {
  const std::string url =
      c.endpoint + "/api/models/" + c.repo + "/revision/" + url_encode(c.opts.revision, false) + "?blobs=true";
  const Reply r = c.http.get(url, base_headers(c.opts), nullptr);
  if (!r.transport_error.empty()) {
    fail("cannot reach the Hugging Face hub at ", c.endpoint, " to fetch ", c.repo, " (", r.transport_error,
         "); check the network or HF_ENDPOINT, or use a model already in the cache");
  }
  if (r.status != 200) fail_status(c, r, "the repository info");
  return parse_info(c, r.body);
}

// ---------------------------------------------------------------- one file

uint64_t file_size_or_zero(const fs::path& p) {
  std::error_code ec;
  const auto n = fs::file_size(p, ec);
  return ec ? 0 : n;
}

std::string clean_etag(std::string e) {
  if (e.starts_with("W/")) e.erase(0, 2);
  std::erase(e, '"');
  const bool safe = !e.empty() && e.size() <= 128 && std::all_of(e.begin(), e.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_';
  });
  return safe ? e : "";
}

struct Fetched {
  std::string sha256;  // of the whole file
  std::string etag;    // X-Linked-Etag or ETag, "" when absent or unusable as a name
  uint64_t size = 0;
};

// The partial file being appended to: hashes what is already there, restarts
// on a 200 answer to a Range request, and reports progress.
class PartialFile {
 public:
  PartialFile(const Ctx& c, const RepoFile& f, fs::path path)
      : c_(c), file_(f), path_(std::move(path)), total_(f.size.value_or(0)) {
    done_ = file_size_or_zero(path_);
    if (f.size && done_ > *f.size) {  // not a prefix of this file
      fs::remove(path_);
      done_ = 0;
    }
    open();
    hash_existing();
  }
  ~PartialFile() { close(); }
  PartialFile(const PartialFile&) = delete;
  PartialFile& operator=(const PartialFile&) = delete;

  uint64_t done() const { return done_; }
  void start(const Reply& r);
  void write(const char* data, size_t n);
  Fetched finish(const Reply* r);
  void close() {
    if (out_ != nullptr) std::fclose(out_);
    out_ = nullptr;
  }

 private:
  void open();
  void hash_existing();
  void restart();
  void report(bool force) {
    if (!c_.opts.progress || (!force && done_ - reported_ < kProgressStep)) return;
    reported_ = done_;
    c_.opts.progress(file_.name, done_, total_);
  }

  const Ctx& c_;
  const RepoFile& file_;
  fs::path path_;
  std::FILE* out_ = nullptr;
  Sha256 sha_;
  uint64_t done_ = 0, total_ = 0, reported_ = 0;
};

void PartialFile::restart() {
  close();
  std::error_code ec;
  fs::remove(path_, ec);
  done_ = 0;
  sha_.reset();
  open();
}

void PartialFile::open() {
  out_ = std::fopen(path_.c_str(), "ab");
  if (out_ == nullptr) fail("cannot open ", path_.string(), " for writing: ", std::strerror(errno));
}

void PartialFile::hash_existing() {
  if (done_ == 0) return;
  std::ifstream in(path_, std::ios::binary);
  std::vector<char> buf(1 << 20);
  uint64_t left = done_;
  while (left > 0 && in.read(buf.data(), static_cast<std::streamsize>(std::min<uint64_t>(left, buf.size())))) {
    sha_.update(buf.data(), static_cast<size_t>(in.gcount()));
    left -= static_cast<uint64_t>(in.gcount());
  }
  if (left != 0) fail("cannot read back the partial download ", path_.string());
}

void PartialFile::start(const Reply& r) {
  if (r.status == 206) {
    // "bytes <first>-<last>/<total>": must continue exactly where the file ends.
    const std::string range = header(r, "Content-Range");
    const size_t sp = range.find(' '), dash = range.find('-');
    const std::string first =
        sp == std::string::npos || dash == std::string::npos ? "" : range.substr(sp + 1, dash - sp - 1);
    if (first != std::to_string(done_)) {
      fail("server resumed ", file_.name, " with Content-Range \"", range, "\" instead of at byte ", done_);
    }
  } else if (done_ > 0) {
    restart();  // 200: the server sent the whole file
  }
  const std::string length = header(r, "Content-Length");
  if (total_ == 0 && !length.empty()) total_ = done_ + std::strtoull(length.c_str(), nullptr, 10);
  report(true);
}

void PartialFile::write(const char* data, size_t n) {
  if (std::fwrite(data, 1, n, out_) != n) fail("cannot write ", path_.string(), ": ", std::strerror(errno));
  sha_.update(data, n);
  done_ += n;
  report(false);
}

Fetched PartialFile::finish(const Reply* r) {
  const bool ok = std::fflush(out_) == 0;
  close();
  if (!ok) fail("cannot write ", path_.string(), ": ", std::strerror(errno));
  Fetched f;
  f.sha256 = sha_.hex_digest();
  f.size = done_;
  if (r != nullptr) {
    f.etag = clean_etag(header(*r, "X-Linked-Etag"));
    if (f.etag.empty()) f.etag = clean_etag(header(*r, "ETag"));
  }
  report(true);
  return f;
}

struct Attempt {
  bool complete = false;
  std::string error;  // why an incomplete attempt stopped
  Fetched fetched;
};

Attempt fetch_once(const Ctx& c, const std::string& url, const RepoFile& f, const fs::path& partial) {
  PartialFile part(c, f, partial);
  if (f.size && part.done() == *f.size && part.done() > 0) return {true, "", part.finish(nullptr)};
  httplib::Headers h = base_headers(c.opts);
  h.emplace("Accept-Encoding", "identity");
  if (part.done() > 0) h.emplace("Range", cat("bytes=", part.done(), "-"));
  const BodySink sink{[&](const Reply& r) { part.start(r); }, [&](const char* d, size_t n) { part.write(d, n); }};
  const Reply r = c.http.get(url, h, &sink);
  if (!r.transport_error.empty()) return {false, r.transport_error, {}};
  if (r.status == 416) {  // the range no longer fits the file: start over (without a Range this time)
    part.close();
    fs::remove(partial);
    return fetch_once(c, url, f, partial);
  }
  if (r.status >= 500) return {false, cat("HTTP ", r.status), {}};  // transient server trouble: retried
  if (r.status != 200 && r.status != 206) fail_status(c, r, f.name);
  return {true, "", part.finish(&r)};
}

Fetched fetch_with_retries(const Ctx& c, const std::string& commit, const RepoFile& f, const fs::path& partial) {
  const std::string url = c.endpoint + "/" + c.repo + "/resolve/" + commit + "/" + url_encode(f.name, true);
  for (int attempt = 0;; ++attempt) {
    const uint64_t before = file_size_or_zero(partial);
    Attempt a = fetch_once(c, url, f, partial);
    if (a.complete) return a.fetched;
    const uint64_t after = file_size_or_zero(partial);
    if (attempt >= c.opts.retries) {
      fail("download of ", f.name, " from ", c.endpoint, " was interrupted (", a.error, ") after ", after,
           " bytes; the partial file ", partial.string(), " is kept: run again to resume");
    }
    if (after <= before) std::this_thread::sleep_for(std::chrono::milliseconds(250 * (attempt + 1)));
  }
}

void verify(const RepoFile& f, const fs::path& partial, const Fetched& got) {
  std::string problem;
  if (!f.sha256.empty() && got.sha256 != f.sha256) {
    problem = cat("checksum mismatch for ", f.name, ": expected SHA-256 ", f.sha256, ", got ", got.sha256);
  } else if (f.size && got.size != *f.size) {
    problem = cat("size mismatch for ", f.name, ": expected ", *f.size, " bytes, got ", got.size);
  }
  if (problem.empty()) return;
  std::error_code ec;
  fs::remove(partial, ec);
  fail(problem, "; the download was deleted, run again to fetch it anew");
}

void download_file(const Ctx& c, const std::string& commit, const RepoFile& f) {
  const fs::path blobs = fs::path(c.dir) / "blobs";
  fs::create_directories(blobs);
  const std::string known = !f.sha256.empty() ? f.sha256 : f.blob_id;
  if (!known.empty() && fs::is_regular_file(blobs / known) && (!f.size || fs::file_size(blobs / known) == *f.size)) {
    if (c.opts.progress) c.opts.progress(f.name, f.size.value_or(0), f.size.value_or(0));
    hub_detail::link_snapshot(c.dir, commit, f.name, known);
    return;
  }
  const fs::path partial = blobs / ((known.empty() ? "unnamed-" + commit + "-" + f.name : known) + ".incomplete");
  const Fetched got = fetch_with_retries(c, commit, f, partial);
  verify(f, partial, got);
  const std::string blob = !known.empty() ? known : !got.etag.empty() ? got.etag : got.sha256;
  fs::rename(partial, blobs / blob);
  hub_detail::link_snapshot(c.dir, commit, f.name, blob);
}

std::string normalized_endpoint(const std::string& e) {
  std::string out = e.empty() ? "https://huggingface.co" : e;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  split_url(out);  // validates the scheme
  return out;
}

// llama.cpp's default when a GGUF repository is named without a tag.
constexpr const char* kDefaultGgufTag = "Q4_K_M";

// GGUF mode: the tag asked for, or the default for a repository of GGUF files
// only; "" for a safetensors checkpoint.
std::string gguf_tag(const HubOptions& opts, const RepoInfo& info) {
  if (!opts.gguf_tag.empty()) return opts.gguf_tag;
  bool config = false, gguf = false;
  for (const auto& [name, entry] : info.siblings) {
    config = config || name == "config.json";
    gguf = gguf || name.ends_with(".gguf");
  }
  return !config && gguf ? kDefaultGgufTag : "";
}

std::string download_snapshot(const std::string& repo_id, const HubOptions& opts, const std::string& dir) {
  const Ctx c{opts, repo_id, normalized_endpoint(opts.endpoint), dir, Http(opts)};
  RepoInfo info = fetch_info(c);
  const std::string tag = gguf_tag(opts, info);
  std::vector<std::string> chosen;
  if (!tag.empty()) {
    std::vector<std::string> names;
    for (const auto& [name, entry] : info.siblings) names.push_back(name);
    chosen = hub_detail::select_gguf(names, tag, repo_id + " (revision " + opts.revision + ")");
    info.files.clear();
    for (const std::string& name : chosen)
      for (const auto& [n, entry] : info.siblings)
        if (n == name) info.files.push_back(parse_sibling(c, entry, name));
  }
  if (info.files.empty()) {
    fail(repo_id, " (revision ", opts.revision, ") has none of the files dsinfer loads ",
         "(config.json, tokenizer files, *.safetensors, or GGUF files)");
  }
  for (const RepoFile& f : info.files) download_file(c, info.commit, f);
  hub_detail::write_ref(dir, opts.revision, info.commit);
  const fs::path snap = fs::path(dir) / "snapshots" / info.commit;
  return (chosen.empty() ? snap : snap / chosen.front()).string();
}

// The cached snapshot (or GGUF file) hub_download would return, "" if not all there.
std::string cached(const std::string& dir, const HubOptions& opts) {
  if (!opts.gguf_tag.empty()) return hub_detail::cached_gguf(dir, opts.revision, opts.gguf_tag);
  std::string snap = hub_detail::cached_snapshot(dir, opts.revision);
  return snap.empty() ? hub_detail::cached_gguf(dir, opts.revision, kDefaultGgufTag) : snap;
}

}  // namespace

std::string hub_download(const std::string& repo_id, const HubOptions& opts) {
  if (!hub_detail::valid_repo_id(repo_id)) fail("not a Hugging Face repository id (ORG/NAME): \"", repo_id, "\"");
  hub_detail::check_revision(opts.revision);
  if (opts.cache_dir.empty()) fail("the Hugging Face cache directory is not set");
  const std::string dir = (fs::path(opts.cache_dir) / hub_detail::repo_folder(repo_id)).string();
  try {
    std::string snap = cached(dir, opts);
    if (!snap.empty()) return snap;
    if (opts.offline) {
      fail(repo_id, " (revision ", opts.revision, ") is not in the Hugging Face cache at ", opts.cache_dir,
           " and offline mode is on; download it once with network access");
    }
    return download_snapshot(repo_id, opts, dir);
  } catch (const fs::filesystem_error& e) {
    fail("Hugging Face cache at ", opts.cache_dir, ": ", e.what());
  }
}

}  // namespace dsinfer::io
