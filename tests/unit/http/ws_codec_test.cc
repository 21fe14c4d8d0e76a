#include "http/ws_codec.h"

#include <event2/buffer.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "common/handles.h"

namespace vytal {
namespace {

using EvBufferPtr = CHandle<evbuffer, evbuffer_free>;
using Kind = WsEvent::Kind;

// ---------------------------------------------------------------------------
// Building client frames (RFC 6455 section 5.2).

struct Frame {
  uint8_t opcode = kWsText;
  std::string payload{};
  bool fin = true;
  uint8_t rsv = 0;  // RSV1 0x40, RSV2 0x20, RSV3 0x10
  bool masked = true;
  int length_bytes = 0;                // 0: minimal encoding; 2: force 16-bit; 8: force 64-bit
  std::optional<uint64_t> declared{};  // a length to write instead of payload.size()
  std::array<uint8_t, 4> mask = {0x37, 0xFA, 0x21, 0x3D};
};

// The header including the masking key.
std::string header(const Frame& f) {
  uint64_t len = f.declared.value_or(f.payload.size());
  std::string h;
  h += static_cast<char>((f.fin ? 0x80 : 0) | f.rsv | f.opcode);
  uint8_t mask_bit = f.masked ? 0x80 : 0;
  int n = f.length_bytes ? f.length_bytes : len < 126 ? 0 : len <= 0xFFFF ? 2 : 8;
  if (n == 0) {
    h += static_cast<char>(mask_bit | len);
  } else {
    h += static_cast<char>(mask_bit | (n == 2 ? 126 : 127));
    for (int i = n - 1; i >= 0; --i) h += static_cast<char>(len >> (8 * i));
  }
  if (f.masked) h.append(reinterpret_cast<const char*>(f.mask.data()), 4);
  return h;
}

std::string frame(const Frame& f) {
  std::string out = header(f);
  for (size_t i = 0; i < f.payload.size(); ++i) out += static_cast<char>(f.payload[i] ^ (f.masked ? f.mask[i & 3] : 0));
  return out;
}

std::string close_payload(uint16_t code, std::string_view reason = "") {
  std::string p;
  p += static_cast<char>(code >> 8);
  p += static_cast<char>(code & 0xFF);
  p += reason;
  return p;
}

// Recognisable filler, so a misplaced byte shows.
std::string filler(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 26) % 26);
  return s;
}

template <typename... Frames>
std::string stream(const Frames&... frames) {
  return (std::string{} + ... + frame(frames));
}

// ---------------------------------------------------------------------------
// Events, copied out of the buffer.

struct Ev {
  Kind kind = Kind::need_more;
  uint8_t opcode = 0;
  std::string payload{};
  uint16_t close_code = 0;
  bool operator==(const Ev&) const = default;
};

Ev msg(uint8_t opcode, std::string payload) { return {Kind::message, opcode, std::move(payload), 0}; }
Ev text(std::string payload) { return msg(kWsText, std::move(payload)); }
Ev binary(std::string payload) { return msg(kWsBinary, std::move(payload)); }
Ev ping(std::string payload) { return {Kind::ping, 0, std::move(payload), 0}; }
Ev pong(std::string payload) { return {Kind::pong, 0, std::move(payload), 0}; }
Ev closed(uint16_t code, std::string reason = "") { return {Kind::close, 0, std::move(reason), code}; }
Ev fail(uint16_t code) { return {Kind::error, 0, "", code}; }
const Ev kNeedMore{};

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::need_more: return "need_more";
    case Kind::message: return "message";
    case Kind::ping: return "ping";
    case Kind::pong: return "pong";
    case Kind::close: return "close";
    case Kind::error: return "error";
  }
  return "?";
}

