/* The frames between the server and `helper forward` (docs/forwarding.md, "The framing between
 * server and helper"): an incremental decoder fed arbitrary chunks, which checks every frame's
 * length, type, id and payload shape, and the encoding helpers. No I/O: this is what
 * tests/fuzz/fuzz_guest_frames.cpp fuzzes. */
#ifndef CSSH_GUEST_FORWARD_FRAME_H
#define CSSH_GUEST_FORWARD_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FWD_HEADER_SIZE 9u                       /* length (4), type (1), id (4) */
#define FWD_MAX_PAYLOAD 65536u
#define FWD_MIN_LENGTH 5u                        /* the length field counts type + id + payload */
#define FWD_MAX_LENGTH (FWD_MIN_LENGTH + FWD_MAX_PAYLOAD)
#define FWD_WINDOW 262144u                       /* per stream, in each direction */
#define FWD_HELPER_IDS 0x80000000u               /* the helper's stream ids start here */
#define FWD_HELLO_TEXT "containerssh-forward 1"

enum {
  FWD_HELLO = 0x01,
  FWD_DIAL_TCP = 0x10,
  FWD_DIAL_UNIX = 0x11,
  FWD_OK = 0x12,
  FWD_FAIL = 0x13,
  FWD_LISTEN_TCP = 0x20,
  FWD_LISTEN_UNIX = 0x21,
  FWD_UNLISTEN = 0x22,
  FWD_ACCEPTED = 0x23,
  FWD_WRITE_FILE = 0x24,
  FWD_REMOVE_FILE = 0x25,
  FWD_DATA = 0x30,
  FWD_EOF = 0x31,
  FWD_CLOSE = 0x32,
  FWD_CREDIT = 0x33
};

/* Which way the decoded frames go: each side accepts only the types sent to it. */
enum fwd_direction { FWD_TO_HELPER, FWD_TO_SERVER };

struct fwd_frame {
  uint8_t type;
  uint32_t id;
  const uint8_t *payload; /* `size` bytes; valid until the next fwd_decode call */
  uint32_t size;
};

struct fwd_decoder {
  enum fwd_direction direction;
  uint32_t have;   /* bytes of the current frame held in buf */
  int failed;
  char error[96];  /* why, once failed */
  uint8_t buf[FWD_HEADER_SIZE + FWD_MAX_PAYLOAD];
};

void fwd_decoder_init(struct fwd_decoder *d, enum fwd_direction direction);

/* Consumes bytes from *data (advancing *data and *size) up to the end of the next whole frame.
 * Returns 1 with *frame set when a frame is complete (more may follow in what is left), 0 when
 * every byte was consumed without completing one, -1 on a protocol error (d->error says which;
 * the decoder stays failed). */
int fwd_decode(struct fwd_decoder *d, const uint8_t **data, size_t *size, struct fwd_frame *frame);

/* The header of a frame with `payload_size` bytes of payload, into out[0..9). */
void fwd_put_header(uint8_t *out, uint8_t type, uint32_t id, uint32_t payload_size);
void fwd_put_u16(uint8_t *out, uint16_t value);
void fwd_put_u32(uint8_t *out, uint32_t value);
uint16_t fwd_get_u16(const uint8_t *in);
uint32_t fwd_get_u32(const uint8_t *in);

#endif
