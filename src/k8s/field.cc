#include "k8s/field.h"

#include <algorithm>
#include <cmath>

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

// How a value appears after "got" in an error.
std::string Describe(const nlohmann::json* node) {
  if (node == nullptr) return "nothing";
  if (node->is_object()) return "a mapping";
  if (node->is_array()) return "a list";
  if (node->is_null()) return "null";
  if (node->is_string()) return Quote(node->get_ref<const std::string&>());
  if (node->is_number_float() && !std::isfinite(node->get<double>())) {
    return std::isnan(node->get<double>()) ? ".nan" : node->get<double>() > 0 ? ".inf" : "-.inf";
  }
  return node->dump();
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
  if (!Present() || !node_->is_object()) return Field(nullptr, std::move(path));
  auto it = node_->find(key);
  return Field(it == node_->end() ? nullptr : &*it, std::move(path));
}

Field Field::At(size_t i) const {
  const nlohmann::json* item =
      Present() && node_->is_array() && i < node_->size() ? &(*node_)[i] : nullptr;
  return Field(item, path_ + "[" + std::to_string(i) + "]");
}

Status Field::Fail(std::string_view problem) const {
  if (path_.empty()) return Status::Invalid(std::string(problem));
  return Status::Invalid(path_ + ": " + std::string(problem));
}

Status Field::WrongType(std::string_view expected) const {
  return Fail("expected " + std::string(expected) + ", got " +
              Describe(Present() ? node_ : nullptr));
}

Status ExpectMap(const Field& f) {
  if (!f.Present()) return Status::Ok();
  if (!f.node().is_object()) return f.WrongType("a mapping");
  return Status::Ok();
}

Status Required(const Field& f) {
  if (!f.Present()) return f.Fail("required field is missing");
  return Status::Ok();
}

Status ForEach(const Field& f, const std::function<Status(const Field&)>& fn) {
  if (!f.Present()) return Status::Ok();
  if (!f.node().is_array()) return f.WrongType("a list");
  for (size_t i = 0; i < f.node().size(); ++i) {
    KUBEDP_RETURN_IF_ERROR(fn(f.At(i)));
  }
  return Status::Ok();
}

Status ReadString(const Field& f, std::string* out) {
  if (!f.Present()) return Status::Ok();
  if (!f.node().is_string()) return f.WrongType("a string");
  *out = f.node().get_ref<const std::string&>();
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
  if (!f.node().is_boolean()) return f.WrongType("a boolean");
  *out = f.node().get<bool>();
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
  if (!f.node().is_number_integer()) return f.WrongType("an integer");
  int64_t value =
      f.node().is_number_unsigned()
          ? static_cast<int64_t>(std::min<uint64_t>(f.node().get<uint64_t>(), INT64_MAX))
          : f.node().get<int64_t>();
  if (value < INT32_MIN || value > INT32_MAX) return f.WrongType("a 32-bit integer");
  *out = static_cast<int32_t>(value);
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
  for (const auto& [key, item] : f.node().items()) {
    Field value(&item, f.path() + "[" + Quote(key) + "]");
    std::string text;  // a null value is an empty string, as kubectl reads it
    KUBEDP_RETURN_IF_ERROR(ReadString(value, &text));
    (*out)[key] = std::move(text);
  }
  return Status::Ok();
}

Status ReadPortRef(const Field& f, std::optional<IntOrString>* out) {
  if (!f.Present()) return Status::Ok();
  if (f.node().is_number_integer()) {
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
