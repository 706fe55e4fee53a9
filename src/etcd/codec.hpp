// The gateway's JSON: base64 for bytes, int64 as strings (numbers are accepted too), zero values
// omitted. Encoders build request bodies; decoders throw BadJson on any shape etcd would not send
// (the client turns it into ErrorKind::bad_response).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "etcd/types.hpp"

namespace tend::etcd::codec {

struct BadJson : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string base64_encode(std::string_view bytes);
// Strict: padding required, nothing outside the alphabet. Throws BadJson.
std::string base64_decode(std::string_view text);

nlohmann::json encode(const RangeRequest&);
nlohmann::json encode(const PutRequest&);
nlohmann::json encode(const DeleteRequest&);
nlohmann::json encode(const Compare&);
nlohmann::json encode(const TxnRequest&);

// An int64 field: a JSON string of digits or a number; absent or null = 0.
int64_t int_field(const nlohmann::json& obj, const char* name);
Header decode_header(const nlohmann::json& obj);  // obj["header"], absent = zeros
KeyValue decode_kv(const nlohmann::json& kv);
RangeResult decode_range(const nlohmann::json& body);
PutResult decode_put(const nlohmann::json& body);
DeleteResult decode_delete(const nlohmann::json& body);
TxnResult decode_txn(const nlohmann::json& body);
Event decode_event(const nlohmann::json& ev);
Status decode_status(const nlohmann::json& body);

}  // namespace tend::etcd::codec
