/* `helper forward`: one poll() loop carrying every forwarded connection of an SSH connection
 * between the server (frames on stdin/stdout, docs/forwarding.md) and sockets inside the
 * container. Single-threaded; a stream's socket is read only while the stream has credit, and
 * data from the server waits in the stream's buffer (at most the window) until its socket takes
 * it, so one stalled socket stalls only its own stream. Writes to stdout block: the server
 * always reads. */

#define _GNU_SOURCE
#include "forward.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "forward_frame.h"
#include "forward_net.h"

#define MAX_TEXT 4096 /* longest host, path or address taken from a frame */

enum stream_state { RESOLVING, CONNECTING, OPEN };

/* A DIAL_TCP under way: its addresses, tried in turn. */
struct dial {
  char target[300]; /* host:port, for the FAIL reason */
  struct fwd_addrs addrs;
  unsigned next;
  uint16_t port;
  int last_error;   /* the first address's: the most telling (127.0.0.1 before ::1) */
  struct fwd_resolver resolver;
};

struct stream {
  uint32_t id;
  int fd;           /* the socket; -1 while resolving */
  int state;
  int read_eof;     /* the socket's end was read and EOF sent */
  int write_eof;    /* the server sent EOF: shut the socket's write side once buf is empty */
  int write_shut;
  uint32_t credit;  /* DATA bytes the helper may still send */
  uint8_t *buf;     /* from the server, not yet written: buf[start..end), cap <= FWD_WINDOW */
  uint32_t start, end, cap;
  struct dial *dial;
};

struct listener {
  uint32_t id;
  int fd;
  char *path;       /* a Unix listener's socket, removed with it */
  char *dir;        /* the directory it created (flag 1), removed with it */
  long long paused_until;
};

static struct stream **streams;
static size_t stream_count, stream_cap;
static struct stream *last_found;
static struct listener **listeners;
static size_t listener_count, listener_cap;
static char **files; /* written by WRITE_FILE */
static size_t file_count, file_cap;
static uint32_t next_accepted_id = FWD_HELPER_IDS;
static struct fwd_decoder decoder;
static uint8_t out_frame[FWD_HEADER_SIZE + FWD_MAX_PAYLOAD];
static volatile sig_atomic_t stop_signal;
static sigset_t waiting_mask; /* TERM, INT and HUP unblocked: only while waiting */

static void diag(const char *format, ...) {
  char text[600];
  va_list args;
  va_start(args, format);
  int n = vsnprintf(text, sizeof text - 1, format, args);
  va_end(args);
  if (n < 0) return;
  if ((size_t)n > sizeof text - 2) n = (int)sizeof text - 2;
  text[n++] = '\n';
  for (const char *p = text; n > 0;) {
    ssize_t w = write(2, p, (size_t)n);
    if (w <= 0) return;
    p += w;
    n -= (int)w;
  }
}

static void remove_listener(struct listener *l);

/* Ends the helper: removes the Unix sockets, the directories it created and the files in them. */
static _Noreturn void finish(int code) {
  while (listener_count > 0) remove_listener(listeners[listener_count - 1]);
  /* Whatever WRITE_FILE wrote (the X11 authority file) lives as long as the helper. */
  while (file_count > 0) unlink(files[--file_count]);
  exit(code);
}

static _Noreturn void protocol_error(const char *format, ...) {
  char text[300];
  va_list args;
  va_start(args, format);
  vsnprintf(text, sizeof text, format, args);
  va_end(args);
  diag("containerssh helper: forward: protocol error: %s", text);
  finish(3);
}

static void *grow(void *array, size_t *cap, size_t count, size_t item) {
  if (count < *cap) return array;
  size_t bigger = *cap ? *cap * 2 : 16;
  void *p = realloc(array, bigger * item);
  if (!p) {
    diag("containerssh helper: forward: out of memory");
    finish(1);
  }
  *cap = bigger;
  return p;
}

/* --- frames to the server ---------------------------------------------------------------------- */

/* Writes a whole frame. stdout is non-blocking so that TERM still ends a helper whose server
 * stopped reading: the wait for room is a ppoll, where the signals get through. */
static void write_out(const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(1, p, n);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd out = {1, POLLOUT, 0};
      ppoll(&out, 1, NULL, &waiting_mask);
      if (stop_signal) finish(0);
    } else {
      diag("containerssh helper: forward: stdout: %s", w < 0 ? strerror(errno) : "closed");
      finish(1);
    }
  }
}