std::string printable(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s.substr(0, 40)) {
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (s.size() > 40) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

void PrintTo(const Ev& e, std::ostream* os) {
  *os << kind_name(e.kind);
  if (e.kind == Kind::message) *os << " opcode=" << int{e.opcode};
  if (e.kind == Kind::close || e.kind == Kind::error) *os << " code=" << e.close_code;
  if (!e.payload.empty()) *os << " \"" << printable(e.payload) << '"';
}

Ev copy(const WsEvent& e) { return {e.kind, e.opcode, std::string(e.payload), e.close_code}; }

// One connection's reader: bytes go in by any route, events come out until
// need_more, or until a close or an error ends the reading.
class Reader {
 public:
  explicit Reader(size_t max) : in_(evbuffer_new()), max_(max) {}

  void add(std::string_view bytes) { evbuffer_add(in_.get(), bytes.data(), bytes.size()); }
  // Each byte in a chain of its own, so the codec must gather across chains.
  void add_as_separate_chains(std::string_view bytes) {
    for (char c : bytes) {
      EvBufferPtr one(evbuffer_new());
      evbuffer_add(one.get(), &c, 1);
      evbuffer_add_buffer(in_.get(), one.get());
    }
  }

  // Reads until need_more or an ending event; returns the events that did not end the reading.
  std::vector<Ev> read() {
    std::vector<Ev> out;
    while (!verdict_) {
      WsEvent e = ws_read(in_.get(), state_, max_);
      if (e.kind == Kind::need_more) break;
      if (e.kind == Kind::close || e.kind == Kind::error) {
        verdict_ = copy(e);
      } else {
        out.push_back(copy(e));
      }
    }
    return out;
  }

  Ev verdict() const { return verdict_.value_or(kNeedMore); }
  size_t buffered() const { return evbuffer_get_length(in_.get()); }
  const WsReadState& state() const { return state_; }

 private:
  EvBufferPtr in_;
  WsReadState state_;
  size_t max_;
  std::optional<Ev> verdict_;
};

void append(std::vector<Ev>& to, const std::vector<Ev>& from) { to.insert(to.end(), from.begin(), from.end()); }

// ---------------------------------------------------------------------------
// The reader table: a client byte stream, the events it yields and the verdict.

constexpr size_t kDefaultMax = 1 << 20;

struct ReadCase {
  std::string name;
  std::string bytes;
  size_t max = kDefaultMax;
  std::vector<Ev> events;
  Ev verdict;
};

void PrintTo(const ReadCase& c, std::ostream* os) { *os << c.name << " (" << c.bytes.size() << " bytes)"; }

std::vector<ReadCase> basic_cases() {
  std::string big125 = filler(125), big126 = filler(126), big65535 = filler(65535), big65536 = filler(65536),
              big70000 = filler(70000);
  return {
      // RFC 6455 section 5.7: a single-frame masked text message.
      {"RfcMaskedHello",
       std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11),
       kDefaultMax,
       {text("Hello")},
       kNeedMore},
      {"SingleText", stream(Frame{.payload = "Hello, ward 4"}), kDefaultMax, {text("Hello, ward 4")}, kNeedMore},
      {"Binary",
       stream(Frame{.opcode = kWsBinary, .payload = std::string("\x00\xFF\x80\x01\xC0", 5)}),
       kDefaultMax,
       {binary(std::string("\x00\xFF\x80\x01\xC0", 5))},
       kNeedMore},
      {"EmptyText", stream(Frame{.payload = ""}), kDefaultMax, {text("")}, kNeedMore},
      {"EmptyBinary", stream(Frame{.opcode = kWsBinary}), kDefaultMax, {binary("")}, kNeedMore},
      {"ZeroMaskKey", stream(Frame{.payload = "plain", .mask = {0, 0, 0, 0}}), kDefaultMax, {text("plain")}, kNeedMore},
      {"Length125", stream(Frame{.payload = big125}), 125, {text(big125)}, kNeedMore},
      {"Length126", stream(Frame{.payload = big126}), 126, {text(big126)}, kNeedMore},
      {"Length65535", stream(Frame{.payload = big65535}), 65535, {text(big65535)}, kNeedMore},
      {"Length65536", stream(Frame{.payload = big65536}), 65536, {text(big65536)}, kNeedMore},
      {"Length70000Binary",
       stream(Frame{.opcode = kWsBinary, .payload = big70000}),
       70000,
       {binary(big70000)},
       kNeedMore},
      {"PingAlone",
       stream(Frame{.opcode = kWsPing, .payload = "are you there"}),
       kDefaultMax,
       {ping("are you there")},
       kNeedMore},
      {"PongAlone", stream(Frame{.opcode = kWsPong}), kDefaultMax, {pong("")}, kNeedMore},
      {"Ping125", stream(Frame{.opcode = kWsPing, .payload = big125}), kDefaultMax, {ping(big125)}, kNeedMore},
      {"PingPayloadNotUtf8Checked",
       stream(Frame{.opcode = kWsPing, .payload = "\xFF\xC0"}),
       kDefaultMax,
       {ping("\xFF\xC0")},
       kNeedMore},
      {"SeveralMessagesInOrder",
       stream(Frame{.payload = "one"}, Frame{.opcode = kWsBinary, .payload = "two"}, Frame{.opcode = kWsPing},
              Frame{.payload = "three"}, Frame{.opcode = kWsPong, .payload = "p"}, Frame{.payload = big126}),
       kDefaultMax,
       {text("one"), binary("two"), ping(""), text("three"), pong("p"), text(big126)},
       kNeedMore},
      {"LimitIsPerMessage",
       stream(Frame{.payload = "hello"}, Frame{.payload = "world"}),
       5,
       {text("hello"), text("world")},
       kNeedMore},
  };
}

std::vector<ReadCase> fragmentation_cases() {
  std::string big300 = filler(300);
  return {
      {"TextIn3Fragments",
       stream(Frame{.payload = "Hel", .fin = false}, Frame{.opcode = kWsContinuation, .payload = "lo, ", .fin = false},
              Frame{.opcode = kWsContinuation, .payload = "world"}),
       kDefaultMax,
       {text("Hello, world")},
       kNeedMore},
      {"BinaryIn2Fragments",
       stream(Frame{.opcode = kWsBinary, .payload = std::string("\x00\x01", 2), .fin = false},
              Frame{.opcode = kWsContinuation, .payload = "\xFE\xFF"}),
       kDefaultMax,
       {binary(std::string("\x00\x01\xFE\xFF", 4))},
       kNeedMore},
      {"EmptyFragments",
       stream(Frame{.payload = "", .fin = false}, Frame{.opcode = kWsContinuation, .payload = "abc", .fin = false},
              Frame{.opcode = kWsContinuation, .payload = ""}),
       kDefaultMax,
       {text("abc")},
       kNeedMore},
      {"PingAndPongBetweenFragments",
       stream(Frame{.payload = "ab", .fin = false}, Frame{.opcode = kWsPing, .payload = "p1"},
              Frame{.opcode = kWsContinuation, .payload = "cd", .fin = false},
              Frame{.opcode = kWsPong, .payload = "p2"}, Frame{.opcode = kWsContinuation, .payload = "ef"}),
       kDefaultMax,
       {ping("p1"), pong("p2"), text("abcdef")},
       kNeedMore},
      {"ControlFramesInARowBetweenFragments",
       stream(Frame{.opcode = kWsBinary, .payload = "a", .fin = false}, Frame{.opcode = kWsPing, .payload = "1"},
              Frame{.opcode = kWsPing}, Frame{.opcode = kWsPong, .payload = "333"},
              Frame{.opcode = kWsContinuation, .payload = "b"}),
       kDefaultMax,
       {ping("1"), ping(""), pong("333"), binary("ab")},
       kNeedMore},
      // Long fragments (16-bit lengths) around control frames of different sizes,
      // then more messages: the in-place assembly must not disturb what follows.
      {"LongFragmentsWithControlFramesThenMore",
       stream(Frame{.payload = big300.substr(0, 130), .fin = false, .mask = {1, 2, 3, 4}},
              Frame{.opcode = kWsPing, .payload = filler(125), .mask = {0xFF, 0, 0xFF, 0}},
              Frame{.opcode = kWsContinuation, .payload = big300.substr(130, 7), .fin = false},
              Frame{.opcode = kWsPong, .payload = "x"},
              Frame{.opcode = kWsContinuation, .payload = big300.substr(137), .mask = {9, 8, 7, 6}},
              Frame{.opcode = kWsPing, .payload = "after"}, Frame{.opcode = kWsBinary, .payload = "tail"}),
       kDefaultMax,
       {ping(filler(125)), pong("x"), text(big300), ping("after"), binary("tail")},
       kNeedMore},
      {"FragmentedThenSingle",
       stream(Frame{.payload = "ab", .fin = false}, Frame{.opcode = kWsContinuation, .payload = "c"},
              Frame{.payload = "d"}, Frame{.opcode = kWsBinary, .payload = "e", .fin = false},
              Frame{.opcode = kWsContinuation, .payload = "f"}),
       kDefaultMax,
       {text("abc"), text("d"), binary("ef")},
       kNeedMore},
      {"CloseBetweenFragments",
       stream(Frame{.payload = "ab", .fin = false}, Frame{.opcode = kWsClose, .payload = close_payload(1001, "x")},
              Frame{.opcode = kWsContinuation, .payload = "cd"}),
       kDefaultMax,
       {},
       closed(1001, "x")},
      {"PingThenCloseBetweenFragments",
       stream(Frame{.payload = "ab", .fin = false}, Frame{.opcode = kWsPing, .payload = "p"},
              Frame{.opcode = kWsContinuation, .payload = "cd", .fin = false}, Frame{.opcode = kWsClose}),
       kDefaultMax,
       {ping("p")},
       closed(kWsCloseNoStatus)},
      // A message still in progress at the end of the bytes is not delivered.
      {"FragmentedNotFinished",
       stream(Frame{.payload = "ab", .fin = false}, Frame{.opcode = kWsPing, .payload = "p"},
              Frame{.opcode = kWsContinuation, .payload = "cd", .fin = false}),
       kDefaultMax,
       {ping("p")},
       kNeedMore},
  };
}

