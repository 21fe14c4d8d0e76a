// Differential fuzzing of signald's WebSocket reader (http/ws_codec.h)
// against wslay, the reference implementation: the same client bytes go to
// both; they must deliver the same messages (text, binary, ping, pong, close
// with its code and reason) and reach the same verdict (still reading, or a
// protocol error with the same close code). The intended differences listed
// in ws_codec.h are the only ones allowed, and each is recognised precisely.
//
// Both are given whole frames only: the input is cut before a frame that has
// not fully arrived. The two readers judge a partial frame at different
// moments (signald once its header is whole, wslay partly after two bytes and
// partly at the first payload byte), which is timing, not a verdict; partial
// frames are covered by the table tests in tests/unit/ws_codec_test.cc.
#include <event2/buffer.h>
#include <wslay/wslay.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "http/ws_codec.h"

namespace {

constexpr size_t kMaxMessage = 1024;  // small, so that 1009 is reachable

struct Msg {
  int opcode;
  std::string payload;  // close: the reason
  int code = 0;         // close: the code (1005 when none)
  bool operator==(const Msg& o) const { return opcode == o.opcode && payload == o.payload && code == o.code; }
};

struct Outcome {
  std::vector<Msg> msgs;
  int error = 0;         // close code of a protocol error, 0 when none
  bool waiting = false;  // (ours) bytes left that do not make a whole frame
};

Outcome run_ours(const uint8_t* data, size_t size) {
  Outcome out;
  evbuffer* in = evbuffer_new();
  evbuffer_add(in, data, size);
  vytal::WsReadState st;
  for (;;) {
    vytal::WsEvent e = vytal::ws_read(in, st, kMaxMessage);
    using K = vytal::WsEvent::Kind;
    if (e.kind == K::need_more) {
      out.waiting = evbuffer_get_length(in) > st.assembled || st.assembled > 0;
      break;
    }
    if (e.kind == K::error) {
      out.error = e.close_code;
      break;
    }
    int opcode = e.kind == K::message ? e.opcode : e.kind == K::ping ? 9 : e.kind == K::pong ? 10 : 8;
    out.msgs.push_back({opcode, std::string(e.payload), e.kind == K::close ? e.close_code : 0});
    if (e.kind == K::close) break;
  }
  evbuffer_free(in);
  return out;
}

struct WslayInput {
  const uint8_t* data;
  size_t size;
  size_t pos = 0;
  Outcome out;
  bool closed = false;
};

ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t* buf, size_t len, int, void* user) {
  auto* in = static_cast<WslayInput*>(user);
  if (in->pos == in->size) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  size_t n = std::min(len, in->size - in->pos);
  std::memcpy(buf, in->data + in->pos, n);
  in->pos += n;
  return static_cast<ssize_t>(n);
}

ssize_t send_cb(wslay_event_context_ptr, const uint8_t*, size_t len, int, void*) { return static_cast<ssize_t>(len); }

void on_msg(wslay_event_context_ptr, const wslay_event_on_msg_recv_arg* arg, void* user) {
  auto* in = static_cast<WslayInput*>(user);
  if (in->closed) return;  // compare up to the first close, as signald stops there
  std::string payload(reinterpret_cast<const char*>(arg->msg), arg->msg_length);
  Msg m{arg->opcode, payload, 0};
  if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
    m.code = arg->status_code ? arg->status_code : 1005;
    m.payload = payload.size() >= 2 ? payload.substr(2) : std::string();
    in->closed = true;
  }
  in->out.msgs.push_back(m);
}

Outcome run_wslay(const uint8_t* data, size_t size) {
  WslayInput in{data, size};
  wslay_event_callbacks cbs = {recv_cb, send_cb, nullptr, nullptr, nullptr, nullptr, on_msg};
  wslay_event_context_ptr ctx;
  if (wslay_event_context_server_init(&ctx, &cbs, &in) != 0) std::abort();
  wslay_event_config_set_max_recv_msg_length(ctx, kMaxMessage);
  wslay_event_recv(ctx);
  wslay_event_send(ctx);  // sends the close frame a protocol error queued
  if (!in.closed && wslay_event_get_close_sent(ctx)) {
    in.out.error = wslay_event_get_status_code_sent(ctx);
    // Errors found by wslay's frame layer (a bad header) close without a
    // code, which wslay reports as 1005; it is its protocol error.
    if (in.out.error == 1005) in.out.error = 1002;
  }
  wslay_event_context_free(ctx);
  return in.out;
}

