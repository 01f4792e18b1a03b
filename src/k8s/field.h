// Typed, path-aware reads from a parsed document (JSON, or YAML converted by
// yaml_json.h), for decode.cc.
// Every failure names the field path ("spec.ports[0].port") and what was
// found instead, so the decoder only adds file, document and object.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "k8s/objects.h"

namespace kubedp::k8s {

// A node and its path from the document root. The node is borrowed: the
// document outlives every Field read from it.
class Field {
 public:
  Field(const nlohmann::json* node, std::string path) : node_(node), path_(std::move(path)) {}

  // Absent and null are the same to the API: the field is unset.
  bool Present() const { return node_ != nullptr && !node_->is_null(); }
  // Only when Present().
  const nlohmann::json& node() const { return *node_; }
  const std::string& path() const { return path_; }

  // A child of a mapping. Any child of an absent field or of a non-mapping is
  // absent (ExpectMap reports the wrong type where it matters).
  Field operator[](std::string_view key) const;
  // An item of a sequence.
  Field At(size_t i) const;

  // "path: problem" as an EINVAL Status.
  Status Fail(std::string_view problem) const;
  // "path: expected <expected>, got <what is there>".
  Status WrongType(std::string_view expected) const;

 private:
  const nlohmann::json* node_;
  std::string path_;
};

// A string as shown in messages: double-quoted, escaped, cut when long.
std::string Quote(std::string_view s);

// OK when the field is unset or a mapping (keys are unique strings by then:
// the parsers check that).
Status ExpectMap(const Field& f);
// Fails with "required field is missing" when the field is unset.
Status Required(const Field& f);
// Calls fn on every item of a list field; an unset field is an empty list.
Status ForEach(const Field& f, const std::function<Status(const Field&)>& fn);

// The Read* functions leave *out untouched when the field is unset, so
// callers initialise it with the API default first. Types are strict: a
// quoted "80" is not an integer and a plain 80 is not a string.
Status ReadString(const Field& f, std::string* out);
Status ReadRequiredString(const Field& f, std::string* out);  // also non-empty
Status ReadOneOf(const Field& f, std::initializer_list<std::string_view> allowed, std::string* out);
Status ReadProtocol(const Field& f, std::string* out);  // TCP, UDP or SCTP
Status ReadBool(const Field& f, bool* out);
Status ReadOptionalBool(const Field& f, std::optional<bool>* out);
Status ReadInt32(const Field& f, int32_t* out);
Status ReadOptionalInt32(const Field& f, std::optional<int32_t>* out);
Status ReadRequiredPort(const Field& f, int32_t* out);  // 1..65535
Status ReadStringList(const Field& f, std::vector<std::string>* out);
Status ReadStringMap(const Field& f, std::map<std::string, std::string>* out);
// A port number (1..65535) or a valid port name; nullopt when unset.
Status ReadPortRef(const Field& f, std::optional<IntOrString>* out);

Status CheckRange(const Field& f, int32_t value, int32_t low, int32_t high);

}  // namespace kubedp::k8s