std::vector<ReadCase> protocol_error_cases() {
  const Ev e1002 = fail(kWsCloseProtocolError);
  std::vector<ReadCase> cases = {
      {"UnmaskedText", stream(Frame{.payload = "hi", .masked = false}), kDefaultMax, {}, e1002},
      {"UnmaskedPing", stream(Frame{.opcode = kWsPing, .masked = false}), kDefaultMax, {}, e1002},
      {"UnmaskedContinuation",
       stream(Frame{.payload = "a", .fin = false}, Frame{.opcode = kWsContinuation, .payload = "b", .masked = false}),
       kDefaultMax,
       {},
       e1002},
      {"Rsv1", stream(Frame{.payload = "hi", .rsv = 0x40}), kDefaultMax, {}, e1002},
      {"Rsv2", stream(Frame{.payload = "hi", .rsv = 0x20}), kDefaultMax, {}, e1002},
      {"Rsv3", stream(Frame{.payload = "hi", .rsv = 0x10}), kDefaultMax, {}, e1002},
      {"Rsv1OnPing", stream(Frame{.opcode = kWsPing, .rsv = 0x40}), kDefaultMax, {}, e1002},
      {"Rsv3OnContinuation",
       stream(Frame{.payload = "a", .fin = false}, Frame{.opcode = kWsContinuation, .payload = "b", .rsv = 0x10}),
       kDefaultMax,
       {},
       e1002},
      {"PingWithFin0", stream(Frame{.opcode = kWsPing, .payload = "p", .fin = false}), kDefaultMax, {}, e1002},
      {"PongWithFin0", stream(Frame{.opcode = kWsPong, .fin = false}), kDefaultMax, {}, e1002},
      {"CloseWithFin0",
       stream(Frame{.opcode = kWsClose, .payload = close_payload(1000), .fin = false}),
       kDefaultMax,
       {},
       e1002},
      {"Ping126", stream(Frame{.opcode = kWsPing, .payload = filler(126)}), kDefaultMax, {}, e1002},
      {"Close126",
       stream(Frame{.opcode = kWsClose, .payload = close_payload(1000, filler(124))}),
       kDefaultMax,
       {},
       e1002},
      {"ContinuationWithoutStart", stream(Frame{.opcode = kWsContinuation, .payload = "x"}), kDefaultMax, {}, e1002},
      {"ContinuationAfterFinishedMessage",
       stream(Frame{.payload = "a"}, Frame{.opcode = kWsContinuation, .payload = "b"}),
       kDefaultMax,
       {text("a")},
       e1002},
      {"TextDuringFragmentedMessage",
       stream(Frame{.payload = "a", .fin = false}, Frame{.payload = "b"}),
       kDefaultMax,
       {},
       e1002},
      {"BinaryDuringFragmentedText",
       stream(Frame{.payload = "a", .fin = false}, Frame{.opcode = kWsBinary, .payload = "b"}),
       kDefaultMax,
       {},
       e1002},
      {"TextDuringFragmentedMessageAfterPing",
       stream(Frame{.payload = "a", .fin = false}, Frame{.opcode = kWsPing}, Frame{.payload = "b", .fin = false}),
       kDefaultMax,
       {ping("")},
       e1002},
      // RFC 6455 section 5.2: "the minimal number of bytes MUST be used to encode the length".
      {"NonMinimal16BitLength2", stream(Frame{.payload = "hi", .length_bytes = 2}), kDefaultMax, {}, e1002},
      {"NonMinimal16BitLength125", stream(Frame{.payload = filler(125), .length_bytes = 2}), kDefaultMax, {}, e1002},
      {"Minimal16BitLength126",
       stream(Frame{.payload = filler(126), .length_bytes = 2}),
       kDefaultMax,
       {text(filler(126))},
       kNeedMore},
      {"NonMinimal64BitLength2", stream(Frame{.payload = "hi", .length_bytes = 8}), kDefaultMax, {}, e1002},
      {"NonMinimal64BitLength65535",
       stream(Frame{.payload = filler(65535), .length_bytes = 8}),
       kDefaultMax,
       {},
       e1002},
      {"NonMinimal16BitLengthOnPing",
       stream(Frame{.opcode = kWsPing, .payload = "p", .length_bytes = 2}),
       kDefaultMax,
       {},
       e1002},
      // Only the header: the verdict must not wait for 2^63 bytes.
      {"Length64TopBitSet", header(Frame{.declared = uint64_t{1} << 63}), kDefaultMax, {}, e1002},
      {"Length64AllOnes", header(Frame{.declared = ~uint64_t{0}}), kDefaultMax, {}, e1002},
      {"Length64TopBitSetHugeMax",
       header(Frame{.opcode = kWsBinary, .declared = (uint64_t{1} << 63) | 5}),
       SIZE_MAX,
       {},
       e1002},
  };
  for (uint8_t op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    cases.push_back(
        {"ReservedOpcode" + std::to_string(op), stream(Frame{.opcode = op, .payload = "x"}), kDefaultMax, {}, e1002});
  }
  cases.push_back({"ReservedOpcodeDuringFragmentedMessage",
                   stream(Frame{.payload = "a", .fin = false}, Frame{.opcode = 0xB}),
                   kDefaultMax,
                   {},
                   e1002});
  return cases;
}

