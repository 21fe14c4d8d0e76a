// vytalctl backup DIR: what a replacement appliance needs, copied while the
// services run. The call log and admin.db are consistent snapshots (SQLite's
// online backup in one step: one read transaction, so signald's writes go on),
// each checked after the copy; the configuration files, the TURN key ring and
// revocation list, the admin page's settings and the TURN certificate and
// key are copied as they are. Each lands under DIR/files/ at the absolute
// path the configuration names (files 0600, directories 0700: the copy holds
// patient data and secrets); DIR/MANIFEST lists their SHA-256 in sha256sum's
// format, DIR/OWNERS each original's mode and owner, DIR/VERSION the release.
// packaging/README.md ("Backup and restore") says how to put them back.
#pragma once

#include <cstdint>

#include "common/config.h"
#include "vytalctl/commands.h"

namespace vytal {

int backup(const Config& config, const CommandOptions& options, int64_t now_s);

}  // namespace vytal
