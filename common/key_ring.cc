#include "common/key_ring.h"

#include <sstream>

#include "common/files.h"

namespace vytal {

std::vector<std::string> KeyRing::accepted(int64_t now_s) const {
  std::vector<std::string> out;
  if (!current.empty()) out.push_back(current);
  if (!previous.empty() && now_s < previous_until_s) out.push_back(previous);
  return out;
}

std::optional<KeyRing> parse_key_ring(const std::string& text, std::string* error) {
  KeyRing ring;
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string kind, secret, extra;
    int64_t number = 0;
    words >> kind;
    bool ok;
    if (kind == "current-since" || kind == "previous-since") {
      ok = (words >> number) && number >= 0 && !(words >> extra);
      (kind == "current-since" ? ring.current_since_s : ring.previous_since_s) = number;
    } else {
      words >> secret;
      ok = !secret.empty() && secret.size() < 256;
      if (kind == "current") {
        ring.current = secret;
        ok = ok && !(words >> extra);
      } else if (kind == "previous") {
        ring.previous = secret;
        ok = ok && (words >> number) && !(words >> extra);
        ring.previous_until_s = number;
      } else {
        ok = false;
      }
    }
    if (!ok) {
      if (error)
        *error = "line " + std::to_string(n) +
                 ": expected 'current SECRET', 'previous SECRET UNTIL', 'current-since TIME' or 'previous-since TIME'";
      return std::nullopt;
    }
  }
  if (ring.current.empty()) {
    if (error) *error = "no current secret";
    return std::nullopt;
  }
  return ring;
}

std::string format_key_ring(const KeyRing& ring) {
  std::string out = "# vytal TURN key ring (vytalctl rotate-turn-secret)\ncurrent " + ring.current + "\n";
  if (ring.current_since_s) out += "current-since " + std::to_string(ring.current_since_s) + "\n";
  if (!ring.previous.empty()) out += "previous " + ring.previous + " " + std::to_string(ring.previous_until_s) + "\n";
  if (!ring.previous.empty() && ring.previous_since_s)
    out += "previous-since " + std::to_string(ring.previous_since_s) + "\n";
  return out;
}

std::optional<KeyRing> read_key_ring(const std::string& path, std::string* error) {
  auto text = read_file(path, error);
  if (!text) return std::nullopt;
  auto ring = parse_key_ring(*text, error);
  if (!ring && error) *error = path + ": " + *error;
  return ring;
}

bool write_key_ring(const std::string& path, const KeyRing& ring, std::string* error) {
  return write_file_atomically(path, format_key_ring(ring), 0640, error);
}

}  // namespace vytal
