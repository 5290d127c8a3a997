/* The guest helper: a tiny static program the server makes available inside every container it
 * creates, at /.containerssh/helper, from a read-only named volume (docker/guest_helper.hpp). It
 * needs nothing from the user's image (no shell, no libc) and works with a read-only root
 * filesystem. Usage:
 *
 *   helper run [--winsize ROWSxCOLS] -- PROGRAM [ARG...]
 *       Gives the terminal on stdin/stdout/stderr (if there is one) the size ROWSxCOLS, then
 *       execve()s PROGRAM (searched in PATH when it has no '/'), so the program keeps this PID
 *       and the size is right before its first instruction: the Engine (API 1.41) can only resize
 *       a TTY after the process started. Exits 127 (not found) or 126 (not runnable) otherwise.
 *
 *   helper signal --marker ID --signal N
 *       Sends signal N to the program a `run` started with CSSH_EXEC=ID in its environment: the
 *       topmost process carrying that marker (its children inherit the variable; the program's
 *       parent does not have it). The Engine cannot signal a process started by exec, so this runs
 *       as a second exec as the same user. The Engine answers an exec's start before its process
 *       exists, so a signal sent right after the start may come first: when no process carries
 *       the marker yet, it looks again every 10 ms for up to 2 s. Exits 0 when it signalled a
 *       process, 1 when none was found or kill() failed.
 *
 *   helper idle
 *       Waits until TERM, INT or HUP arrives, then exits 0: the default idle process of a
 *       connection-mode container (idleCommand). Also correct as PID 1 (it has handlers).
 *
 *   helper forward
 *       Carries the forwarded connections of one SSH connection (-L, -D, -R, agent, X11) between
 *       the server and sockets inside the container: frames on stdin/stdout as docs/forwarding.md
 *       specifies ("The framing between server and helper"); diagnostics on stderr. One poll()
 *       loop (forward.c); the framing is forward_frame.c. Host names are resolved without the C
 *       library's resolver (a static getaddrinfo needs, at run time, the NSS modules of the
 *       glibc it was linked with, which the user's image may not have): IP literals,
 *       "localhost" (127.0.0.1, then ::1), /etc/hosts, then A and AAAA queries to the name
 *       servers of /etc/resolv.conf (no search domains; Docker's embedded DNS answers container
 *       names as they are). The Unix sockets it listens on, the directories it created for them
 *       and the files WRITE_FILE put directly into those directories are removed on UNLISTEN
 *       and when it ends; other written files stay. Exits 0 when stdin ends (or on TERM, INT,
 *       HUP), 3 on a protocol error, 1 when stdout is gone.
 *
 *   helper version
 *       Prints the helper protocol version.
 *
 * Only the C library's system-call wrappers, snprintf and inet_pton/inet_ntop are used, so the
 * static binary stays small. */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "forward.h"

#define MARKER_NAME "CSSH_EXEC="
#define ENVIRON_LIMIT (16u * 1024u * 1024u)

static void say(const char *a, const char *b, const char *c) {
  const char *parts[] = {"containerssh helper: ", a, b, c, "\n"};
  for (unsigned i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    if (!parts[i]) continue;
    size_t len = strlen(parts[i]);
    while (len > 0) {
      ssize_t n = write(2, parts[i], len);
      if (n <= 0) return;
      parts[i] += n;
      len -= (size_t)n;
    }
  }
}

static int usage(void) {
  say("usage: helper run [--winsize ROWSxCOLS] -- PROGRAM [ARG...] | helper signal --marker ID --signal N | "
      "helper idle | helper forward | helper version",
      NULL, NULL);
  return 2;
}

/* Parses a decimal number in [0, max]; -1 if `text` is not one. */
static long parse_number(const char *text, long max) {
  if (!text || !*text) return -1;
  long value = 0;
  for (const char *p = text; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    value = value * 10 + (*p - '0');
    if (value > max) return -1;
  }
  return value;
}

static int set_window_size(const char *spec) {
  const char *x = strchr(spec, 'x');
  if (!x) return -1;
  char rows_text[16];
  size_t rows_len = (size_t)(x - spec);
  if (rows_len == 0 || rows_len >= sizeof rows_text) return -1;
  memcpy(rows_text, spec, rows_len);
  rows_text[rows_len] = '\0';
  long rows = parse_number(rows_text, 65535);
  long cols = parse_number(x + 1, 65535);
  if (rows < 0 || cols < 0) return -1;
  struct winsize ws;
  memset(&ws, 0, sizeof ws);
  ws.ws_row = (unsigned short)rows;
  ws.ws_col = (unsigned short)cols;
  /* The same terminal is usually on all three; the first one that is a terminal will do. */
  for (int fd = 0; fd <= 2; fd++) {
    if (isatty(fd)) {
      ioctl(fd, TIOCSWINSZ, &ws);
      break;
    }
  }
  return 0;
}

static int run(int argc, char **argv) {
  int i = 0;
  while (i < argc && strcmp(argv[i], "--") != 0) {
    if (strcmp(argv[i], "--winsize") == 0 && i + 1 < argc) {
      if (set_window_size(argv[i + 1]) != 0) {
        say("bad --winsize value ", argv[i + 1], " (expected ROWSxCOLS)");
        return 2;
      }
      i += 2;
    } else {
      return usage();
    }
  }
  if (i >= argc || i + 1 >= argc) return usage();
  char **program = argv + i + 1;
  execvp(program[0], program);
  int err = errno;
  char reason[128];
  snprintf(reason, sizeof reason, ": %s", strerror(err));
  say("cannot run ", program[0], reason);
  return err == ENOENT ? 127 : 126;
}

