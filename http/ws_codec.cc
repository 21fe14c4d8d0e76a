#include "http/ws_codec.h"

#include <algorithm>
#include <cstring>

namespace vytal {
namespace {

WsEvent error(uint16_t code) {
  WsEvent e;
  e.kind = WsEvent::Kind::error;
  e.close_code = code;
  return e;
}

void unmask(unsigned char* p, size_t n, const unsigned char mask[4]) {
  // Eight bytes at a time (the mask repeats every four), then the tail.
  unsigned char pattern[8] = {mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3]};
  uint64_t m8;
  std::memcpy(&m8, pattern, 8);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    w ^= m8;
    std::memcpy(p + i, &w, 8);
  }
  for (; i < n; ++i) p[i] ^= mask[i & 3];
}

// Removes the pending cut: a delivered message at the front, or a control
// frame that sat right after the assembled prefix.
void apply_cut(evbuffer* in, WsReadState& st) {
  if (st.cut == 0) return;
  if (st.cut_is_control && st.assembled > 0) {
    unsigned char* p = evbuffer_pullup(in, st.assembled + st.cut);
    std::memmove(p + st.cut, p, st.assembled);  // slide the message over the control frame
  }
  evbuffer_drain(in, st.cut);
  st.cut = 0;
  st.cut_is_control = false;
}

}  // namespace

bool ws_close_code_valid(uint16_t c) {
  if (c >= 3000 && c <= 4999) return true;
  return c >= 1000 && c <= 1011 && c != 1004 && c != 1005 && c != 1006;
}

bool utf8_feed(Utf8State& st, std::string_view bytes) {
  const char* p = bytes.data();
  size_t n = bytes.size(), i = 0;
  while (i < n) {
    // Runs of ASCII (almost all of signaling's JSON) eight bytes at a time.
    if (!st.need) {
      for (uint64_t w; i + 8 <= n; i += 8) {
        std::memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080ull) break;
      }
      if (i == n) break;
    }
    unsigned char c = static_cast<unsigned char>(p[i++]);
    if (st.need) {
      unsigned char lo = 0x80, hi = 0xBF;
      switch (st.bound) {
        case 0xE0: lo = 0xA0; break;  // no overlong three-byte forms
        case 0xED: hi = 0x9F; break;  // no surrogates
        case 0xF0: lo = 0x90; break;  // no overlong four-byte forms
        case 0xF4: hi = 0x8F; break;  // nothing above U+10FFFF
      }
      if (c < lo || c > hi) return false;
      --st.need;
      st.bound = 0;
      continue;
    }
    if (c < 0x80) continue;
    if (c >= 0xC2 && c <= 0xDF) {
      st.need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      st.need = 2;
    } else if (c >= 0xF0 && c <= 0xF4) {
      st.need = 3;
    } else {
      return false;
    }
    if (c == 0xE0 || c == 0xED || c == 0xF0 || c == 0xF4) st.bound = c;
  }
  return true;
}

bool utf8_valid(std::string_view s) {
  Utf8State st;
  return utf8_feed(st, s) && st.need == 0;
}