static void send_frame(uint8_t type, uint32_t id, const void *payload, size_t size) {
  fwd_put_header(out_frame, type, id, (uint32_t)size);
  if (size > 0 && payload != out_frame + FWD_HEADER_SIZE) memcpy(out_frame + FWD_HEADER_SIZE, payload, size);
  write_out(out_frame, FWD_HEADER_SIZE + size);
}

static void send_u32(uint8_t type, uint32_t id, uint32_t value) {
  uint8_t payload[4];
  fwd_put_u32(payload, value);
  send_frame(type, id, payload, 4);
}

static void send_fail(uint32_t id, const char *reason) { send_frame(FWD_FAIL, id, reason, strlen(reason)); }

/* OK to a LISTEN_*: the port and the address or path bound. */
static void send_bound(uint32_t id, uint16_t port, const char *text) {
  uint8_t payload[2 + MAX_TEXT];
  size_t len = strnlen(text, MAX_TEXT);
  fwd_put_u16(payload, port);
  memcpy(payload + 2, text, len);
  send_frame(FWD_OK, id, payload, 2 + len);
}

/* A text field of a frame as a C string: 0, or -1 when it is empty, too long or holds a NUL. */
static int take_text(char *out, const uint8_t *p, size_t len) {
  if (len == 0 || len >= MAX_TEXT || memchr(p, '\0', len)) return -1;
  memcpy(out, p, len);
  out[len] = '\0';
  return 0;
}

/* --- streams ----------------------------------------------------------------------------------- */

static struct stream *find_stream(uint32_t id) {
  if (last_found && last_found->id == id) return last_found;
  for (size_t i = 0; i < stream_count; i++) {
    if (streams[i]->id == id) return last_found = streams[i];
  }
  return NULL;
}

static struct listener *find_listener(uint32_t id) {
  for (size_t i = 0; i < listener_count; i++) {
    if (listeners[i]->id == id) return listeners[i];
  }
  return NULL;
}

static struct stream *add_stream(uint32_t id, int fd, int state) {
  struct stream *s = calloc(1, sizeof *s);
  if (!s) {
    diag("containerssh helper: forward: out of memory");
    finish(1);
  }
  s->id = id;
  s->fd = fd;
  s->state = state;
  s->credit = FWD_WINDOW;
  streams = grow(streams, &stream_cap, stream_count, sizeof *streams);
  streams[stream_count++] = s;
  return s;
}

/* Forgets a stream without a word to the server. */
static void drop_stream(struct stream *s) {
  for (size_t i = 0; i < stream_count; i++) {
    if (streams[i] == s) {
      streams[i] = streams[--stream_count];
      break;
    }
  }
  if (last_found == s) last_found = NULL;
  if (s->fd >= 0) close(s->fd);
  if (s->dial) {
    fwd_resolve_end(&s->dial->resolver);
    free(s->dial);
  }
  free(s->buf);
  free(s);
}

/* Ends a stream in both directions: CLOSE to the server (every path here is one where the helper
 * has not sent CLOSE yet, and ids are never reused, so the server's own CLOSE is then ignored). */
static void close_stream(struct stream *s) {
  send_frame(FWD_CLOSE, s->id, NULL, 0);
  drop_stream(s);
}

/* Both directions done (EOF read and sent, the server's EOF applied): nothing is left to carry. */
static int maybe_finished(struct stream *s) {
  if (!s->read_eof || !s->write_shut) return 0;
  close_stream(s);
  return -1;
}

/* Writes what the server sent to the socket, as much as it takes now, and credits it. -1 when
 * the stream is gone. */
