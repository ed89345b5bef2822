// tokenizer.json (+ tokenizer_config.json, chat_template.jinja) -> TokenizerSpec.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "tokenizer/spec.h"

namespace dsinfer::tokenizer {

namespace {

using json = nlohmann::json;

// Error context: the file and the JSON path of the value being read.
struct Ctx {
  const std::string& file;
  std::string where;
  Ctx sub(const std::string& key) const { return Ctx{file, where.empty() ? key : where + "." + key}; }
  Ctx at(size_t i) const { return Ctx{file, cat(where, "[", i, "]")}; }
  [[noreturn]] void fail_here(const std::string& what) const {
    fail(file, ": ", where.empty() ? std::string() : where + ": ", what);
  }
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open ", path);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

json parse_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail(path, ": invalid JSON: ", e.what());
  }
}

const json& need(const json& obj, const char* key, const Ctx& c) {
  if (!obj.is_object()) c.fail_here("expected an object");
  auto it = obj.find(key);
  if (it == obj.end()) c.fail_here(cat("missing field '", key, "'"));
  return *it;
}

std::string get_str(const json& obj, const char* key, const Ctx& c) {
  const json& v = need(obj, key, c);
  if (!v.is_string()) c.sub(key).fail_here(cat("expected a string, got ", v.type_name()));
  return v.get<std::string>();
}

bool get_bool(const json& obj, const char* key, const Ctx& c, bool dflt) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return dflt;
  if (!it->is_boolean()) c.sub(key).fail_here(cat("expected true or false, got ", it->type_name()));
  return it->get<bool>();
}

int32_t get_id(const json& v, const Ctx& c) {
  if (!v.is_number_integer()) c.fail_here(cat("expected an integer id, got ", v.type_name()));
  const auto id = v.get<int64_t>();
  if (id < 0 || id >= (int64_t{1} << 30)) c.fail_here(cat("id ", id, " out of range"));
  return static_cast<int32_t>(id);
}

void parse_merges(const json& merges, const Ctx& c, TokenizerSpec& spec) {
  if (!merges.is_array()) c.fail_here("expected an array");
  spec.merges.reserve(merges.size());
  for (size_t k = 0; k < merges.size(); ++k) {
    const json& m = merges[k];
    if (m.is_string()) {
      const auto& s = m.get_ref<const std::string&>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || sp == 0 || sp + 1 >= s.size() || s.find(' ', sp + 1) != std::string::npos) {
        c.at(k).fail_here(cat("merge '", s, "' is not two tokens separated by one space"));
      }
      spec.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      spec.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      c.at(k).fail_here("a merge must be a string \"a b\" or a pair [\"a\", \"b\"]");
    }
  }
}

void parse_model(const json& model, const Ctx& c, TokenizerSpec& spec) {
  if (!model.is_object()) c.fail_here("expected an object");
  if (model.contains("type") && get_str(model, "type", c) != "BPE") {
    c.sub("type").fail_here(cat("unsupported model type '", get_str(model, "type", c), "' (only BPE)"));
  }
  for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(k) && !model[k].is_null() && model[k] != "") c.sub(k).fail_here("is not supported");
  }
  if (get_bool(model, "byte_fallback", c, false)) c.sub("byte_fallback").fail_here("true is not supported");
  spec.ignore_merges = get_bool(model, "ignore_merges", c, false);
  const json& vocab = need(model, "vocab", c);
  if (!vocab.is_object()) c.sub("vocab").fail_here(cat("expected an object of token -> id, got ", vocab.type_name()));
  spec.vocab.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    spec.vocab.emplace_back(it.key(), get_id(it.value(), c.sub("vocab").sub(it.key())));
  }
  parse_merges(need(model, "merges", c), c.sub("merges"), spec);
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    auto it = vocab.find(model["unk_token"].get<std::string>());
    if (it == vocab.end()) c.sub("unk_token").fail_here("is not in the vocabulary");
    spec.unk_id = get_id(*it, c.sub("unk_token"));
  }
}