std::vector<ReadCase> size_limit_cases() {
  const Ev e1009 = fail(kWsCloseTooBig);
  return {
      {"SingleFrameOverMax", stream(Frame{.payload = filler(11)}), 10, {}, e1009},
      // The header alone is enough to refuse: the payload is never waited for.
      {"HeaderOnlyOverMax7Bit", header(Frame{.payload = filler(11)}), 10, {}, e1009},
      {"HeaderOnlyOverMax16Bit", header(Frame{.opcode = kWsBinary, .declared = 1000}), 999, {}, e1009},
      {"HeaderOnlyOverMax64Bit", header(Frame{.declared = uint64_t{1} << 40}), kDefaultMax, {}, e1009},
      {"HeaderOnlyLargest64Bit", header(Frame{.declared = (uint64_t{1} << 63) - 1}), kDefaultMax, {}, e1009},
      {"ExactlyMax", stream(Frame{.payload = "hello"}), 5, {text("hello")}, kNeedMore},
      {"ExactlyMaxZero", stream(Frame{.payload = ""}), 0, {text("")}, kNeedMore},
      {"OneOverMaxZero", stream(Frame{.payload = "x"}), 0, {}, e1009},
      {"FragmentsOverMax",
       stream(Frame{.payload = "abcdef", .fin = false}, Frame{.opcode = kWsContinuation, .payload = "ghijk"}),
       10,
       {},
       e1009},
      {"ThirdFragmentHeaderOverMax",
       stream(Frame{.opcode = kWsBinary, .payload = "abcd", .fin = false},
              Frame{.opcode = kWsContinuation, .payload = "efgh", .fin = false}) +
           header(Frame{.opcode = kWsContinuation, .declared = 3}),
       10,
       {},
       e1009},
      {"FragmentsExactlyMax",
       stream(Frame{.payload = "abcde", .fin = false}, Frame{.opcode = kWsContinuation, .payload = "fghij"}),
       10,
       {text("abcdefghij")},
       kNeedMore},
      // Control frames are not part of the message and do not count towards its size.
      {"ControlFramesNotCounted",
       stream(Frame{.payload = "ab", .fin = false}, Frame{.opcode = kWsPing, .payload = "pppp"},
              Frame{.opcode = kWsContinuation, .payload = ""}),
       2,
       {ping("pppp"), text("ab")},
       kNeedMore},
      {"PingLargerThanMax", stream(Frame{.opcode = kWsPing, .payload = "pppp"}), 2, {ping("pppp")}, kNeedMore},
  };
}

