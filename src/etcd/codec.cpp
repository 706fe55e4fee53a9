#include "etcd/codec.hpp"

#include <array>
#include <charconv>

namespace tend::etcd {

std::string prefix_end(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto c = static_cast<unsigned char>(end.back());
    if (c < 0xff) {
      end.back() = static_cast<char>(c + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key: etcd's "from key to the end"
}

namespace codec {

using nlohmann::json;
constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

std::string base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) throw BadJson("base64 of a length not a multiple of 4");
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    uint32_t n = 0;
    int pad = 0;
    for (size_t j = 0; j < 4; ++j) {
      char c = in[i + j];
      bool last_quad = i + 4 == in.size();
      if (c == '=' && last_quad && j >= 2 && (j == 3 || in[i + 3] == '=')) {
        ++pad;
        n <<= 6;
        continue;
      }
      auto pos = kAlphabet.find(c);
      if (pos == std::string_view::npos || pad) throw BadJson("invalid base64");
      n = (n << 6) | static_cast<uint32_t>(pos);
    }
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

namespace {

std::string num(int64_t n) {
  return std::to_string(n);
}

const char* target_name(Compare::Target t) {
  switch (t) {
    case Compare::Target::value:
      return "VALUE";
    case Compare::Target::version:
      return "VERSION";
    case Compare::Target::create_revision:
      return "CREATE";
    case Compare::Target::mod_revision:
      return "MOD";
  }
  return "";
}

const char* op_name(Compare::Op o) {
  switch (o) {
    case Compare::Op::equal:
      return "EQUAL";
    case Compare::Op::not_equal:
      return "NOT_EQUAL";
    case Compare::Op::less:
      return "LESS";
    case Compare::Op::greater:
      return "GREATER";
  }
  return "";
}

json encode_op(const TxnOp& op) {
  if (auto* p = std::get_if<PutRequest>(&op)) return {{"request_put", encode(*p)}};
  if (auto* r = std::get_if<RangeRequest>(&op)) return {{"request_range", encode(*r)}};
  return {{"request_delete_range", encode(std::get<DeleteRequest>(op))}};
}

const json& object_field(const json& obj, const char* name) {
  static const json empty = json::object();
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return empty;
  if (!it->is_object()) throw BadJson(std::string(name) + " is not an object");
  return *it;
}

const json& array_field(const json& obj, const char* name) {
  static const json empty = json::array();
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return empty;
  if (!it->is_array()) throw BadJson(std::string(name) + " is not an array");
  return *it;
}

std::string bytes_field(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return {};
  if (!it->is_string()) throw BadJson(std::string(name) + " is not a string");
  return base64_decode(it->get_ref<const std::string&>());
}

bool bool_field(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return false;
  if (!it->is_boolean()) throw BadJson(std::string(name) + " is not a boolean");
  return it->get<bool>();
}

void require_object(const json& j) {
  if (!j.is_object()) throw BadJson("the answer is not a JSON object");
}

}  // namespace

json encode(const RangeRequest& r) {
  json j = {{"key", base64_encode(r.key)}};
  if (!r.range_end.empty()) j["range_end"] = base64_encode(r.range_end);
  if (r.revision) j["revision"] = num(r.revision);
  if (r.limit) j["limit"] = num(r.limit);
  if (r.serializable) j["serializable"] = true;
  if (r.keys_only) j["keys_only"] = true;
  if (r.count_only) j["count_only"] = true;
  return j;
}

json encode(const PutRequest& p) {
  json j = {{"key", base64_encode(p.key)}, {"value", base64_encode(p.value)}};
  if (p.lease) j["lease"] = num(p.lease);
  if (p.prev_kv) j["prev_kv"] = true;
  return j;
}

json encode(const DeleteRequest& d) {
  json j = {{"key", base64_encode(d.key)}};
  if (!d.range_end.empty()) j["range_end"] = base64_encode(d.range_end);
  if (d.prev_kv) j["prev_kv"] = true;
  return j;
}

json encode(const Compare& c) {
  json j = {
      {"key", base64_encode(c.key)}, {"target", target_name(c.target)}, {"result", op_name(c.op)}};
  switch (c.target) {
    case Compare::Target::value:
      j["value"] = base64_encode(c.value);
      break;
    case Compare::Target::version:
      j["version"] = num(c.number);
      break;
    case Compare::Target::create_revision:
      j["create_revision"] = num(c.number);
      break;
    case Compare::Target::mod_revision:
      j["mod_revision"] = num(c.number);
      break;
  }
  return j;
}

json encode(const TxnRequest& t) {
  json j = {{"compare", json::array()}, {"success", json::array()}, {"failure", json::array()}};
  for (const auto& c : t.compare) j["compare"].push_back(encode(c));
  for (const auto& op : t.success) j["success"].push_back(encode_op(op));
  for (const auto& op : t.failure) j["failure"].push_back(encode_op(op));
  return j;
}

int64_t int_field(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (!it->is_string()) throw BadJson(std::string(name) + " is not an integer");
  const auto& s = it->get_ref<const std::string&>();
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty())
    throw BadJson(std::string(name) + " is not an integer: " + s);
  return v;
}

Header decode_header(const json& obj) {
  const json& h = object_field(obj, "header");
  // member ids are uint64 and may exceed int64: read them as unsigned.
  auto id = [&](const char* name) -> uint64_t {
    auto it = h.find(name);
    if (it == h.end() || it->is_null()) return 0;
    if (it->is_number_unsigned()) return it->get<uint64_t>();
    if (!it->is_string()) throw BadJson(std::string(name) + " is not an integer");
    const auto& s = it->get_ref<const std::string&>();
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) throw BadJson("bad " + std::string(name));
    return v;
  };
  return Header{int_field(h, "revision"), id("member_id"), id("raft_term")};
}

KeyValue decode_kv(const json& kv) {
  require_object(kv);
  return KeyValue{bytes_field(kv, "key"),           bytes_field(kv, "value"),
                  int_field(kv, "create_revision"), int_field(kv, "mod_revision"),
                  int_field(kv, "version"),         int_field(kv, "lease")};
}

RangeResult decode_range(const json& b) {
  require_object(b);
  RangeResult r{decode_header(b), {}, int_field(b, "count"), bool_field(b, "more")};
  for (const auto& kv : array_field(b, "kvs")) r.kvs.push_back(decode_kv(kv));
  return r;
}

PutResult decode_put(const json& b) {
  require_object(b);
  PutResult r{decode_header(b), std::nullopt};
  if (b.contains("prev_kv") && !b["prev_kv"].is_null()) r.prev_kv = decode_kv(b["prev_kv"]);
  return r;
}

DeleteResult decode_delete(const json& b) {
  require_object(b);
  DeleteResult r{decode_header(b), int_field(b, "deleted"), {}};
  for (const auto& kv : array_field(b, "prev_kvs")) r.prev_kvs.push_back(decode_kv(kv));
  return r;
}

TxnResult decode_txn(const json& b) {
  require_object(b);
  TxnResult r{decode_header(b), bool_field(b, "succeeded"), {}};
  for (const auto& op : array_field(b, "responses")) {
    require_object(op);
    if (op.contains("response_put"))
      r.responses.emplace_back(decode_put(op["response_put"]));
    else if (op.contains("response_range"))
      r.responses.emplace_back(decode_range(op["response_range"]));
    else if (op.contains("response_delete_range"))
      r.responses.emplace_back(decode_delete(op["response_delete_range"]));
    else
      throw BadJson("a transaction response of an unknown kind");
  }
  return r;
}

Event decode_event(const json& ev) {
  require_object(ev);
  Event e;
  auto t = ev.find("type");
  if (t != ev.end() && !t->is_null()) {
    if (*t == "DELETE")
      e.type = Event::Type::del;
    else if (*t != "PUT")
      throw BadJson("an event of an unknown type");
  }
  e.kv = decode_kv(object_field(ev, "kv"));
  if (ev.contains("prev_kv") && !ev["prev_kv"].is_null()) e.prev_kv = decode_kv(ev["prev_kv"]);
  return e;
}

Status decode_status(const json& b) {
  require_object(b);
  Status s{decode_header(b), {}, 0, int_field(b, "raftIndex"), int_field(b, "dbSize"), {}};
  if (b.contains("version") && b["version"].is_string()) s.version = b["version"];
  if (b.contains("leader"))
    s.leader = static_cast<uint64_t>(
        std::stoull(b["leader"].is_string() ? b["leader"].get<std::string>() : "0"));
  for (const auto& e : array_field(b, "errors"))
    if (e.is_string()) s.errors.push_back(e);
  return s;
}

}  // namespace codec
}  // namespace tend::etcd
