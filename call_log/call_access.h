// Who may do what to a call. A patient sees and acts only on calls that are
// theirs; a provider sees calls they run or were invited to; service and
// admin tokens (the platform's back end, the hospital's admins) all calls.
// Managing a call (end, cancel, invite) follows the role a participant was
// invited with: the call's provider or a provider-role invitee (and service,
// admin); the patient may end or cancel their own call but not invite; an
// observer, interpreter, family member or caregiver only takes part.
#pragma once

#include <string_view>

#include "call_log/call_record.h"

namespace vytal {

bool is_privileged(const Actor& a);
bool is_participant(const Actor& a, const CallRecord& c);
bool can_view_call(const Actor& a, const CallRecord& c);
// Take part: the call's patient or provider, an invited participant not
// removed, or a privileged token (TURN credentials for the call).
bool can_join_call(const Actor& a, const CallRecord& c);
// End or cancel the call for everyone: privileged, the call's patient, the
// call's provider or a provider-token user invited as "provider".
bool can_manage_call(const Actor& a, const CallRecord& c);
// Privileged, the call's provider or a provider-token user invited as "provider".
bool can_invite_to_call(const Actor& a, const CallRecord& c);
bool can_create_call(const Actor& a, std::string_view patient_id, std::string_view provider_id);

}  // namespace vytal
