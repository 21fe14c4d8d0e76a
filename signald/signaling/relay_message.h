// The relay's side of a signaling message: one validating parse (simdjson:
// every byte checked, duplicate keys refused at any depth as the call log's
// JSON reader refuses them), the fields signaling routes by, and the text a
// relayed message goes out as, built from the sender's own parsed parts
// without a jansson tree. The other message types (join, leave, end-call,
// quality-report) are rare and keep their jansson path.
#pragma once

#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/handles.h"

namespace vytal {

// offer, answer, ice-candidate and media-state: relayed to the call's others.
bool is_relayed_type(std::string_view type);

class MessageParser {
 public:
  struct Message {
    simdjson::dom::object object;
    std::string_view type;  // empty when absent or not a string
    // requestId when it is an integer or a string of at most 64 bytes: echoed in answers.
    JsonPtr request_id;
    size_t bytes = 0;  // the message's length as received
  };

  // The message, or why it is not a JSON object (a user-readable text).
  std::optional<Message> parse(std::string_view text, std::string* error);

 private:
  simdjson::dom::parser parser_;  // reused: its buffers grow to the largest message once
};

// Where a relayed message goes and what it says, or the error to answer with.
struct RelayOut {
  std::optional<std::string_view> to;  // one participant, or everyone else in the call
  std::string text;                    // the message as the receivers get it
  const char* error = nullptr;         // a validation failure: the message to answer with
};

// Checks a relayed type's fields (offer/answer: `to` and an sdp
// {type, sdp}; ice-candidate: a candidate object or null; media-state: audio
// and/or video booleans) and builds {"type","callId","from", its fields}.
RelayOut relay_message(const MessageParser::Message& m, std::string_view call_id, std::string_view from);

}  // namespace vytal