/* Reads a whole /proc file into a buffer (NUL-terminated for convenience); NULL on failure. */
static char *read_proc_file(const char *path, size_t *size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap + 1);
  while (buf) {
    if (len == cap) {
      if (cap >= ENVIRON_LIMIT) break;
      char *bigger = realloc(buf, cap * 2 + 1);
      if (!bigger) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = bigger;
      cap *= 2;
    }
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(fd);
  if (buf) {
    buf[len] = '\0';
    *size = len;
  }
  return buf;
}

/* Whether process `pid` has exactly `entry` ("CSSH_EXEC=ID") in its environment. */
static int carries_marker(long pid, const char *entry) {
  char path[64];
  size_t size = 0;
  snprintf(path, sizeof path, "/proc/%ld/environ", pid);
  char *env = read_proc_file(path, &size);
  if (!env) return 0;
  int found = 0;
  for (size_t at = 0; at < size && !found;) {
    size_t len = strnlen(env + at, size - at);
    if (strcmp(env + at, entry) == 0) found = 1;
    at += len + 1;
  }
  free(env);
  return found;
}

static long parent_of(long pid) {
  char path[64];
  size_t size = 0;
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  char *stat = read_proc_file(path, &size);
  if (!stat) return -1;
  /* "pid (comm) state ppid ...": comm may hold spaces and parentheses; the last ')' ends it. */
  char *close_paren = strrchr(stat, ')');
  long ppid = -1;
  if (close_paren && close_paren[1] == ' ' && close_paren[2] && close_paren[3] == ' ') {
    ppid = strtol(close_paren + 4, NULL, 10);
  }
  free(stat);
  return ppid;
}

#define MAX_MARKED 4096

/* Returns 0 (signalled), 1 (failed), or 2 when no process carries the marker and `may_wait`. */
static int signal_marked(const char *marker, int sig, int may_wait) {
  char entry[256];
  if (strlen(marker) + sizeof MARKER_NAME > sizeof entry) return usage();
  snprintf(entry, sizeof entry, "%s%s", MARKER_NAME, marker);
  DIR *proc = opendir("/proc");
  if (!proc) {
    say("cannot read /proc: ", strerror(errno), NULL);
    return 1;
  }
  static long marked[MAX_MARKED];
  size_t count = 0;
  long self = (long)getpid();
  for (struct dirent *d; (d = readdir(proc)) != NULL && count < MAX_MARKED;) {
    long pid = parse_number(d->d_name, 1L << 30);
    if (pid <= 0 || pid == self) continue;
    if (carries_marker(pid, entry)) marked[count++] = pid;
  }
  closedir(proc);
  int signalled = 0;
  for (size_t i = 0; i < count; i++) {
    long parent = parent_of(marked[i]);
    int parent_marked = 0;
    for (size_t j = 0; j < count; j++) parent_marked |= marked[j] == parent;
    if (parent_marked) continue;
    if (kill((pid_t)marked[i], sig) == 0) {
      signalled = 1;
    } else {
      say("kill failed: ", strerror(errno), NULL);
    }
  }
  if (!signalled && count == 0) {
    if (may_wait) return 2;
    say("no process carries marker ", marker, NULL);
  }
  return signalled ? 0 : 1;
}

/* The program of a just-started exec may not exist yet (see the usage above): look again for a while. */
static int signal_marked_soon(const char *marker, int sig) {
  const struct timespec pause = {0, 10 * 1000 * 1000};
  for (int attempt = 0;; attempt++) {
    int rc = signal_marked(marker, sig, attempt < 200);
    if (rc != 2) return rc;
    nanosleep(&pause, NULL);
  }
}

static int signal_command(int argc, char **argv) {
  const char *marker = NULL;
  long sig = -1;
  for (int i = 0; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--marker") == 0) {
      marker = argv[i + 1];
    } else if (strcmp(argv[i], "--signal") == 0) {
      sig = parse_number(argv[i + 1], 64);
    } else {
      return usage();
    }
  }
  if (argc % 2 != 0 || !marker || !*marker || sig <= 0) return usage();
  return signal_marked_soon(marker, (int)sig);
}

static void leave(int sig) {
  (void)sig;
  _exit(0);
}

static _Noreturn void idle(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = leave;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  for (;;) pause();
}

int main(int argc, char **argv) {
  if (argc < 2) return usage();
  if (strcmp(argv[1], "run") == 0) return run(argc - 2, argv + 2);
  if (strcmp(argv[1], "signal") == 0) return signal_command(argc - 2, argv + 2);
  if (strcmp(argv[1], "idle") == 0) idle();
  if (strcmp(argv[1], "forward") == 0 && argc == 2) forward_main();
  if (strcmp(argv[1], "version") == 0) {
    static const char text[] = "containerssh-cpp guest helper 2\n";
    return write(1, text, sizeof text - 1) == (ssize_t)(sizeof text - 1) ? 0 : 1;
  }
  return usage();
}
