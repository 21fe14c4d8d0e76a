// Who may do what to a call. A patient sees and acts only on calls that are
// theirs; a provider on calls they run or were invited to; service and admin
// tokens (the platform's back end, the hospital's admins) on all calls.
#pragma once

#include <string_view>

#include "call_log/call_record.h"

namespace vytal {

bool is_privileged(const Actor& a);
bool is_participant(const Actor& a, const CallRecord& c);
bool can_view_call(const Actor& a, const CallRecord& c);
// End or cancel the call for everyone.
bool can_manage_call(const Actor& a, const CallRecord& c);
bool can_invite_to_call(const Actor& a, const CallRecord& c);
bool can_create_call(const Actor& a, std::string_view patient_id, std::string_view provider_id);

}  // namespace vytal
