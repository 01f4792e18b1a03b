// Turns manifest text (YAML or JSON, as kubectl accepts it) into typed
// objects with the API server's defaults applied.
//
// Every error names the file, the document, the object and the field path, so
// an operator can fix the file without reading kubedp's code:
//   pods.yaml: document 2 (Pod default/web): spec.containers[0].ports[1].containerPort:
//   expected an integer, got "http"
// Types are checked strictly (a quoted "80" is not a port number), unknown
// fields are ignored so manifests written for a full cluster load unchanged.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "k8s/objects.h"

namespace kubedp::k8s {

struct DecodeOutput {
  std::vector<Object> objects;  // in document order
  // "Kind ns/name" of documents whose kind kubedp does not model (a
  // Deployment, the lab's own section, ...). They are not errors.
  std::vector<std::string> skipped;
};

// Decodes every document of text: multi-document YAML ("---"), JSON, and
// "kind: List" (or a typed list such as PodList) with items. Empty documents
// are ignored. origin names the text in messages (usually the file name).
// One bad document fails the whole text, so a caller can keep the last good
// version of a file instead of applying half of it.
Result<DecodeOutput> DecodeManifests(std::string_view text, std::string_view origin);

// Decodes one already-parsed document (YAML converts with YamlToJson); where
// prefixes error messages ("lab.yaml: document 3"). A document of a kind that
// is not modeled yields a Status with code ENOTSUP (see IsModeledKind);
// anything malformed is EINVAL.
Result<Object> DecodeObject(const nlohmann::json& node, std::string_view where);

// Whether DecodeObject understands this apiVersion group and kind. A kind of
// the right name in another group (say a Knative "Service") is not modeled.
bool IsModeledKind(std::string_view api_version, std::string_view kind);

}  // namespace kubedp::k8s
