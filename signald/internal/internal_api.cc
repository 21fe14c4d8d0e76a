#include "signald/internal/internal_api.h"

#include <unistd.h>

#include <vector>

#include "call_log/audit_record.h"
#include "common/json.h"

#ifndef VYTAL_VERSION
#define VYTAL_VERSION "unknown"
#endif

namespace vytal {
namespace {

HttpResponse ok_json(std::string body) {
  HttpResponse r;
  r.body = std::move(body);
  return r;
}

}  // namespace

void InternalApi::handle(HttpRequest& req, Responder responder) {
  if (req.path == "/internal/audit") {
    if (req.method != HTTP_POST) {
      return HttpServer::refuse(std::move(responder), metrics_, "/internal/audit", req.method_name(), 405,
                                "method_not_allowed", "this route takes POST");
    }
    return audit(req, std::move(responder));
  }
  if (req.path == "/internal/healthz") {
    metrics_.count_request("/internal/healthz", req.method_name(), 200);
    JsonPtr j(json_object());
    json_put(j.get(), "status", json_str("ok"));
    json_put(j.get(), "version", json_str(VYTAL_VERSION));
    json_put(j.get(), "startedAt", json_integer(started_at_ms_));
    json_put(j.get(), "pid", json_integer(getpid()));
    return std::move(responder).send(ok_json(json_dump(j.get())));
  }
  metrics_.count_request("other", req.method_name(), 404);
  std::move(responder).send(HttpServer::error_response(404, "not_found", "no such route on the local channel"));
}

void InternalApi::audit(HttpRequest& req, Responder responder) {
  auto refuse = [&](int status, const char* code, const std::string& message) {
    HttpServer::refuse(std::move(responder), metrics_, "/internal/audit", "POST", status, code, message);
  };
  std::string error;
  JsonPtr doc = json_parse(req.body, &error);
  const json_t* list = doc ? json_object_get(doc.get(), "records") : nullptr;
  if (!list || !json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > kMaxAuditRecordsPerPost)
    return refuse(400, "validation", "expected {\"records\":[...]} with 1 to 64 records");
  std::vector<AuditRecord> records;
  for (size_t i = 0; i < json_array_size(list); ++i) {
    auto r = audit_record_from_json(json_array_get(list, i));
    if (!r) return refuse(400, "validation", "record " + std::to_string(i) + ": " + r.error().message);
    records.push_back(std::move(r.value()));
  }
  if (!call_log_.has_room()) return refuse(503, "overloaded", "the call log is busy; retry later");
  size_t n = records.size();
  call_log_.submit(
      [records = std::move(records)](CallWriter& w) {
        for (const AuditRecord& r : records)
          if (!w.record_audit(r)) return false;
        return true;
      },
      [this, n, responder = std::move(responder)](bool committed) mutable {
        int status = committed ? 200 : 503;
        metrics_.count_request("/internal/audit", "POST", status);
        if (!committed) metrics_.count_rejected(kCallLogUnavailable);
        std::move(responder).send(
            committed ? ok_json("{\"written\":" + std::to_string(n) + "}")
                      : HttpServer::error_response(503, kCallLogUnavailable, "the call log could not record this"));
      },
      CallLog::WhenFull::refuse);
}

}  // namespace vytal
