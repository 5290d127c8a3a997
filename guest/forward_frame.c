/* The frame decoder and encoder of `helper forward` (forward_frame.h). */

#include "forward_frame.h"

#include <stdio.h>
#include <string.h>

void fwd_put_u16(uint8_t *out, uint16_t value) {
  out[0] = (uint8_t)(value >> 8);
  out[1] = (uint8_t)value;
}

void fwd_put_u32(uint8_t *out, uint32_t value) {
  out[0] = (uint8_t)(value >> 24);
  out[1] = (uint8_t)(value >> 16);
  out[2] = (uint8_t)(value >> 8);
  out[3] = (uint8_t)value;
}

uint16_t fwd_get_u16(const uint8_t *in) { return (uint16_t)((unsigned)in[0] << 8 | in[1]); }

uint32_t fwd_get_u32(const uint8_t *in) {
  return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
}

void fwd_put_header(uint8_t *out, uint8_t type, uint32_t id, uint32_t payload_size) {
  fwd_put_u32(out, FWD_MIN_LENGTH + payload_size);
  out[4] = type;
  fwd_put_u32(out + 5, id);
}

void fwd_decoder_init(struct fwd_decoder *d, enum fwd_direction direction) {
  d->direction = direction;
  d->have = 0;
  d->failed = 0;
  d->error[0] = '\0';
}

static int fail(struct fwd_decoder *d, const char *what, uint8_t type, uint32_t id) {
  snprintf(d->error, sizeof d->error, "%s (type 0x%02x, id %lu)", what, (unsigned)type, (unsigned long)id);
  d->failed = 1;
  return -1;
}

/* Ids the server gives to what it creates: 1 .. 2^31-1. */
static int server_id(uint32_t id) { return id != 0 && id < FWD_HELPER_IDS; }

/* The checks that need only the header: the type goes this way, the id fits it, the payload
 * size fits it. NULL when the header is fine. */
static const char *check_header(enum fwd_direction direction, uint8_t type, uint32_t id, uint32_t size) {
  int to_helper = direction == FWD_TO_HELPER;
  switch (type) {
    case FWD_DATA:
      return size == 0 ? "empty DATA" : NULL;
    case FWD_EOF:
    case FWD_CLOSE:
      return size != 0 ? "EOF or CLOSE with a payload" : NULL;
    case FWD_CREDIT:
      return size != 4 ? "CREDIT payload is not 4 bytes" : NULL;
    case FWD_HELLO:
      if (to_helper) break;
      return id != 0 ? "HELLO with an id" : NULL;
    case FWD_OK:
    case FWD_FAIL:
      if (to_helper) break;
      return server_id(id) ? NULL : "OK or FAIL for an id the server cannot have given";
    case FWD_ACCEPTED:
      if (to_helper) break;
      if (id < FWD_HELPER_IDS) return "ACCEPTED with an id under 2^31";
      return size < 6 ? "ACCEPTED payload too short" : NULL;
    case FWD_DIAL_TCP:
    case FWD_DIAL_UNIX:
    case FWD_LISTEN_TCP:
    case FWD_LISTEN_UNIX:
    case FWD_WRITE_FILE:
      if (!to_helper) break;
      if (!server_id(id)) return "new id outside 1 .. 2^31-1";
      if (type == FWD_DIAL_TCP && size < 2) return "DIAL_TCP payload too short";
      if (type == FWD_LISTEN_TCP && size < 4) return "LISTEN_TCP payload too short";
      if (type == FWD_LISTEN_UNIX && size < 1) return "LISTEN_UNIX payload too short";
      if (type == FWD_WRITE_FILE && size < 4) return "WRITE_FILE payload too short";
      return NULL;
    case FWD_UNLISTEN:
      if (!to_helper) break;
      return size != 0 ? "UNLISTEN with a payload" : NULL;
    case FWD_REMOVE_FILE:
      if (!to_helper) break;
      return size == 0 ? "REMOVE_FILE without a path" : NULL;
    default:
      break;
  }
  return "unknown frame type";
}

/* The checks that need the payload. */
static const char *check_payload(enum fwd_direction direction, const struct fwd_frame *f) {
  if (direction == FWD_TO_HELPER && f->type == FWD_WRITE_FILE && 4u + fwd_get_u16(f->payload + 2) > f->size) {
    return "WRITE_FILE path longer than its payload";
  }
  return NULL;
}

/* Checked as soon as the four bytes are there, so a bad length stops the stream at once. */
static int bad_length(struct fwd_decoder *d, uint32_t length) {
  if (length >= FWD_MIN_LENGTH && length <= FWD_MAX_LENGTH) return 0;
  snprintf(d->error, sizeof d->error, "frame length %lu out of range (5 .. 65541)", (unsigned long)length);
  d->failed = 1;
  return 1;
}

int fwd_decode(struct fwd_decoder *d, const uint8_t **data, size_t *size, struct fwd_frame *frame) {
  if (d->failed) return -1;
  /* The header: four bytes of length, then type and id. */
  const uint8_t *head;
  if (d->have == 0 && *size >= FWD_HEADER_SIZE) {
    head = *data; /* the whole header is in the input: no copy */
  } else {
    while (d->have < FWD_HEADER_SIZE && *size > 0) {
      d->buf[d->have++] = **data;
      (*data)++;
      (*size)--;
      if (d->have == 4) {
        if (bad_length(d, fwd_get_u32(d->buf))) return -1;
      }
    }
    if (d->have < FWD_HEADER_SIZE) return 0;
    head = d->buf;
  }
  uint32_t length = fwd_get_u32(head);
  if (bad_length(d, length)) return -1;
  frame->type = head[4];
  frame->id = fwd_get_u32(head + 5);
  frame->size = length - FWD_MIN_LENGTH;
  const char *bad = check_header(d->direction, frame->type, frame->id, frame->size);
  if (bad) return fail(d, bad, frame->type, frame->id);

  if (head == *data) {
    if (*size >= FWD_HEADER_SIZE + frame->size) {
      /* The whole frame is in the input: hand out the payload where it is. */
      frame->payload = *data + FWD_HEADER_SIZE;
      *data += FWD_HEADER_SIZE + frame->size;
      *size -= FWD_HEADER_SIZE + frame->size;
    } else {
      memcpy(d->buf, *data, FWD_HEADER_SIZE);
      d->have = FWD_HEADER_SIZE;
      *data += FWD_HEADER_SIZE;
      *size -= FWD_HEADER_SIZE;
      head = d->buf;
    }
  }
  if (head == d->buf) {
    size_t want = FWD_HEADER_SIZE + frame->size - d->have;
    size_t take = want < *size ? want : *size;
    if (take > 0) {
      memcpy(d->buf + d->have, *data, take);
      d->have += (uint32_t)take;
      *data += take;
      *size -= take;
    }
    if (take < want) return 0;
    frame->payload = d->buf + FWD_HEADER_SIZE;
    d->have = 0;
  }
  bad = check_payload(d->direction, frame);
  if (bad) return fail(d, bad, frame->type, frame->id);
  return 1;
}
