// The TURN key ring: the current shared secret and, during a rotation's
// overlap, the previous one with the time it stops being accepted. One small
// file written by vytalctl (atomically, keeping its owner and mode) and read by
// signald (to mint credentials with the current secret) and by the TURN
// plugin (to check them with both). No dependencies beyond the standard
// library: the plugin compiles this file too.
//
//   # vytal TURN key ring
//   current <secret>
//   current-since <unix seconds it became current>     (optional: older rings lack it)
//   previous <secret> <unix seconds until which it is still accepted>
//   previous-since <unix seconds it became current>     (optional)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vytal {

struct KeyRing {
  std::string current;
  std::string previous;
  int64_t previous_until_s = 0;
  int64_t current_since_s = 0;   // 0: not recorded (a ring written before these lines existed)
  int64_t previous_since_s = 0;  // when the previous secret became current

  // The secrets a credential may be checked with at `now_s`, current first.
  std::vector<std::string> accepted(int64_t now_s) const;
};

// nullopt with *error set when the text is not a key ring (no current secret,
// an unknown line, a secret with spaces or over 255 bytes).
std::optional<KeyRing> parse_key_ring(const std::string& text, std::string* error);
std::string format_key_ring(const KeyRing& ring);

// Reads the file; nullopt with *error set when it cannot be read or parsed.
std::optional<KeyRing> read_key_ring(const std::string& path, std::string* error);
// Writes the file atomically (common/files.h): an existing key ring keeps
// its owner and mode, a new one is made 0640.
bool write_key_ring(const std::string& path, const KeyRing& ring, std::string* error);

}  // namespace vytal