std::vector<ReadCase> utf8_cases() {
  const Ev e1007 = fail(kWsCloseInvalidData);
  const std::string euro = "\xE2\x82\xAC";      // U+20AC, 3 bytes
  const std::string clef = "\xF0\x9D\x84\x9E";  // U+1D11E, 4 bytes
  return {
      {"TwoByteChars",
       stream(Frame{.payload = "h\xC3\xA9llo \xC2\xA9"}),
       kDefaultMax,
       {text("h\xC3\xA9llo \xC2\xA9")},
       kNeedMore},
      {"ThreeByteChar", stream(Frame{.payload = "5" + euro}), kDefaultMax, {text("5" + euro)}, kNeedMore},
      {"FourByteChar", stream(Frame{.payload = clef}), kDefaultMax, {text(clef)}, kNeedMore},
      {"Extremes",
       stream(Frame{.payload = "\x7F\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xF0\x90\x80\x80"
                               "\xF4\x8F\xBF\xBF"}),
       kDefaultMax,
       {text("\x7F\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xF0\x90\x80\x80\xF4\x8F\xBF\xBF")},
       kNeedMore},
      {"ThreeByteCharSplitAcrossFragments",
       stream(Frame{.payload = "a\xE2\x82", .fin = false}, Frame{.opcode = kWsContinuation,
                                                                 .payload = "\xAC"
                                                                            "b"}),
       kDefaultMax,
       {text("a" + euro + "b")},
       kNeedMore},
      {"FourByteCharSplitAcross3FragmentsAndAPing",
       stream(Frame{.payload = "\xF0", .fin = false}, Frame{.opcode = kWsPing, .payload = "p"},
              Frame{.opcode = kWsContinuation, .payload = "\x9D\x84", .fin = false},
              Frame{.opcode = kWsContinuation, .payload = "\x9E"}),
       kDefaultMax,
       {ping("p"), text(clef)},
       kNeedMore},
      {"OverlongC0AF", stream(Frame{.payload = "\xC0\xAF"}), kDefaultMax, {}, e1007},
      {"OverlongC1BF", stream(Frame{.payload = "\xC1\xBF"}), kDefaultMax, {}, e1007},
      {"OverlongE080AF", stream(Frame{.payload = "\xE0\x80\xAF"}), kDefaultMax, {}, e1007},
      {"OverlongF08F8080", stream(Frame{.payload = "\xF0\x8F\x80\x80"}), kDefaultMax, {}, e1007},
      {"SurrogateEDA080", stream(Frame{.payload = "\xED\xA0\x80"}), kDefaultMax, {}, e1007},
      {"SurrogateEDBFBF", stream(Frame{.payload = "\xED\xBF\xBF"}), kDefaultMax, {}, e1007},
      {"AboveU10FFFF", stream(Frame{.payload = "\xF4\x90\x80\x80"}), kDefaultMax, {}, e1007},
      {"F5Lead", stream(Frame{.payload = "\xF5\x80\x80\x80"}), kDefaultMax, {}, e1007},
      {"FFByte", stream(Frame{.payload = "ok\xFF"}), kDefaultMax, {}, e1007},
      {"LoneContinuationByte",
       stream(Frame{.payload = "a\x80"
                               "b"}),
       kDefaultMax,
       {},
       e1007},
      {"LeadFollowedByAscii",
       stream(Frame{.payload = "\xC3"
                               "a"}),
       kDefaultMax,
       {},
       e1007},
      {"TruncatedAtMessageEnd", stream(Frame{.payload = "a\xE2\x82"}), kDefaultMax, {}, e1007},
      {"TruncatedAtEndOfFragmentedMessage",
       stream(Frame{.payload = "a\xF0\x9D", .fin = false}, Frame{.opcode = kWsContinuation, .payload = ""}),
       kDefaultMax,
       {},
       e1007},
      // Invalid bytes in a first fragment fail the message without waiting for its end.
      {"InvalidInFirstFragment",
       stream(Frame{.payload = "a\xC0\xAF", .fin = false}, Frame{.opcode = kWsContinuation, .payload = "b"}),
       kDefaultMax,
       {},
       e1007},
      {"InvalidOnlyWhenFragmentsJoined",
       stream(Frame{.payload = "a\xED", .fin = false}, Frame{.opcode = kWsContinuation, .payload = "\xA0\x80"}),
       kDefaultMax,
       {},
       e1007},
      {"BinaryNotChecked",
       stream(Frame{.opcode = kWsBinary, .payload = "\xC0\xAF\xED\xA0\x80\xFF\xE2"}),
       kDefaultMax,
       {binary("\xC0\xAF\xED\xA0\x80\xFF\xE2")},
       kNeedMore},
      {"FragmentedBinaryNotChecked",
       stream(Frame{.opcode = kWsBinary, .payload = "\xE2", .fin = false},
              Frame{.opcode = kWsContinuation, .payload = "\xFF"}),
       kDefaultMax,
       {binary("\xE2\xFF")},
       kNeedMore},
      // The UTF-8 state of one message does not leak into the next.
      {"TextAfterBinaryEndingMidCharacter",
       stream(Frame{.opcode = kWsBinary, .payload = "\xE2\x82"}, Frame{.payload = "\xAC"}),
       kDefaultMax,
       {binary("\xE2\x82")},
       fail(kWsCloseInvalidData)},
      {"TextAfterTextWithFragmentedBinaryBetween",
       stream(Frame{.payload = euro}, Frame{.opcode = kWsBinary, .payload = "\xF0", .fin = false},
              Frame{.opcode = kWsContinuation, .payload = "\x9D"}, Frame{.payload = "ok"}),
       kDefaultMax,
       {text(euro), binary("\xF0\x9D"), text("ok")},
       kNeedMore},
  };
}

std::vector<ReadCase> close_cases() {
  const Ev e1002 = fail(kWsCloseProtocolError);
  std::vector<ReadCase> cases = {
      {"CloseEmpty", stream(Frame{.opcode = kWsClose}), kDefaultMax, {}, closed(kWsCloseNoStatus)},
      {"Close1000Bye",
       stream(Frame{.opcode = kWsClose, .payload = close_payload(1000, "bye")}),
       kDefaultMax,
       {},
       closed(1000, "bye")},
      {"Close1000NoReason",
       stream(Frame{.opcode = kWsClose, .payload = close_payload(1000)}),
       kDefaultMax,
       {},
       closed(1000)},
      {"CloseMultiByteReason",
       stream(Frame{.opcode = kWsClose,
                    .payload = close_payload(4000,
                                             "\xC3\xA7"
                                             "a")}),
       kDefaultMax,
       {},
       closed(4000,
              "\xC3\xA7"
              "a")},
      {"CloseLongestReason",
       stream(Frame{.opcode = kWsClose, .payload = close_payload(1000, filler(123))}),
       kDefaultMax,
       {},
       closed(1000, filler(123))},
      {"CloseOneBytePayload", stream(Frame{.opcode = kWsClose, .payload = "\x03"}), kDefaultMax, {}, e1002},
      {"CloseInvalidUtf8Reason",
       stream(Frame{.opcode = kWsClose, .payload = close_payload(1000, "a\xFF")}),
       kDefaultMax,
       {},
       fail(kWsCloseInvalidData)},
      {"CloseTruncatedUtf8Reason",
       stream(Frame{.opcode = kWsClose, .payload = close_payload(1000, "a\xE2\x82")}),
       kDefaultMax,
       {},
       fail(kWsCloseInvalidData)},
      {"CloseAfterMessages",
       stream(Frame{.payload = "m"}, Frame{.opcode = kWsClose, .payload = close_payload(1001)},
              Frame{.payload = "ignored"}),
       kDefaultMax,
       {text("m")},
       closed(1001)},
  };
  for (uint16_t code : {0, 999, 1004, 1005, 1006, 1012, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    cases.push_back({"CloseCode" + std::to_string(code) + "Rejected",
                     stream(Frame{.opcode = kWsClose, .payload = close_payload(code)}),
                     kDefaultMax,
                     {},
                     e1002});
  }
  for (uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999}) {
    cases.push_back({"CloseCode" + std::to_string(code) + "Accepted",
                     stream(Frame{.opcode = kWsClose, .payload = close_payload(code, "r")}),
                     kDefaultMax,
                     {},
                     closed(code, "r")});
  }
  return cases;
}