static int flush_stream(struct stream *s) {
  if (s->state != OPEN) return 0;
  uint32_t written = 0;
  while (s->end > s->start) {
    ssize_t n = write(s->fd, s->buf + s->start, s->end - s->start);
    if (n > 0) {
      s->start += (uint32_t)n;
      written += (uint32_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else {
      close_stream(s); /* EPIPE, ECONNRESET: the peer is gone */
      return -1;
    }
  }
  if (s->start == s->end) s->start = s->end = 0;
  if (written > 0) send_u32(FWD_CREDIT, s->id, written);
  if (s->write_eof && !s->write_shut && s->end == 0) {
    shutdown(s->fd, SHUT_WR);
    s->write_shut = 1;
    return maybe_finished(s);
  }
  return 0;
}

/* The most one read takes: a whole frame then fits a pipe's 64 KiB, so it leaves in one write
 * (a 65545-byte frame went out as 65536 + 9, each tail an extra Engine frame and wake-ups). */
#define READ_PAYLOAD (65536u - FWD_HEADER_SIZE)

/* Reads the socket once, as much as the stream's credit allows, into one DATA frame. */
static void pump_socket(struct stream *s) {
  size_t want = s->credit < READ_PAYLOAD ? s->credit : READ_PAYLOAD;
  ssize_t n = read(s->fd, out_frame + FWD_HEADER_SIZE, want);
  if (n > 0) {
    s->credit -= (uint32_t)n;
    send_frame(FWD_DATA, s->id, out_frame + FWD_HEADER_SIZE, (size_t)n);
  } else if (n == 0) {
    s->read_eof = 1;
    send_frame(FWD_EOF, s->id, NULL, 0);
    maybe_finished(s);
  } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
    close_stream(s);
  }
}

static void on_data(struct stream *s, const uint8_t *p, uint32_t n) {
  if (s->write_eof) protocol_error("DATA after EOF on stream %lu", (unsigned long)s->id);
  uint32_t held = s->end - s->start;
  if (n > FWD_WINDOW - held) protocol_error("DATA beyond the window on stream %lu", (unsigned long)s->id);
  if (s->cap - s->end < n) {
    if (s->start > 0) {
      memmove(s->buf, s->buf + s->start, held);
      s->start = 0;
      s->end = held;
    }
    if (s->cap - s->end < n) {
      uint32_t cap = s->cap ? s->cap : 16384;
      while (cap < held + n) cap *= 2;
      if (cap > FWD_WINDOW) cap = FWD_WINDOW;
      uint8_t *bigger = realloc(s->buf, cap);
      if (!bigger) {
        diag("containerssh helper: forward: out of memory");
        finish(1);
      }
      s->buf = bigger;
      s->cap = cap;
    }
  }
  memcpy(s->buf + s->end, p, n);
  s->end += n;
  flush_stream(s);
}

/* --- dialing ----------------------------------------------------------------------------------- */

/* FAIL: the stream never existed; whatever the server sent for it is dropped. */
static void dial_failed(struct stream *s, const char *reason) {
  send_fail(s->id, reason);
  drop_stream(s);
}

static void connected(struct stream *s) {
  if (s->dial) {
    fwd_resolve_end(&s->dial->resolver);
    free(s->dial);
    s->dial = NULL;
  }
  s->state = OPEN;
  send_frame(FWD_OK, s->id, NULL, 0);
  flush_stream(s); /* what came with the DIAL, and its EOF */
}

/* Starts connecting to the next address, or fails the dial when none is left. */
static void try_connect(struct stream *s) {
  struct dial *d = s->dial;
  while (d->next < d->addrs.count) {
    int fd = fwd_tcp_connect(&d->addrs.addr[d->next++], d->port);
    if (fd >= 0) {
      s->fd = fd;
      s->state = CONNECTING;
      return;
    }
    if (!d->last_error) d->last_error = errno;
  }
  char reason[400];
  snprintf(reason, sizeof reason, "connect %s: %s", d->target, strerror(d->last_error));
  dial_failed(s, reason);
}

static void resolved(struct stream *s) {
  struct dial *d = s->dial;
  if (d->resolver.found.count == 0) {
    char reason[400];
    snprintf(reason, sizeof reason, "resolve %s: %s", d->target, d->resolver.why);
    dial_failed(s, reason);
    return;
  }
  d->addrs = d->resolver.found;
  try_connect(s);
}

static void dial_tcp(uint32_t id, const uint8_t *p, uint32_t size) {
  struct stream *s = add_stream(id, -1, RESOLVING);
  struct dial *d = s->dial = calloc(1, sizeof *s->dial);
  if (!d) {
    diag("containerssh helper: forward: out of memory");
    finish(1);
  }
  d->resolver.fd = -1;
  d->port = fwd_get_u16(p);
  char host[MAX_TEXT];
  int bad = take_text(host, p + 2, size - 2);
  snprintf(d->target, sizeof d->target, "%.*s:%u", (int)(size - 2 < 255 ? size - 2 : 255), (const char *)p + 2,
           (unsigned)d->port);
  if (bad) {
    char reason[400];
    snprintf(reason, sizeof reason, "connect %s: bad host", d->target);
    dial_failed(s, reason);
  } else if (fwd_lookup_static(host, &d->addrs) > 0) {
    try_connect(s);
  } else if (fwd_resolve_start(&d->resolver, host, fwd_now_ms()) == 1) {
    resolved(s);
  }
}

static void dial_unix(uint32_t id, const uint8_t *p, uint32_t size) {
  char path[MAX_TEXT], reason[MAX_TEXT + 100];
  if (take_text(path, p, size) != 0) {
    send_fail(id, "connect: bad socket path");
    return;
  }
  int fd = fwd_unix_connect(path);
  if (fd < 0) {
    snprintf(reason, sizeof reason, "connect %s: %s", path, strerror(errno));
    send_fail(id, reason);
    return;
  }
  add_stream(id, fd, OPEN);
  send_frame(FWD_OK, id, NULL, 0);
}

/* --- listeners and files ----------------------------------------------------------------------- */

static void add_listener(uint32_t id, int fd, const char *path, const char *dir) {
  struct listener *l = calloc(1, sizeof *l);
  if (!l || (path && !(l->path = strdup(path))) || (dir && !(l->dir = strdup(dir)))) {
    diag("containerssh helper: forward: out of memory");
    finish(1);
  }
  l->id = id;
  l->fd = fd;
  listeners = grow(listeners, &listener_cap, listener_count, sizeof *listeners);
  listeners[listener_count++] = l;
}

/* Removes the files WRITE_FILE wrote directly into `dir`. */
static void remove_files_in(const char *dir) {
  size_t len = strlen(dir);
  for (size_t i = file_count; i-- > 0;) {
    const char *f = files[i];
    if (strncmp(f, dir, len) == 0 && f[len] == '/' && !strchr(f + len + 1, '/')) {
      unlink(f);
      free(files[i]);
      files[i] = files[--file_count];
    }
  }
}

static void remove_listener(struct listener *l) {
  for (size_t i = 0; i < listener_count; i++) {
    if (listeners[i] == l) {
      listeners[i] = listeners[--listener_count];
      break;
    }
  }
  close(l->fd);
  if (l->path) unlink(l->path);
  if (l->dir) {
    remove_files_in(l->dir);
    rmdir(l->dir);
  }
  free(l->path);
  free(l->dir);
  free(l);
}

static void listen_tcp(uint32_t id, const uint8_t *p, uint32_t size) {
  char address[MAX_TEXT], why[MAX_TEXT + 100];
  address[0] = '\0';
  if (size > 4 && take_text(address, p + 4, size - 4) != 0) {
    send_fail(id, "listen: bad address");
    return;
  }
  int fd = fwd_tcp_listen(address, fwd_get_u16(p), fwd_get_u16(p + 2), why, sizeof why);
  if (fd < 0) {
    send_fail(id, why);
    return;
  }
  add_listener(id, fd, NULL, NULL);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  uint16_t port = 0;
  char bound[64] = "";
  if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) fwd_describe(&ss, len, &port, bound, sizeof bound);
  send_bound(id, port, bound);
}

