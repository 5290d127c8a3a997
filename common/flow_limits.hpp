#pragma once
// Every limit of the byte path's flow control, in one place. Bytes move between the SSH session
// thread (protocol/ssh) and the Engine stream (actors/stream_relay) with credits in both
// directions; these numbers bound what is in memory per channel, whatever either end does.
//
//   output  Engine stream -> relay (reactor) -> session thread -> client's SSH window
//   input   client -> session thread (batches) -> relay -> Engine stream

#include <cstddef>

namespace cssh::flow {

// --- output: the program's stdout/stderr towards the client -------------------------------

/// Most output bytes on their way to the client (read off the Engine stream and not yet taken
/// by the client's SSH window). Past it the relay stops reading: a client that stops reading
/// stops the container's output at the Engine, not in our memory.
inline constexpr std::size_t output_credit_limit = 1024 * 1024;
/// Most bytes one read of the Engine stream takes; a read returns what the socket has,
/// usually one Engine frame.
inline constexpr std::size_t output_read_chunk = 64 * 1024;
/// Largest slice handed to ssh_channel_write at once (one SSH packet's worth of payload).
inline constexpr std::size_t output_write_slice = 32768;

// --- input: the client's stdin towards the program ----------------------------------------

/// Input from the client that may be in flight towards the program (in our queues and the
/// Engine stream) before we stop taking more. Past it, the data stays in libssh's channel
/// buffer and the client's window is not opened again.
inline constexpr std::size_t input_in_flight_limit = 1024 * 1024;
/// Most input the session thread gathers from one burst of packets before handing it on as
/// one piece (while the previous piece is still on its way).
inline constexpr std::size_t input_batch_limit = 256 * 1024;
/// Most bytes the relay hands to one write on the Engine stream. One write per SSH packet
/// (32 KB) made every piece wait for the previous write's completion: stdin ran at a
/// twentieth of the Engine's speed; a batch pays that round trip once per half megabyte.
inline constexpr std::size_t input_write_limit = 512 * 1024;

// --- forwarding (docs/forwarding.md) -------------------------------------------------------

/// Forwarded connections one SSH connection may have open at once (all kinds together). Each
/// holds a socket in the container's helper and a little state here; past it a direct-tcpip is
/// refused and a connection accepted in the container is closed (FORWARD_LIMIT), so one client
/// cannot exhaust the helper's descriptors or our memory.
inline constexpr std::size_t forward_streams_limit = 1024;

}  // namespace cssh::flow