// A message in `n` data frames: "x" then n-1 continuations, the last with FIN;
// `empty` makes every continuation but the last carry nothing.
std::string fragmented(unsigned n, bool empty = false) {
  std::string out = frame(Frame{.payload = "x", .fin = n == 1});
  for (unsigned i = 2; i <= n; ++i)
    out += frame(Frame{.opcode = kWsContinuation, .payload = empty && i < n ? "" : "y", .fin = i == n});
  return out;
}

std::vector<ReadCase> fragment_limit_cases() {
  auto ys = [](unsigned n) { return "x" + std::string(n - 1, 'y'); };
  // A first fragment, `pings` pings, then the final fragment.
  auto pings_between = [](unsigned pings) {
    std::string bytes = frame(Frame{.payload = "x", .fin = false});
    for (unsigned i = 0; i < pings; ++i) bytes += frame(Frame{.opcode = kWsPing});
    return bytes + frame(Frame{.opcode = kWsContinuation, .payload = "y"});
  };
  std::vector<Ev> pings_events(kWsMaxFragments - 2, ping(""));
  pings_events.push_back(text("xy"));
  std::vector<Ev> too_many_pings(kWsMaxFragments - 1, ping(""));
  return {
      {"MaxFragmentsAccepted", fragmented(kWsMaxFragments), kDefaultMax, {text(ys(kWsMaxFragments))}, kNeedMore},
      // The next message starts counting again.
      {"FragmentCountResetsPerMessage",
       fragmented(kWsMaxFragments) + fragmented(kWsMaxFragments),
       kDefaultMax,
       {text(ys(kWsMaxFragments)), text(ys(kWsMaxFragments))},
       kNeedMore},
      // Control frames between fragments count: 1 + 61 pings + 1 is the most.
      {"PingsBetweenFragmentsCount", pings_between(kWsMaxFragments - 2), kDefaultMax, pings_events, kNeedMore},
      {"OnePingTooManyBetweenFragments", pings_between(kWsMaxFragments), kDefaultMax, too_many_pings,
       fail(kWsClosePolicy)},
      // Outside a message they do not.
      {"PingsOutsideAMessageDoNotCount",
       [] {
         std::string bytes;
         for (unsigned i = 0; i < kWsMaxFragments + 5; ++i) bytes += frame(Frame{.opcode = kWsPing});
         return bytes + fragmented(kWsMaxFragments);
       }(),
       kDefaultMax,
       [&] {
         std::vector<Ev> e(kWsMaxFragments + 5, ping(""));
         e.push_back(text(ys(kWsMaxFragments)));
         return e;
       }(),
       kNeedMore},
      // One more data frame is refused (1008) from its header, before its payload.
      {"OneFragmentTooMany", fragmented(kWsMaxFragments + 1), kDefaultMax, {}, fail(kWsClosePolicy)},
      {"EmptyContinuationsCount", fragmented(kWsMaxFragments + 1, true), kDefaultMax, {}, fail(kWsClosePolicy)},
  };
}

std::vector<ReadCase> all_read_cases() {
  std::vector<ReadCase> all;
  for (auto group : {basic_cases(), fragmentation_cases(), fragment_limit_cases(), protocol_error_cases(),
                     size_limit_cases(), utf8_cases(), close_cases()})
    all.insert(all.end(), group.begin(), group.end());
  return all;
}

class WsCodecReadTest : public ::testing::TestWithParam<ReadCase> {};

TEST_P(WsCodecReadTest, AllAtOnce) {
  const ReadCase& c = GetParam();
  Reader r(c.max);
  r.add(c.bytes);
  EXPECT_EQ(r.read(), c.events);
  EXPECT_EQ(r.verdict(), c.verdict);
  if (r.verdict() == kNeedMore) {
    // Still reading: a second call has nothing new to say.
    EXPECT_EQ(r.read(), std::vector<Ev>{});
    EXPECT_EQ(r.verdict(), kNeedMore);
    EXPECT_LE(r.state().assembled, r.buffered());
  }
}

// The same stream, one byte at a time, reading after each byte: the codec
// moves bytes inside the buffer, so this is where misplaced bytes show.
TEST_P(WsCodecReadTest, ByteByByte) {
  const ReadCase& c = GetParam();
  Reader r(c.max);
  std::vector<Ev> events;
  for (char b : c.bytes) {
    if (r.verdict() != kNeedMore) break;
    r.add(std::string_view(&b, 1));
    append(events, r.read());
  }
  EXPECT_EQ(events, c.events);
  EXPECT_EQ(r.verdict(), c.verdict);
}

// Every byte in its own evbuffer chain, all at once and then read.
TEST_P(WsCodecReadTest, OneChainPerByte) {
  const ReadCase& c = GetParam();
  Reader r(c.max);
  r.add_as_separate_chains(c.bytes);
  EXPECT_EQ(r.read(), c.events);
  EXPECT_EQ(r.verdict(), c.verdict);
}

// Two reads, split at every point (for long streams: every point near either
// end, where the headers are, and a sample in between).
TEST_P(WsCodecReadTest, SplitPoints) {
  const ReadCase& c = GetParam();
  size_t n = c.bytes.size();
  for (size_t split = 0; split <= n; split += (split < 300 || n - split < 300) ? 1 : 997) {
    Reader r(c.max);
    r.add(std::string_view(c.bytes).substr(0, split));
    std::vector<Ev> events = r.read();
    if (r.verdict() == kNeedMore) {
      r.add(std::string_view(c.bytes).substr(split));
      append(events, r.read());
    }
    EXPECT_EQ(events, c.events) << "split at " << split;
    EXPECT_EQ(r.verdict(), c.verdict) << "split at " << split;
  }
}