static void listen_unix(uint32_t id, const uint8_t *p, uint32_t size) {
  char path[MAX_TEXT], why[MAX_TEXT + 100];
  if (p[0] & ~1u) {
    send_fail(id, "listen: unknown flags");
    return;
  }
  if (take_text(path, p + 1, size - 1) != 0) {
    send_fail(id, "listen: bad socket path");
    return;
  }
  int made_dir = 0;
  int fd = fwd_unix_listen(path, p[0] & 1, &made_dir, why, sizeof why);
  if (fd < 0) {
    send_fail(id, why);
    return;
  }
  char dir[MAX_TEXT];
  if (made_dir) {
    snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(path, '/') - path), path);
  }
  add_listener(id, fd, path, made_dir ? dir : NULL);
  send_bound(id, 0, path);
}

/* REMOVE_FILE: only a file this helper wrote (WRITE_FILE) is removed; any other path is ignored. */
static void remove_written_file(const uint8_t *p, uint32_t size) {
  for (size_t i = 0; i < file_count; i++) {
    if (strlen(files[i]) == size && memcmp(files[i], p, size) == 0) {
      unlink(files[i]);
      free(files[i]);
      files[i] = files[--file_count];
      return;
    }
  }
}

static void write_file(uint32_t id, const uint8_t *p, uint32_t size) {
  char path[MAX_TEXT], reason[MAX_TEXT + 100];
  uint16_t path_len = fwd_get_u16(p + 2);
  if (take_text(path, p + 4, path_len) != 0) {
    send_fail(id, "write: bad path");
    return;
  }
  if (fwd_write_file(path, fwd_get_u16(p), p + 4 + path_len, size - 4u - path_len) != 0) {
    snprintf(reason, sizeof reason, "write %s: %s", path, strerror(errno));
    send_fail(id, reason);
    return;
  }
  files = grow(files, &file_cap, file_count, sizeof *files);
  if (!(files[file_count] = strdup(path))) {
    diag("containerssh helper: forward: out of memory");
    finish(1);
  }
  file_count++;
  send_frame(FWD_OK, id, NULL, 0);
}

