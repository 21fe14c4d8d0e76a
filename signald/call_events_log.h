// signald's log of a call's life: one line at info per committed event
// (created, joined, started, reconnecting, left, invited, ended/missed/
// cancelled with duration and reason), with CALL_ID= and USER_ID= journal
// fields (common/log.h). Ids only: no tokens, no patient data. Fed by the
// call log's observer, so a line is written only for what was committed.
#pragma once

#include "call_log/call_record.h"

namespace vytal {

void log_call_update(const CallUpdate& update);

}  // namespace vytal
