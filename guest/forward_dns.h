/* Host names to addresses for `helper forward`, without the C library's resolver (a static
 * glibc getaddrinfo needs the NSS modules of the glibc it was linked with, at run time, inside
 * images that may have another C library or none): IP literals, "localhost", /etc/hosts and a
 * DNS stub query to the name servers of /etc/resolv.conf. Only parsing and message building here,
 * no I/O (forward_net.c sends the queries); the parsers are fuzzed with the frames. */
#ifndef CSSH_GUEST_FORWARD_DNS_H
#define CSSH_GUEST_FORWARD_DNS_H

#include <stddef.h>
#include <stdint.h>

#define FWD_MAX_ADDRS 8u
#define FWD_DNS_A 1u
#define FWD_DNS_AAAA 28u
#define FWD_DNS_NAME_MAX 253u
#define FWD_DNS_QUERY_MAX (12u + FWD_DNS_NAME_MAX + 2u + 4u)

struct fwd_addr {
  int family;        /* AF_INET or AF_INET6 */
  uint8_t bytes[16]; /* 4 or 16 of them, network order */
};

struct fwd_addrs {
  unsigned count;
  struct fwd_addr addr[FWD_MAX_ADDRS];
};

/* Appends one address unless the list is full or already has it. */
void fwd_addrs_add(struct fwd_addrs *list, int family, const uint8_t *bytes);

/* An IPv4 or IPv6 literal ("127.0.0.1", "::1", "[::1]"): 1 and *out set, else 0. */
int fwd_parse_ip(const char *text, struct fwd_addr *out);

/* Host names compare without case and without one trailing dot. */
int fwd_same_name(const char *a, size_t a_len, const char *b, size_t b_len);

/* The addresses /etc/hosts text gives `name`, appended to *out in the file's order. */
void fwd_hosts_lookup(const char *text, size_t len, const char *name, struct fwd_addrs *out);

/* The name servers of /etc/resolv.conf text (at most `max`): their number. */
unsigned fwd_nameservers(const char *text, size_t len, struct fwd_addr *out, unsigned max);

/* A recursive query for `name`'s A or AAAA records into out (FWD_DNS_QUERY_MAX bytes): its size,
 * or 0 when `name` is not a valid DNS name. */
size_t fwd_dns_query(uint8_t *out, uint16_t query_id, const char *name, uint16_t qtype);

/* Reads an answer to query `query_id` for `qtype`: appends its addresses to *out and returns the
 * response code (0 no error, 3 no such name, ...), or -1 when it is not a well-formed answer to
 * that query. */
int fwd_dns_answer(const uint8_t *msg, size_t len, uint16_t query_id, uint16_t qtype, struct fwd_addrs *out);

#endif