void parse_added(const json& arr, const Ctx& c, TokenizerSpec& spec) {
  if (arr.is_null()) return;
  if (!arr.is_array()) c.fail_here("expected an array");
  for (size_t k = 0; k < arr.size(); ++k) {
    const Ctx e = c.at(k);
    const json& t = arr[k];
    AddedTokenSpec a;
    a.id = get_id(need(t, "id", e), e.sub("id"));
    a.content = get_str(t, "content", e);
    if (a.content.empty()) e.sub("content").fail_here("is empty");
    a.special = get_bool(t, "special", e, false);
    a.lstrip = get_bool(t, "lstrip", e, false);
    a.rstrip = get_bool(t, "rstrip", e, false);
    a.single_word = get_bool(t, "single_word", e, false);
    a.normalized = get_bool(t, "normalized", e, !a.special);
    spec.added.push_back(std::move(a));
  }
}

// {"Regex": "..."} or {"String": "..."}.
void parse_pattern(const json& pat, const Ctx& c, NormStep::Kind& kind_regex_or_string, std::string& out) {
  if (pat.is_object() && pat.contains("Regex")) {
    out = get_str(pat, "Regex", c);
    kind_regex_or_string = NormStep::Kind::ReplaceRegex;
  } else if (pat.is_object() && pat.contains("String")) {
    out = get_str(pat, "String", c);
    kind_regex_or_string = NormStep::Kind::Replace;
  } else {
    c.fail_here("expected {\"Regex\": ...} or {\"String\": ...}");
  }
}

void parse_normalizer(const json& n, const Ctx& c, TokenizerSpec& spec) {
  if (n.is_null()) return;
  const std::string type = get_str(n, "type", c);
  if (type == "Sequence") {
    const json& list = need(n, "normalizers", c);
    if (!list.is_array()) c.sub("normalizers").fail_here("expected an array");
    for (size_t k = 0; k < list.size(); ++k) parse_normalizer(list[k], c.sub("normalizers").at(k), spec);
    return;
  }
  NormStep st;
  if (type == "Replace") {
    parse_pattern(need(n, "pattern", c), c.sub("pattern"), st.kind, st.pattern);
    st.content = get_str(n, "content", c);
  } else if (type == "Prepend" || type == "Append") {
    st.kind = type == "Prepend" ? NormStep::Kind::Prepend : NormStep::Kind::Append;
    st.content = get_str(n, type == "Prepend" ? "prepend" : "append", c);
  } else if (type == "NFC") {
    st.kind = NormStep::Kind::Nfc;
  } else {
    c.sub("type").fail_here(
        cat("unsupported normalizer '", type, "' (supported: Sequence, Replace, Prepend, Append, NFC)"));
  }
  spec.normalizers.push_back(std::move(st));
}

