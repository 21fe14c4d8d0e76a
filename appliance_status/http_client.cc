#include "appliance_status/http_client.h"

#include <mutex>

#include "common/handles.h"

namespace vytal {
namespace {

size_t append(char* data, size_t size, size_t n, void* out) noexcept {
  auto* body = static_cast<std::string*>(out);
  if (body->size() + size * n > (8u << 20)) return 0;  // our endpoints answer far less: stop
  body->append(data, size * n);
  return size * n;
}

}  // namespace

Result<HttpReply> http_request(const HttpTarget& target, std::string_view method, std::string_view path,
                               std::string_view json_body, long timeout_ms) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CurlPtr curl(curl_easy_init());
  if (!curl) return Error{"unreachable", "libcurl could not start"};
  std::string url = target.base_url + std::string(path);
  HttpReply reply;
  char error[CURL_ERROR_SIZE] = "";
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  if (!target.unix_socket.empty()) curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, target.unix_socket.c_str());
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &append);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  std::string m(method);
  CurlSlistPtr headers;
  std::string body(json_body);
  if (m == "POST") {
    headers.reset(curl_slist_append(nullptr, "Content-Type: application/json"));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  } else if (m != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m.c_str());
  }
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK)
    return Error{"unreachable", url + (target.unix_socket.empty() ? "" : " (" + target.unix_socket + ")") + ": " +
                                    (error[0] ? error : curl_easy_strerror(rc))};
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

}  // namespace vytal
