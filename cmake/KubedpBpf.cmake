# Turns bpf/<name>.bpf.c into an object (clang -target bpf, BTF for CO-RE) and a
# libbpf skeleton header that embeds it, all inside the build graph.
#   kubedp_bpf_object(pod)  ->  target kubedp_bpf_pod, header "pod.skel.h"

find_program(KUBEDP_CLANG clang REQUIRED)
find_program(KUBEDP_BPFTOOL bpftool PATHS /usr/sbin /sbin REQUIRED)
execute_process(COMMAND gcc -dumpmachine OUTPUT_VARIABLE KUBEDP_MULTIARCH
                OUTPUT_STRIP_TRAILING_WHITESPACE)
set(KUBEDP_BPF_GEN_DIR ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${KUBEDP_BPF_GEN_DIR})

# Kernel types from the running kernel's BTF (CO-RE relocates them at load).
add_custom_command(
  OUTPUT ${KUBEDP_BPF_GEN_DIR}/vmlinux.h
  COMMAND ${KUBEDP_BPFTOOL} btf dump file /sys/kernel/btf/vmlinux format c
          > ${KUBEDP_BPF_GEN_DIR}/vmlinux.h
  COMMENT "Generating vmlinux.h from kernel BTF")
add_custom_target(kubedp_vmlinux_h DEPENDS ${KUBEDP_BPF_GEN_DIR}/vmlinux.h)

function(kubedp_bpf_object name)
  set(src ${PROJECT_SOURCE_DIR}/bpf/${name}.bpf.c)
  set(obj ${KUBEDP_BPF_GEN_DIR}/${name}.bpf.o)
  set(skel ${KUBEDP_BPF_GEN_DIR}/${name}.skel.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${KUBEDP_CLANG} -O2 -g -target bpf -D__TARGET_ARCH_x86 -Wall -Werror
            -I${KUBEDP_BPF_GEN_DIR} -I${PROJECT_SOURCE_DIR}/bpf -I${PROJECT_SOURCE_DIR}/bpf/include
            -I/usr/include/${KUBEDP_MULTIARCH} -MD -MF ${obj}.d -c ${src} -o ${obj}
    DEPENDS ${src} ${KUBEDP_BPF_GEN_DIR}/vmlinux.h
    DEPFILE ${obj}.d
    COMMENT "Compiling BPF object ${name}.bpf.o")
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${KUBEDP_BPFTOOL} gen skeleton ${obj} name kdp_${name} > ${skel}
    DEPENDS ${obj}
    COMMENT "Generating skeleton ${name}.skel.h")
  add_custom_target(kubedp_bpf_${name}_gen DEPENDS ${skel})
  add_library(kubedp_bpf_${name} INTERFACE)
  add_dependencies(kubedp_bpf_${name} kubedp_bpf_${name}_gen)
  target_include_directories(kubedp_bpf_${name} INTERFACE ${KUBEDP_BPF_GEN_DIR})
endfunction()
