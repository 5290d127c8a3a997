#pragma once
// Names the calling thread, so `top -H`, `ps -L` and perf show which part of the daemon a
// thread is (session, reactor, listener) instead of the binary's name on every one of them.

#include <pthread.h>

namespace cssh {

/// `name` is at most 15 characters (the kernel's limit); a longer one is left unset.
inline void name_this_thread(const char* name) { pthread_setname_np(pthread_self(), name); }

}  // namespace cssh
