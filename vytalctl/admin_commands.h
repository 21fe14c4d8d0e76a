// vytalctl's commands on vytal-admin's accounts (admin.db) and the
// appliance's status, registered in commands.cc:
//
//   admin add NAME --role viewer|operator|admin [--password-stdin]
//   admin passwd NAME [--password-stdin]
//   admin disable NAME
//   admin list
//   admin totp enable|disable NAME
//   status [--json]
//
// Account changes are audited (actor "cli:<user>") through admin.db's audit
// outbox, which signald's local channel takes in now or vytal-admin
// delivers later.
#pragma once

#include <cstdint>
#include <string>

#include "common/config.h"
#include "vytalctl/commands.h"

namespace vytal {

int admin_command(const Config& config, const CommandOptions& options, int64_t now_s);
int status_command(const Config& config, const CommandOptions& options, int64_t now_s);
// "cli:alice" (or "cli:root via sudo by alice"): who runs vytalctl, from the
// real uid's passwd entry and SUDO_USER; the actor of its audited changes.
std::string shell_actor();

}  // namespace vytal
