// YAML documents as JSON values, so one decoder reads both: JSON (what the
// API server serves, and the fast path for large states) and YAML (what
// people write). Plain scalars resolve like YAML 1.2's core schema; quoted
// ones stay strings, which keeps the string "80" apart from the number 80.
#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>

namespace kubedp::k8s {

// Converts node. Mapping keys must be unique scalars: the first offence is
// described in *problem ("data: duplicate key \"a\"") and the first value of
// a repeated key is kept, so the caller can still name the object.
nlohmann::json YamlToJson(const YAML::Node& node, std::string* problem);

}  // namespace kubedp::k8s