static void accept_on(struct listener *l, long long now) {
  for (int round = 0; round < 16; round++) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        /* EMFILE and the like: try again in a while rather than spin. */
        diag("containerssh helper: forward: accept on listener %lu: %s", (unsigned long)l->id, strerror(errno));
        l->paused_until = now + 500;
      }
      return;
    }
    if (next_accepted_id == 0) { /* 2^31 streams accepted: ids are never reused */
      close(fd);
      continue;
    }
    if (ss.ss_family != AF_UNIX) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    uint8_t payload[6 + 128];
    uint16_t port;
    char origin[128];
    fwd_describe(&ss, len, &port, origin, sizeof origin);
    size_t origin_len = strlen(origin);
    fwd_put_u32(payload, l->id);
    fwd_put_u16(payload + 4, port);
    memcpy(payload + 6, origin, origin_len);
    struct stream *s = add_stream(next_accepted_id++, fd, OPEN);
    send_frame(FWD_ACCEPTED, s->id, payload, 6 + origin_len);
  }
}

/* --- frames from the server -------------------------------------------------------------------- */

static void dispatch(const struct fwd_frame *f) {
  switch (f->type) {
    case FWD_DIAL_TCP:
    case FWD_DIAL_UNIX:
    case FWD_LISTEN_TCP:
    case FWD_LISTEN_UNIX:
    case FWD_WRITE_FILE:
      if (find_stream(f->id) || find_listener(f->id)) protocol_error("id %lu is in use", (unsigned long)f->id);
      if (f->type == FWD_DIAL_TCP) dial_tcp(f->id, f->payload, f->size);
      if (f->type == FWD_DIAL_UNIX) dial_unix(f->id, f->payload, f->size);
      if (f->type == FWD_LISTEN_TCP) listen_tcp(f->id, f->payload, f->size);
      if (f->type == FWD_LISTEN_UNIX) listen_unix(f->id, f->payload, f->size);
      if (f->type == FWD_WRITE_FILE) write_file(f->id, f->payload, f->size);
      return;
    case FWD_UNLISTEN: {
      struct listener *l = find_listener(f->id);
      if (l) remove_listener(l);
      return;
    }
    case FWD_REMOVE_FILE:
      remove_written_file(f->payload, f->size);
      return;
    default:
      break;
  }
  struct stream *s = find_stream(f->id);
  if (!s) return; /* closed already: ignored */
  switch (f->type) {
    case FWD_DATA:
      on_data(s, f->payload, f->size);
      break;
    case FWD_EOF:
      if (s->write_eof) protocol_error("second EOF on stream %lu", (unsigned long)s->id);
      s->write_eof = 1;
      flush_stream(s);
      break;
    case FWD_CLOSE:
      close_stream(s);
      break;
    case FWD_CREDIT: {
      uint32_t credit = fwd_get_u32(f->payload);
      if (credit > FWD_WINDOW - s->credit) protocol_error("CREDIT beyond the window on stream %lu", (unsigned long)s->id);
      s->credit += credit;
      break;
    }
    default:
      break;
  }
}

static void read_stdin(void) {
  static uint8_t in[65536];
  ssize_t n = read(0, in, sizeof in);
  if (n == 0) finish(0);
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) return;
    diag("containerssh helper: forward: stdin: %s", strerror(errno));
    finish(1);
  }
  const uint8_t *p = in;
  size_t left = (size_t)n;
  struct fwd_frame f;
  for (;;) {
    int r = fwd_decode(&decoder, &p, &left, &f);
    if (r == 0) return;
    if (r < 0) protocol_error("%s", decoder.error);
    dispatch(&f);
  }
}

/* --- the loop ---------------------------------------------------------------------------------- */

static void on_signal(int sig) { stop_signal = sig; }

