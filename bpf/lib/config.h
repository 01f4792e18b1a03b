/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's settings, fixed when a program is loaded: read-only data that
 * the agent fills through the skeleton, so one object serves every node.
 * Included once by each attach point's file.
 */
#ifndef KUBEDP_LIB_CONFIG_H
#define KUBEDP_LIB_CONFIG_H

#include "common.h"

const volatile struct kdp_node_config kdp_config = {};

KDP_INLINE bool kdp_in_pod_range(__u32 addr) {
  return (addr & kdp_config.pod_cidr_mask) == kdp_config.pod_cidr;
}

KDP_INLINE bool kdp_masquerade_enabled(void) {
  return kdp_config.node_ip && (kdp_config.flags & KDP_NODE_F_MASQUERADE);
}

#endif /* KUBEDP_LIB_CONFIG_H */
