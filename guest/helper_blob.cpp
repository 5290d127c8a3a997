// The guest helper's static binary (built from guest/helper.c), placed into the server's read-only
// data at build time: the server carries its helper with it and needs no file at run time.
// CSSH_GUEST_HELPER_PATH is the helper's path in the build tree (guest/CMakeLists.txt). This file
// is never compiled through ccache, which cannot see a change in the file `.incbin` reads.

#ifndef CSSH_GUEST_HELPER_PATH
#error "CSSH_GUEST_HELPER_PATH must name the built helper binary"
#endif

__asm__(
    ".section .rodata\n"
    ".global cssh_guest_helper_begin\n"
    ".global cssh_guest_helper_end\n"
    ".balign 16\n"
    "cssh_guest_helper_begin:\n"
    ".incbin \"" CSSH_GUEST_HELPER_PATH "\"\n"
    "cssh_guest_helper_end:\n"
    ".previous\n");
