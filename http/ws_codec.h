// RFC 6455 WebSocket framing, read in place from a libevent input buffer.
//
// No per-connection buffer: a message's bytes stay in the bufferevent's input
// buffer. Each data frame's payload is unmasked where it lies and moved next
// to the fragments before it, so the front of the buffer always holds the
// message so far, contiguous and unmasked (WsReadState::assembled bytes).
// Control frames arriving between fragments are handled where they lie and
// cut out. The message size limit is enforced from each frame header, before
// its payload is waited for.
//
// Intended differences from wslay (the test oracle, tests/fuzz/):
// - a close frame with a 1-byte payload is a protocol error here (1002), as
//   RFC 6455 section 5.5.1 requires; wslay takes it as a close without code;
// - a message of more than kWsMaxFragments frames (its data frames and the
//   control frames between them) is refused (1008): each such frame moves the
//   message so far, so a client sending many tiny or empty fragments, or
//   pings between two fragments, would make the reader copy without end;
//   browsers send a signaling message as one frame. wslay has no such limit;
// - a frame's header is judged once the whole header is there, its payload
//   (UTF-8 of text) once the whole frame is there; wslay judges some header
//   fields after two bytes, others at the first payload byte, and UTF-8 byte
//   by byte. The verdicts are the same; only the moment differs.
#pragma once

#include <event2/buffer.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace vytal {

enum WsOpcode : uint8_t {
  kWsContinuation = 0x0,
  kWsText = 0x1,
  kWsBinary = 0x2,
  kWsClose = 0x8,
  kWsPing = 0x9,
  kWsPong = 0xA,
};

// Close codes (RFC 6455 section 7.4.1).
enum WsCloseCode : uint16_t {
  kWsCloseNormal = 1000,
  kWsCloseGoingAway = 1001,
  kWsCloseProtocolError = 1002,
  kWsCloseUnsupported = 1003,
  kWsCloseNoStatus = 1005,
  kWsCloseInvalidData = 1007,
  kWsClosePolicy = 1008,
  kWsCloseTooBig = 1009,
  kWsCloseInternal = 1011,
};

// Incremental UTF-8 validation (RFC 3629: shortest forms, no surrogates,
// nothing above U+10FFFF), so a text message is judged fragment by fragment.
struct Utf8State {
  uint8_t need = 0;   // continuation bytes still expected
  uint8_t bound = 0;  // narrows the next one: 0 none, else the lead byte E0, ED, F0 or F4
};
bool utf8_feed(Utf8State& state, std::string_view bytes);

// Frames one message may span: its data frames and the control frames between them.
constexpr unsigned kWsMaxFragments = 63;

// What a reader keeps between reads: 12 bytes.
struct WsReadState {
  uint32_t assembled = 0;          // bytes of the message in progress at the buffer's front
  uint32_t cut = 0;                // bytes to remove before the next read (a delivered frame or message)
  uint8_t message_opcode : 2 = 0;  // text or binary while a fragmented message is in progress
  uint8_t fragments : 6 = 0;       // its frames so far, control frames between them included
  bool cut_is_control = false;     // the bytes to cut sit after the assembled prefix
  Utf8State utf8;                  // of the text message in progress
};
static_assert(sizeof(WsReadState) == 12);

struct WsEvent {
  enum class Kind { need_more, message, ping, pong, close, error } kind = Kind::need_more;
  uint8_t opcode = 0;        // kWsText or kWsBinary for a message
  std::string_view payload;  // valid until the next ws_read on the same buffer
  uint16_t close_code = 0;   // close: the peer's code (kWsCloseNoStatus when absent); error: the code to send
};

// Returns the next event in `in`. Call again until need_more.
WsEvent ws_read(evbuffer* in, WsReadState& state, size_t max_message_bytes);

// The header of one unmasked server frame (FIN set) with a payload of `len`
// bytes; returns its length (2, 4 or 10).
inline constexpr size_t kWsMaxHeaderBytes = 10;
size_t ws_frame_header(unsigned char (&header)[kWsMaxHeaderBytes], uint8_t opcode, size_t len);
// Appends one unmasked server frame (FIN set) to `out`.
void ws_write_frame(evbuffer* out, uint8_t opcode, std::string_view payload);
void ws_write_close(evbuffer* out, uint16_t code, std::string_view reason);

bool utf8_valid(std::string_view s);
// A close code a peer may send (RFC 6455 section 7.4).
bool ws_close_code_valid(uint16_t code);

}  // namespace vytal
