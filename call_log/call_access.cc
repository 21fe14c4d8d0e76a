#include "call_log/call_access.h"

namespace vytal {

bool is_privileged(const Actor& a) { return a.role == Role::admin || a.role == Role::service; }

bool is_participant(const Actor& a, const CallRecord& c) {
  for (const ParticipantRecord& p : c.participants)
    if (p.user_id == a.sub && p.status != "removed") return true;
  return false;
}

bool can_view_call(const Actor& a, const CallRecord& c) {
  if (is_privileged(a)) return true;
  if (a.role == Role::patient && c.patient_id == a.sub) return true;
  if (a.role == Role::provider && c.provider_id == a.sub) return true;
  return is_participant(a, c);
}

bool can_join_call(const Actor& a, const CallRecord& c) {
  if (is_privileged(a)) return true;
  // An operator's removal holds for the call's own patient and provider too
  // (as CallWriter::join refuses them): no way back in, nor a TURN credential.
  for (const ParticipantRecord& p : c.participants)
    if (p.user_id == a.sub && p.status == "removed") return false;
  return a.sub == c.patient_id || a.sub == c.provider_id || is_participant(a, c);
}

namespace {

// A provider-token user invited to the call with the role "provider" (a
// co-provider). Rights follow the role of the invitation: an observer,
// interpreter, family member or caregiver only takes part.
bool invited_as_provider(const Actor& a, const CallRecord& c) {
  if (a.role != Role::provider) return false;
  for (const ParticipantRecord& p : c.participants)
    if (p.user_id == a.sub && p.status != "removed" && p.role == "provider") return true;
  return false;
}

}  // namespace

bool can_manage_call(const Actor& a, const CallRecord& c) {
  if (is_privileged(a)) return true;
  if (a.role == Role::patient) return c.patient_id == a.sub;  // hangs up (or calls off) their own call
  if (a.role == Role::provider) return c.provider_id == a.sub || invited_as_provider(a, c);
  return false;
}

bool can_invite_to_call(const Actor& a, const CallRecord& c) {
  if (is_privileged(a)) return true;
  return a.role == Role::provider && (c.provider_id == a.sub || invited_as_provider(a, c));
}

bool can_create_call(const Actor& a, std::string_view patient_id, std::string_view provider_id) {
  if (is_privileged(a)) return true;
  if (a.role == Role::patient) return patient_id == a.sub;
  if (a.role == Role::provider) return provider_id == a.sub;
  return false;
}

}  // namespace vytal