WsEvent ws_read(evbuffer* in, WsReadState& st, size_t max_message_bytes) {
  apply_cut(in, st);
  for (;;) {
    size_t have = evbuffer_get_length(in);
    size_t off = st.assembled;
    if (have < off + 2) return {};
    // The header (2 to 14 bytes) starts after the assembled prefix.
    unsigned char h[14];
    evbuffer_ptr pos;
    evbuffer_ptr_set(in, &pos, off, EVBUFFER_PTR_SET);
    size_t hn = static_cast<size_t>(evbuffer_copyout_from(in, &pos, h, std::min<size_t>(14, have - off)));
    bool fin = h[0] & 0x80;
    uint8_t rsv = h[0] & 0x70;
    uint8_t opcode = h[0] & 0x0F;
    bool masked = h[1] & 0x80;
    uint64_t len = h[1] & 0x7F;
    size_t header = 2;
    if (len == 126) {
      if (hn < 4) return {};
      len = (uint64_t{h[2]} << 8) | h[3];
      header = 4;
    } else if (len == 127) {
      if (hn < 10) return {};
      len = 0;
      for (int i = 2; i < 10; ++i) len = (len << 8) | h[i];
      header = 10;
    }
    // A frame is judged once its whole header has arrived (as wslay does).
    if (hn < header + (masked ? 4 : 0)) return {};
    // RFC 6455 5.2: the minimal length encoding, and the top bit of a 64-bit length clear.
    if ((header == 4 && len < 126) || (header == 10 && (len >> 63 || len <= 0xFFFF)))
      return error(kWsCloseProtocolError);
    if (rsv) return error(kWsCloseProtocolError);      // no extension negotiated
    if (!masked) return error(kWsCloseProtocolError);  // RFC 6455 5.1: clients mask every frame
    bool control = opcode & 0x08;
    if (control) {
      if (opcode != kWsClose && opcode != kWsPing && opcode != kWsPong) return error(kWsCloseProtocolError);
      if (!fin || len > 125) return error(kWsCloseProtocolError);  // RFC 6455 5.5
      // Between a message's fragments a control frame counts as one of its
      // frames: each one moves the message so far too.
      if (st.message_opcode != 0 && st.fragments >= kWsMaxFragments) return error(kWsClosePolicy);
    } else {
      if (opcode > kWsBinary) return error(kWsCloseProtocolError);
      if (opcode == kWsContinuation && st.message_opcode == 0) return error(kWsCloseProtocolError);
      if (opcode != kWsContinuation && st.message_opcode != 0) return error(kWsCloseProtocolError);
      if (off + len > max_message_bytes) return error(kWsCloseTooBig);  // before waiting for the payload
      if (opcode == kWsContinuation && st.fragments >= kWsMaxFragments) return error(kWsClosePolicy);
    }
    unsigned char mask[4];
    std::memcpy(mask, h + header, 4);
    header += 4;
    size_t total = off + header + static_cast<size_t>(len);
    if (have < total) return {};

    unsigned char* p = evbuffer_pullup(in, static_cast<ssize_t>(total));
    unsigned char* payload = p + off + header;
    unmask(payload, static_cast<size_t>(len), mask);

    if (control) {
      WsEvent e;
      e.payload = std::string_view(reinterpret_cast<char*>(payload), static_cast<size_t>(len));
      st.cut = static_cast<uint32_t>(header + len);
      st.cut_is_control = true;
      if (st.message_opcode != 0) ++st.fragments;
      if (opcode == kWsPing) {
        e.kind = WsEvent::Kind::ping;
      } else if (opcode == kWsPong) {
        e.kind = WsEvent::Kind::pong;
      } else {
        e.kind = WsEvent::Kind::close;
        if (len == 0) {
          e.close_code = kWsCloseNoStatus;
        } else {
          if (len == 1) return error(kWsCloseProtocolError);
          e.close_code = static_cast<uint16_t>((payload[0] << 8) | payload[1]);
          e.payload.remove_prefix(2);
          // The reason is checked before the code, as wslay does.
          if (!utf8_valid(e.payload)) return error(kWsCloseInvalidData);
          if (!ws_close_code_valid(e.close_code)) return error(kWsCloseProtocolError);
        }
      }
      return e;
    }

    // A data frame: slide the message so far over this frame's header so the
    // payload follows it directly, then drop the header bytes at the front.
    std::memmove(p + header, p, off);
    evbuffer_drain(in, header);
    st.assembled = static_cast<uint32_t>(off + len);
    if (opcode != kWsContinuation) {
      st.message_opcode = opcode;
      st.fragments = 0;
      st.utf8 = Utf8State{};
    }
    ++st.fragments;
    if (st.message_opcode == kWsText &&
        !utf8_feed(st.utf8, std::string_view(reinterpret_cast<char*>(p + header + off), static_cast<size_t>(len))))
      return error(kWsCloseInvalidData);
    if (!fin) continue;

    WsEvent e;
    e.kind = WsEvent::Kind::message;
    e.opcode = st.message_opcode;
    unsigned char* msg = evbuffer_pullup(in, st.assembled);
    e.payload = std::string_view(reinterpret_cast<char*>(msg), st.assembled);
    if (e.opcode == kWsText && st.utf8.need != 0) return error(kWsCloseInvalidData);  // ends mid-character
    st.cut = st.assembled;
    st.cut_is_control = false;
    st.assembled = 0;
    st.message_opcode = 0;
    st.fragments = 0;
    return e;
  }
}

size_t ws_frame_header(unsigned char (&h)[kWsMaxHeaderBytes], uint8_t opcode, size_t len) {
  size_t n = 2;
  h[0] = static_cast<unsigned char>(0x80 | opcode);
  if (len < 126) {
    h[1] = static_cast<unsigned char>(len);
  } else if (len <= 0xFFFF) {
    h[1] = 126;
    h[2] = static_cast<unsigned char>(len >> 8);
    h[3] = static_cast<unsigned char>(len);
    n = 4;
  } else {
    h[1] = 127;
    for (int i = 0; i < 8; ++i) h[2 + i] = static_cast<unsigned char>(uint64_t{len} >> (56 - 8 * i));
    n = 10;
  }
  return n;
}

void ws_write_frame(evbuffer* out, uint8_t opcode, std::string_view payload) {
  unsigned char h[kWsMaxHeaderBytes];
  evbuffer_add(out, h, ws_frame_header(h, opcode, payload.size()));
  evbuffer_add(out, payload.data(), payload.size());
}

void ws_write_close(evbuffer* out, uint16_t code, std::string_view reason) {
  char buf[125];
  buf[0] = static_cast<char>(code >> 8);
  buf[1] = static_cast<char>(code & 0xFF);
  size_t n = std::min<size_t>(reason.size(), sizeof buf - 2);
  std::memcpy(buf + 2, reason.data(), n);
  ws_write_frame(out, kWsClose, std::string_view(buf, n + 2));
}

}  // namespace vytal
