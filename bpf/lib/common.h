/* SPDX-License-Identifier: Apache-2.0 */
/* What every datapath file needs: kernel types (CO-RE), helpers, the ABI. */
#ifndef KUBEDP_LIB_COMMON_H
#define KUBEDP_LIB_COMMON_H

#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "kubedp/abi.h"

/* UAPI macros that vmlinux.h (types only) does not carry. */
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define TC_ACT_REDIRECT 7
#define ETH_P_IP 0x0800
#define ETH_ALEN 6
#define IPPROTO_ICMP_NUM 1
#define IPPROTO_TCP_NUM 6
#define IPPROTO_UDP_NUM 17
#define IPPROTO_SCTP_NUM 132

#define KDP_INLINE static __always_inline

#endif /* KUBEDP_LIB_COMMON_H */
