/* The sockets and files of `helper forward` (forward_net.h). */

#define _GNU_SOURCE
#include "forward_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

long long fwd_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *fwd_etc_dir(void) {
  const char *dir = getenv("CSSH_FORWARD_ETC");
  return dir && *dir ? dir : "/etc";
}

long fwd_read_file(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return -1;
  size_t len = 0;
  while (len < cap) {
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(fd);
  return (long)len;
}

static char file_text[65536];

static long read_etc(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", fwd_etc_dir(), name);
  return fwd_read_file(path, file_text, sizeof file_text);
}

unsigned fwd_lookup_static(const char *name, struct fwd_addrs *out) {
  static const uint8_t loopback4[4] = {127, 0, 0, 1};
  static const uint8_t loopback6[16] = {[15] = 1};
  struct fwd_addr addr;
  out->count = 0;
  if (fwd_parse_ip(name, &addr)) {
    fwd_addrs_add(out, addr.family, addr.bytes);
  } else if (fwd_same_name(name, strlen(name), "localhost", 9)) {
    fwd_addrs_add(out, AF_INET, loopback4);
    fwd_addrs_add(out, AF_INET6, loopback6);
  } else {
    long len = read_etc("hosts");
    if (len > 0) fwd_hosts_lookup(file_text, (size_t)len, name, out);
  }
  return out->count;
}

static socklen_t to_sockaddr(const struct fwd_addr *addr, uint16_t port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  if (addr->family == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    memcpy(&in->sin_addr, addr->bytes, 4);
    return sizeof *in;
  }
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  memcpy(&in6->sin6_addr, addr->bytes, 16);
  return sizeof *in6;
}

static int fail_with(int fd, int err) {
  if (fd >= 0) close(fd);
  errno = err;
  return -1;
}

int fwd_tcp_connect(const struct fwd_addr *addr, uint16_t port) {
  struct sockaddr_storage ss;
  socklen_t len = to_sockaddr(addr, port, &ss);
  int fd = socket(addr->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&ss, len) == 0 || errno == EINPROGRESS || errno == EINTR) return fd;
  return fail_with(fd, errno);
}

static int unix_address(const char *path, struct sockaddr_un *sun) {
  memset(sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  size_t len = strlen(path);
  if (len == 0 || len >= sizeof sun->sun_path) return -1;
  memcpy(sun->sun_path, path, len);
  return 0;
}

int fwd_unix_connect(const char *path) {
  struct sockaddr_un sun;
  if (unix_address(path, &sun) != 0) return fail_with(-1, ENAMETOOLONG);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0) return fd;
  return fail_with(fd, errno);
}

int fwd_socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

static int bind_and_listen(const struct fwd_addr *addr, unsigned port, int dual_stack) {
  struct sockaddr_storage ss;
  socklen_t len = to_sockaddr(addr, (uint16_t)port, &ss);
  int fd = socket(addr->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1, zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (addr->family == AF_INET6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual_stack ? &zero : &one, sizeof one);
  }
  if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 128) != 0) return fail_with(fd, errno);
  return fd;
}

int fwd_tcp_listen(const char *address, uint16_t port, uint16_t count, char *why, size_t why_size) {
  static const uint8_t loopback4[4] = {127, 0, 0, 1};
  struct fwd_addr addr;
  memset(&addr, 0, sizeof addr);
  int every = !*address || strcmp(address, "*") == 0;
  if (every) {
    addr.family = AF_INET6; /* :: with IPV6_V6ONLY off takes IPv4 too; 0.0.0.0 without IPv6 */
  } else if (fwd_same_name(address, strlen(address), "localhost", 9)) {
    addr.family = AF_INET;
    memcpy(addr.bytes, loopback4, 4);
  } else if (!fwd_parse_ip(address, &addr)) {
    snprintf(why, why_size, "listen %s: not an IP address, localhost, * or empty", address);
    return -1;
  }
  if (count == 0) {
    snprintf(why, why_size, "listen %s: port count 0", address);
    return -1;
  }
  unsigned last = (unsigned)port + count - 1;
  if (last > 65535) last = 65535;
  int err = 0;
  for (unsigned p = port; p <= last; p++) {
    int fd = bind_and_listen(&addr, p, every);
    if (fd >= 0) return fd;
    err = errno;
    if (every && addr.family == AF_INET6 && err != EADDRINUSE) {
      addr.family = AF_INET; /* no IPv6 here */
      p--;
      continue;
    }
    if (err != EADDRINUSE) break;
  }
  if (last > port) {
    snprintf(why, why_size, "listen %s:%u-%u: %s", every ? "*" : address, (unsigned)port, last, strerror(err));
  } else {
    snprintf(why, why_size, "listen %s:%u: %s", every ? "*" : address, (unsigned)port, strerror(err));
  }
  return -1;
}

