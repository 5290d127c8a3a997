/* The sockets and files `helper forward` makes (forward_net.c): non-blocking connects, listeners,
 * the X11 authority file, and a non-blocking DNS stub resolver. Nothing here knows the frames. */
#ifndef CSSH_GUEST_FORWARD_NET_H
#define CSSH_GUEST_FORWARD_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "forward_dns.h"

/* The directory holding hosts and resolv.conf: /etc, or $CSSH_FORWARD_ETC (for the tests). */
const char *fwd_etc_dir(void);

/* The file's first cap bytes: their number, or -1. */
long fwd_read_file(const char *path, char *buf, size_t cap);

/* The addresses known without asking DNS: an IP literal, "localhost" (127.0.0.1, then ::1) or a
 * name in /etc/hosts. Their number (0: ask DNS). */
unsigned fwd_lookup_static(const char *name, struct fwd_addrs *out);

/* Starts a non-blocking connect: the socket (its result comes with POLLOUT, see
 * fwd_socket_error), or -1 with errno set. */
int fwd_tcp_connect(const struct fwd_addr *addr, uint16_t port);
/* Connects a Unix socket (at once: Unix connects do not wait): the socket, or -1 with errno. */
int fwd_unix_connect(const char *path);
/* A socket's pending error (0 when the connect succeeded). */
int fwd_socket_error(int fd);

/* Listens on `address` ("", "*": every address, IPv6 and IPv4; "localhost": 127.0.0.1; or an IP
 * literal) at the first of port .. port+count-1 that is free. The socket, or -1 with a reason in
 * why. */
int fwd_tcp_listen(const char *address, uint16_t port, uint16_t count, char *why, size_t why_size);
/* Listens on a Unix socket at `path`. With make_dir, first creates path's directory, mode 0700,
 * which must not exist yet (*made_dir set to 1), and makes the socket 0600. The socket, or -1
 * with a reason in why (and nothing left behind). */
int fwd_unix_listen(const char *path, int make_dir, int *made_dir, char *why, size_t why_size);
/* A socket address as text and port (port 0 and the path, if any, for Unix sockets). */
void fwd_describe(const struct sockaddr_storage *sa, socklen_t len, uint16_t *port, char *text, size_t text_size);

/* Creates (O_EXCL) `path` with `mode` and writes `content`: 0, or -1 with errno (nothing left). */
int fwd_write_file(const char *path, unsigned mode, const uint8_t *content, size_t size);

/* The stub resolver: A and AAAA queries to the name servers of resolv.conf in turn, each tried
 * for FWD_RESOLVE_ATTEMPT_MS, twice over. */
#define FWD_RESOLVE_ATTEMPT_MS 2000
#define FWD_RESOLVE_SERVERS 3u

struct fwd_resolver {
  char name[FWD_DNS_NAME_MAX + 2];
  struct fwd_addr servers[FWD_RESOLVE_SERVERS];
  unsigned server_count, attempt;
  int fd;                      /* the UDP socket of the current attempt, or -1 */
  uint16_t id_a, id_aaaa;
  int got_a, got_aaaa, no_such_name;
  long long deadline;          /* of the current attempt, ms of CLOCK_MONOTONIC */
  struct fwd_addrs found;
  const char *why;             /* when done without addresses */
};

/* Starts resolving `name`: 0 (watch r->fd for input until r->deadline), or 1 when already done
 * (r->found has the addresses, or r->why says why not). */
int fwd_resolve_start(struct fwd_resolver *r, const char *name, long long now);
/* After input on r->fd or at r->deadline: 0 still resolving (watch r->fd again), 1 done. */
int fwd_resolve_step(struct fwd_resolver *r, long long now);
void fwd_resolve_end(struct fwd_resolver *r);

long long fwd_now_ms(void);

#endif
