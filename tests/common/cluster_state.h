// Cluster state from manifests written in a test, through the real decoder.
#pragma once

#include <gtest/gtest.h>

#include <string_view>

#include "k8s/decode.h"

namespace kubedp::testing {

inline k8s::ClusterState LoadState(std::string_view yaml) {
  k8s::ClusterState state;
  auto decoded = k8s::DecodeManifests(yaml, "test.yaml");
  EXPECT_TRUE(decoded.ok()) << decoded.status().message();
  if (!decoded.ok()) return state;
  for (auto& object : decoded->objects) state.Add(std::move(object));
  return state;
}

}  // namespace kubedp::testing