int fwd_unix_listen(const char *path, int make_dir, int *made_dir, char *why, size_t why_size) {
  struct sockaddr_un sun;
  *made_dir = 0;
  if (unix_address(path, &sun) != 0) {
    snprintf(why, why_size, "listen %s: empty or longer than %u bytes", path, (unsigned)sizeof sun.sun_path - 1);
    return -1;
  }
  char dir[sizeof sun.sun_path];
  if (make_dir) {
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) {
      snprintf(why, why_size, "listen %s: no directory to create", path);
      return -1;
    }
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    if (mkdir(dir, 0700) != 0) {
      snprintf(why, why_size, "mkdir %s: %s", dir, strerror(errno));
      return -1;
    }
    *made_dir = 1;
    chmod(dir, 0700); /* whatever the umask */
  }
  const char *step = "socket";
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int bound = 0;
  if (fd >= 0) {
    step = "bind";
    if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
      bound = 1;
      step = "chmod";
      if (!make_dir || chmod(path, 0600) == 0) {
        step = "listen";
        if (listen(fd, 128) == 0) return fd;
      }
    }
  }
  snprintf(why, why_size, "%s %s: %s", step, path, strerror(errno));
  if (fd >= 0) close(fd);
  if (bound) unlink(path);
  if (*made_dir) rmdir(dir);
  *made_dir = 0;
  return -1;
}

void fwd_describe(const struct sockaddr_storage *sa, socklen_t len, uint16_t *port, char *text, size_t text_size) {
  *port = 0;
  text[0] = '\0';
  if (sa->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    *port = ntohs(in->sin_port);
    inet_ntop(AF_INET, &in->sin_addr, text, (socklen_t)text_size);
  } else if (sa->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    *port = ntohs(in6->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      inet_ntop(AF_INET, in6->sin6_addr.s6_addr + 12, text, (socklen_t)text_size);
    } else {
      inet_ntop(AF_INET6, &in6->sin6_addr, text, (socklen_t)text_size);
    }
  } else if (sa->ss_family == AF_UNIX) {
    const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
    size_t offset = offsetof(struct sockaddr_un, sun_path);
    if (len > offset && un->sun_path[0] != '\0') {
      snprintf(text, text_size, "%.*s", (int)strnlen(un->sun_path, len - offset), un->sun_path);
    }
  }
}

int fwd_write_file(const char *path, unsigned mode, const uint8_t *content, size_t size) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode & 0777);
  if (fd < 0) return -1;
  int err = fchmod(fd, mode & 0777) == 0 ? 0 : errno; /* exactly `mode`, whatever the umask */
  while (!err && size > 0) {
    ssize_t n = write(fd, content, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    content += n;
    size -= (size_t)n;
  }
  if (close(fd) != 0 && !err) err = errno;
  if (!err) return 0;
  unlink(path);
  errno = err;
  return -1;
}

/* --- the stub resolver ----------------------------------------------------------------------- */

static uint16_t query_id(void) {
  static uint16_t counter;
  uint16_t id;
  if (getrandom(&id, sizeof id, GRND_NONBLOCK) != (ssize_t)sizeof id) {
    id = (uint16_t)(fwd_now_ms() * 2654435761u + ++counter * 40503u);
  }
  return id;
}

static void close_query(struct fwd_resolver *r) {
  if (r->fd >= 0) close(r->fd);
  r->fd = -1;
}