std::string describe(const Outcome& o) {
  std::string s = "error=" + std::to_string(o.error) + " waiting=" + std::to_string(o.waiting) + " msgs:";
  for (const Msg& m : o.msgs)
    s += " [op " + std::to_string(m.opcode) + " code " + std::to_string(m.code) + " len " +
         std::to_string(m.payload.size()) + "]";
  return s;
}

// Whether some message in the input spans more frames (data frames and the
// control frames between them) than signald accepts (kWsMaxFragments), by a
// frame walk of its own.
bool exceeds_fragment_limit(const uint8_t* d, size_t size) {
  unsigned fragments = 0;
  for (size_t pos = 0; size - pos >= 2;) {
    uint8_t opcode = d[pos] & 0x0F;
    bool fin = d[pos] & 0x80;
    uint64_t len = d[pos + 1] & 0x7F;
    size_t header = 2;
    if (len == 126 || len == 127) {
      size_t ext = len == 126 ? 2 : 8;
      if (size - pos < 2 + ext) break;
      len = 0;
      for (size_t i = 0; i < ext; ++i) len = (len << 8) | d[pos + 2 + i];
      header += ext;
    }
    if (d[pos + 1] & 0x80) header += 4;
    if (opcode <= 2) {
      fragments = opcode == 0 ? fragments + 1 : 1;
      if (fragments > vytal::kWsMaxFragments) return true;
      if (fin) fragments = 0;
    } else if (fragments > 0 && ++fragments > vytal::kWsMaxFragments) {
      return true;  // a control frame between a message's fragments counts too
    }
    if (size - pos < header || size - pos - header < len) break;
    pos += header + static_cast<size_t>(len);
  }
  return false;
}

// The differences ws_codec.h documents, recognised precisely.
bool intended_difference(const Outcome& ours, const Outcome& theirs, const uint8_t* data, size_t size) {
  // Too many fragments: signald refuses the message (1008) where wslay goes
  // on; everything before it is the same.
  if (ours.error == 1008 && exceeds_fragment_limit(data, size) && theirs.msgs.size() >= ours.msgs.size() &&
      std::equal(ours.msgs.begin(), ours.msgs.end(), theirs.msgs.begin()))
    return true;
  // A close frame with a 1-byte payload: wslay reads it as a close without
  // code, signald refuses it (RFC 6455 5.5.1).
  if (ours.error == 1002 && theirs.error == 0 && theirs.msgs.size() == ours.msgs.size() + 1) {
    const Msg& last = theirs.msgs.back();
    std::vector<Msg> head(theirs.msgs.begin(), theirs.msgs.end() - 1);
    return last.opcode == 8 && last.code == 1005 && last.payload.empty() && head == ours.msgs;
  }
  return false;
}

// The length of the longest prefix made of whole frames (header parsing of
// its own, independent of both readers).
size_t whole_frames(const uint8_t* d, size_t size) {
  size_t pos = 0;
  for (;;) {
    if (size - pos < 2) return pos;
    uint64_t len = d[pos + 1] & 0x7F;
    size_t header = 2;
    if (len == 126 || len == 127) {
      size_t ext = len == 126 ? 2 : 8;
      if (size - pos < 2 + ext) return pos;
      len = 0;
      for (size_t i = 0; i < ext; ++i) len = (len << 8) | d[pos + 2 + i];
      header += ext;
    }
    if (d[pos + 1] & 0x80) header += 4;
    if (size - pos < header || size - pos - header < len) return pos;
    pos += header + static_cast<size_t>(len);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size = whole_frames(data, size);
  Outcome ours = run_ours(data, size);
  Outcome theirs = run_wslay(data, size);
  bool same = ours.msgs == theirs.msgs && ours.error == theirs.error;
  if (!same && !intended_difference(ours, theirs, data, size)) {
    std::fprintf(stderr, "ws_codec and wslay disagree\n  ours:  %s\n  wslay: %s\n", describe(ours).c_str(),
                 describe(theirs).c_str());
    std::abort();
  }
  return 0;
}