INSTANTIATE_TEST_SUITE_P(WsCodec, WsCodecReadTest, ::testing::ValuesIn(all_read_cases()),
                         [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------------
// need_more: a stream that stops short, then its remainder.

struct SplitCase {
  std::string name;
  std::string first;   // ws_read must say need_more after `before`
  std::string second;  // the rest
  std::vector<Ev> before;
  std::vector<Ev> after;
};

void PrintTo(const SplitCase& c, std::ostream* os) { *os << c.name; }

std::vector<SplitCase> split_cases() {
  std::string t = frame(Frame{.payload = "Hello"});
  std::string t126 = frame(Frame{.payload = filler(200)});
  std::string t64 = frame(Frame{.opcode = kWsBinary, .payload = filler(70000)});
  std::string frag1 = frame(Frame{.payload = "ab", .fin = false});
  std::string ping_frame = frame(Frame{.opcode = kWsPing, .payload = "pp"});
  std::string frag2 = frame(Frame{.opcode = kWsContinuation, .payload = "cd"});
  return {
      {"OneByteOfHeader", t.substr(0, 1), t.substr(1), {}, {text("Hello")}},
      {"TwoBytesOf16BitLengthHeader", t126.substr(0, 2), t126.substr(2), {}, {text(filler(200))}},
      {"ThreeBytesOf16BitLengthHeader", t126.substr(0, 3), t126.substr(3), {}, {text(filler(200))}},
      {"SixBytesOf64BitLengthHeader", t64.substr(0, 6), t64.substr(6), {}, {binary(filler(70000))}},
      {"HeaderWithoutFullMask", t.substr(0, 4), t.substr(4), {}, {text("Hello")}},
      {"HeaderWithoutLastMaskByte", t.substr(0, 5), t.substr(5), {}, {text("Hello")}},
      {"HeaderWithoutMask16Bit", t126.substr(0, 4), t126.substr(4), {}, {text(filler(200))}},
      {"HeaderOnly", t.substr(0, 6), t.substr(6), {}, {text("Hello")}},
      {"PartialPayload", t.substr(0, 8), t.substr(8), {}, {text("Hello")}},
      {"AllButLastByte", t.substr(0, t.size() - 1), t.substr(t.size() - 1), {}, {text("Hello")}},
      {"PartialLongPayload", t64.substr(0, 40000), t64.substr(40000), {}, {binary(filler(70000))}},
      {"FirstFragmentThenPartialSecond", frag1 + frag2.substr(0, 7), frag2.substr(7), {}, {text("abcd")}},
      {"PartialPingBetweenFragments",
       frag1 + ping_frame.substr(0, 3),
       ping_frame.substr(3) + frag2,
       {},
       {ping("pp"), text("abcd")}},
      {"PingDeliveredThenPartialFragment",
       frag1 + ping_frame + frag2.substr(0, 1),
       frag2.substr(1),
       {ping("pp")},
       {text("abcd")}},
      {"MessageThenPartialHeader", t + t.substr(0, 1), t.substr(1), {text("Hello")}, {text("Hello")}},
  };
}

class WsCodecNeedMoreTest : public ::testing::TestWithParam<SplitCase> {};

TEST_P(WsCodecNeedMoreTest, CompletesWhenTheRestArrives) {
  const SplitCase& c = GetParam();
  Reader r(kDefaultMax);
  r.add(c.first);
  EXPECT_EQ(r.read(), c.before);
  EXPECT_EQ(r.verdict(), kNeedMore);
  EXPECT_EQ(r.read(), std::vector<Ev>{}) << "asking again changes nothing";
  EXPECT_EQ(r.verdict(), kNeedMore);
  r.add(c.second);
  EXPECT_EQ(r.read(), c.after);
  EXPECT_EQ(r.verdict(), kNeedMore);
  EXPECT_EQ(r.buffered(), 0u) << "every delivered byte is consumed";
}

INSTANTIATE_TEST_SUITE_P(WsCodec, WsCodecNeedMoreTest, ::testing::ValuesIn(split_cases()),
                         [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------------
// Server frames.

std::string contents(evbuffer* b) {
  std::string s(evbuffer_get_length(b), '\0');
  evbuffer_copyout(b, s.data(), s.size());
  return s;
}

struct WriteCase {
  std::string name;
  uint8_t opcode;
  size_t length;
  std::string header;
};

void PrintTo(const WriteCase& c, std::ostream* os) { *os << c.name; }

class WsCodecWriteTest : public ::testing::TestWithParam<WriteCase> {};

TEST_P(WsCodecWriteTest, FinSetUnmaskedMinimalLength) {
  const WriteCase& c = GetParam();
  EvBufferPtr out(evbuffer_new());
  std::string payload = filler(c.length);
  ws_write_frame(out.get(), c.opcode, payload);
  std::string bytes = contents(out.get());
  ASSERT_EQ(bytes.size(), c.header.size() + c.length);
  EXPECT_EQ(printable(bytes.substr(0, c.header.size())), printable(c.header));
  EXPECT_TRUE(bytes.compare(c.header.size(), std::string::npos, payload) == 0);
}

INSTANTIATE_TEST_SUITE_P(WsCodec, WsCodecWriteTest,
                         ::testing::Values(WriteCase{"Text0", kWsText, 0, std::string("\x81\x00", 2)},
                                           WriteCase{"Text125", kWsText, 125, "\x81\x7D"},
                                           WriteCase{"Text126", kWsText, 126, std::string("\x81\x7E\x00\x7E", 4)},
                                           WriteCase{"Binary65535", kWsBinary, 65535, "\x82\x7E\xFF\xFF"},
                                           WriteCase{"Binary65536", kWsBinary, 65536,
                                                     std::string("\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00", 10)},
                                           WriteCase{"Text70000", kWsText, 70000,
                                                     std::string("\x81\x7F\x00\x00\x00\x00\x00\x01\x11\x70", 10)},
                                           WriteCase{"Ping0", kWsPing, 0, std::string("\x89\x00", 2)},
                                           WriteCase{"Pong5", kWsPong, 5, "\x8A\x05"}),
                         [](const auto& info) { return info.param.name; });

TEST(WsCodecWriteCloseTest, EncodesCodeAndReason) {
  EvBufferPtr out(evbuffer_new());
  ws_write_close(out.get(), 1000, "bye");
  EXPECT_EQ(contents(out.get()), std::string("\x88\x05\x03\xE8"
                                             "bye",
                                             7));
}

TEST(WsCodecWriteCloseTest, EmptyReason) {
  EvBufferPtr out(evbuffer_new());
  ws_write_close(out.get(), kWsCloseTooBig, "");
  EXPECT_EQ(contents(out.get()), std::string("\x88\x02\x03\xF1", 4));
}

TEST(WsCodecWriteCloseTest, ReasonCutToFitAControlFrame) {
  EvBufferPtr out(evbuffer_new());
  std::string reason = filler(200);
  ws_write_close(out.get(), 4001, reason);
  // RFC 6455 section 5.5: a control frame's payload is at most 125 bytes.
  EXPECT_EQ(contents(out.get()), std::string("\x88\x7D\x0F\xA1", 4) + reason.substr(0, 123));
}

// ---------------------------------------------------------------------------
// UTF-8 and close codes on their own.

struct Utf8Case {
  std::string name;
  std::string bytes;
  bool valid;
};

void PrintTo(const Utf8Case& c, std::ostream* os) { *os << c.name; }

class WsCodecUtf8Test : public ::testing::TestWithParam<Utf8Case> {};

TEST_P(WsCodecUtf8Test, Validates) {
  const Utf8Case& c = GetParam();
  EXPECT_EQ(utf8_valid(c.bytes), c.valid);
}

// Fed in two pieces at every split point, the verdict is the same.
TEST_P(WsCodecUtf8Test, IncrementalMatchesWhole) {
  const Utf8Case& c = GetParam();
  for (size_t split = 0; split <= c.bytes.size(); ++split) {
    Utf8State st;
    bool ok = utf8_feed(st, std::string_view(c.bytes).substr(0, split)) &&
              utf8_feed(st, std::string_view(c.bytes).substr(split)) && st.need == 0;
    EXPECT_EQ(ok, c.valid) << "split at " << split;
  }
}

INSTANTIATE_TEST_SUITE_P(
    WsCodec, WsCodecUtf8Test,
    ::testing::Values(
        Utf8Case{"Empty", "", true}, Utf8Case{"Ascii", "hello", true}, Utf8Case{"Nul", std::string("a\0b", 3), true},
        Utf8Case{"TwoByte", "\xC3\xA9", true}, Utf8Case{"TwoByteLowest", "\xC2\x80", true},
        Utf8Case{"ThreeByte", "\xE2\x82\xAC", true}, Utf8Case{"ThreeByteLowest", "\xE0\xA0\x80", true},
        Utf8Case{"BeforeSurrogates", "\xED\x9F\xBF", true}, Utf8Case{"AfterSurrogates", "\xEE\x80\x80", true},
        Utf8Case{"Bom", "\xEF\xBB\xBF", true}, Utf8Case{"FourByte", "\xF0\x9D\x84\x9E", true},
        Utf8Case{"FourByteLowest", "\xF0\x90\x80\x80", true}, Utf8Case{"Max", "\xF4\x8F\xBF\xBF", true},
        Utf8Case{"OverlongC0AF", "\xC0\xAF", false}, Utf8Case{"OverlongC1", "\xC1\xBF", false},
        Utf8Case{"OverlongE080AF", "\xE0\x80\xAF", false}, Utf8Case{"OverlongE09FBF", "\xE0\x9F\xBF", false},
        Utf8Case{"OverlongF08FBFBF", "\xF0\x8F\xBF\xBF", false}, Utf8Case{"SurrogateEDA080", "\xED\xA0\x80", false},
        Utf8Case{"SurrogateEDBFBF", "\xED\xBF\xBF", false}, Utf8Case{"AboveMaxF4908080", "\xF4\x90\x80\x80", false},
        Utf8Case{"F5", "\xF5\x80\x80\x80", false}, Utf8Case{"FE", "\xFE", false}, Utf8Case{"FF", "\xFF", false},
        Utf8Case{"LoneContinuation", "\x80", false}, Utf8Case{"ContinuationAfterAscii", "a\xBF", false},
        Utf8Case{"TwoContinuationsAfterTwoByteLead", "\xC3\xA9\xA9", false},
        Utf8Case{"TruncatedTwoByte", "\xC3", false}, Utf8Case{"TruncatedThreeByte", "a\xE2\x82", false},
        Utf8Case{"TruncatedFourByte", "\xF0\x9D\x84", false},
        Utf8Case{"LeadThenAscii",
                 "\xE2"
                 "a",
                 false}),
    [](const auto& info) { return info.param.name; });

TEST(WsCodecCloseCodeTest, ValidRanges) {
  for (int code = 0; code <= 0xFFFF; ++code) {
    bool expected = (code >= 1000 && code <= 1011 && code != 1004 && code != 1005 && code != 1006) ||
                    (code >= 3000 && code <= 4999);
    EXPECT_EQ(ws_close_code_valid(static_cast<uint16_t>(code)), expected) << code;
  }
}

// ---------------------------------------------------------------------------

TEST(WsCodecStateTest, ReadStateIsAtMost12Bytes) {
  // ws_codec.h documents "What a reader keeps between reads: 12 bytes."
  EXPECT_LE(sizeof(WsReadState), 12u);
}

}  // namespace
}  // namespace vytal
