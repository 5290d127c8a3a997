/* Host name parsing for `helper forward` (forward_dns.h). */

#define _GNU_SOURCE
#include "forward_dns.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

void fwd_addrs_add(struct fwd_addrs *list, int family, const uint8_t *bytes) {
  size_t n = family == AF_INET ? 4 : 16;
  if (list->count >= FWD_MAX_ADDRS) return;
  for (unsigned i = 0; i < list->count; i++) {
    if (list->addr[i].family == family && memcmp(list->addr[i].bytes, bytes, n) == 0) return;
  }
  struct fwd_addr *a = &list->addr[list->count++];
  memset(a, 0, sizeof *a);
  a->family = family;
  memcpy(a->bytes, bytes, n);
}

/* inet_pton on text[0..len) (no NUL needed); an IPv6 zone ("%eth0") is not supported. */
static int parse_ip_span(const char *text, size_t len, struct fwd_addr *out) {
  char copy[64];
  if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
    text++;
    len -= 2;
  }
  if (len == 0 || len >= sizeof copy) return 0;
  memcpy(copy, text, len);
  copy[len] = '\0';
  memset(out, 0, sizeof *out);
  if (inet_pton(AF_INET, copy, out->bytes) == 1) {
    out->family = AF_INET;
    return 1;
  }
  if (inet_pton(AF_INET6, copy, out->bytes) == 1) {
    out->family = AF_INET6;
    return 1;
  }
  return 0;
}

int fwd_parse_ip(const char *text, struct fwd_addr *out) { return parse_ip_span(text, strlen(text), out); }

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

int fwd_same_name(const char *a, size_t a_len, const char *b, size_t b_len) {
  if (a_len > 0 && a[a_len - 1] == '.') a_len--;
  if (b_len > 0 && b[b_len - 1] == '.') b_len--;
  if (a_len != b_len || a_len == 0) return 0;
  for (size_t i = 0; i < a_len; i++) {
    if (lower(a[i]) != lower(b[i])) return 0;
  }
  return 1;
}

static int blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Splits the next line of text[*at..len) into at most `max` fields; the line's number of fields
 * (a '#' starts a comment). */
static unsigned next_line(const char *text, size_t len, size_t *at, const char **field, size_t *field_len,
                          unsigned max) {
  size_t end = *at;
  while (end < len && text[end] != '\n') end++;
  size_t stop = end;
  for (size_t i = *at; i < end; i++) {
    if (text[i] == '#') {
      stop = i;
      break;
    }
  }
  unsigned n = 0;
  size_t i = *at;
  while (n < max) {
    while (i < stop && blank(text[i])) i++;
    if (i >= stop) break;
    size_t start = i;
    while (i < stop && !blank(text[i])) i++;
    field[n] = text + start;
    field_len[n] = i - start;
    n++;
  }
  *at = end < len ? end + 1 : len;
  return n;
}

void fwd_hosts_lookup(const char *text, size_t len, const char *name, struct fwd_addrs *out) {
  size_t name_len = strlen(name);
  for (size_t at = 0; at < len;) {
    const char *field[32];
    size_t field_len[32];
    unsigned n = next_line(text, len, &at, field, field_len, 32);
    struct fwd_addr addr;
    if (n < 2 || !parse_ip_span(field[0], field_len[0], &addr)) continue;
    for (unsigned i = 1; i < n; i++) {
      if (fwd_same_name(field[i], field_len[i], name, name_len)) {
        fwd_addrs_add(out, addr.family, addr.bytes);
        break;
      }
    }
  }
}

unsigned fwd_nameservers(const char *text, size_t len, struct fwd_addr *out, unsigned max) {
  unsigned count = 0;
  for (size_t at = 0; at < len && count < max;) {
    const char *field[2];
    size_t field_len[2];
    unsigned n = next_line(text, len, &at, field, field_len, 2);
    if (n < 2 || field_len[0] != 10 || memcmp(field[0], "nameserver", 10) != 0) continue;
    size_t addr_len = field_len[1];
    const char *zone = memchr(field[1], '%', addr_len);
    if (zone) addr_len = (size_t)(zone - field[1]);
    if (parse_ip_span(field[1], addr_len, &out[count])) count++;
  }
  return count;
}

size_t fwd_dns_query(uint8_t *out, uint16_t query_id, const char *name, uint16_t qtype) {
  size_t name_len = strlen(name);
  if (name_len > 0 && name[name_len - 1] == '.') name_len--;
  if (name_len == 0 || name_len > FWD_DNS_NAME_MAX) return 0;
  memset(out, 0, 12);
  out[0] = (uint8_t)(query_id >> 8);
  out[1] = (uint8_t)query_id;
  out[2] = 0x01; /* recursion desired */
  out[5] = 1;    /* one question */
  size_t at = 12;
  for (size_t start = 0; start <= name_len;) {
    size_t end = start;
    while (end < name_len && name[end] != '.') end++;
    size_t label = end - start;
    if (label == 0 || label > 63) return 0;
    out[at++] = (uint8_t)label;
    memcpy(out + at, name + start, label);
    at += label;
    start = end + 1;
  }
  out[at++] = 0;
  out[at++] = (uint8_t)(qtype >> 8);
  out[at++] = (uint8_t)qtype;
  out[at++] = 0;
  out[at++] = 1; /* class IN */
  return at;
}

/* Moves *at past a (possibly compressed) name; 0 when it runs off the message. */
static int skip_name(const uint8_t *msg, size_t len, size_t *at) {
  for (;;) {
    if (*at >= len) return 0;
    uint8_t c = msg[*at];
    if (c == 0) {
      (*at)++;
      return 1;
    }
    if ((c & 0xC0) == 0xC0) {
      if (*at + 2 > len) return 0;
      *at += 2;
      return 1;
    }
    if (c & 0xC0) return 0;
    *at += 1u + c;
  }
}

int fwd_dns_answer(const uint8_t *msg, size_t len, uint16_t query_id, uint16_t qtype, struct fwd_addrs *out) {
  if (len < 12) return -1;
  if (msg[0] != (uint8_t)(query_id >> 8) || msg[1] != (uint8_t)query_id) return -1;
  if (!(msg[2] & 0x80)) return -1; /* not a response */
  int rcode = msg[3] & 0x0F;
  unsigned questions = (unsigned)msg[4] << 8 | msg[5];
  unsigned answers = (unsigned)msg[6] << 8 | msg[7];
  size_t at = 12;
  for (unsigned i = 0; i < questions; i++) {
    if (!skip_name(msg, len, &at) || at + 4 > len) return -1;
    at += 4;
  }
  size_t want = qtype == FWD_DNS_A ? 4 : 16;
  for (unsigned i = 0; i < answers; i++) {
    if (!skip_name(msg, len, &at) || at + 10 > len) return -1;
    unsigned type = (unsigned)msg[at] << 8 | msg[at + 1];
    unsigned klass = (unsigned)msg[at + 2] << 8 | msg[at + 3];
    size_t rdlength = (size_t)msg[at + 8] << 8 | msg[at + 9];
    at += 10;
    if (at + rdlength > len) return -1;
    if (type == qtype && klass == 1 && rdlength == want) {
      fwd_addrs_add(out, qtype == FWD_DNS_A ? AF_INET : AF_INET6, msg + at);
    }
    at += rdlength;
  }
  return rcode;
}
