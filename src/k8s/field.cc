#include "k8s/field.h"

#include <algorithm>
#include <charconv>
#include <set>

namespace kubedp::k8s {

std::string Quote(std::string_view s) {
  // Long values (certificates in a ConfigMap, say) would drown the message.
  constexpr size_t kMaxShown = 64;
  std::string out = "\"";
  for (char c : s.substr(0, kMaxShown)) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  if (s.size() > kMaxShown) out += "...";
  return out + "\"";
}

namespace {

// Scalars. yaml-cpp keeps every scalar as text; the tag tells quoted ("!")
// from plain ("?") ones, which is what separates the string "80" from the
// number 80. Plain scalars are resolved like YAML 1.2's core schema.

enum class ScalarType { kString, kInt, kFloat, kBool };

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string_view StripSign(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  return s;
}

bool IsFloatLiteral(std::string_view s) {
  s = StripSign(s);
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == ".nan" || s == ".NaN" || s == ".NAN") {
    return true;
  }
  size_t exp = s.find_first_of("eE");
  std::string_view mantissa = s.substr(0, exp);
  if (exp != std::string_view::npos && !IsDigits(StripSign(s.substr(exp + 1)))) return false;
  size_t dot = mantissa.find('.');
  if (dot == std::string_view::npos) return exp != std::string_view::npos && IsDigits(mantissa);
  std::string_view whole = mantissa.substr(0, dot);
  std::string_view frac = mantissa.substr(dot + 1);
  if (whole.empty() && frac.empty()) return false;
  return (whole.empty() || IsDigits(whole)) && (frac.empty() || IsDigits(frac));
}

ScalarType Classify(const YAML::Node& node) {
  const std::string& tag = node.Tag();
  if (tag == "!" || tag == "tag:yaml.org,2002:str") return ScalarType::kString;
  const std::string& s = node.Scalar();
  if (IsDigits(StripSign(s))) return ScalarType::kInt;
  if (IsFloatLiteral(s)) return ScalarType::kFloat;
  if (s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False" || s == "FALSE") {
    return ScalarType::kBool;
  }
  return ScalarType::kString;
}

// How a value appears after "got" in an error.
std::string Describe(const YAML::Node& node) {
  if (!node.IsDefined()) return "nothing";
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  if (!node.IsScalar()) return "null";
  if (Classify(node) == ScalarType::kString) return Quote(node.Scalar());
  return node.Scalar();
}

std::string Join(std::initializer_list<std::string_view> values) {
  std::string out;
  for (std::string_view v : values) {
    if (!out.empty()) out += ", ";
    out += v;
  }
  return out;
}

// IANA service names, which is what the API accepts as a named port: at most
// 15 characters of [a-z0-9-], at least one letter, no leading, trailing or
// doubled '-'.
bool IsValidPortName(std::string_view name) {
  if (name.empty() || name.size() > 15 || name.front() == '-' || name.back() == '-') return false;
  if (name.find("--") != std::string_view::npos) return false;
  bool letter = false;
  for (char c : name) {
    if (c >= 'a' && c <= 'z') {
      letter = true;
    } else if (!(c >= '0' && c <= '9') && c != '-') {
      return false;
    }
  }
  return letter;
}

}  // namespace

Field Field::operator[](std::string_view key) const {
  std::string path = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  if (!Present() || !node_.IsMap()) {
    return Field(YAML::Node(YAML::NodeType::Undefined), std::move(path));
  }
  const YAML::Node& node = node_;  // the non-const operator[] would insert
  return Field(node[std::string(key)], std::move(path));
}

Field Field::At(size_t i) const {
  const YAML::Node& node = node_;
  return Field(node[i], path_ + "[" + std::to_string(i) + "]");
}

Status Field::Fail(std::string_view problem) const {
  if (path_.empty()) return Status::Invalid(std::string(problem));
  return Status::Invalid(path_ + ": " + std::string(problem));
}

Status Field::WrongType(std::string_view expected) const {
  return Fail("expected " + std::string(expected) + ", got " + Describe(node_));
}

// Duplicate keys are legal for yaml-cpp but kubectl rejects them, and
// silently picking one would hide a mistake.
Status ExpectMap(const Field& f) {
  if (!f.Present()) return Status::Ok();
  if (!f.node().IsMap()) return f.WrongType("a mapping");
  std::set<std::string> keys;
  for (const auto& entry : f.node()) {
    if (!entry.first.IsScalar()) return f.Fail("mapping keys must be strings");
    if (!keys.insert(entry.first.Scalar()).second) {
      return f.Fail("duplicate key " + Quote(entry.first.Scalar()));
    }
  }
  return Status::Ok();
}

Status Required(const Field& f) {
  if (!f.Present()) return f.Fail("required field is missing");
  return Status::Ok();
}

Status ForEach(const Field& f, const std::function<Status(const Field&)>& fn) {
  if (!f.Present()) return Status::Ok();
  if (!f.node().IsSequence()) return f.WrongType("a list");
  for (size_t i = 0; i < f.node().size(); ++i) {
    KUBEDP_RETURN_IF_ERROR(fn(f.At(i)));
  }
  return Status::Ok();
}