/* Done: IPv4 addresses first (what most programs try first), then IPv6. */
static int finish(struct fwd_resolver *r) {
  close_query(r);
  struct fwd_addrs sorted;
  sorted.count = 0;
  for (int pass = 0; pass < 2; pass++) {
    for (unsigned i = 0; i < r->found.count; i++) {
      if ((r->found.addr[i].family == AF_INET) == (pass == 0)) {
        fwd_addrs_add(&sorted, r->found.addr[i].family, r->found.addr[i].bytes);
      }
    }
  }
  r->found = sorted;
  if (r->found.count == 0) r->why = r->no_such_name ? "no such name" : "no address";
  return 1;
}

/* Sends both queries to the next name server: 0 when they are on their way, 1 when none is left. */
static int next_attempt(struct fwd_resolver *r, long long now) {
  while (r->attempt < 2 * r->server_count) {
    const struct fwd_addr *server = &r->servers[r->attempt % r->server_count];
    r->attempt++;
    close_query(r);
    r->got_a = r->got_aaaa = 0;
    struct sockaddr_storage ss;
    socklen_t len = to_sockaddr(server, 53, &ss);
    int fd = socket(server->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    r->fd = fd;
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) continue;
    uint8_t query[FWD_DNS_QUERY_MAX];
    r->id_a = query_id();
    r->id_aaaa = (uint16_t)(r->id_a + 1);
    size_t size = fwd_dns_query(query, r->id_a, r->name, FWD_DNS_A);
    if (send(fd, query, size, 0) != (ssize_t)size) continue;
    size = fwd_dns_query(query, r->id_aaaa, r->name, FWD_DNS_AAAA);
    if (send(fd, query, size, 0) != (ssize_t)size) continue;
    r->deadline = now + FWD_RESOLVE_ATTEMPT_MS;
    return 0;
  }
  close_query(r);
  r->why = r->no_such_name ? "no such name" : "no answer from the name servers";
  return 1;
}

int fwd_resolve_start(struct fwd_resolver *r, const char *name, long long now) {
  memset(r, 0, sizeof *r);
  r->fd = -1;
  uint8_t query[FWD_DNS_QUERY_MAX];
  size_t len = strlen(name);
  if (len >= sizeof r->name || fwd_dns_query(query, 0, name, FWD_DNS_A) == 0) {
    r->why = "not a valid host name";
    return 1;
  }
  memcpy(r->name, name, len + 1);
  long text = read_etc("resolv.conf");
  if (text > 0) r->server_count = fwd_nameservers(file_text, (size_t)text, r->servers, FWD_RESOLVE_SERVERS);
  if (r->server_count == 0) { /* the C library's default */
    static const uint8_t loopback4[4] = {127, 0, 0, 1};
    r->servers[0].family = AF_INET;
    memcpy(r->servers[0].bytes, loopback4, 4);
    r->server_count = 1;
  }
  return next_attempt(r, now);
}

int fwd_resolve_step(struct fwd_resolver *r, long long now) {
  int server_failed = r->fd < 0;
  while (r->fd >= 0) {
    uint8_t msg[4096];
    ssize_t n = recv(r->fd, msg, sizeof msg, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) server_failed = 1; /* e.g. ECONNREFUSED: nothing on port 53 */
      break;
    }
    int rcode = -1;
    if (!r->got_a && (rcode = fwd_dns_answer(msg, (size_t)n, r->id_a, FWD_DNS_A, &r->found)) >= 0) {
      r->got_a = rcode == 0 || rcode == 3;
    } else if (!r->got_aaaa && (rcode = fwd_dns_answer(msg, (size_t)n, r->id_aaaa, FWD_DNS_AAAA, &r->found)) >= 0) {
      r->got_aaaa = rcode == 0 || rcode == 3;
    }
    if (rcode == 3) r->no_such_name = 1;
    if (rcode > 0 && rcode != 3) server_failed = 1; /* SERVFAIL, REFUSED: ask the next one */
  }
  if (r->got_a && r->got_aaaa) return finish(r);
  if (!server_failed && now < r->deadline) return 0;
  if (r->found.count > 0) return finish(r);
  return next_attempt(r, now);
}

void fwd_resolve_end(struct fwd_resolver *r) { close_query(r); }
