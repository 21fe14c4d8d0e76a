#include "signald/signaling/relay_message.h"

#include <algorithm>
#include <array>
#include <vector>

#include "common/json.h"

namespace vytal {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// jansson refuses duplicate keys (JSON_REJECT_DUPLICATES); so does this, at
// every depth, so a message means the same to every parser that reads it.
bool has_duplicate_keys(element e) {
  simdjson::dom::array array;
  if (e.get(array) == simdjson::SUCCESS) {
    for (element child : array)
      if (has_duplicate_keys(child)) return true;
    return false;
  }
  simdjson::dom::object object;
  if (e.get(object) != simdjson::SUCCESS) return false;
  // The keys seen so far: on the stack for the few keys a signaling object
  // has (a heap vector here was several mallocs per relayed message).
  constexpr size_t kInline = 16;
  std::array<std::string_view, kInline> inline_keys;
  std::vector<std::string_view> more_keys;
  size_t n = 0;
  for (auto field : object) {
    for (size_t i = 0; i < std::min(n, kInline); ++i)
      if (inline_keys[i] == field.key) return true;
    for (std::string_view k : more_keys)
      if (k == field.key) return true;
    if (n < kInline)
      inline_keys[n] = field.key;
    else
      more_keys.push_back(field.key);
    ++n;
    if (has_duplicate_keys(field.value)) return true;
  }
  return false;
}

std::optional<element> field(const simdjson::dom::object& o, std::string_view key) {
  element e;
  if (o.at_key(key).get(e) != simdjson::SUCCESS) return std::nullopt;
  return e;
}

// Appends a JSON string. Ids are plain almost always; anything that needs
// escaping goes through jansson.
void append_string(std::string& out, std::string_view s) {
  bool plain = true;
  for (unsigned char c : s) plain = plain && c >= 0x20 && c != '"' && c != '\\';
  if (plain) {
    out += '"';
    out += s;
    out += '"';
    return;
  }
  JsonPtr j(json_stringn(s.data(), s.size()));
  out += json_dump(j.get());
}

}  // namespace

bool is_relayed_type(std::string_view type) {
  return type == "offer" || type == "answer" || type == "ice-candidate" || type == "media-state";
}

std::optional<MessageParser::Message> MessageParser::parse(std::string_view text, std::string* error) {
  element doc;
  // An empty message may have no buffer at all, and simdjson copies from it.
  if (text.empty()) {
    *error = std::string("not valid JSON: ") + simdjson::error_message(simdjson::EMPTY);
    return std::nullopt;
  }
  if (auto err = parser_.parse(text.data(), text.size()).get(doc); err != simdjson::SUCCESS) {
    *error = std::string("not valid JSON: ") + simdjson::error_message(err);
    return std::nullopt;
  }
  if (has_duplicate_keys(doc)) {
    *error = "not valid JSON: duplicate object key";
    return std::nullopt;
  }
  Message m;
  m.bytes = text.size();
  if (doc.get(m.object) != simdjson::SUCCESS) {
    *error = "a message is a JSON object";
    return std::nullopt;
  }
  if (auto t = field(m.object, "type"); t && t->get(m.type) != simdjson::SUCCESS) m.type = {};
  if (auto r = field(m.object, "requestId")) {
    int64_t n;
    std::string_view id;
    if (r->get(n) == simdjson::SUCCESS)
      m.request_id.reset(json_integer(n));
    else if (r->get(id) == simdjson::SUCCESS && id.size() <= 64)
      m.request_id.reset(json_stringn(id.data(), id.size()));
  }
  return m;
}

RelayOut relay_message(const MessageParser::Message& m, std::string_view call_id, std::string_view from) {
  RelayOut out;
  auto to = field(m.object, "to");
  if (to && !to->is_string()) {
    out.error = "to must be a user id";
    return out;
  }
  std::string_view to_user;
  if (to && to->get(to_user) == simdjson::SUCCESS) out.to = to_user;
  std::string& t = out.text;
  // Room for the sender's fields as they came (minified, they are no longer)
  // and the added ones, so the text is not reallocated while it is built.
  t.reserve(m.bytes + 96 + call_id.size() + from.size());
  t += R"({"type":")";
  t += m.type;
  t += R"(","callId":)";
  append_string(t, call_id);
  t += R"(,"from":)";
  append_string(t, from);
  if (m.type == "offer" || m.type == "answer") {
    auto sdp = field(m.object, "sdp");
    element inner;
    if (!sdp || !sdp->is_object() || sdp->at_key("sdp").get(inner) != simdjson::SUCCESS || !inner.is_string()) {
      out.error = "sdp must be a session description {type, sdp}";
      return out;
    }
    if (!to) {
      out.error = "an offer or answer goes to one participant (to)";
      return out;
    }
    t += R"(,"sdp":)";
    t += simdjson::minify(*sdp);
  } else if (m.type == "ice-candidate") {
    auto cand = field(m.object, "candidate");
    if (!cand || !(cand->is_object() || cand->is_null())) {
      out.error = "candidate must be an ICE candidate object or null";
      return out;
    }
    t += R"(,"candidate":)";
    t += simdjson::minify(*cand);
  } else {  // media-state
    auto audio = field(m.object, "audio"), video = field(m.object, "video");
    if ((audio && !audio->is_bool()) || (video && !video->is_bool()) || (!audio && !video)) {
      out.error = "media-state carries audio and/or video booleans";
      return out;
    }
    bool on = false;
    if (audio && audio->get(on) == simdjson::SUCCESS) t += on ? R"(,"audio":true)" : R"(,"audio":false)";
    if (video && video->get(on) == simdjson::SUCCESS) t += on ? R"(,"video":true)" : R"(,"video":false)";
  }
  t += '}';
  return out;
}

}  // namespace vytal