Status ReadString(const Field& f, std::string* out) {
  if (!f.Present()) return Status::Ok();
  if (!f.node().IsScalar() || Classify(f.node()) != ScalarType::kString) {
    return f.WrongType("a string");
  }
  *out = f.node().Scalar();
  return Status::Ok();
}

Status ReadRequiredString(const Field& f, std::string* out) {
  KUBEDP_RETURN_IF_ERROR(Required(f));
  KUBEDP_RETURN_IF_ERROR(ReadString(f, out));
  if (out->empty()) return f.Fail("must not be empty");
  return Status::Ok();
}

Status ReadOneOf(const Field& f, std::initializer_list<std::string_view> allowed,
                 std::string* out) {
  std::string value = *out;
  KUBEDP_RETURN_IF_ERROR(ReadString(f, &value));
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
    return f.Fail("must be one of " + Join(allowed) + ", got " + Quote(value));
  }
  *out = std::move(value);
  return Status::Ok();
}

Status ReadProtocol(const Field& f, std::string* out) {
  return ReadOneOf(f, {"TCP", "UDP", "SCTP"}, out);
}

Status ReadOptionalBool(const Field& f, std::optional<bool>* out) {
  if (!f.Present()) return Status::Ok();
  if (!f.node().IsScalar() || Classify(f.node()) != ScalarType::kBool) {
    return f.WrongType("a boolean");
  }
  char first = f.node().Scalar()[0];
  *out = first == 't' || first == 'T';
  return Status::Ok();
}

Status ReadBool(const Field& f, bool* out) {
  std::optional<bool> value;
  KUBEDP_RETURN_IF_ERROR(ReadOptionalBool(f, &value));
  if (value.has_value()) *out = *value;
  return Status::Ok();
}

Status ReadOptionalInt32(const Field& f, std::optional<int32_t>* out) {
  if (!f.Present()) return Status::Ok();
  if (!f.node().IsScalar() || Classify(f.node()) != ScalarType::kInt) {
    return f.WrongType("an integer");
  }
  std::string_view text = f.node().Scalar();
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  int32_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return f.WrongType("a 32-bit integer");
  }
  *out = value;
  return Status::Ok();
}

Status ReadInt32(const Field& f, int32_t* out) {
  std::optional<int32_t> value;
  KUBEDP_RETURN_IF_ERROR(ReadOptionalInt32(f, &value));
  if (value.has_value()) *out = *value;
  return Status::Ok();
}

Status CheckRange(const Field& f, int32_t value, int32_t low, int32_t high) {
  if (value >= low && value <= high) return Status::Ok();
  return f.Fail("must be between " + std::to_string(low) + " and " + std::to_string(high) +
                ", got " + std::to_string(value));
}

Status ReadRequiredPort(const Field& f, int32_t* out) {
  KUBEDP_RETURN_IF_ERROR(Required(f));
  KUBEDP_RETURN_IF_ERROR(ReadInt32(f, out));
  return CheckRange(f, *out, 1, 65535);
}

Status ReadStringList(const Field& f, std::vector<std::string>* out) {
  return ForEach(f, [out](const Field& item) {
    std::string value;
    KUBEDP_RETURN_IF_ERROR(Required(item));
    KUBEDP_RETURN_IF_ERROR(ReadString(item, &value));
    out->push_back(std::move(value));
    return Status::Ok();
  });
}

Status ReadStringMap(const Field& f, std::map<std::string, std::string>* out) {
  KUBEDP_RETURN_IF_ERROR(ExpectMap(f));
  if (!f.Present()) return Status::Ok();
  for (const auto& entry : f.node()) {
    const std::string& key = entry.first.Scalar();
    Field value(entry.second, f.path() + "[" + Quote(key) + "]");
    std::string text;  // a null value is an empty string, as kubectl reads it
    KUBEDP_RETURN_IF_ERROR(ReadString(value, &text));
    (*out)[key] = std::move(text);
  }
  return Status::Ok();
}

Status ReadPortRef(const Field& f, std::optional<IntOrString>* out) {
  if (!f.Present()) return Status::Ok();
  if (f.node().IsScalar() && Classify(f.node()) == ScalarType::kInt) {
    int32_t number = 0;
    KUBEDP_RETURN_IF_ERROR(ReadInt32(f, &number));
    KUBEDP_RETURN_IF_ERROR(CheckRange(f, number, 1, 65535));
    *out = IntOrString{.number = number};
    return Status::Ok();
  }
  std::string name;
  KUBEDP_RETURN_IF_ERROR(ReadString(f, &name));
  if (!IsValidPortName(name)) {
    return f.Fail(
        "must be a port number or a port name (up to 15 lowercase letters, digits and '-', "
        "with at least one letter), got " +
        Quote(name));
  }
  *out = IntOrString{.name = name};
  return Status::Ok();
}

}  // namespace kubedp::k8s