static void handle_stream(struct stream *s, short revents, long long now) {
  if (s->state == RESOLVING) {
    if (fwd_resolve_step(&s->dial->resolver, now) == 1) resolved(s);
  } else if (s->state == CONNECTING) {
    int err = fwd_socket_error(s->fd);
    if (err == 0) {
      connected(s);
    } else {
      if (!s->dial->last_error) s->dial->last_error = err;
      close(s->fd);
      s->fd = -1;
      try_connect(s);
    }
  } else {
    if ((revents & (POLLOUT | POLLERR | POLLHUP)) && s->end > s->start && flush_stream(s) < 0) return;
    if ((revents & (POLLIN | POLLERR | POLLHUP)) && s->credit > 0 && !s->read_eof) pump_socket(s);
  }
}

_Noreturn void forward_main(void) {
  signal(SIGPIPE, SIG_IGN);
  /* TERM, INT and HUP end the loop cleanly: blocked except while waiting in ppoll. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigset_t stopping;
  sigemptyset(&stopping);
  sigaddset(&stopping, SIGTERM);
  sigaddset(&stopping, SIGINT);
  sigaddset(&stopping, SIGHUP);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  sigprocmask(SIG_BLOCK, &stopping, &waiting_mask);
  sigdelset(&waiting_mask, SIGTERM);
  sigdelset(&waiting_mask, SIGINT);
  sigdelset(&waiting_mask, SIGHUP);
  int flags = fcntl(1, F_GETFL);
  if (flags >= 0) fcntl(1, F_SETFL, flags | O_NONBLOCK);

  fwd_decoder_init(&decoder, FWD_TO_HELPER);
  send_frame(FWD_HELLO, 0, FWD_HELLO_TEXT, sizeof FWD_HELLO_TEXT - 1);

  struct pollfd *fds = NULL;
  void **owners = NULL;
  size_t fds_cap = 0, owners_cap = 0;
  for (;;) {
    if (stop_signal) finish(0);
    long long now = fwd_now_ms();
    long long wake = -1; /* the earliest deadline */
    /* Name servers that did not answer in time (downwards: a stream that ends is swapped with the last). */
    for (size_t i = stream_count; i-- > 0;) {
      struct stream *s = streams[i];
      if (s->state != RESOLVING) continue;
      if (now >= s->dial->resolver.deadline) handle_stream(s, 0, now);
    }

    size_t n = 0, wanted = 1 + listener_count + stream_count;
    while (fds_cap < wanted) fds = grow(fds, &fds_cap, fds_cap, sizeof *fds);
    while (owners_cap < wanted) owners = grow(owners, &owners_cap, owners_cap, sizeof *owners);
    fds[n] = (struct pollfd){0, POLLIN, 0};
    owners[n++] = NULL;
    size_t first_stream;
    for (size_t i = 0; i < listener_count; i++) {
      struct listener *l = listeners[i];
      if (l->paused_until > now) {
        if (wake < 0 || l->paused_until < wake) wake = l->paused_until;
        continue;
      }
      fds[n] = (struct pollfd){l->fd, POLLIN, 0};
      owners[n++] = l;
    }
    first_stream = n;
    for (size_t i = 0; i < stream_count; i++) {
      struct stream *s = streams[i];
      short events = 0;
      int fd = s->fd;
      if (s->state == RESOLVING) {
        fd = s->dial->resolver.fd;
        events = POLLIN;
        if (wake < 0 || s->dial->resolver.deadline < wake) wake = s->dial->resolver.deadline;
      } else if (s->state == CONNECTING) {
        events = POLLOUT;
      } else {
        if (s->credit > 0 && !s->read_eof) events |= POLLIN;
        if (s->end > s->start) events |= POLLOUT;
      }
      if (events == 0 || fd < 0) continue;
      fds[n] = (struct pollfd){fd, events, 0};
      owners[n++] = s;
    }

    struct timespec timeout, *wait = NULL;
    if (wake >= 0) {
      long long ms = wake > now ? wake - now : 0;
      timeout.tv_sec = ms / 1000;
      timeout.tv_nsec = (ms % 1000) * 1000000;
      wait = &timeout;
    }
    if (ppoll(fds, n, wait, &waiting_mask) < 0) {
      if (errno == EINTR) continue;
      diag("containerssh helper: forward: poll: %s", strerror(errno));
      finish(1);
    }
    now = fwd_now_ms();
    /* Sockets first, stdin last: a frame from the server may end streams the array still names. */
    for (size_t i = 1; i < n; i++) {
      if (!fds[i].revents) continue;
      if (i < first_stream) {
        accept_on(owners[i], now);
      } else {
        handle_stream(owners[i], fds[i].revents, now);
      }
    }
    if (fds[0].revents) read_stdin();
  }
}
