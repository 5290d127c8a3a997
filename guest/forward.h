/* `helper forward` (forward.c): the container's end of -L, -D, -R, agent and X11 forwarding. */
#ifndef CSSH_GUEST_FORWARD_H
#define CSSH_GUEST_FORWARD_H

/* Runs the frame protocol on stdin/stdout until stdin ends (docs/forwarding.md). Does not return:
 * exits 0 when stdin ends or on TERM/INT/HUP, 3 on a protocol error, 1 when stdout is gone or
 * memory runs out. */
_Noreturn void forward_main(void);

#endif