SplitBehavior parse_behavior(const std::string& b, const Ctx& c) {
  if (b == "Isolated") return SplitBehavior::Isolated;
  if (b == "Removed") return SplitBehavior::Removed;
  if (b == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (b == "Contiguous") return SplitBehavior::Contiguous;
  c.fail_here(cat("unknown split behavior '", b, "'"));
}

void parse_pre(const json& p, const Ctx& c, TokenizerSpec& spec) {
  if (p.is_null()) return;
  const std::string type = get_str(p, "type", c);
  if (type == "Sequence") {
    const json& list = need(p, "pretokenizers", c);
    if (!list.is_array()) c.sub("pretokenizers").fail_here("expected an array");
    for (size_t k = 0; k < list.size(); ++k) parse_pre(list[k], c.sub("pretokenizers").at(k), spec);
    return;
  }
  PreTokStep st;
  if (type == "Split") {
    NormStep::Kind k{};
    parse_pattern(need(p, "pattern", c), c.sub("pattern"), k, st.pattern);
    st.kind = k == NormStep::Kind::ReplaceRegex ? PreTokStep::Kind::RegexSplit : PreTokStep::Kind::StringSplit;
    st.behavior = parse_behavior(get_str(p, "behavior", c), c.sub("behavior"));
    st.invert = get_bool(p, "invert", c, false);
  } else if (type == "ByteLevel") {
    st.kind = PreTokStep::Kind::ByteLevel;
    st.add_prefix_space = get_bool(p, "add_prefix_space", c, true);
    st.use_regex = get_bool(p, "use_regex", c, true);
  } else if (type == "Digits") {
    st.kind = PreTokStep::Kind::Digits;
    st.individual_digits = get_bool(p, "individual_digits", c, false);
  } else {
    c.sub("type").fail_here(
        cat("unsupported pre-tokenizer '", type, "' (supported: Sequence, Split, ByteLevel, Digits)"));
  }
  spec.pre.push_back(std::move(st));
}

void check_decoder(const json& d, const Ctx& c) {
  if (d.is_null()) return;
  const std::string type = get_str(d, "type", c);
  if (type == "Sequence") {
    const json& list = need(d, "decoders", c);
    for (size_t k = 0; list.is_array() && k < list.size(); ++k) check_decoder(list[k], c.sub("decoders").at(k));
    return;
  }
  if (type != "ByteLevel") c.sub("type").fail_here(cat("unsupported decoder '", type, "' (only ByteLevel)"));
}

int32_t lookup_token(const TokenizerSpec& spec, const std::string& text) {
  for (const auto& t : spec.added) {
    if (t.content == text) return t.id;
  }
  for (const auto& [tok, id] : spec.vocab) {
    if (tok == text) return id;
  }
  return -1;
}

std::vector<int32_t> special_ids(const json& special_tokens, const std::string& name, const Ctx& c,
                                 const TokenizerSpec& spec) {
  if (special_tokens.is_object() && special_tokens.contains(name)) {
    const Ctx e = c.sub("special_tokens").sub(name);
    const json& ids = need(special_tokens[name], "ids", e);
    if (!ids.is_array()) e.sub("ids").fail_here("expected an array");
    std::vector<int32_t> out;
    for (size_t k = 0; k < ids.size(); ++k) out.push_back(get_id(ids[k], e.sub("ids").at(k)));
    return out;
  }
  const int32_t id = lookup_token(spec, name);
  if (id < 0) c.fail_here(cat("special token '", name, "' is not defined"));
  return {id};
}

// TemplateProcessing "single": special tokens before the sequence go to prefix_ids, after it to suffix_ids.
void parse_template(const json& p, const Ctx& c, TokenizerSpec& spec) {
  const json& single = need(p, "single", c);
  const json empty = json::object();
  const json& special = p.contains("special_tokens") ? p["special_tokens"] : empty;
  bool after = false;
  auto add = [&](const std::string& name) {
    auto ids = special_ids(special, name, c, spec);
    auto& dst = after ? spec.suffix_ids : spec.prefix_ids;
    dst.insert(dst.end(), ids.begin(), ids.end());
  };
  if (single.is_string()) {  // "[CLS] $A [SEP]"
    std::istringstream words(single.get<std::string>());
    for (std::string w; words >> w;) {
      if (w[0] == '$') after = true;
      else add(w.substr(0, w.find(':')));
    }
    return;
  }
  if (!single.is_array()) c.sub("single").fail_here("expected an array");
  for (size_t k = 0; k < single.size(); ++k) {
    const json& item = single[k];
    if (item.is_object() && item.contains("Sequence")) {
      after = true;
    } else if (item.is_object() && item.contains("SpecialToken")) {
      add(get_str(item["SpecialToken"], "id", c.sub("single").at(k).sub("SpecialToken")));
    } else {
      c.sub("single").at(k).fail_here("expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
    }
  }
}

void parse_post(const json& p, const Ctx& c, TokenizerSpec& spec) {
  if (p.is_null()) return;
  const std::string type = get_str(p, "type", c);
  if (type == "TemplateProcessing") return parse_template(p, c, spec);
  if (type == "ByteLevel") return;
  if (type == "Sequence") {
    const json& list = need(p, "processors", c);
    for (size_t k = 0; list.is_array() && k < list.size(); ++k) parse_post(list[k], c.sub("processors").at(k), spec);
    return;
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    const json& cls = need(p, "cls", c);
    const json& sep = need(p, "sep", c);
    if (!cls.is_array() || cls.size() != 2 || !sep.is_array() || sep.size() != 2) {
      c.fail_here("cls/sep must be [token, id]");
    }
    spec.prefix_ids.push_back(get_id(cls[1], c.sub("cls")));
    spec.suffix_ids.push_back(get_id(sep[1], c.sub("sep")));
    return;
  }
  c.sub("type").fail_here(cat("unsupported post-processor '", type, "'"));
}

// bos_token / eos_token in tokenizer_config.json: a string, {"content": ...} or null.
std::string token_content(const json& cfg, const char* key, const Ctx& c) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) return get_str(*it, "content", c.sub(key));
  c.sub(key).fail_here("expected a string or an object with \"content\"");
}

int32_t config_token_id(const std::string& text, const char* key, const Ctx& c, const TokenizerSpec& spec) {
  if (text.empty()) return -1;
  const int32_t id = lookup_token(spec, text);
  if (id < 0) c.sub(key).fail_here(cat("token '", text, "' is not in the vocabulary"));
  return id;
}

std::string config_chat_template(const json& cfg, const Ctx& c) {
  auto it = cfg.find("chat_template");
  if (it == cfg.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (!it->is_array()) c.sub("chat_template").fail_here("expected a string or a list of {name, template}");
  std::string first;
  for (size_t k = 0; k < it->size(); ++k) {
    const Ctx e = c.sub("chat_template").at(k);
    const std::string name = get_str((*it)[k], "name", e);
    const std::string tmpl = get_str((*it)[k], "template", e);
    if (name == "default") return tmpl;
    if (k == 0) first = tmpl;
  }
  return first;
}

void apply_config(const json& cfg, const Ctx& c, TokenizerSpec& spec) {
  if (!cfg.is_object()) c.fail_here("expected an object");
  spec.bos_token = token_content(cfg, "bos_token", c);
  spec.eos_token = token_content(cfg, "eos_token", c);
  spec.bos_id = config_token_id(spec.bos_token, "bos_token", c, spec);
  spec.eos_id = config_token_id(spec.eos_token, "eos_token", c, spec);
  // As transformers' LlamaTokenizerFast does: these flags rebuild the post-processor.
  if (cfg.contains("add_bos_token") && !cfg["add_bos_token"].is_null()) {
    spec.prefix_ids.clear();
    if (get_bool(cfg, "add_bos_token", c, false)) {
      if (spec.bos_id < 0) c.sub("add_bos_token").fail_here("is true but there is no bos_token");
      spec.prefix_ids.push_back(spec.bos_id);
    }
  }
  if (cfg.contains("add_eos_token") && !cfg["add_eos_token"].is_null()) {
    spec.suffix_ids.clear();
    if (get_bool(cfg, "add_eos_token", c, false)) {
      if (spec.eos_id < 0) c.sub("add_eos_token").fail_here("is true but there is no eos_token");
      spec.suffix_ids.push_back(spec.eos_id);
    }
  }
  spec.chat_template = config_chat_template(cfg, c);
}

// Without tokenizer_config.json: a post-processor that adds exactly one special
// token in front names BOS (and one special token at the end names EOS).
void guess_bos_eos(TokenizerSpec& spec) {
  for (const auto& t : spec.added) {
    if (!t.special) continue;
    if (spec.prefix_ids.size() == 1 && t.id == spec.prefix_ids[0]) {
      spec.bos_id = t.id;
      spec.bos_token = t.content;
    }
    if (spec.suffix_ids.size() == 1 && t.id == spec.suffix_ids[0]) {
      spec.eos_id = t.id;
      spec.eos_token = t.content;
    }
  }
}

bool has_byte_level(const std::vector<PreTokStep>& pre) {
  for (const auto& st : pre) {
    if (st.kind == PreTokStep::Kind::ByteLevel) return true;
  }
  return false;
}

}  // namespace

TokenizerSpec load_hf_spec(const std::string& tokenizer_json, const std::string& config_json,
                           const std::string& chat_template_file) {
  TokenizerSpec spec;
  spec.source = tokenizer_json;
  const json j = parse_json_file(tokenizer_json);
  const Ctx root{tokenizer_json, ""};
  if (!j.is_object()) root.fail_here("expected a JSON object at the top level");
  parse_model(need(j, "model", root), root.sub("model"), spec);
  if (j.contains("added_tokens")) parse_added(j["added_tokens"], root.sub("added_tokens"), spec);
  if (j.contains("normalizer")) parse_normalizer(j["normalizer"], root.sub("normalizer"), spec);
  if (j.contains("pre_tokenizer")) parse_pre(j["pre_tokenizer"], root.sub("pre_tokenizer"), spec);
  if (!has_byte_level(spec.pre)) {
    root.sub("pre_tokenizer").fail_here("has no ByteLevel step; only byte-level BPE tokenizers are supported");
  }
  if (j.contains("post_processor")) parse_post(j["post_processor"], root.sub("post_processor"), spec);
  if (j.contains("decoder")) check_decoder(j["decoder"], root.sub("decoder"));
  if (!config_json.empty()) {
    apply_config(parse_json_file(config_json), Ctx{config_json, ""}, spec);
  } else {
    guess_bos_eos(spec);
  }
  if (!chat_template_file.empty()) spec.chat_template = read_file(chat_template_file);
  return spec;
}

}  // namespace dsinfer::tokenizer
